// The micro-batcher: groups records into inference batches. Pure logic (no Kafka, no ONNX Runtime); time
// comes from an injected clock so tests drive it without sleeping.
//
// Policy (continuous batching, after TEI's queue and Triton's dynamic batcher):
// - a batch closes when it holds maxSize items, or when one more item would push its padded token cost
//   (longest estimate x count, as a padded model pays) over maxTokens;
// - an open batch is dispatched as soon as a dispatch slot is free and its oldest item has waited
//   maxWaitMs (0: at once). With every slot busy, flushing early would only queue the batch elsewhere,
//   so items keep joining it until a slot frees: batches grow with load, and at low load a record
//   goes out alone with no added wait. A partial batch is shared out over all free slots.
// - slots should equal the workers: a batch queued behind a running one would just wait there while
//   records that could have joined it arrive (at 50% load that alone doubled the latency here).

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs fn after the current burst of work (setImmediate): records of one fetch arrive together. */
  defer(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  defer: (fn) => setImmediate(fn),
};

export interface BatcherOptions {
  maxSize: number;
  maxTokens: number;
  maxWaitMs: number;
  /** Batches that may be in dispatch at once: the pool's workers. */
  slots: number;
}

export interface BatchItem<T> {
  value: T;
  tokens: number;
  enqueuedAt: number;
}

/**
 * A cheap upper-ish token estimate for a text, for the batch's token budget before it is tokenized (the
 * tokenizer runs in the workers, not on the batching thread): English WordPiece averages ~4 characters a
 * token, plus [CLS] and [SEP], capped at the model's maxLength.
 */
export function estimateTokens(text: string, maxLength: number): number {
  return Math.min(maxLength, Math.ceil(text.length / 4) + 2);
}

export type DispatchFn<T> = (items: BatchItem<T>[]) => Promise<void>;

export class MicroBatcher<T> {
  #options: BatcherOptions;
  readonly #dispatch: DispatchFn<T>;
  readonly #clock: Clock;
  #open: BatchItem<T>[] = [];
  #openMaxTokens = 0;
  /** Closed batches waiting for a slot, oldest first. */
  readonly #ready: BatchItem<T>[][] = [];
  #inDispatch = 0;
  #timer: unknown = undefined;
  #pumpScheduled = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: BatcherOptions, dispatch: DispatchFn<T>, clock: Clock = systemClock) {
    validate(options);
    this.#options = { ...options };
    this.#dispatch = dispatch;
    this.#clock = clock;
  }

  /** Items accepted and not yet dispatched. */
  get pending(): number {
    return this.#open.length + this.#ready.reduce((n, b) => n + b.length, 0);
  }

  get inDispatch(): number {
    return this.#inDispatch;
  }

  get maxSize(): number {
    return this.#options.maxSize;
  }

  /** Adaptive batching adjusts the size cap while running. */
  setMaxSize(maxSize: number): void {
    this.#options.maxSize = Math.max(1, Math.floor(maxSize));
    if (this.#open.length >= this.#options.maxSize) this.#close();
    this.#pump();
  }

  add(value: T, tokens: number): void {
    const cost = Math.max(1, tokens);
    const longest = Math.max(this.#openMaxTokens, cost);
    if (this.#open.length > 0 && longest * (this.#open.length + 1) > this.#options.maxTokens) this.#close();
    this.#open.push({ value, tokens: cost, enqueuedAt: this.#clock.now() });
    this.#openMaxTokens = Math.max(this.#openMaxTokens, cost);
    if (this.#open.length >= this.#options.maxSize) this.#close();
    // Not at once: the records of one fetch are added in a burst (one decode each), and dispatching the
    // first alone would split the burst into single-record batches.
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      this.#clock.defer(() => {
        this.#pumpScheduled = false;
        this.#pump();
      });
    }
  }

  /** Dispatches everything now, ignoring maxWaitMs (shutdown, rebalance); resolves when all batches finished. */
  async drain(): Promise<void> {
    if (this.#open.length > 0) this.#close();
    this.#pump(true);
    while (this.#inDispatch > 0 || this.#ready.length > 0) {
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      this.#pump(true);
    }
  }

  /** Drops undispatched items for which `keep` is false (records of revoked partitions); returns them. */
  discard(keep: (value: T) => boolean): T[] {
    const dropped: T[] = [];
    const filter = (batch: BatchItem<T>[]): BatchItem<T>[] =>
      batch.filter((item) => (keep(item.value) ? true : (dropped.push(item.value), false)));
    this.#open = filter(this.#open);
    this.#openMaxTokens = this.#open.reduce((m, i) => Math.max(m, i.tokens), 0);
    for (let i = this.#ready.length - 1; i >= 0; i--) {
      const kept = filter(this.#ready[i] as BatchItem<T>[]);
      if (kept.length === 0) this.#ready.splice(i, 1);
      else this.#ready[i] = kept;
    }
    return dropped;
  }

  #close(): void {
    this.#ready.push(this.#open);
    this.#open = [];
    this.#openMaxTokens = 0;
  }

  #pump(force = false): void {
    while (this.#inDispatch < this.#options.slots) {
      let batch = this.#ready.shift();
      if (batch === undefined && this.#open.length > 0) {
        const waited = this.#clock.now() - (this.#open[0] as BatchItem<T>).enqueuedAt;
        if (!force && waited < this.#options.maxWaitMs) {
          this.#arm(this.#options.maxWaitMs - waited);
          return;
        }
        // Several workers free and a partial batch: share it out. One worker running everything while
        // the others idle would only make the batch take longer.
        const free = this.#options.slots - this.#inDispatch;
        const share = Math.ceil(this.#open.length / Math.min(free, this.#open.length));
        batch = this.#open.splice(0, share);
        this.#openMaxTokens = this.#open.reduce((m, i) => Math.max(m, i.tokens), 0);
      }
      if (batch === undefined) break;
      this.#start(batch);
    }
  }

  #arm(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, ms);
  }

  #start(batch: BatchItem<T>[]): void {
    if (this.#timer !== undefined && this.#open.length === 0) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#inDispatch++;
    const finish = (): void => {
      this.#inDispatch--;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
      this.#pump();
    };
    // The dispatcher owns error handling per item; a rejection here is a bug, surfaced not swallowed.
    this.#dispatch(batch).then(finish, (err: unknown) => {
      finish();
      queueMicrotask(() => {
        throw err;
      });
    });
  }
}

function validate(o: BatcherOptions): void {
  const positiveInt = (name: keyof BatcherOptions): void => {
    if (!Number.isInteger(o[name]) || o[name] < 1) throw new RangeError(`options.${name} must be a positive integer`);
  };
  positiveInt('maxSize');
  positiveInt('maxTokens');
  positiveInt('slots');
  if (!(o.maxWaitMs >= 0)) throw new RangeError('options.maxWaitMs must be >= 0');
}
