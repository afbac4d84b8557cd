// What the pool reports, for src/observe and logs to subscribe to (the pool never imports prom-client).
// Names are snake_case, like the pipeline's events.
import type { BatchTimings } from '../src/model/classifier.js';
import type { WorkerReady } from './messages.js';

export interface BatchEvent extends BatchTimings {
  slot: number;
  texts: number;
  /** 0, or 1 for a retried batch. */
  attempt: number;
  truncated: number;
  failed: number;
  /** The worker's wall time for the task (tokenize + tensors + runs + softmax). */
  workerMs: number;
  /** Dispatch to result on the pool's thread: workerMs plus the thread hop both ways. */
  roundTripMs: number;
  /** Dispatch to the worker starting the task: the thread hop, plus the wait behind a running task when prefetched. */
  toWorkerMs: number;
  /** The worker's last step to the pool's thread seeing the result. */
  fromWorkerMs: number;
}

export interface WorkerFailureEvent {
  slot: number;
  code: string;
  message: string;
}

export interface PoolEventMap {
  /** A classify task finished on a worker. */
  batch: [BatchEvent];
  /** A worker loaded its model and warmed up (at start, or replacing a failed one). */
  worker_ready: [WorkerReady & { replacement: boolean }];
  /** A worker crashed, threw or timed out; it is being replaced. */
  worker_failed: [WorkerFailureEvent];
  /** A replacement could not load the model after several tries; the slot stays empty. */
  worker_dead: [WorkerFailureEvent];
  /** A failed batch goes to another worker. */
  retry: [{ slot: number; texts: number; code: string }];
  /** classify() was refused because the queue is full. */
  overloaded: [{ queued: number; maxQueue: number }];
}
