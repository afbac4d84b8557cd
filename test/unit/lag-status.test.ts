import { describe, expect, it } from 'vitest';
import { evaluatePartition, worst, type LagSample } from '../../src/observe/lag-status.js';

const s = (committed: number, lag: number, error?: string): LagSample => ({ at: 0, committed, logEnd: committed + lag, lag, error });

describe('Burrow-style lag status', () => {
  it('OK when lag touched zero in the window, even if it is non-zero now', () => {
    expect(evaluatePartition([s(10, 5), s(20, 0), s(25, 9)], true)).toBe('OK');
  });
  it('OK when the consumer moves and lag does not keep growing', () => {
    expect(evaluatePartition([s(10, 50), s(60, 40), s(100, 45), s(150, 30)], true)).toBe('OK');
  });
  it('WARNING when offsets move but lag grows at every step', () => {
    expect(evaluatePartition([s(10, 50), s(20, 60), s(30, 75), s(40, 90)], true)).toBe('WARNING');
  });
  it('STALLED when members are there, lag is non-zero, offsets frozen', () => {
    expect(evaluatePartition([s(10, 50), s(10, 50), s(10, 70)], true)).toBe('STALLED');
  });
  it('STOPPED when nobody is in the group and lag is non-zero', () => {
    expect(evaluatePartition([s(10, 50), s(10, 60)], false)).toBe('STOPPED');
    expect(evaluatePartition([s(10, 0)], false)).toBe('OK');
  });
  it('ERROR when the partition could not be read', () => {
    expect(evaluatePartition([s(10, 5), s(0, 0, 'UNKNOWN_TOPIC_OR_PARTITION')], true)).toBe('ERROR');
  });
  it('the group takes its worst partition', () => {
    expect(worst(['OK', 'WARNING', 'OK'])).toBe('WARNING');
    expect(worst(['STALLED', 'STOPPED', 'WARNING'])).toBe('STOPPED');
    expect(worst([])).toBe('OK');
  });
});
