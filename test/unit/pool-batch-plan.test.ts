import { describe, expect, it } from 'vitest';
import { paddedTokens, planBatches } from '../../inference-pool/batch-plan.js';

/** Deterministic pseudo-random lengths (LCG), so a failure reproduces. */
function lengths(n: number, min: number, max: number, seed = 7): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return min + (s % (max - min + 1));
  });
}

describe('planBatches', () => {
  it('sorts by length and pads each call only to its own longest row', () => {
    const plan = planBatches([9, 3, 7, 3], { maxBatchTokens: 100 });
    expect(plan).toEqual([{ rows: [1, 3, 2, 0], seqLen: 9 }]);
    const split = planBatches([9, 3, 7, 3], { maxBatchTokens: 14 });
    // 3,3 -> 2x3 = 6; adding 7 would be 3x7 = 21 > 14; 7,9 -> 2x9 = 18 > 14, so 9 goes alone.
    expect(split).toEqual([
      { rows: [1, 3], seqLen: 3 },
      { rows: [2], seqLen: 7 },
      { rows: [0], seqLen: 9 },
    ]);
  });

  it('keeps every call within the token budget and places every row exactly once', () => {
    for (const budget of [128, 1000, 4096, 8192]) {
      const input = lengths(500, 2, 128, budget);
      const plan = planBatches(input, { maxBatchTokens: budget });
      const seen = plan.flatMap((b) => b.rows).sort((a, b) => a - b);
      expect(seen).toEqual(input.map((_, i) => i));
      for (const batch of plan) {
        expect(batch.rows.length * batch.seqLen).toBeLessThanOrEqual(budget);
        expect(Math.max(...batch.rows.map((i) => input[i] as number))).toBe(batch.seqLen);
      }
    }
  });

  it('pads far less than padding to the max length, and less than filling each call greedily', () => {
    const input = lengths(512, 8, 64);
    const real = input.reduce((a, b) => a + b, 0);
    const padded = paddedTokens(planBatches(input, { maxBatchTokens: 8192 }));
    expect(padded).toBeLessThan(real * 1.05);
    expect(512 * 128).toBeGreaterThan(padded * 3.5);
    // TEI's rule on the same sorted rows: fill each call until the next row would break the budget.
    const sorted = [...input].sort((a, b) => a - b);
    let greedy = 0;
    let rows = 0;
    let longest = 0;
    for (const len of sorted) {
      if (rows > 0 && (rows + 1) * len > 8192) {
        greedy += rows * longest;
        rows = 0;
      }
      rows++;
      longest = len;
    }
    greedy += rows * longest;
    expect(padded).toBeLessThan(greedy * 0.85);
  });

  it('caps rows per call when asked (TEI max_batch_requests)', () => {
    const plan = planBatches(new Array(10).fill(4), { maxBatchTokens: 1000, maxRows: 4 });
    expect(plan).toHaveLength(3);
    expect(Math.max(...plan.map((b) => b.rows.length))).toBe(4);
    expect(plan.flatMap((b) => b.rows).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('leaves out rows with no tokens and returns nothing for nothing', () => {
    expect(planBatches([0, 5, 0], { maxBatchTokens: 10 })).toEqual([{ rows: [1], seqLen: 5 }]);
    expect(planBatches([], { maxBatchTokens: 10 })).toEqual([]);
  });

  it('throws a RangeError for a row longer than the budget or a bad budget', () => {
    expect(() => planBatches([3, 11], { maxBatchTokens: 10 })).toThrow(RangeError);
    expect(() => planBatches([3], { maxBatchTokens: 0 })).toThrow(/maxBatchTokens/);
  });
});
