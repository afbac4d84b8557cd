// One worker position of the pool: a single-thread Piscina plus what the scheduler tracks about it.
//
// Why one Piscina per worker rather than one Piscina with N threads: piscina hands any task to any thread,
// but these workers are not interchangeable (worker i owns core set i or GPU i, and a replacement must
// load the model before it takes work). So each slot is a Piscina with at most one thread, started on
// demand by the `init` task (minThreads 0: piscina never respawns a crashed thread behind our back), and
// scheduler.ts schedules across slots itself, which also lets a failed batch be retried on another worker.
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { errorFromCode, messageOf, ModelLoadError, PoolClosedError, WorkerCrashError, type KlassifyError } from '../src/errors.js';
import type { InitTask, WorkerReady, WorkerReply, WorkerTask } from './messages.js';

export type SlotState = 'starting' | 'ready' | 'restarting' | 'dead' | 'closed';

/**
 * Tasks a worker holds at once: the one it runs and one waiting in its port (TEI's one batch of
 * prefetch), so it starts the next batch the moment it finishes instead of idling through a round trip
 * to the pool's thread (~0.3-0.4 ms each way measured here, more when cores are contended).
 */
export const SLOT_CAPACITY = 2;

export class WorkerSlot {
  readonly index: number;
  state: SlotState = 'starting';
  ready: WorkerReady | undefined;
  /** Bumped when the worker is replaced: failures of tasks sent to an older generation are collateral. */
  generation = 0;
  restarts = 0;
  /** Tasks posted to the worker and not yet settled (at most SLOT_CAPACITY). */
  inFlight = 0;
  /** Time with at least one task in flight, for the busy ratio (ms). */
  busyMs = 0;
  /** When the task now running started (its dispatch, or the end of the one before): the watchdog's clock. */
  activeSince = 0;
  readonly #filename: string;
  readonly #init: InitTask;
  #piscina: Piscina;
  #abortReason: KlassifyError | undefined;
  #aborting: Promise<void> | undefined;
  #closed = false;

  constructor(index: number, filename: string, init: InitTask) {
    this.index = index;
    this.#filename = filename;
    this.#init = init;
    this.#piscina = this.#createPiscina();
  }

  #createPiscina(): Piscina {
    return new Piscina({
      filename: this.#filename,
      minThreads: 0,
      maxThreads: 1,
      // Infinity is special-cased by piscina: the thread is never retired for being idle.
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: SLOT_CAPACITY,
      // The pool keeps its own timings; piscina's histograms would only cost time on the hot path.
      recordTiming: false,
    });
  }

  /** Loads the model in the thread; rejects with the worker's typed error (ModelLoadError, ...). */
  async start(): Promise<WorkerReady> {
    if (this.state !== 'restarting') this.state = 'starting';
    const reply = await this.#post<WorkerReady>(this.#init).catch((err: unknown) => {
      if (this.#closed) throw new PoolClosedError(`worker ${this.index} was closed while loading the model`);
      throw new ModelLoadError(`worker ${this.index} died while loading the model: ${messageOf(err)}`, { cause: err });
    });
    if (!reply.ok) throw errorFromCode(reply.error.code, `worker ${this.index}: ${reply.error.message}`, ModelLoadError);
    this.ready = reply.value;
    this.state = 'ready';
    return reply.value;
  }

  /**
   * Runs a task. Resolves with the worker's reply (which may carry a task error as data); rejects with
   * the abort reason, or WorkerCrashError when the thread died.
   */
  async run<T>(task: WorkerTask, now: number): Promise<WorkerReply<T>> {
    if (this.inFlight++ === 0) this.activeSince = now;
    try {
      return await this.#post<T>(task);
    } catch (err) {
      throw this.#abortReason ?? new WorkerCrashError(`worker ${this.index} crashed: ${messageOf(err)}`, { cause: err });
    } finally {
      const end = performance.now();
      this.busyMs += end - this.activeSince;
      this.activeSince = end;
      if (--this.inFlight === 0) this.#abortReason = undefined;
    }
  }

  async #post<T>(task: WorkerTask): Promise<WorkerReply<T>> {
    // No AbortSignal per task: piscina's signal handling measured 40-60 µs per task here, a third of the
    // whole no-op round trip. abort() ends the thread instead, which fails its tasks just the same.
    return (await this.#piscina.run(task)) as WorkerReply<T>;
  }

  /**
   * Ends the thread under every task in flight; they reject with `reason`. Resolves once the thread has
   * exited, by which time piscina has failed its tasks (its 'exit' listener runs before terminate() settles).
   */
  abort(reason: KlassifyError): Promise<void> {
    const threads = this.#piscina.threads;
    if (threads.length === 0) return Promise.resolve();
    // The watchdog asks every second; one termination is enough.
    this.#aborting ??= (async () => {
      this.#abortReason = reason;
      await Promise.all(threads.map((t) => t.terminate()));
      this.#aborting = undefined;
    })();
    return this.#aborting;
  }

  /** Marks the worker failed; tasks still in it become collateral. Synchronous, so a second failure sees it. */
  beginRestart(): void {
    this.state = 'restarting';
    this.generation++;
    this.ready = undefined;
  }

  /** Replaces the thread with a fresh one and loads the model again. */
  async restart(): Promise<WorkerReady> {
    this.restarts++;
    // A worker that answered with an error is still alive and may hold a prefetched task.
    await this.abort(new WorkerCrashError(`worker ${this.index} is being replaced`));
    await this.#piscina.destroy();
    // The old thread's tasks have all failed by now; the reason must not stick to the new thread's.
    this.#abortReason = undefined;
    // close() may have run while the old thread was ending: do not start a thread nobody will end.
    if (this.#closed) throw new PoolClosedError(`worker ${this.index} was closed while restarting`);
    this.#piscina = this.#createPiscina();
    return this.start();
  }

  /** Ends the thread. Aborts first: piscina's destroy() would leave a running task unsettled. */
  async close(reason: KlassifyError): Promise<void> {
    this.#closed = true;
    this.state = 'closed';
    await this.abort(reason);
    await this.#piscina.destroy();
  }
}
