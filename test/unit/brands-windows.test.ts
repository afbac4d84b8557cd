import { describe, expect, it } from 'vitest';
import type { Label } from '../../brands/mentions.js';
import { WindowAggregator, type BrandRecord, type ClosedWindow } from '../../brands/windows.js';
import { prng } from '../../src/produce/generator.js';

const rec = (brand: string, label: Label, eventTime: number, postId = `${brand}-${eventTime}`): BrandRecord => ({ brand, label, eventTime, postId });

describe('brand windows', () => {
  it('counts labels, net sentiment and share of voice per 1-minute window, against hand-computed values', () => {
    const agg = new WindowAggregator({ brands: ['A', 'B', 'C'], allowedLatenessMs: 10_000, sizes: ['1m'] });
    for (const r of [rec('A', 'positive', 1_000), rec('A', 'negative', 2_000), rec('B', 'neutral', 3_000), rec('A', 'positive', 59_000), rec('B', 'negative', 65_000)]) {
      expect(agg.add(r).closed).toEqual([]);
    }
    // Behind the watermark (65 s) but within the lateness: still counted in minute 0.
    expect(agg.add(rec('A', 'neutral', 59_500)).accepted).toEqual(['1m']);
    const closed = agg.add(rec('C', 'positive', 70_000)).closed; // watermark reaches 60 s + 10 s
    expect(closed).toHaveLength(1);
    const w = closed[0] as ClosedWindow;
    expect([w.size, w.start, w.end, w.total]).toEqual(['1m', 0, 60_000, 5]);
    expect(w.brands.A).toMatchObject({ count: 4, labels: { positive: 2, negative: 1, neutral: 1 }, netSentiment: 0.25, shareOfVoice: 0.8 });
    expect(w.brands.B).toMatchObject({ count: 1, netSentiment: 0, shareOfVoice: 0.2 });
    expect(w.brands.C).toMatchObject({ count: 0, netSentiment: null, shareOfVoice: 0 });
    expect(w.brands.A?.samplePostIds.positive).toEqual(['A-1000', 'A-59000']);
  });

  it('drops records for closed windows as late, and closes empty windows while idle', () => {
    const agg = new WindowAggregator({ brands: ['A', 'B', 'C'], allowedLatenessMs: 10_000 });
    for (const r of [rec('A', 'positive', 1_000), rec('B', 'negative', 65_000), rec('C', 'positive', 70_000)]) agg.add(r);
    const late = agg.add(rec('A', 'positive', 30_000));
    // Minute 0 has closed, the hour has not: the record still counts there.
    expect([late.late, late.accepted]).toEqual([['1m'], ['1h']]);
    expect(agg.lateDropped).toBe(1);
    const idle = agg.advanceWatermark(200_000);
    expect(idle.map((w) => [w.size, w.start, w.total])).toEqual([
      ['1m', 60_000, 2],
      ['1m', 120_000, 0],
    ]);
    expect(idle[1]?.brands.A).toMatchObject({ count: 0, shareOfVoice: null, netSentiment: null });
    expect(agg.advanceWatermark(100_000)).toEqual([]); // the watermark never goes back
    const hour = agg.advanceWatermark(3_600_000 + 10_000).find((w) => w.size === '1h') as ClosedWindow;
    expect([hour.start, hour.end, hour.total]).toEqual([0, 3_600_000, 4]);
    expect(hour.brands.A).toMatchObject({ count: 2, labels: { positive: 2, negative: 0, neutral: 0 }, shareOfVoice: 0.5, netSentiment: 1 });
    expect(hour.brands.B).toMatchObject({ count: 1, shareOfVoice: 0.25, netSentiment: -1 });
  });

  it('rejects brands that are not configured, and skips a gap left by a bogus timestamp', () => {
    const agg = new WindowAggregator({ brands: ['A'], sizes: ['1m'], allowedLatenessMs: 0, maxGapWindows: 100 });
    expect(agg.add(rec('Z', 'positive', 1_000)).unknownBrand).toBe(true);
    agg.add(rec('A', 'positive', 1_000));
    const closed = agg.advanceWatermark(10 * 365 * 86_400_000);
    expect(closed.map((w) => [w.start, w.total])).toEqual([[0, 1]]);
    expect(agg.add(rec('A', 'positive', 5_000)).late).toEqual(['1m']);
    expect(() => agg.add(rec('A', 'positive', Number.NaN))).toThrow(RangeError);
  });

  it('continues identically after a JSON round trip of its state', () => {
    const rand = prng(3);
    const labels: Label[] = ['negative', 'neutral', 'positive'];
    const records = Array.from({ length: 3000 }, (_, i) => rec(['A', 'B', 'C'][Math.floor(rand() * 3)] as string, labels[Math.floor(rand() * 3)] as Label, i * 2_000 + Math.floor(rand() * 40_000), `p${i}`));
    const options = { brands: ['A', 'B', 'C'], allowedLatenessMs: 20_000 };
    const run = (agg: WindowAggregator, rs: BrandRecord[]): ClosedWindow[] => rs.flatMap((r) => agg.add(r).closed);
    const straight = new WindowAggregator(options);
    const expected = [...run(straight, records), ...straight.advanceWatermark(10_000_000)];
    const first = new WindowAggregator(options);
    const part1 = run(first, records.slice(0, 1700));
    const restored = WindowAggregator.fromJSON(JSON.parse(JSON.stringify(first.toJSON())), options);
    const got = [...part1, ...run(restored, records.slice(1700)), ...restored.advanceWatermark(10_000_000)];
    expect(got).toEqual(expected);
    expect(restored.lateDropped).toBe(straight.lateDropped);
    expect(straight.lateDropped).toBeGreaterThan(0); // the stream is out of order enough to exercise lateness
    expect(() => WindowAggregator.fromJSON({ version: 2 }, options)).toThrow();
  });
});
