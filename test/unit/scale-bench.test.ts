// The scale bench's per-step figures: which records count as around a step, the longest gap between
// output appends, and the waits.
import { describe, expect, it } from 'vitest';
import { stepFigures } from '../../bench/scale-bench.js';

describe('scale bench step figures', () => {
  it('takes the records sent from 1 s before a step to 8 s after, and the longest gap between appends there', () => {
    const at = 100_000;
    const records = [
      { id: 'early', ts: at - 5_000, appended: at - 4_990 }, // sent and appended before the window
      { id: 'a', ts: at - 500, appended: at - 490 },
      { id: 'b', ts: at + 100, appended: at + 2_600 }, // waited through the pause
      { id: 'c', ts: at + 200, appended: at + 2_610 },
      { id: 'd', ts: at + 3_000, appended: at + 3_020 },
      { id: 'late', ts: at + 9_000, appended: at + 9_010 }, // after the window
      { id: 'none', ts: null, appended: at + 50 },
    ];
    const f = stepFigures('1 -> 3', at, records);
    expect(f.records).toBe(4);
    // Appends in the window: -490, +50, +2600, +2610, +3020: the pause is 50 -> 2600.
    expect(f.longestGapMs).toBe(2_550);
    expect(f.longestWaitMs).toBe(2_500);
    // Waits 10, 2500, 2410, 20: the median is the second of four (nearest rank).
    expect(f.p50Ms).toBe(20);
    expect(f.p99Ms).toBe(2_500);
  });

  it('a step that takes a while (instances loading) counts until 8 s after it was done', () => {
    const records = [{ id: 'x', ts: 12_000, appended: 12_500 }];
    expect(stepFigures('1 -> 3', 0, records).records).toBe(0);
    expect(stepFigures('1 -> 3', 0, records, 5_000).records).toBe(1);
  });

  it('reports zeros for a step nothing was sent around', () => {
    expect(stepFigures('2 -> 1', 0, [])).toEqual({ step: '2 -> 1', records: 0, longestGapMs: 0, p50Ms: 0, p99Ms: 0, longestWaitMs: 0 });
  });
});
