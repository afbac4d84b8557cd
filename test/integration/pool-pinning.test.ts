// --cpu-sets reaches the operating system: read each thread's Cpus_allowed_list from /proc, independently
// of what the workers report; and a pool's niceness, from each thread's stat. Linux only (that is where
// klassify's pinning and per-thread niceness apply).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InferencePool } from '../../inference-pool/index.js';
import { threadCpus } from '../../inference-pool/thread-affinity.js';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { isFailure } from '../../src/model/classifier.js';
import { testModelDir } from '../helpers/pool-model.js';

const modelDir = testModelDir();
const allowed = threadCpus() ?? [];
const [c0, c1] = allowed;

function threads(): Map<number, string> {
  const out = new Map<number, string>();
  for (const tid of readdirSync('/proc/self/task').map(Number)) out.set(tid, (threadCpus(tid) ?? []).join(','));
  return out;
}

describe.runIf(process.platform === 'linux')('pinning workers to core sets', () => {
  it('needs two CPUs to say anything', () => {
    expect(allowed.length, `this test needs 2 CPUs, the process may use ${allowed.join(',')}`).toBeGreaterThanOrEqual(2);
  });

  it('T = 1: pins each worker thread (the one running session.run) to its core set', async () => {
    const pool = await InferencePool.start({ modelDir, workers: 2, threadsPerWorker: 1, cpuSets: [String(c0), String(c1)] });
    try {
      const now = threads();
      const ready = pool.workers().map((w) => w.ready);
      expect(ready.map((r) => r?.callerPinned)).toEqual([{ cpus: [c0] }, { cpus: [c1] }]);
      expect(ready.map((r) => now.get(r?.tid as number))).toEqual([String(c0), String(c1)]);
      // Nothing else in the process was pinned: the main thread keeps every CPU.
      expect(now.get(process.pid)).toBe(allowed.join(','));
      const out = await pool.classify(BUILTIN_EVAL_TEXTS.slice(0, 32));
      expect(out.every((o) => !isFailure(o))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('T = 2: the calling thread takes the first core, ORT pins its intra-op thread to the second', async () => {
    const before = new Set(threads().keys());
    const pool = await InferencePool.start({ modelDir, workers: 1, threadsPerWorker: 2, cpuSets: [`${c0}+${c1}`] });
    try {
      const ready = pool.workers()[0]?.ready;
      const now = threads();
      expect(ready?.intraOpThreads).toBe(2);
      expect(now.get(ready?.tid as number)).toBe(String(c0));
      // The threads this pool added: the worker, ORT's intra-op thread (pinned by ORT from
      // session.intra_op_thread_affinities = "<c1 + 1>"), and Node/loader helpers (unpinned).
      const added = [...now].filter(([tid]) => !before.has(tid) && tid !== ready?.tid);
      expect(added.filter(([, cpus]) => cpus === String(c1)), JSON.stringify(added)).toHaveLength(1);
      const out = await pool.classify(BUILTIN_EVAL_TEXTS.slice(0, 32));
      expect(out.every((o) => !isFailure(o))).toBe(true);
    } finally {
      await pool.close();
    }
  });

  // Niceness 10, not the shadow's 19: the mechanism is the same, and at 19 the worker gets ~1.5% of a core
  // against busy nice-0 threads, so on a loaded CI machine (other suites' brokers and pools) loading the
  // model alone outlasted the test's minute once.
  it('niceness 10 (a background pool): the worker thread and its ORT intra-op thread run at 10, the rest of the process at 0', async () => {
    const niceOf = (tid: number): number => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const before = new Set(readdirSync('/proc/self/task').map(Number));
    const pool = await InferencePool.start({ modelDir, workers: 1, threadsPerWorker: 2, niceness: 10 });
    try {
      const ready = pool.workers()[0]!.ready!;
      expect(ready.niceness).toBe(10);
      const added = readdirSync('/proc/self/task').map(Number).filter((t) => !before.has(t));
      const niced = added.filter((t) => niceOf(t) === 10);
      // The worker's own thread and the intra-op thread ORT created from it (T = 2).
      expect(niced).toContain(ready.tid);
      expect(niced.length).toBeGreaterThanOrEqual(2);
      expect(niceOf(process.pid), 'the main thread').toBe(0);
      for (const t of before) if (readdirSync('/proc/self/task').map(Number).includes(t)) expect(niceOf(t)).toBe(0);
      const out = await pool.classify(BUILTIN_EVAL_TEXTS.slice(0, 8));
      expect(out.some(isFailure)).toBe(false);
    } finally {
      await pool.close();
    }
  }, 180_000);

  // The shadow's pool: niceness alone still competed (a working shadow raised the live p99 in the shadow
  // bench). Policy read from each thread's stat (field 41), as `chrt -p` would.
  it('SCHED_IDLE (a shadow pool): the worker thread and the threads its session started, nothing else in the process', async () => {
    const policyOf = (tid: number): number => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[38]);
    const tasks = (): number[] => readdirSync('/proc/self/task').map(Number);
    const before = new Set(tasks());
    const pool = await InferencePool.start({ modelDir, workers: 1, threadsPerWorker: 2, schedIdle: true });
    try {
      const ready = pool.workers()[0]!.ready!;
      expect(ready.schedIdle, JSON.stringify(ready.schedIdle)).toHaveProperty('tids');
      const moved = (ready.schedIdle as { tids: number[] }).tids;
      expect(moved).toContain(ready.tid);
      // The worker, ORT's intra-op thread (T = 2) and an idle helper thread ORT starts from the worker at load.
      expect(moved.length).toBeGreaterThanOrEqual(2);
      const now = tasks();
      const idle = now.filter((t) => policyOf(t) === 5);
      expect(idle.sort()).toEqual([...moved].sort());
      expect(policyOf(process.pid), 'the main thread').toBe(0);
      for (const t of before) if (now.includes(t)) expect(policyOf(t)).toBe(0);
      const out = await pool.classify(BUILTIN_EVAL_TEXTS.slice(0, 8));
      expect(out.some(isFailure)).toBe(false);
    } finally {
      await pool.close();
    }
  }, 180_000);

  it('refuses core ids this process cannot use before starting any worker (ORT would only log it)', async () => {
    await expect(InferencePool.start({ modelDir, workers: 1, cpuSets: ['4000'] })).rejects.toThrow(/KLASSIFY_CPU_SETS.*not available/);
  });
});
