// klassify shadow-report reads what src/observe/shadow-metrics.ts writes: a real prom-client registry's
// /metrics text, parsed back (src/cli/shadow-report.ts), gives the runner's own figures.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ShadowRunner } from '../../rollout/shadow.js';
import { formatShadowReport, parseShadowMetrics } from '../../src/cli/shadow-report.js';
import type { Classification, Classifier, ClassifyOutcome, ModelInfo } from '../../src/model/classifier.js';
import { ShadowMetrics } from '../../src/observe/shadow-metrics.js';

const LABELS = ['negative', 'neutral', 'positive'];
const model = (version: string): ModelInfo => ({ name: 'm', version, target: 'cpu', labels: LABELS, maxLength: 16 });
const answer = (label: string, top: number): Classification => ({ label, scores: Object.fromEntries(LABELS.map((l) => [l, l === label ? top : (1 - top) / 2])), tokens: 3, truncated: false });

const shadow: Classifier = {
  model: model('v2'),
  classify: async (texts) => texts.map((t): ClassifyOutcome => answer(t.startsWith('n') ? 'negative' : 'positive', 0.7)),
  health: () => ({ ready: true, workers: 1, queued: 0, busyRatio: 0 }),
  close: async () => undefined,
};

describe('shadow-report', () => {
  it('parses back the figures the metrics hold, and prints them', async () => {
    const registry = new client.Registry();
    const metrics = new ShadowMetrics(registry);
    let queued = 0;
    const runner = new ShadowRunner({ shadow, live: () => ({ model: model('v1'), health: () => ({ ready: true, workers: 2, queued, busyRatio: 0 }) }), sample: 1, random: () => 0 });
    metrics.observe(runner);
    // Live: n→negative, everything else neutral; the shadow says positive where live says neutral.
    const texts = ['n1', 'n2', 'x1', 'x2', 'x3'];
    runner.offer(texts.map((text, i) => ({ id: `p${i}`, text })), texts.map((t) => answer(t.startsWith('n') ? 'negative' : 'neutral', 0.9)));
    runner.observeLive(12);
    await new Promise((r) => setTimeout(r, 5));
    queued = 3;
    runner.offer([{ id: 'q', text: 'n9' }], [answer('negative', 0.9)]);
    metrics.sample(runner.report());
    const parsed = parseShadowMetrics(await registry.metrics());
    expect(parsed).toMatchObject({
      liveVersion: 'v1',
      shadow: { name: 'm', version: 'v2' },
      sample: 1,
      compared: 5,
      comparedTotal: 5,
      agreement: 0.4,
      classAgreement: { negative: 1, neutral: 0 },
      labels: LABELS,
      confusion: { negative: { negative: 2, neutral: 0, positive: 0 }, neutral: { negative: 0, neutral: 0, positive: 3 } },
      windowErrors: { live: 0, shadow: 0 },
      shed: { 'live-busy': 1 },
    });
    expect(parsed!.confidence.live).toBeCloseTo(0.9);
    expect(parsed!.confidence.shadow).toBeCloseTo(0.7);
    expect(parsed!.latencySeconds.live).toEqual({ '0.5': 0.012, '0.99': 0.012 });
    const text = formatShadowReport(parsed!);
    expect(text).toMatch(/label agreement: 40\.0%/);
    expect(text).toMatch(/on live "neutral": 0\.0%/);
    expect(text).toMatch(/neutral\s+0\s+0\s+3/);
    // Promoted or never started: no shadow series, nothing to report.
    metrics.sample(undefined);
    expect(parseShadowMetrics(await registry.metrics())).toBeUndefined();
  });
});
