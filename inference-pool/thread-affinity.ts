// Thread affinity on Linux, for what ONNX Runtime does not pin: the worker's own thread, which runs
// session.run (all of it when intraOpNumThreads is 1). Node has no sched_setaffinity binding, so the
// worker finds its kernel thread id through /proc/thread-self and runs `taskset -p` on that one id
// (without -a, taskset changes only the given thread). taskset is part of util-linux, present on Debian and
// in node:*-slim images. Elsewhere pinning is reported as not applied rather than failing the worker.
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { parseCpuList } from './pinning.js';

/** Kernel thread id of the calling thread, or undefined off Linux. */
export function currentThreadTid(): number | undefined {
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>"; fs calls made synchronously run on the calling thread.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** CPUs a thread (or, without tid, the process's main thread) may run on, from /proc; undefined off Linux. */
export function threadCpus(tid?: number, pid: number | 'self' = 'self'): number[] | undefined {
  const path = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(path, 'utf8'));
    return m ? parseCpuList(m[1] as string) : undefined;
  } catch {
    return undefined;
  }
}

/** Pins the calling thread to `cpus`; returns the CPUs now in effect, or why it could not. */
export function pinCurrentThread(cpus: readonly number[]): { cpus: number[] } | { error: string } {
  const tid = currentThreadTid();
  if (tid === undefined) return { error: `thread pinning needs Linux /proc (platform ${process.platform})` };
  const result = spawnSync('taskset', ['-p', '-c', cpus.join(','), String(tid)], { encoding: 'utf8', timeout: 5000 });
  if (result.error !== undefined) return { error: `taskset failed: ${result.error.message} (install util-linux)` };
  if (result.status !== 0) return { error: `taskset exited ${result.status}: ${result.stderr.trim()}` };
  const now = threadCpus(tid);
  if (now === undefined || now.join(',') !== [...cpus].join(',')) return { error: `thread ${tid} runs on ${now?.join(',') ?? '?'} after taskset, not ${cpus.join(',')}` };
  return { cpus: now };
}
