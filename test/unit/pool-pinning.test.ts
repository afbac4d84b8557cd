import { describe, expect, it } from 'vitest';
import { ortAffinityString, parseCpuList, parseCpuSet, planPinning, splitCpus } from '../../inference-pool/pinning.js';
import { sessionOptionsFor } from '../../inference-pool/session-options.js';
import { ConfigError } from '../../src/errors.js';

describe('core sets', () => {
  it('parses the knob syntax: 0-based ids, ranges with -, members with +', () => {
    expect(parseCpuSet('0-1')).toEqual([0, 1]);
    expect(parseCpuSet('3')).toEqual([3]);
    expect(parseCpuSet('0+2')).toEqual([0, 2]);
    expect(parseCpuSet(' 8-9 + 0-1 + 1 ')).toEqual([0, 1, 8, 9]);
    for (const bad of ['', 'a', '1-', '3-1', '0,1', '-1', '1..2']) expect(() => parseCpuSet(bad), bad).toThrow(ConfigError);
  });

  it('parses the kernel list format of /proc Cpus_allowed_list', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('5')).toEqual([5]);
  });

  it('splits a set among threads: contiguous groups, round-robin when cores are fewer', () => {
    expect(splitCpus([0, 1, 2, 3], 1)).toEqual([[0, 1, 2, 3]]);
    expect(splitCpus([0, 1, 2, 3], 2)).toEqual([[0, 1], [2, 3]]);
    expect(splitCpus([0, 1, 2], 2)).toEqual([[0, 1], [2]]);
    expect(splitCpus([4, 5], 3)).toEqual([[4], [5], [4]]);
  });

  it('writes ORT affinities 1-based, one comma list per thread, joined by ;', () => {
    expect(ortAffinityString([[1]])).toBe('2');
    expect(ortAffinityString([[2, 3], [4]])).toBe('3,4;5');
  });
});

describe('planPinning', () => {
  it('gives T = 1 workers their whole set on the calling thread and no ORT affinity (ORT makes no pool)', () => {
    expect(planPinning(['0-1', '2-3'], 2, 1)).toEqual([
      { cpus: [0, 1], callerCpus: [0, 1], ortAffinity: undefined },
      { cpus: [2, 3], callerCpus: [2, 3], ortAffinity: undefined },
    ]);
  });

  it('pins the caller to the first group and ORT threads to the rest: T - 1 entries', () => {
    const [w] = planPinning(['0-3'], 1, 4) ?? [];
    expect(w).toEqual({ cpus: [0, 1, 2, 3], callerCpus: [0], ortAffinity: '2;3;4' });
    const [shared] = planPinning(['0-1'], 1, 3) ?? [];
    expect(shared?.ortAffinity).toBe('2;1');
    expect(shared?.ortAffinity?.split(';')).toHaveLength(2);
  });

  it('returns undefined without core sets', () => {
    expect(planPinning([], 4, 2)).toBeUndefined();
  });

  it('refuses a set count that does not match the workers, and cores this process cannot use', () => {
    expect(() => planPinning(['0', '1'], 3, 1)).toThrow(/one set per worker/);
    expect(() => planPinning(['0', '7'], 2, 1, [0, 1])).toThrow(/core\(s\) 7/);
    expect(() => planPinning(['0', '7'], 2, 1, [0, 1])).toThrow(ConfigError);
  });
});

describe('sessionOptionsFor', () => {
  const manifest = { optimization: { level: 'extended' as const, portable: true, note: '' }, executionProvider: 'cpu' as const };

  it('passes threads and the affinity string to ORT; arena on, memory pattern off', () => {
    const o = sessionOptionsFor({ manifest, threadsPerWorker: 2, pinning: { cpus: [0, 1], callerCpus: [0], ortAffinity: '2' }, gpu: undefined, oversubscribed: false, logSeverityLevel: 3 });
    expect(o).toMatchObject({ intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', executionProviders: ['cpu'], enableCpuMemArena: true, enableMemPattern: false, graphOptimizationLevel: 'all' });
    expect(o.extra).toEqual({ session: { intra_op_thread_affinities: '2' } });
  });

  it('sets no extra entries when there is nothing to say (onnxruntime-node rejects extra: undefined)', () => {
    const o = sessionOptionsFor({ manifest, threadsPerWorker: 1, pinning: undefined, gpu: undefined, oversubscribed: true, logSeverityLevel: 3 });
    expect('extra' in o).toBe(false);
  });

  it('stops intra-op spinning when threads outnumber cores', () => {
    const o = sessionOptionsFor({ manifest, threadsPerWorker: 2, pinning: undefined, gpu: undefined, oversubscribed: true, logSeverityLevel: 3 });
    expect(o.extra).toEqual({ session: { 'intra_op.allow_spinning': '0' } });
  });

  it('skips re-optimizing an "all" graph and selects the CUDA provider with its device for a GPU worker', () => {
    const all = { ...manifest, optimization: { level: 'all' as const, portable: false, note: '' } };
    expect(sessionOptionsFor({ manifest: all, threadsPerWorker: 1, pinning: undefined, gpu: undefined, oversubscribed: false, logSeverityLevel: 3 }).graphOptimizationLevel).toBe('disabled');
    const cuda = sessionOptionsFor({ manifest: { ...manifest, executionProvider: 'cuda' }, threadsPerWorker: 1, pinning: undefined, gpu: 1, oversubscribed: false, logSeverityLevel: 3 });
    expect(cuda.executionProviders).toEqual([{ name: 'cuda', deviceId: 1 }]);
  });
});
