// --cpu-sets → where each worker's threads may run. Pure: parsing and planning only; the worker applies
// the plan (thread-affinity.ts for its own thread, ONNX Runtime for the intra-op threads).
//
// How ONNX Runtime takes affinities (onnxruntime/core/util/thread_utils.cc, ReadThreadAffinityConfig and
// CreateThreadPoolHelper, checked against the 1.30 sources and by experiment):
//   - session config entry `session.intra_op_thread_affinities`, one entry per intra-op thread *except the
//     calling thread*, so exactly intraOpNumThreads - 1 entries, separated by ';' (any other count fails
//     session creation: "Number of affinities does not equal to thread_pool_size minus one");
//   - an entry is either one interval "3-4" or a comma list "3,4", never both ("1-2,4" is rejected);
//   - processor ids are 1-based logical processors ("Processor id must start from 1"); id n is Linux CPU n-1;
//   - a processor that does not exist is only logged (pthread_setaffinity_np EINVAL) and the thread stays
//     unpinned, so the pool checks ids against the CPUs it may use before starting;
//   - with intraOpNumThreads = 1 ORT creates no thread pool at all and ignores the entry: session.run
//     executes on the calling thread, which ORT never pins ("the main thread is a special member of the
//     threadpool, which onnxruntime has no control"). With T > 1 the calling thread still runs a share of
//     every parallel loop. So the worker pins its own thread (callerCpus) itself.
import { ConfigError } from '../src/errors.js';

const WHERE = '--cpu-sets (KLASSIFY_CPU_SETS)';
/** ORT rejects config values longer than this (onnxruntime_session_options_config_keys.h). */
const ORT_MAX_CONFIG_VALUE = 1024;

export interface WorkerPinning {
  /** Every CPU (0-based Linux ids) the worker's threads may use. */
  readonly cpus: readonly number[];
  /** CPUs of the worker's own thread, the one that calls session.run. */
  readonly callerCpus: readonly number[];
  /** `session.intra_op_thread_affinities` for the remaining threads; undefined when T = 1 (no ORT pool). */
  readonly ortAffinity: string | undefined;
}

/**
 * One core set as the knob takes it: 0-based ids, ranges with '-', members joined with '+'
 * ("0-1", "0+2", "0-3+8-11"). Returns sorted unique ids.
 */
export function parseCpuSet(spec: string): number[] {
  const text = spec.trim();
  if (text === '') throw new ConfigError(`${WHERE}: empty core set`);
  const cpus = new Set<number>();
  for (const part of text.split('+')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new ConfigError(`${WHERE}: "${spec}" is not a core set (0-based ids, ranges with -, members with +, e.g. "0-1" or "0+2")`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new ConfigError(`${WHERE}: "${part.trim()}" is an empty range in "${spec}"`);
    if (to - from > 4096) throw new ConfigError(`${WHERE}: range "${part.trim()}" is implausibly large`);
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The kernel's list format, as in /proc/<pid>/status Cpus_allowed_list ("0-3,8,10-11"). */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-');
    const from = Number(a);
    const to = b === undefined ? from : Number(b);
    if (!Number.isInteger(from) || !Number.isInteger(to)) throw new RangeError(`not a CPU list: "${list}"`);
    for (let c = from; c <= to; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * Splits a worker's CPUs among its T threads: contiguous groups whose sizes differ by at most one when
 * there are at least T CPUs (so T = 1 gives the calling thread the whole set), else one CPU each, reused
 * round-robin (threads share cores; that is what the user asked for).
 */
export function splitCpus(cpus: readonly number[], threads: number): number[][] {
  if (cpus.length === 0) throw new RangeError('no CPUs to split');
  const groups: number[][] = [];
  if (cpus.length >= threads) {
    const base = Math.floor(cpus.length / threads);
    const extra = cpus.length % threads;
    let at = 0;
    for (let t = 0; t < threads; t++) {
      const take = base + (t < extra ? 1 : 0);
      groups.push(cpus.slice(at, at + take));
      at += take;
    }
  } else {
    for (let t = 0; t < threads; t++) groups.push([cpus[t % cpus.length] as number]);
  }
  return groups;
}

/** ORT's affinity string for the intra-op threads (every group but the caller's): 1-based comma lists. */
export function ortAffinityString(threadGroups: readonly (readonly number[])[]): string {
  return threadGroups.map((group) => group.map((cpu) => cpu + 1).join(',')).join(';');
}

/**
 * The pinning of each worker, or undefined when no core sets were given. `allowedCpus` (the CPUs this
 * process may run on) catches ids that do not exist here, which ORT would silently leave unpinned.
 */
export function planPinning(
  cpuSets: readonly string[],
  workers: number,
  threadsPerWorker: number,
  allowedCpus?: readonly number[],
): WorkerPinning[] | undefined {
  if (cpuSets.length === 0) return undefined;
  if (cpuSets.length !== workers) {
    throw new ConfigError(`${WHERE} names ${cpuSets.length} core set(s) but there are ${workers} worker(s): give one set per worker (--workers ${cpuSets.length}), e.g. "0-1,2-3" for two workers`);
  }
  const allowed = allowedCpus === undefined ? undefined : new Set(allowedCpus);
  return cpuSets.map((spec) => {
    const cpus = parseCpuSet(spec);
    const missing = allowed === undefined ? [] : cpus.filter((c) => !allowed.has(c));
    if (missing.length > 0) {
      throw new ConfigError(`${WHERE}: core(s) ${missing.join(', ')} in "${spec}" are not available to this process (allowed: ${[...(allowed ?? [])].join(',')})`);
    }
    const groups = splitCpus(cpus, threadsPerWorker);
    const ortAffinity = threadsPerWorker > 1 ? ortAffinityString(groups.slice(1)) : undefined;
    if (ortAffinity !== undefined && ortAffinity.length > ORT_MAX_CONFIG_VALUE) {
      throw new ConfigError(`${WHERE}: "${spec}" with ${threadsPerWorker} threads makes an ONNX Runtime affinity string longer than ${ORT_MAX_CONFIG_VALUE} characters`);
    }
    return { cpus, callerCpus: groups[0] as number[], ortAffinity };
  });
}
