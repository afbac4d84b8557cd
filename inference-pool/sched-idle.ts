// SCHED_IDLE for a background pool (a shadow model), Linux only. Niceness 19 still competes: its threads
// keep a weight of 15 against a normal thread's 1024, and the kernel places a waking live thread as if
// a CPU running one were busy. A SCHED_IDLE thread runs only when its CPU has nothing else to run, and the
// scheduler treats a CPU that runs only such threads as idle when it places a waking thread.
//
// The policy is set after the session is created and warmed up, so a loaded machine delays a shadow's
// start no more than niceness does. ONNX Runtime's threads are found by name: the worker names its own
// thread before creating the session, and threads inherit their creator's name (clone copies comm), so
// the threads bearing the name are this worker's and its session's, and nobody else's.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { currentThreadTid } from './thread-affinity.js';

/** Linux's number for the SCHED_IDLE policy (field 41 of /proc/<pid>/task/<tid>/stat). */
export const SCHED_IDLE = 5;

/** Names the calling thread uniquely in this process (15 bytes at most, the kernel's limit); undefined off Linux. */
export function nameCurrentThread(): string | undefined {
  const name = `kls-w${threadId}`.slice(0, 15);
  try {
    writeFileSync('/proc/thread-self/comm', name);
    return name;
  } catch {
    return undefined;
  }
}

/** A thread's scheduling policy number, or undefined when /proc cannot say. */
export function schedPolicyOf(tid: number): number | undefined {
  try {
    // Fields after the ")" that closes the name: the policy is field 41, the 39th of those.
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ');
    const policy = Number(fields?.[38]);
    return Number.isInteger(policy) ? policy : undefined;
  } catch {
    return undefined;
  }
}

/** Threads of this process that bear `name`. */
function threadsNamed(name: string): number[] {
  return readdirSync('/proc/self/task').map(Number).filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === name;
    } catch {
      return false; // ended meanwhile
    }
  });
}

/**
 * Moves the calling thread and every thread it created under `name` to SCHED_IDLE (util-linux `chrt`,
 * as taskset is for pinning). Returns the threads moved, or why it could not.
 */
export function idleThreadsNamed(name: string | undefined): { tids: number[] } | { error: string } {
  const self = currentThreadTid();
  if (name === undefined || self === undefined) return { error: `SCHED_IDLE needs Linux /proc (platform ${process.platform})` };
  const tids = threadsNamed(name);
  if (!tids.includes(self)) return { error: `this thread is no longer named ${name}; its session's threads cannot be told apart` };
  for (const tid of tids) {
    const result = spawnSync('chrt', ['--idle', '-p', '0', String(tid)], { encoding: 'utf8', timeout: 5000 });
    if (result.error !== undefined) return { error: `chrt failed: ${result.error.message} (install util-linux)` };
    if (result.status !== 0) return { error: `chrt exited ${result.status}: ${result.stderr.trim()}` };
    if (schedPolicyOf(tid) !== SCHED_IDLE) return { error: `thread ${tid} is not SCHED_IDLE after chrt` };
  }
  return { tids };
}
