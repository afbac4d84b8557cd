// SwappableClassifier (rollout/swappable.ts) on test doubles: the gate's use of recorded live answers, each refusal's stage and code, the busy
// lock, the fallback sample, draining, batch timings across a swap, closing mid-swap. The real pool and
// the shipped model: test/integration/rollout-swap.test.ts.
import { describe, expect, it } from 'vitest';
import { SwappableClassifier, type SwapOptions } from '../../rollout/index.js';
import { PoolClosedError } from '../../src/errors.js';
import type { BatchTimings, Classifier, ClassifierHealth, ClassifyOutcome, ModelInfo } from '../../src/model/classifier.js';

const LABELS = ['negative', 'neutral', 'positive'];
const byWord = (t: string): string => (t.includes('good') ? 'positive' : t.includes('bad') ? 'negative' : 'neutral');
const TIMINGS: BatchTimings = { queueMs: 0, tokenizeMs: 0, inferenceMs: 1, rows: 1, tokens: 3, paddedTokens: 3, runs: 1 };

class Fake implements Classifier {
  readonly model: ModelInfo;
  closed = false;
  calls = 0;
  /** When set, a call with a text starting HOLD waits for it: a call in flight. */
  hold: Promise<void> | undefined;
  readonly #listeners = new Set<(t: BatchTimings) => void>();

  constructor(version: string, readonly labelOf: (t: string) => string = byWord, labels: string[] = LABELS) {
    this.model = { name: 'fake', version, target: 'cpu', labels, maxLength: 16 };
  }

  async classify(texts: readonly string[]): Promise<ClassifyOutcome[]> {
    if (this.closed) throw new PoolClosedError('closed');
    this.calls++;
    if (this.hold && texts.some((t) => t.startsWith('HOLD'))) await this.hold;
    // A pool closed under a running call would fail it: the swap must not do that to its old model.
    if (this.closed) throw new PoolClosedError('closed while the call ran');
    for (const l of this.#listeners) l(TIMINGS);
    return texts.map((t) => ({ label: this.labelOf(t), scores: {}, tokens: 3, truncated: false }));
  }

  health(): ClassifierHealth {
    return { ready: !this.closed, workers: 1, queued: 0, busyRatio: 0 };
  }

  onBatch(listener: (t: BatchTimings) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const traffic = (n: number): string[] => Array.from({ length: n }, (_, i) => ['good day', 'bad day', 'a day'][i % 3]! + ` ${i}`);

function setup(candidates: Record<string, Fake | Error>, options: Partial<SwapOptions> = {}) {
  const live = new Fake('v1');
  const loaded: string[] = [];
  const sw = new SwappableClassifier({
    live,
    load: async (dir) => {
      loaded.push(dir);
      const c = candidates[dir];
      if (c === undefined || c instanceof Error) throw c ?? new Error(`no ${dir}`);
      return c;
    },
    minSample: 8,
    minClassTexts: 2,
    ...options,
  });
  return { live, sw, loaded };
}

describe('SwappableClassifier', () => {
  it('gates on the answers the live model already gave: only the candidate classifies the sample, a chunk at a time', async () => {
    const v2 = new Fake('v2');
    const { live, sw } = setup({ v2 });
    await sw.classify(traffic(100));
    const liveCalls = live.calls;
    const result = await sw.swap('v2');
    expect(result).toMatchObject({ accepted: true, sample: { texts: 100, live: 100, fallback: 0 } });
    expect(live.calls, 'the live model was asked again').toBe(liveCalls);
    // 100 texts in chunks of 32: 4 calls, never the whole sample at once.
    expect(v2.calls).toBe(4);
    // The candidate's answers on the sample are the new live model's sample: a next swap needs no new traffic.
    expect(sw.sampleSize).toBe(100);
  });

  it('accepts a candidate that agrees, tags outcomes with their model and closes the old one', async () => {
    const v2 = new Fake('v2');
    const { live, sw } = setup({ v2 });
    await sw.classify(traffic(30));
    const events: string[] = [];
    sw.on('swap_switched', (e) => events.push(`switched ${e.to.version}`));
    sw.on('swap_accepted', (r) => events.push(`accepted ${r.to.version}`));
    const r = await sw.swap('v2');
    expect(r).toMatchObject({ accepted: true, from: { version: 'v1' }, to: { version: 'v2' }, drained: true, sample: { texts: 30, live: 30, fallback: 0 } });
    expect(r.figures?.agreement).toBe(1);
    expect(events).toEqual(['switched v2', 'accepted v2']);
    expect(live.closed).toBe(true);
    expect(sw.model.version).toBe('v2');
    const out = await sw.classify(['good']);
    expect(out[0]).toMatchObject({ label: 'positive', model: { version: 'v2' } });
  });

  it('lets calls already on the old model finish there before closing it', async () => {
    const v2 = new Fake('v2');
    const { live, sw } = setup({ v2 });
    await sw.classify(traffic(30));
    let release!: () => void;
    live.hold = new Promise((r) => (release = r));
    const before = sw.classify(['HOLD good']);
    const swap = sw.swap('v2');
    let settled = false;
    void swap.then(() => (settled = true));
    // Parity (not held) is done and v2 is live by now; the swap waits for the held call.
    await new Promise((r) => setTimeout(r, 20));
    expect(sw.model.version).toBe('v2');
    expect(settled).toBe(false);
    expect(live.closed).toBe(false);
    release();
    const [out, r] = await Promise.all([before, swap]);
    expect(r.accepted).toBe(true);
    expect(out[0]).toMatchObject({ model: { version: 'v1' } });
    expect(live.closed).toBe(true);
  });

  it('closes the old model anyway when its calls outlast drainTimeoutMs, and says so', async () => {
    const { live, sw } = setup({ v2: new Fake('v2') }, { drainTimeoutMs: 20 });
    await sw.classify(traffic(30));
    live.hold = new Promise(() => undefined);
    const stuck = sw.classify(['HOLD bad']);
    const r = await sw.swap('v2');
    expect(r).toMatchObject({ accepted: true, drained: false });
    expect(live.closed).toBe(true);
    void stuck.catch(() => undefined);
  });

  it('refuses a second swap while one is under way, and loads nothing for it', async () => {
    const v2 = new Fake('v2');
    const { sw, loaded } = setup({ v2, v3: new Fake('v3') });
    await sw.classify(traffic(30));
    const first = sw.swap('v2');
    const second = await sw.swap('v3');
    expect(second).toMatchObject({ accepted: false, stage: 'busy', code: 'KLS_ERR_SWAP_BUSY' });
    expect(second.accepted === false && second.error.retriable).toBe(true);
    expect((await first).accepted).toBe(true);
    expect(loaded).toEqual(['v2']);
    expect(sw.swapping).toBe(false);
  });

  it('refuses a candidate that cannot load, naming the cause, and keeps serving', async () => {
    const { live, sw } = setup({ bad: new Error('no manifest.json in bad') });
    await sw.classify(traffic(30));
    const r = await sw.swap('bad');
    expect(r).toMatchObject({ accepted: false, stage: 'load', code: 'KLS_ERR_SWAP_LOAD' });
    expect(r.accepted === false && r.reason).toMatch(/no manifest\.json in bad/);
    expect(live.closed).toBe(false);
    expect(sw.model.version).toBe('v1');
  });

  it('refuses other labels or another label order, and closes the candidate', async () => {
    const permuted = new Fake('v2', byWord, ['positive', 'neutral', 'negative']);
    const { sw } = setup({ permuted });
    await sw.classify(traffic(30));
    const r = await sw.swap('permuted');
    expect(r).toMatchObject({ accepted: false, stage: 'labels', code: 'KLS_ERR_SWAP_LABELS', candidate: { version: 'v2' } });
    expect(permuted.closed).toBe(true);
  });

  it('refuses without enough live texts unless a fallback sample tops them up', async () => {
    const { sw } = setup({ v2: new Fake('v2') });
    await sw.classify(traffic(5));
    const r = await sw.swap('v2');
    expect(r).toMatchObject({ accepted: false, stage: 'sample', code: 'KLS_ERR_SWAP_SAMPLE', sample: { texts: 5, live: 5, fallback: 0 } });
    expect(r.accepted === false && r.reason).toMatch(/only 5 recent live text\(s\) seen, the parity check needs 8/);

    const withFallback = setup({ v2: new Fake('v2') }, { fallbackSample: traffic(6) });
    await withFallback.sw.classify(traffic(5));
    const ok = await withFallback.sw.swap('v2');
    expect(ok).toMatchObject({ accepted: true, sample: { texts: 11, live: 5, fallback: 6 } });
  });

  it('refuses a candidate below the agreement gate with the figures, and closes it', async () => {
    const flips = new Fake('v2', (t) => (byWord(t) === 'positive' ? 'negative' : byWord(t)));
    const { live, sw } = setup({ flips });
    await sw.classify(traffic(30));
    const refused: string[] = [];
    sw.on('swap_refused', (e) => refused.push(e.code));
    const r = await sw.swap('flips');
    expect(r).toMatchObject({ accepted: false, stage: 'parity', code: 'KLS_ERR_SWAP_PARITY' });
    expect(r.figures?.agreement).toBeCloseTo(20 / 30);
    expect(r.figures?.perClass.find((c) => c.label === 'positive')?.agreement).toBe(0);
    expect(refused).toEqual(['KLS_ERR_SWAP_PARITY']);
    expect(flips.closed).toBe(true);
    expect(live.closed).toBe(false);
  });

  it('refuses and closes a candidate that answers out of contract (too few outcomes)', async () => {
    const short = new Fake('v2');
    short.classify = async (texts) => texts.slice(1).map(() => ({ label: 'neutral', scores: {}, tokens: 3, truncated: false }));
    const { sw } = setup({ short });
    await sw.classify(traffic(30));
    const r = await sw.swap('short');
    expect(r).toMatchObject({ accepted: false, stage: 'parity', code: 'KLS_ERR_SWAP_PARITY' });
    expect(r.accepted === false && r.reason).toMatch(/the parity check failed: live and candidate outcomes differ in length/);
    expect(short.closed).toBe(true);
  });

  it('forwards batch timings from the new model after a swap, and drops the old subscription', async () => {
    const v2 = new Fake('v2');
    const { live, sw } = setup({ v2 });
    const seen: number[] = [];
    sw.onBatch((t) => seen.push(t.rows));
    await sw.classify(traffic(30));
    expect(seen).toHaveLength(1);
    await sw.swap('v2');
    const n = seen.length;
    await sw.classify(['good']);
    expect(seen.length).toBe(n + 1);
    expect(live.listeners).toBe(0);
    expect(v2.listeners).toBe(1);
  });

  it('closing mid-swap closes the candidate too and refuses the swap', async () => {
    const v2 = new Fake('v2');
    let loadNow!: () => void;
    const live = new Fake('v1');
    const sw = new SwappableClassifier({ live, minSample: 1, load: () => new Promise((r) => (loadNow = () => r(v2))) });
    await sw.classify(traffic(3));
    const swap = sw.swap('v2');
    await new Promise((r) => setTimeout(r, 0));
    const closing = sw.close();
    loadNow();
    const [r] = await Promise.all([swap, closing]);
    expect(r).toMatchObject({ accepted: false, stage: 'closed', code: 'KLS_ERR_POOL_CLOSED' });
    expect(live.closed && v2.closed).toBe(true);
    await expect(sw.classify(['x'])).rejects.toBeInstanceOf(PoolClosedError);
    expect((await sw.swap('v2')).accepted).toBe(false);
  });

  it('validates its options at the edge', () => {
    const live = new Fake('v1');
    const load = async (): Promise<Classifier> => live;
    expect(() => new SwappableClassifier({ live, load, minAgreement: 1.5 })).toThrow(/options\.minAgreement/);
    expect(() => new SwappableClassifier({ live, load, sampleSize: 16, minSample: 32 })).toThrow(/minSample/);
    expect(() => new SwappableClassifier({ live, load, sampleSize: 0 })).toThrow(RangeError);
  });
});
