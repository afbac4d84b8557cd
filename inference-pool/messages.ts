// Every message between the pool and a worker (piscina's types.ts habit): plain data that survives
// structured cloning. Errors travel as { code, message }, never as Error objects, which lose their class
// and code on the way.
import type { InferenceSession } from 'onnxruntime-node';
import type { BatchTimings } from '../src/model/classifier.js';
import type { WorkerPinning } from './pinning.js';

/** What a worker needs to load the model: files and manifest facts, already validated by the pool. */
export interface ModelSpec {
  modelPath: string;
  tokenizerPath: string;
  labels: readonly string[];
  maxLength: number;
  inputs: { inputIds: string; attentionMask?: string | undefined; tokenTypeIds?: string | undefined };
  output: string;
}

export interface InitTask {
  kind: 'init';
  slot: number;
  model: ModelSpec;
  session: InferenceSession.SessionOptions;
  /** CUDA device when this worker drives a GPU. */
  gpu: number | undefined;
  pinning: WorkerPinning | undefined;
  maxBatchTokens: number;
  maxRowsPerCall: number;
  /** Set on this thread before the session exists (its threads inherit it); 0: left as is. */
  niceness: number;
  /** Move this worker's threads to SCHED_IDLE once the session is warm. */
  schedIdle: boolean;
}

/**
 * Fault injection, for tests only: the pool sets it solely through inference-pool/testing.ts. The worker
 * obeys it on attempts below `attempts` (1: the retry succeeds; 2: the retry fails too).
 */
export interface Fault {
  mode: 'exit' | 'throw' | 'hang';
  attempts: number;
  /**
   * A poison record: the fault stays armed for every task (until cleared) and strikes, on every attempt,
   * exactly the tasks with a text containing this string, as a text that kills the runtime would.
   */
  poison?: string;
}

export interface ClassifyTask {
  kind: 'classify';
  texts: readonly string[];
  /** 0 on first dispatch, 1 on the retry. */
  attempt: number;
  fault?: Fault;
}

/** Does nothing: measures dispatch overhead and checks a worker answers. */
export interface NoopTask {
  kind: 'noop';
}

export type WorkerTask = InitTask | ClassifyTask | NoopTask;

export interface WireError {
  code: string;
  message: string;
}

export type WorkerReply<T> = { ok: true; value: T } | { ok: false; error: WireError };

export interface WorkerMemory {
  /** Resident set of the whole process when this worker became ready (threads share one address space). */
  rssBytes: number;
  /** Growth of the process RSS while this worker loaded and warmed up (overlaps other workers loading at the same time: see InferencePool.memory()). */
  rssDeltaBytes: number;
  /** This worker's own V8 heap. */
  heapUsedBytes: number;
  /** Memory held outside V8 heaps (ArrayBuffers; process-wide). */
  externalBytes: number;
}

export interface WorkerReady {
  slot: number;
  threadId: number;
  /** Linux thread id of the worker's thread (the one that calls session.run); undefined elsewhere. */
  tid: number | undefined;
  executionProvider: 'cpu' | 'cuda';
  intraOpThreads: number;
  /** CPUs the worker's own thread is pinned to, or why it is not (when pinning was asked for). */
  callerPinned: { cpus: number[] } | { error: string } | undefined;
  /** This thread's scheduling niceness once loaded (PoolOptions.niceness on Linux; 0 elsewhere). */
  niceness: number;
  /** The threads moved to SCHED_IDLE (the worker's and its session's), or why not; undefined when not asked. */
  schedIdle: { tids: number[] } | { error: string } | undefined;
  loadMs: number;
  /** One call at the production token limit (TEI's warm-up): first-call latency and peak memory surface now. */
  warmup: { rows: number; seqLen: number; ms: number };
  memory: WorkerMemory;
}

export interface ItemError {
  index: number;
  code: string;
  message: string;
}

/** What a worker measured for one task: the classifier's batch timings (bar the queue wait, which only the pool sees), plus its own clock. */
export interface WorkerTimings extends Omit<BatchTimings, 'queueMs'> {
  /** The worker's wall time for the task, from receipt to reply. */
  workerMs: number;
  /** When the worker started and finished the task: performance.timeOrigin + now(), comparable across threads. */
  startedAt: number;
  endedAt: number;
}

export interface ClassifyReply {
  /** Softmax probabilities, row-major [texts, labels]; rows of failed items are zero. */
  scores: Float64Array;
  tokens: Int32Array;
  /** 1 where the text was cut to the model's max length. */
  truncated: Uint8Array;
  failed: ItemError[];
  timings: WorkerTimings;
}
