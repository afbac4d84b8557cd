// The shadow model's runner and window (rollout/shadow.ts, rollout/shadow-window.ts) on test doubles:
// sampling, shedding (live busy, shadow busy, closed), the windowed agreement / confusion / latency /
// confidence figures. The real pool and a model with one label pair swapped: test/integration/shadow.test.ts.
import { describe, expect, it } from 'vitest';
import { ShadowRunner } from '../../rollout/shadow.js';
import { ShadowWindow } from '../../rollout/shadow-window.js';
import type { Classification, Classifier, ClassifierHealth, ClassifyOutcome, ModelInfo } from '../../src/model/classifier.js';

const LABELS = ['negative', 'neutral', 'positive'];
const answer = (label: string, top = 0.8): Classification => ({ label, scores: Object.fromEntries(LABELS.map((l) => [l, l === label ? top : (1 - top) / 2])), tokens: 3, truncated: false });
const model = (version: string): ModelInfo => ({ name: 'fake', version, target: 'cpu', labels: LABELS, maxLength: 16 });

class Fake implements Classifier {
  readonly model = model('shadow');
  calls: string[][] = [];
  hold: Promise<void> | undefined;
  constructor(readonly labelOf: (t: string) => string) {}
  async classify(texts: readonly string[]): Promise<ClassifyOutcome[]> {
    this.calls.push([...texts]);
    if (this.hold) await this.hold;
    return texts.map((t) => (t.startsWith('fail') ? { error: { code: 'KLS_ERR_INFERENCE', message: 'no' } } : answer(this.labelOf(t), 0.6)));
  }
  health(): ClassifierHealth {
    return { ready: true, workers: 1, queued: 0, busyRatio: 0 };
  }
  async close(): Promise<void> {}
}

/** Live labels by word; the shadow swaps neutral and positive. */
const liveLabel = (t: string): string => (t.includes('bad') ? 'negative' : t.includes('good') ? 'positive' : 'neutral');
const swapped = (t: string): string => ({ negative: 'negative', neutral: 'positive', positive: 'neutral' })[liveLabel(t)]!;

function setup(o: { queued?: () => number; busy?: () => number; sample?: number; random?: () => number } = {}) {
  const shadow = new Fake(swapped);
  let clock = 1_000_000;
  const runner = new ShadowRunner({
    shadow,
    live: () => ({ model: model('live'), health: () => ({ ready: true, workers: 2, queued: o.queued?.() ?? 0, busyRatio: o.busy?.() ?? 0.3 }) }),
    sample: o.sample ?? 1,
    random: o.random ?? (() => 0),
    now: () => clock,
  });
  return { shadow, runner, tick: (ms: number) => (clock += ms) };
}

const posts = (texts: string[]) => texts.map((text, i) => ({ id: `p${i}`, text }));
const settle = () => new Promise((r) => setTimeout(r, 5));

describe('ShadowRunner', () => {
  it('compares the sampled posts: agreement, per class and the confusion matrix', async () => {
    const { runner } = setup();
    const texts = ['bad a', 'bad b', 'good c', 'meh d', 'meh e'];
    runner.offer(posts(texts), texts.map((t) => answer(liveLabel(t))));
    await settle();
    const r = runner.report();
    expect(r.agreement).toMatchObject({ compared: 5, agreed: 2, agreement: 0.4 });
    expect(r.agreement.perClass.map((c) => [c.label, c.agreement])).toEqual([['negative', 1], ['neutral', 0], ['positive', 0]]);
    // Rows: live; columns: shadow.
    expect(r.agreement.confusion).toEqual([[2, 0, 0], [0, 0, 2], [0, 1, 0]]);
    expect(r.live.meanConfidence).toBeCloseTo(0.8);
    expect(r.shadow.meanConfidence).toBeCloseTo(0.6);
    expect(r.shadow.latencyMs?.calls).toBe(1);
    expect(r.counts).toMatchObject({ offered: 5, sampled: 5, compared: 5 });
  });

  it('samples the given share, and never offers a post the live model failed on', async () => {
    let i = 0;
    const draws = [0.05, 0.5, 0.09, 0.3];
    const { runner, shadow } = setup({ sample: 0.1, random: () => draws[i++ % draws.length]! });
    runner.offer(posts(['good 0', 'good 1', 'good 2', 'good 3']), [answer('positive'), answer('positive'), { error: { code: 'KLS_ERR_INFERENCE', message: 'x' } }, answer('positive')]);
    await settle();
    expect(shadow.calls).toEqual([['good 0']]);
    expect(runner.report().live.errors).toBe(1);
  });

  it('sheds instead of queueing: while the live pool has batches waiting, and while a shadow call runs', async () => {
    let queued = 1;
    const { runner, shadow } = setup({ queued: () => queued });
    const shed: string[] = [];
    runner.on('shed', (e) => shed.push(`${e.why}:${e.count}`));
    runner.offer(posts(['good a', 'good b']), [answer('positive'), answer('positive')]);
    expect(shadow.calls).toHaveLength(0);
    queued = 0;
    let release!: () => void;
    shadow.hold = new Promise((r) => (release = r));
    runner.offer(posts(['good c']), [answer('positive')]);
    runner.offer(posts(['good d', 'bad e']), [answer('positive'), answer('negative')]);
    release();
    await settle();
    expect(shadow.calls).toEqual([['good c']]);
    expect(shed).toEqual(['live-busy:2', 'shadow-busy:2']);
    expect(runner.report().counts).toMatchObject({ sampled: 5, compared: 1, shed: { 'live-busy': 2, 'shadow-busy': 2, closed: 0 } });
    await runner.close();
    runner.offer(posts(['good f']), [answer('positive')]);
    expect(runner.report().counts.shed.closed).toBe(1);
  });

  it('sheds while the live workers were busy more than half of the last second', async () => {
    let busy = 0.8;
    const { runner, shadow } = setup({ busy: () => busy });
    runner.offer(posts(['good a']), [answer('positive')]);
    busy = 0.4;
    runner.offer(posts(['good b']), [answer('positive')]);
    await settle();
    expect(shadow.calls).toEqual([['good b']]);
    expect(runner.report().counts.shed['live-busy']).toBe(1);
  });

  it('counts a shadow failure as a disagreement and an error', async () => {
    const { runner } = setup();
    runner.offer(posts(['fail x', 'good y']), [answer('neutral'), answer('positive')]);
    await settle();
    const r = runner.report();
    expect(r.agreement).toMatchObject({ compared: 2, agreed: 0, candidateFailures: 1 });
    expect(r.shadow.errors).toBe(1);
  });
});

describe('ShadowWindow', () => {
  it('forgets what is older than the window', () => {
    const w = new ShadowWindow(60_000);
    w.compared(0, answer('positive'), answer('positive'));
    w.call('shadow', 0, 10);
    w.compared(50_000, answer('negative'), answer('positive'));
    w.call('shadow', 50_000, 30);
    expect(w.report(59_000, LABELS).agreement.compared).toBe(2);
    const later = w.report(70_000, LABELS);
    expect(later.agreement).toMatchObject({ compared: 1, agreed: 0 });
    expect(later.shadow.latencyMs).toEqual({ p50: 30, p99: 30, calls: 1 });
    expect(w.report(200_000, LABELS).shadow.latencyMs).toBeNull();
  });

  it('refuses a window that is not positive', () => {
    expect(() => new ShadowWindow(0)).toThrow(RangeError);
  });
});
