// The inference pool: the Classifier the pipeline talks to. This file is its public face: validation at
// the edge, admission (the bounded queue), results and health; scheduler.ts dispatches, retries and
// replaces workers; each worker (slot.ts → worker.ts → model-runner.ts) holds one model.
//
//   classify(texts) ─► bounded FIFO of tasks (refuses with PoolOverloadedError when full: backpressure)
//                    ─► a worker ─► tokenize, sort by length, cut by token budget, run, softmax
//   a worker that crashes, throws or hangs is replaced; its task runs once more on another worker, then
//   each of its texts fails with KLS_ERR_INFERENCE. Every classify() call settles.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { PoolClosedError, PoolOverloadedError } from '../src/errors.js';
import type { BatchTimings, Classifier, ClassifierHealth, ClassifyOutcome, ItemFailure, ModelInfo } from '../src/model/classifier.js';
import type { PoolEventMap } from './events.js';
import type { ClassifyReply, ClassifyTask, Fault, InitTask, WorkerReady } from './messages.js';
import { resolvePoolOptions, type PoolOptions, type ResolvedPoolOptions } from './options.js';
import { Scheduler } from './scheduler.js';
import { sessionOptionsFor } from './session-options.js';
import { WorkerSlot, type SlotState } from './slot.js';
import { workerFile } from './worker-file.js';

/** Test hook (inference-pool/testing.ts): the next classify task carries this fault. */
export const kArmFault = Symbol('klassify.pool.armFault');

export interface WorkerStatus {
  slot: number;
  state: SlotState;
  /** Tasks in the worker: running, plus one prefetched. */
  inFlight: number;
  restarts: number;
  /** What the worker reported once ready: memory, pinning, warm-up. Undefined while (re)starting. */
  ready: WorkerReady | undefined;
}

export interface PoolMemory {
  /** Resident set of the process now. */
  rssBytes: number;
  /** Before the workers started. */
  startRssBytes: number;
  /** Growth while the workers loaded and warmed up, per worker: what one more worker costs. */
  perWorkerBytes: number;
}

export class InferencePool extends EventEmitter<PoolEventMap> implements Classifier {
  readonly model: ModelInfo;
  readonly options: ResolvedPoolOptions;
  readonly #scheduler: Scheduler;
  #accepting = true;
  #closing: Promise<void> | undefined;
  #fault: Fault | undefined;
  readonly #busySample = { at: performance.now(), busyMs: 0, ratio: 0 };
  #memory = { startRssBytes: 0, perWorkerBytes: 0 };

  private constructor(options: ResolvedPoolOptions, slots: WorkerSlot[]) {
    super();
    const m = options.model.manifest;
    this.options = options;
    this.model = Object.freeze({ name: m.name, version: m.version, target: m.target, labels: Object.freeze([...m.labels]), maxLength: m.maxLength });
    this.#scheduler = new Scheduler(slots, options, this);
  }

  /** Validates the options, starts every worker (model loaded, warmed up) and resolves once all are ready. */
  static async start(options: PoolOptions): Promise<InferencePool> {
    const resolved = resolvePoolOptions(options);
    const filename = workerFile();
    const slots = Array.from({ length: resolved.workers }, (_, i) => new WorkerSlot(i, filename, initTask(resolved, i)));
    const pool = new InferencePool(resolved, slots);
    const rssBefore = process.memoryUsage.rss();
    const started = await Promise.allSettled(slots.map((slot) => slot.start()));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await pool.close();
      throw failed.reason;
    }
    // Threads share one address space, so a worker's own RSS cannot be read, and workers load at the
    // same time, so their own before/after figures overlap: the average growth over the start is honest.
    pool.#memory = { startRssBytes: rssBefore, perWorkerBytes: Math.max(0, Math.round((process.memoryUsage.rss() - rssBefore) / slots.length)) };
    return pool;
  }

  async classify(texts: readonly string[]): Promise<ClassifyOutcome[]> {
    if (!Array.isArray(texts)) throw new TypeError('texts must be an array of strings');
    for (let i = 0; i < texts.length; i++) {
      if (typeof texts[i] !== 'string') throw new TypeError(`texts[${i}] must be a string, got ${typeof texts[i]}`);
    }
    if (!this.#accepting) throw new PoolClosedError('the inference pool is closed');
    if (texts.length === 0) return [];
    const { maxQueue, maxTaskTexts } = this.options;
    const waiting = this.#scheduler.waiting;
    if (waiting >= maxQueue) {
      this.emit('overloaded', { queued: waiting, maxQueue });
      throw new PoolOverloadedError(`${waiting} batches are waiting for an inference worker (KLASSIFY_POOL_MAX_QUEUE=${maxQueue}); retry after a pause`);
    }
    if (texts.length <= maxTaskTexts) return this.#classifyTask(texts);
    const parts: Promise<ClassifyOutcome[]>[] = [];
    for (let at = 0; at < texts.length; at += maxTaskTexts) parts.push(this.#classifyTask(texts.slice(at, at + maxTaskTexts)));
    return (await Promise.all(parts)).flat();
  }

  onBatch(listener: (timings: BatchTimings) => void): () => void {
    this.on('batch', listener);
    return () => this.off('batch', listener);
  }

  /** Round trip of a no-op task through the queue and a worker (ms): dispatch overhead, liveness. */
  async ping(): Promise<number> {
    if (!this.#accepting) throw new PoolClosedError('the inference pool is closed');
    const started = performance.now();
    const result = await this.#scheduler.submit({ kind: 'noop' });
    if (!result.ok) throw result.error;
    return performance.now() - started;
  }

  health(): ClassifierHealth {
    const live = this.#scheduler.slots.filter((s) => s.state === 'ready').length;
    return { ready: this.#accepting && live > 0, workers: live, queued: this.#scheduler.queued, busyRatio: this.#busyRatio() };
  }

  workers(): WorkerStatus[] {
    return this.#scheduler.slots.map((s) => ({ slot: s.index, state: s.state, inFlight: s.inFlight, restarts: s.restarts, ready: s.ready }));
  }

  memory(): PoolMemory {
    return { rssBytes: process.memoryUsage.rss(), ...this.#memory };
  }

  /** Stops taking work, lets queued and running tasks finish (up to closeTimeoutMs), ends the workers. */
  close(): Promise<void> {
    this.#accepting = false;
    this.#closing ??= this.#scheduler.close();
    return this.#closing;
  }

  [kArmFault](fault: Fault | undefined): void {
    this.#fault = fault;
  }

  async #classifyTask(texts: readonly string[]): Promise<ClassifyOutcome[]> {
    const message: ClassifyTask = { kind: 'classify', texts, attempt: 0 };
    if (this.#fault !== undefined) {
      message.fault = this.#fault;
      if (this.#fault.poison === undefined) this.#fault = undefined;
    }
    const result = await this.#scheduler.submit(message);
    if (!result.ok) {
      const failure: ItemFailure = { error: { code: result.error.code, message: result.error.message } };
      return texts.map(() => failure);
    }
    return this.#outcomes(texts.length, result.reply as ClassifyReply);
  }

  #outcomes(n: number, reply: ClassifyReply): ClassifyOutcome[] {
    const labels = this.model.labels;
    const L = labels.length;
    const { scores } = reply;
    const failed = reply.failed.length === 0 ? undefined : new Map(reply.failed.map((f) => [f.index, f]));
    const out = new Array<ClassifyOutcome>(n);
    for (let i = 0; i < n; i++) {
      const f = failed?.get(i);
      if (f !== undefined) {
        out[i] = { error: { code: f.code, message: f.message } };
        continue;
      }
      const byLabel: Record<string, number> = {};
      let best = 0;
      for (let j = 0; j < L; j++) {
        byLabel[labels[j] as string] = scores[i * L + j] as number;
        if ((scores[i * L + j] as number) > (scores[i * L + best] as number)) best = j;
      }
      out[i] = { label: labels[best] as string, scores: byLabel, tokens: reply.tokens[i] as number, truncated: reply.truncated[i] === 1 };
    }
    return out;
  }

  /** Share of worker time spent busy over the last second or more: a gauge cheap to read on every scrape. */
  #busyRatio(): number {
    const now = performance.now();
    const slots = this.#scheduler.slots;
    let busy = 0;
    for (const s of slots) busy += s.busyMs + (s.inFlight > 0 ? now - s.activeSince : 0);
    const sample = this.#busySample;
    if (now - sample.at >= 1000) {
      sample.ratio = Math.min(1, (busy - sample.busyMs) / ((now - sample.at) * slots.length));
      sample.at = now;
      sample.busyMs = busy;
    }
    return sample.ratio;
  }
}

function initTask(options: ResolvedPoolOptions, slot: number): InitTask {
  const { manifest, modelPath, tokenizerPath } = options.model;
  const gpu = options.gpus[slot];
  const pinning = options.pinning?.[slot];
  return {
    kind: 'init',
    slot,
    model: { modelPath, tokenizerPath, labels: manifest.labels, maxLength: manifest.maxLength, inputs: manifest.inputs, output: manifest.output },
    session: sessionOptionsFor({ manifest, threadsPerWorker: options.threadsPerWorker, pinning, gpu, oversubscribed: options.oversubscribed, logSeverityLevel: options.ortLogLevel }),
    gpu,
    pinning,
    maxBatchTokens: options.maxBatchTokens,
    maxRowsPerCall: options.maxRowsPerCall,
    niceness: options.niceness,
    schedIdle: options.schedIdle,
  };
}
