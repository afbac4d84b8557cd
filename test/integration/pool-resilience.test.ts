// Workers that crash, throw or hang are replaced; their batch is retried once elsewhere, then fails per
// item with a code; nothing is left hanging. And onnxruntime-node 1.30 survives several worker threads
// loading and running at once, and pools coming and going (1.21 aborted there: microsoft/onnxruntime#24486).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferencePool, type WorkerFailureEvent } from '../../inference-pool/index.js';
import { clearFault, injectFault } from '../../inference-pool/testing.js';
import { classifyPatiently } from '../../src/model/classify-patiently.js';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { isFailure, type ClassifyOutcome } from '../../src/model/classifier.js';
import { loadManifest } from '../../src/model/manifest.js';
import { testModelDir } from '../helpers/pool-model.js';

const modelDir = testModelDir();
const TEXTS = BUILTIN_EVAL_TEXTS.slice(0, 24);

function labels(outcomes: ClassifyOutcome[]): string[] {
  return outcomes.map((o) => (isFailure(o) ? `error:${o.error.code}` : o.label));
}

/** Resolves when `pool` has `n` live workers again (a replacement loads the model first). */
async function liveWorkers(pool: InferencePool, n: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pool.health().workers !== n) {
    if (Date.now() > until) throw new Error(`still ${pool.health().workers} live workers, expected ${n}: ${JSON.stringify(pool.workers().map((w) => w.state))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('worker failures', () => {
  let pool: InferencePool;
  let expected: string[];
  const failures: WorkerFailureEvent[] = [];
  const retries: unknown[] = [];
  beforeAll(async () => {
    pool = await InferencePool.start({ modelDir, workers: 2, taskTimeoutMs: 1500 });
    pool.on('worker_failed', (e) => failures.push(e));
    pool.on('retry', (e) => retries.push(e));
    expected = labels(await pool.classify(TEXTS));
  });
  afterAll(async () => {
    await pool.close();
  });

  it('replaces a worker that dies mid-batch and retries the batch on another one', async () => {
    failures.length = 0;
    injectFault(pool, { mode: 'exit', attempts: 1 });
    const out = await pool.classify(TEXTS);
    expect(labels(out)).toEqual(expected);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.code).toBe('KLS_ERR_WORKER_CRASH');
    expect(failures[0]?.message).toMatch(/exited with code: 70/);
    expect(retries.at(-1)).toMatchObject({ texts: TEXTS.length, code: 'KLS_ERR_WORKER_CRASH' });
    await liveWorkers(pool, 2);
    expect(pool.workers().reduce((n, w) => n + w.restarts, 0)).toBe(1);
  });

  it('fails each item with KLS_ERR_INFERENCE when the retry fails too, and keeps serving', async () => {
    failures.length = 0;
    injectFault(pool, { mode: 'throw', attempts: 2 });
    const out = await pool.classify(TEXTS);
    expect(out).toHaveLength(TEXTS.length);
    for (const o of out) {
      expect(isFailure(o)).toBe(true);
      if (isFailure(o)) {
        expect(o.error.code).toBe('KLS_ERR_INFERENCE');
        expect(o.error.message).toMatch(/failed on two workers: first .*injected fault on attempt 0; then .*injected fault on attempt 1/);
      }
    }
    // A worker that threw is replaced too: a session that threw may be in any state.
    expect(failures.map((f) => f.code)).toEqual(['KLS_ERR_INFERENCE', 'KLS_ERR_INFERENCE']);
    await liveWorkers(pool, 2);
    expect(labels(await pool.classify(TEXTS))).toEqual(expected);
  });

  it('terminates a worker stuck longer than the task timeout and retries elsewhere', async () => {
    failures.length = 0;
    injectFault(pool, { mode: 'hang', attempts: 1 });
    const started = Date.now();
    const out = await pool.classify(TEXTS);
    expect(labels(out)).toEqual(expected);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(failures[0]?.message).toMatch(/more than 1500 ms/);
    await liveWorkers(pool, 2);
  });

  it('with a single worker, retries on its replacement; other callers are served meanwhile', async () => {
    const one = await InferencePool.start({ modelDir, workers: 1 });
    try {
      injectFault(one, { mode: 'exit', attempts: 2 });
      const [poisoned, fine] = await Promise.all([one.classify(TEXTS), one.classify(['still served'])]);
      expect(poisoned.every((o) => isFailure(o) && o.error.code === 'KLS_ERR_WORKER_CRASH')).toBe(true);
      expect(isFailure(fine[0] as ClassifyOutcome)).toBe(false);
      await liveWorkers(one, 1);
    } finally {
      await one.close();
    }
  });

  it('requeues a batch that was only waiting in the crashed worker without spending its retry', async () => {
    const one = await InferencePool.start({ modelDir, workers: 1 });
    try {
      const attempts: number[] = [];
      one.on('batch', (e) => attempts.push(e.texts === 1 ? 100 + e.attempt : e.attempt));
      injectFault(one, { mode: 'exit', attempts: 1 });
      // The culprit runs; the bystander is prefetched into the same worker and dies with it.
      const [culprit, bystander] = await Promise.all([one.classify(TEXTS), one.classify(['a bystander'])]);
      expect(labels(culprit)).toEqual(expected);
      expect(isFailure(bystander[0] as ClassifyOutcome)).toBe(false);
      expect(attempts.sort()).toEqual([1, 100]); // culprit on its retry; bystander still on attempt 0
    } finally {
      await one.close();
    }
  });

  it('gives a worker up when its replacement cannot load the model, and then fails fast', async () => {
    // A model folder of links, so the model file can vanish under a running pool.
    const dir = join(mkdtempSync(join(tmpdir(), 'klassify-pool-dead-')), 'model');
    mkdirSync(dir);
    const manifest = loadManifest(modelDir);
    for (const f of ['manifest.json', manifest.manifest.files.model, manifest.manifest.files.tokenizer]) symlinkSync(join(modelDir, f), join(dir, f));
    const one = await InferencePool.start({ modelDir: dir, workers: 1 });
    try {
      const dead: WorkerFailureEvent[] = [];
      one.on('worker_dead', (e) => dead.push(e));
      unlinkSync(join(dir, manifest.manifest.files.model));
      injectFault(one, { mode: 'exit', attempts: 1 });
      const out = await one.classify(TEXTS); // the retry waits for a replacement that never comes
      expect(out.every((o) => isFailure(o) && o.error.code === 'KLS_ERR_WORKER_CRASH' && /no inference worker is left/.test(o.error.message))).toBe(true);
      expect(dead).toMatchObject([{ slot: 0, code: 'KLS_ERR_MODEL_LOAD' }]);
      expect(one.health()).toMatchObject({ ready: false, workers: 0 });
      const [later] = await one.classify(['anyone there?']);
      expect(later && isFailure(later) ? later.error.code : later).toBe('KLS_ERR_WORKER_CRASH');
    } finally {
      await one.close();
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  }, 30_000);

  it('a record that kills every worker it reaches: bisecting the batch dead-letters only that record, the rest get their labels', async () => {
    const poison = TEXTS.map((t, i) => (i === 17 ? `${t} <<poison>>` : t));
    // The marked text changes nothing for the model but the fault: compare against its own clean label.
    const clean = labels(await pool.classify(poison));
    injectFault(pool, { mode: 'exit', attempts: 0, poison: '<<poison>>' });
    try {
      const out = await classifyPatiently(pool, poison, () => false);
      const failed = out.flatMap((o, i) => (isFailure(o) ? [`${i}:${o.error.code}`] : []));
      expect(failed, JSON.stringify(out.filter(isFailure).slice(0, 2))).toEqual(['17:KLS_ERR_WORKER_CRASH']);
      expect(labels(out).filter((_, i) => i !== 17)).toEqual(clean.filter((_, i) => i !== 17));
    } finally {
      clearFault(pool);
    }
    await liveWorkers(pool, 2);
    expect(labels(await pool.classify(TEXTS))).toEqual(expected);
  });

  it('settles a stuck batch when the pool is closed under it', async () => {
    const one = await InferencePool.start({ modelDir, workers: 1, closeTimeoutMs: 300 });
    injectFault(one, { mode: 'hang', attempts: 2 });
    const stuck = one.classify(TEXTS);
    await new Promise((r) => setTimeout(r, 100));
    await one.close();
    const out = await stuck;
    expect(out.every((o) => isFailure(o) && o.error.code === 'KLS_ERR_POOL_CLOSED')).toBe(true);
  });
});

describe('onnxruntime-node with several worker threads (microsoft/onnxruntime#24486)', () => {
  it('4 workers load and run concurrently, in repeated pool start/close cycles', async () => {
    const texts = BUILTIN_EVAL_TEXTS.slice(0, 64);
    let first: string[] | undefined;
    for (let cycle = 0; cycle < 3; cycle++) {
      // 4 workers on a machine that may have 2 cores: sessions are created at the same time by design.
      const pool = await InferencePool.start({ modelDir, workers: 4, maxTaskTexts: 8 });
      try {
        expect(pool.health().workers).toBe(4);
        const parts = await Promise.all([pool.classify(texts), pool.classify(texts.slice().reverse())]);
        const forward = labels(parts[0] as ClassifyOutcome[]);
        expect(labels(parts[1] as ClassifyOutcome[]).reverse()).toEqual(forward);
        expect(forward.some((l) => l.startsWith('error'))).toBe(false);
        first ??= forward;
        expect(forward).toEqual(first);
        expect(new Set(pool.workers().map((w) => w.ready?.threadId)).size).toBe(4);
      } finally {
        await pool.close();
      }
    }
  });
});
