import { describe, expect, it } from 'vitest';
import { PoolClosedError, PoolOverloadedError } from '../../src/errors.js';
import { classifyPatiently } from '../../src/model/classify-patiently.js';
import type { Classifier, ClassifyOutcome } from '../../src/model/classifier.js';

const ok = (text: string): ClassifyOutcome => ({ label: text.length % 2 ? 'positive' : 'negative', scores: { negative: 0.5, positive: 0.5 }, tokens: 3, truncated: false });

/** A classifier whose worker dies on any batch holding a text with `poison`, as the pool reports it after its retry. */
function fake(behaviour: (texts: readonly string[], call: number) => ClassifyOutcome[] | Error): Classifier & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    calls,
    model: { name: 'm', version: '1', target: 'cpu', labels: ['negative', 'positive'], maxLength: 128 },
    health: () => ({ ready: true, workers: 1, queued: 0, busyRatio: 0 }),
    classify: async (texts: readonly string[]) => {
      calls.push([...texts]);
      const r = behaviour(texts, calls.length);
      if (r instanceof Error) throw r;
      return r;
    },
  } as unknown as Classifier & { calls: string[][] };
}

const crash = (texts: readonly string[]): ClassifyOutcome[] => texts.map(() => ({ error: { code: 'KLS_ERR_WORKER_CRASH', message: 'worker exited' } }));
const poisoned = (texts: readonly string[]): ClassifyOutcome[] => (texts.some((t) => t.includes('POISON')) ? crash(texts) : texts.map(ok));

describe('classifyPatiently', () => {
  it('bisects a batch that kills its worker down to the one poison text; every other text is classified', async () => {
    const texts = Array.from({ length: 13 }, (_, i) => (i === 9 ? `POISON ${i}` : `text ${i}`));
    const c = fake(poisoned);
    const out = await classifyPatiently(c, texts, () => false);
    expect(out).toHaveLength(13);
    const failed = out.flatMap((o, i) => ('error' in o ? [i] : []));
    expect(failed).toEqual([9]);
    expect(out[0]).toEqual(ok('text 0'));
    // log2(13) levels, not one call per text.
    expect(c.calls.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(13)) + 1);
  });

  it('a pool that cuts a call into tasks fails only the poison task: just those texts are tried again', async () => {
    // Tasks of 4 texts, as the pool's maxTaskTexts would cut them.
    const chunked = (texts: readonly string[]): ClassifyOutcome[] =>
      Array.from({ length: Math.ceil(texts.length / 4) }, (_, k) => poisoned(texts.slice(4 * k, 4 * k + 4))).flat();
    const texts = Array.from({ length: 16 }, (_, i) => (i === 6 ? 'POISON' : `t${i}`));
    const c = fake(chunked);
    const out = await classifyPatiently(c, texts, () => false);
    expect(out.flatMap((o, i) => ('error' in o ? [i] : []))).toEqual([6]);
    expect(out[5]).toEqual(ok('t5'));
    expect(c.calls[1]).toEqual(['t4', 't5', 'POISON', 't7']);
  });

  it('two poison texts in one batch: both fail alone', async () => {
    const texts = ['a', 'POISON b', 'c', 'd', 'e', 'POISON f', 'g'];
    const out = await classifyPatiently(fake(poisoned), texts, () => false);
    expect(out.flatMap((o, i) => ('error' in o ? [i] : []))).toEqual([1, 5]);
  });

  it('per-item failures of another kind are returned as they are, without bisecting', async () => {
    const c = fake((texts) => texts.map((t) => (t === 'bad' ? { error: { code: 'KLS_ERR_INFERENCE', message: 'x' } } : ok(t))));
    const out = await classifyPatiently(c, ['bad', 'good'], () => false);
    expect(c.calls).toHaveLength(1);
    expect('error' in out[0]! && out[0].error.code).toBe('KLS_ERR_INFERENCE');
  });

  it('waits out an overloaded pool, and gives up with the overload code once stopping', async () => {
    const c = fake((texts, call) => (call < 4 ? new PoolOverloadedError('queue full') : texts.map(ok)));
    expect((await classifyPatiently(c, ['x'], () => false))[0]).toEqual(ok('x'));
    expect(c.calls).toHaveLength(4);
    const stuck = fake(() => new PoolOverloadedError('queue full'));
    const out = await classifyPatiently(stuck, ['x', 'y'], () => true);
    expect(out.map((o) => 'error' in o && o.error.code)).toEqual(['KLS_ERR_POOL_OVERLOADED', 'KLS_ERR_POOL_OVERLOADED']);
  });

  it('a closed pool fails every text with its code at once', async () => {
    const c = fake(() => new PoolClosedError('closed'));
    const out = await classifyPatiently(c, ['x', 'y'], () => false);
    expect(c.calls).toHaveLength(1);
    expect(out.map((o) => 'error' in o && o.error.code)).toEqual(['KLS_ERR_POOL_CLOSED', 'KLS_ERR_POOL_CLOSED']);
  });
});
