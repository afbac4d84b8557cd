// The swap gate's arithmetic (rollout/parity.ts): agreement overall and per live label, the confusion
// counts, failures on either side, and the thresholds.
import { describe, expect, it } from 'vitest';
import { compareOutcomes, judge, sameLabels } from '../../rollout/parity.js';
import type { ClassifyOutcome } from '../../src/model/classifier.js';

const LABELS = ['negative', 'neutral', 'positive'] as const;
const c = (label: string): ClassifyOutcome => ({ label, scores: {}, tokens: 3, truncated: false });
const fail: ClassifyOutcome = { error: { code: 'KLS_ERR_INFERENCE', message: 'x' } };
const gate = { minAgreement: 0.9, minClassAgreement: 0.8, minClassTexts: 3 };

describe('sameLabels', () => {
  it('needs the same labels in the same order', () => {
    expect(sameLabels(LABELS, ['negative', 'neutral', 'positive'])).toBe(true);
    expect(sameLabels(LABELS, ['positive', 'neutral', 'negative'])).toBe(false);
    expect(sameLabels(LABELS, ['negative', 'positive'])).toBe(false);
    expect(sameLabels(LABELS, ['negative', 'neutral', 'positive', 'mixed'])).toBe(false);
  });
});

describe('compareOutcomes', () => {
  it('counts agreement overall, per live label and as a confusion matrix', () => {
    const live = ['negative', 'negative', 'neutral', 'positive', 'positive', 'positive'].map(c);
    const cand = ['negative', 'neutral', 'neutral', 'positive', 'positive', 'negative'].map(c);
    const f = compareOutcomes(LABELS, live, cand);
    expect(f).toMatchObject({ compared: 6, agreed: 4, liveFailures: 0, candidateFailures: 0 });
    expect(f.agreement).toBeCloseTo(4 / 6);
    expect(f.confusion).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 2],
    ]);
    expect(f.perClass.map((p) => [p.label, p.texts, p.agreed])).toEqual([
      ['negative', 2, 1],
      ['neutral', 1, 1],
      ['positive', 3, 2],
    ]);
    expect(f.perClass[2]!.agreement).toBeCloseTo(2 / 3);
  });

  it('leaves out texts the live model failed on and counts candidate failures as disagreements', () => {
    const f = compareOutcomes(LABELS, [fail, c('neutral'), c('positive'), c('positive')], [c('neutral'), fail, c('positive'), c('positive')]);
    expect(f).toMatchObject({ compared: 3, agreed: 2, liveFailures: 1, candidateFailures: 1 });
    expect(f.perClass[1]).toEqual({ label: 'neutral', texts: 1, agreed: 0, agreement: 0, candidateFailures: 1 });
    // A failure is in no column of the matrix.
    expect(f.confusion[1]).toEqual([0, 0, 0]);
  });

  it('gives 0 agreement when nothing could be compared, and 1 to a class with no texts', () => {
    const f = compareOutcomes(LABELS, [fail], [c('neutral')]);
    expect(f.agreement).toBe(0);
    expect(f.perClass.every((p) => p.agreement === 1 && p.texts === 0)).toBe(true);
  });

  it('refuses outcome lists of different lengths or live labels outside the set', () => {
    expect(() => compareOutcomes(LABELS, [c('neutral')], [])).toThrow(RangeError);
    expect(() => compareOutcomes(LABELS, [c('mixed')], [c('neutral')])).toThrow(/mixed/);
  });
});

describe('judge', () => {
  it('passes at the threshold and fails below it, saying by how much', () => {
    const live = Array.from({ length: 10 }, () => c('neutral'));
    const nine = [...live.slice(0, 9), c('positive')];
    expect(judge(compareOutcomes(LABELS, live, nine), { ...gate, minClassAgreement: 0 })).toEqual({ passed: true, failures: [] });
    const eight = [...live.slice(0, 8), c('positive'), c('negative')];
    const v = judge(compareOutcomes(LABELS, live, eight), { ...gate, minClassAgreement: 0 });
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual(['agreement 80.0% (8/10) is below 90.0%']);
  });

  it('fails a class lost wholesale that overall agreement hides, but not a class with too few texts', () => {
    // 20 neutral texts agree and all 4 positive ones become neutral: 83% overall clears an 80% bar.
    const live = [...Array.from({ length: 20 }, () => c('neutral')), ...Array.from({ length: 4 }, () => c('positive'))];
    const cand = Array.from({ length: 24 }, () => c('neutral'));
    const f = compareOutcomes(LABELS, live, cand);
    const v = judge(f, { minAgreement: 0.8, minClassAgreement: 0.8, minClassTexts: 3 });
    expect(v.passed).toBe(false);
    expect(v.failures).toEqual(['on texts the live model labels "positive": agreement 0.0% (0/4) is below 80.0%']);
    expect(judge(f, { minAgreement: 0.8, minClassAgreement: 0.8, minClassTexts: 5 }).passed).toBe(true);
  });
});
