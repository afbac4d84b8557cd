// The parity gate's arithmetic and verdicts, on logits made up for the purpose.
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATE, argmaxRows, enforceParity, measureParity } from '../../src/compile/parity.js';

/** Logits for 3 labels whose argmax is `labels[i]`. */
function logits(labels: number[]): Float32Array {
  const out = new Float32Array(labels.length * 3);
  labels.forEach((l, i) => (out[i * 3 + l] = 1));
  return out;
}

function input(source: number[], compiled: number[], gold?: number[], force = false): Parameters<typeof measureParity>[0] {
  return { source: logits(source), compiled: logits(compiled), labels: 3, gold, evalSet: 'test set', gate: DEFAULT_GATE, force };
}

const hundred = (flips: number, label = 0): number[] => Array.from({ length: 100 }, (_, i) => (i < flips ? (label + 1) % 3 : label));

describe('measureParity', () => {
  it('argmax per row', () => {
    expect(argmaxRows(Float32Array.from([0, 2, 1, 5, 1, 1]), 3)).toEqual([1, 0]);
  });

  it('exactly 99% agreement passes, 98% fails', () => {
    expect(measureParity(input(hundred(0), hundred(1))).passed).toBe(true);
    const failed = measureParity(input(hundred(0), hundred(2)));
    expect(failed.agreement).toBeCloseTo(0.98);
    expect(failed.passed).toBe(false);
    expect(failed.forced).toBe(false);
  });

  it('on a labeled set, fails when accuracy drops by more than one point even with high agreement', () => {
    const gold = hundred(0);
    // Source right on 100/100 ... compiled wrong on 2 → agreement 98% and a 2-point drop.
    const p = measureParity({ ...input(hundred(0), hundred(2), gold), gate: { minAgreement: 0.9, maxAccuracyDrop: 0.01 } });
    expect(p.sourceAccuracy).toBe(1);
    expect(p.compiledAccuracy).toBeCloseTo(0.98);
    expect(p.passed).toBe(false);
    // A gain is never a failure.
    expect(measureParity({ ...input(hundred(2), hundred(0), gold), gate: { minAgreement: 0.9, maxAccuracyDrop: 0.01 } }).passed).toBe(true);
  });

  it('records the largest logit difference, and NaN logits fail', () => {
    const p = measureParity({ ...input([0], [0]), compiled: Float32Array.from([1, 0.25, 0]) });
    expect(p.maxAbsLogitDiff).toBe(0.25);
    const nan = measureParity({ ...input([0], [0]), compiled: Float32Array.from([NaN, 0, 0]) });
    expect(nan.passed).toBe(false);
  });

  it('--force turns a failure into a forced pass-through', () => {
    const p = measureParity(input(hundred(0), hundred(10), undefined, true));
    expect(p.passed).toBe(false);
    expect(p.forced).toBe(true);
    expect(() => enforceParity(p, 'cpu-int8')).not.toThrow();
  });
});

describe('enforceParity', () => {
  it('throws KLS_ERR_PARITY_GATE naming the failure and the way out', () => {
    const p = measureParity(input(hundred(0), hundred(5)));
    expect(() => enforceParity(p, 'cpu-int8')).toThrow(expect.objectContaining({ code: 'KLS_ERR_PARITY_GATE', message: expect.stringMatching(/95\.00%.*below 99\.00%.*--force/s) }));
  });
});
