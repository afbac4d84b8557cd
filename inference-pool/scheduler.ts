// The pool's scheduling: one FIFO of tasks, dispatched to the workers (slot.ts), with retry, worker
// replacement, a watchdog for stuck workers and draining on close. Internal: pool.ts is the public face.
//
// Rules:
//   - a task goes to a worker with nothing in flight (longest idle first); when none is, to a worker
//     running one task (prefetch, SLOT_CAPACITY), so that worker never waits on this thread;
//   - a task whose worker crashed, threw or timed out runs once more, on another worker when one is
//     free; the worker is replaced (a fresh thread and session);
//   - tasks that were only sitting in that worker (prefetched) are collateral: requeued at the front,
//     their one retry not spent;
//   - after close() gives up waiting, nothing is retried or replaced and every pending task settles.
import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { errorFromCode, InferenceError, PoolClosedError, WorkerCrashError, type KlassifyError } from '../src/errors.js';
import type { BatchEvent, PoolEventMap } from './events.js';
import type { ClassifyReply, ClassifyTask, NoopTask } from './messages.js';
import type { ResolvedPoolOptions } from './options.js';
import { SLOT_CAPACITY, type WorkerSlot } from './slot.js';

/** Pause before each attempt to load a replacement worker (ms); then the slot is given up. */
const RESTART_BACKOFF_MS = [0, 1000, 5000] as const;

export type JobResult = { ok: true; reply: ClassifyReply | null } | { ok: false; error: KlassifyError };

interface Job {
  readonly message: ClassifyTask | NoopTask;
  readonly enqueuedAt: number;
  /** The worker this job failed on, to retry it elsewhere when another worker is free. */
  avoidSlot: number;
  firstError: string | undefined;
  firstCode: string | undefined;
  readonly settle: (result: JobResult) => void;
}

export class Scheduler {
  readonly slots: readonly WorkerSlot[];
  readonly #queue: Job[] = [];
  readonly #options: ResolvedPoolOptions;
  readonly #events: EventEmitter<PoolEventMap>;
  readonly #lastDone: number[];
  #forced = false;
  #drainWaiters: (() => void)[] = [];
  readonly #watchdog: NodeJS.Timeout;

  constructor(slots: readonly WorkerSlot[], options: ResolvedPoolOptions, events: EventEmitter<PoolEventMap>) {
    this.slots = slots;
    this.#options = options;
    this.#events = events;
    this.#lastDone = slots.map(() => 0);
    this.#watchdog = setInterval(() => this.#checkTimeouts(), Math.min(1000, options.taskTimeoutMs / 2));
    this.#watchdog.unref();
  }

  /** Tasks waiting for a worker in the pool's queue (what admission control counts). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Tasks not yet running: the queue plus those prefetched into busy workers. */
  get queued(): number {
    let prefetched = 0;
    for (const s of this.slots) prefetched += Math.max(0, s.inFlight - 1);
    return this.#queue.length + prefetched;
  }

  submit(message: ClassifyTask | NoopTask): Promise<JobResult> {
    return new Promise((settle) => {
      if (this.#noneLeft()) {
        settle({ ok: false, error: new WorkerCrashError('no inference worker is left: every worker failed to restart (see the worker_dead events)') });
        return;
      }
      this.#queue.push({ message, enqueuedAt: performance.now(), avoidSlot: -1, firstError: undefined, firstCode: undefined, settle });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const job = this.#queue[0] as Job;
      const slot = this.#pick(job.avoidSlot);
      if (slot === undefined) break;
      this.#queue.shift();
      void this.#run(slot, job);
    }
    if (this.#drainWaiters.length > 0 && this.#queue.length === 0 && this.slots.every((s) => s.inFlight === 0)) {
      for (const resolve of this.#drainWaiters.splice(0)) resolve();
    }
  }

  /** An idle worker (longest idle first), else one with room to prefetch (running the oldest task). */
  #pick(avoid: number): WorkerSlot | undefined {
    let best: WorkerSlot | undefined;
    let bestKey = Number.POSITIVE_INFINITY;
    for (const s of this.slots) {
      if (s.state !== 'ready' || s.inFlight >= SLOT_CAPACITY) continue;
      // Lower is better: idle before prefetch, then longest idle / oldest running; the worker a retry
      // failed on only when nothing else can take it.
      const key = (s.index === avoid ? 4e15 : 0) + (s.inFlight > 0 ? 2e15 : 0) + (s.inFlight > 0 ? s.activeSince : (this.#lastDone[s.index] as number));
      if (key < bestKey) {
        best = s;
        bestKey = key;
      }
    }
    return best;
  }

  async #run(slot: WorkerSlot, job: Job): Promise<void> {
    const generation = slot.generation;
    const started = performance.now();
    let failure: KlassifyError | undefined;
    let reply: ClassifyReply | null = null;
    try {
      const answer = await slot.run<ClassifyReply | null>(job.message, started);
      if (answer.ok) reply = answer.value;
      else failure = errorFromCode(answer.error.code, `worker ${slot.index}: ${answer.error.message}`, InferenceError);
    } catch (err) {
      failure = err as KlassifyError;
    }
    const ended = performance.now();
    this.#lastDone[slot.index] = ended;
    if (failure === undefined) {
      job.settle({ ok: true, reply });
      if (reply !== null && job.message.kind === 'classify' && this.#events.listenerCount('batch') > 0) {
        this.#events.emit('batch', batchEvent(slot.index, job, reply, started, ended));
      }
    } else if (this.#forced) {
      job.settle({ ok: false, error: failure });
    } else if (slot.generation !== generation) {
      // Sent to a worker that failed on another task: not this task's fault.
      this.#queue.unshift(job);
    } else {
      slot.beginRestart();
      this.#retryOrFail(job, slot, failure);
      void this.#replace(slot, failure);
    }
    this.#dispatch();
  }

  #retryOrFail(job: Job, slot: WorkerSlot, error: KlassifyError): void {
    const { message } = job;
    if (message.kind === 'classify' && message.attempt === 0) {
      message.attempt = 1;
      job.avoidSlot = slot.index;
      job.firstError = `${error.code}: ${error.message}`;
      job.firstCode = error.code;
      this.#queue.unshift(job);
      this.#events.emit('retry', { slot: slot.index, texts: message.texts.length, code: error.code });
      return;
    }
    const both = `failed on two workers: first ${job.firstError}; then ${error.code}: ${error.message}`;
    // Killed two workers (crash or hang): most likely one of its texts does that, so say crash, and the
    // caller can bisect the batch to find it (src/model/classify-patiently.ts). Otherwise an inference error.
    const crashedTwice = job.firstCode === 'KLS_ERR_WORKER_CRASH' && error.code === 'KLS_ERR_WORKER_CRASH';
    const final = job.firstError === undefined ? error : crashedTwice ? new WorkerCrashError(both, { cause: error }) : new InferenceError(both, { cause: error });
    job.settle({ ok: false, error: final });
  }

  /** Replaces a failed worker; gives the slot up after a few failed loads. */
  async #replace(slot: WorkerSlot, failure: KlassifyError): Promise<void> {
    this.#events.emit('worker_failed', { slot: slot.index, code: failure.code, message: failure.message });
    let last: unknown = failure;
    for (const pause of RESTART_BACKOFF_MS) {
      if (this.#forced) return;
      if (pause > 0) await new Promise((r) => setTimeout(r, pause).unref());
      try {
        const ready = await slot.restart();
        if (this.#forced) return;
        this.#events.emit('worker_ready', { ...ready, replacement: true });
        this.#dispatch();
        return;
      } catch (err) {
        last = err;
      }
    }
    slot.state = 'dead';
    const error = last as Partial<KlassifyError>;
    this.#events.emit('worker_dead', { slot: slot.index, code: error.code ?? 'KLS_ERR_INTERNAL', message: error.message ?? String(last) });
    if (this.#noneLeft()) {
      const gone = new WorkerCrashError(`no inference worker is left (the last could not be restarted: ${error.message ?? String(last)})`);
      for (const job of this.#queue.splice(0)) job.settle({ ok: false, error: gone });
    }
    this.#dispatch();
  }

  #noneLeft(): boolean {
    return this.slots.every((s) => s.state === 'dead' || s.state === 'closed');
  }

  #checkTimeouts(): void {
    const now = performance.now();
    const limit = this.#options.taskTimeoutMs;
    for (const slot of this.slots) {
      if (slot.inFlight > 0 && now - slot.activeSince > limit) {
        void slot.abort(new WorkerCrashError(`worker ${slot.index} ran one task for more than ${limit} ms and was terminated`));
      }
    }
  }

  /** Waits (up to closeTimeoutMs) for queued and running tasks, then fails what is left and ends the workers. */
  async close(): Promise<void> {
    if (this.#queue.length > 0 || this.slots.some((s) => s.inFlight > 0)) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drainWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.#options.closeTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.#forced = true;
    clearInterval(this.#watchdog);
    const closed = new PoolClosedError(`the inference pool closed before this batch ran (closeTimeoutMs ${this.#options.closeTimeoutMs})`);
    for (const job of this.#queue.splice(0)) job.settle({ ok: false, error: closed });
    await Promise.all(this.slots.map((slot) => slot.close(closed)));
  }
}

function batchEvent(slot: number, job: Job, reply: ClassifyReply, dispatchedAt: number, doneAt: number): BatchEvent {
  const t = reply.timings;
  const origin = performance.timeOrigin;
  let truncated = 0;
  for (const x of reply.truncated) truncated += x;
  return {
    slot,
    texts: reply.tokens.length,
    attempt: job.message.kind === 'classify' ? job.message.attempt : 0,
    // From classify() to the worker starting it: the pool queue, plus any wait behind a running task.
    queueMs: t.startedAt - (origin + job.enqueuedAt),
    tokenizeMs: t.tokenizeMs,
    inferenceMs: t.inferenceMs,
    rows: t.rows,
    tokens: t.tokens,
    paddedTokens: t.paddedTokens,
    runs: t.runs,
    truncated,
    failed: reply.failed.length,
    workerMs: t.workerMs,
    roundTripMs: doneAt - dispatchedAt,
    toWorkerMs: t.startedAt - (origin + dispatchedAt),
    fromWorkerMs: origin + doneAt - t.endedAt,
  };
}
