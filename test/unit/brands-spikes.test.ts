import { describe, expect, it } from 'vitest';
import { kSteadyBrands, simulate, type SimBrand } from '../../bench/brands-spikes.js';
import { mad, median, SpikeDetector } from '../../brands/spikes.js';
import type { ClosedWindow } from '../../brands/windows.js';

const minute = 60_000;
const medium = kSteadyBrands.find((b) => b.name === 'medium') as SimBrand;

/** A hand-made closed window: counts per brand, `neg` of them negative. */
const win = (w: number, counts: Record<string, [number, number]>): ClosedWindow => {
  const total = Object.values(counts).reduce((a, [c]) => a + c, 0);
  const brands = Object.fromEntries(
    Object.entries(counts).map(([b, [c, neg]]) => [
      b,
      { count: c, labels: { negative: neg, neutral: 0, positive: c - neg }, netSentiment: c === 0 ? null : (c - 2 * neg) / c, shareOfVoice: total === 0 ? null : c / total, samplePostIds: { negative: neg > 0 ? [`${b}-${w}-n`] : [], neutral: [], positive: [`${b}-${w}-p`] } },
    ]),
  );
  return { size: '1m', start: w * minute, end: (w + 1) * minute, total, brands };
};

describe('spike detection', () => {
  it('computes median and MAD', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(mad([1, 2, 3, 4, 100])).toBe(1);
  });

  it('alerts an 8x volume minute within two windows', () => {
    const alerts = simulate({ brands: kSteadyBrands, windows: 200, seed: 11, override: (b, w) => (b.name === 'medium' && w === 120 ? { ...b, rate: b.rate * 8 } : b) });
    const hit = alerts.find((a) => a.brand === 'medium' && a.kind === 'volume' && a.window.start >= 120 * minute && a.window.start <= 121 * minute);
    expect(hit).toBeDefined();
    expect(hit?.id).toBe(`medium|volume|1m|${120 * minute}`);
    expect(hit?.expected).toBeGreaterThan(medium.rate * 0.7);
    expect(hit?.expected).toBeLessThan(medium.rate * 1.3);
    expect(hit?.observed).toBeGreaterThan(medium.rate * 5);
    expect(hit?.samplePostIds.length).toBeGreaterThan(0);
  });

  it('alerts a negative share rising from 0.2 to 0.8 within two windows, with negative sample posts', () => {
    const alerts = simulate({ brands: kSteadyBrands, windows: 200, seed: 12, override: (b, w) => (b.name === 'medium' && w >= 150 ? { ...b, negative: 0.8 } : b) });
    const hit = alerts.find((a) => a.brand === 'medium' && a.kind === 'negative_share' && a.window.start >= 150 * minute);
    expect(hit).toBeDefined();
    expect(hit?.window.start).toBeLessThanOrEqual(151 * minute);
    expect(hit?.expected).toBeCloseTo(0.2, 1);
    expect(hit?.observed).toBeGreaterThan(0.5);
    expect(hit?.samplePostIds.length).toBeGreaterThan(0);
  });

  it('keeps false alerts on a steady Poisson stream below 1 per 1,000 brand-windows (medium)', () => {
    const windows = 2000;
    const alerts = simulate({ brands: kSteadyBrands, windows, seed: 5 });
    const rate = alerts.length / (windows * kSteadyBrands.length);
    expect(rate).toBeLessThan(0.001);
    // High sensitivity trades more false alerts for earlier detection, still bounded.
    const high = simulate({ brands: kSteadyBrands, windows, seed: 5, sensitivity: 'high' });
    expect(high.length).toBeGreaterThanOrEqual(alerts.length);
    expect(high.length / (windows * kSteadyBrands.length)).toBeLessThan(0.01);
  });

  it('applies the presets thresholds to the robust z-score', () => {
    // History 18, 20, 22 repeated: median 20, MAD 2, scale max(1.4826 × 2, sqrt(20)) = 4.47.
    const history = Array.from({ length: 12 }, (_, w) => win(w, { A: [[18, 20, 22][w % 3] as number, 4] }));
    const feed = (sensitivity: 'low' | 'medium' | 'high', count: number): number[] => {
      const d = new SpikeDetector({ defaultSensitivity: sensitivity });
      history.forEach((w) => expect(d.observe(w)).toEqual([]));
      return d.observe(win(12, { A: [count, 4] })).map((a) => Math.round(a.score * 100) / 100);
    };
    expect(feed('high', 44)).toEqual([5.37]);
    expect(feed('medium', 44)).toEqual([5.37]);
    expect(feed('low', 44)).toEqual([]);
    expect(feed('high', 38)).toEqual([4.02]);
    expect(feed('medium', 38)).toEqual([]);
  });

  it('needs history and minimum volume, and observes the cooldown', () => {
    const d = new SpikeDetector({ minHistory: 10, cooldownWindows: 5 });
    // A burst before there is history: no alert.
    expect(d.observe(win(0, { A: [500, 0] }))).toEqual([]);
    for (let w = 1; w < 12; w++) d.observe(win(w, { A: [2, 0] }));
    // 8 mentions against a baseline of 2 is a large z, but under medium's minimum volume of 10.
    expect(d.observe(win(12, { A: [8, 0] }))).toEqual([]);
    const starts: number[] = [];
    for (let w = 13; w < 25; w++) for (const a of d.observe(win(w, { A: [60, 0] }))) starts.push(a.window.start / minute);
    expect(starts).toEqual([13, 18, 23]);
  });

  it('keys alerts by brand, kind and window, and continues identically from its JSON state', () => {
    const windows = Array.from({ length: 60 }, (_, w) => win(w, { A: [w === 40 ? 90 : 20 + (w % 5), w >= 50 ? 18 : 4], B: [10, 2] }));
    const straight = new SpikeDetector();
    const expected = windows.flatMap((w) => straight.observe(w));
    // The negative share stays high from window 50: alerted again once the 5-window cooldown has passed.
    expect(expected.map((a) => a.id)).toEqual([`A|volume|1m|${40 * minute}`, `A|negative_share|1m|${50 * minute}`, `A|negative_share|1m|${55 * minute}`]);
    const first = new SpikeDetector();
    const got = windows.slice(0, 45).flatMap((w) => first.observe(w));
    const restored = SpikeDetector.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    got.push(...windows.slice(45).flatMap((w) => restored.observe(w)));
    expect(got).toEqual(expected);
    // Windows replayed after a restore (e.g. from an older snapshot) are ignored, not counted twice.
    expect(windows.slice(40, 60).flatMap((w) => restored.observe(w))).toEqual([]);
    expect(restored.toJSON()).toEqual(straight.toJSON());
    expect(() => new SpikeDetector({ history: 2 })).toThrow(RangeError);
  });
});
