// Adaptive batch sizing after Clipper (NSDI '17): additive increase while the tail of batch processing
// latency is under target, multiplicative decrease when it goes over. Pure: feed it latencies, read the size.

export interface AimdOptions {
  /** Latency the batch size is steered to hold (ms), measured at the given percentile. */
  targetMs: number;
  minSize: number;
  maxSize: number;
  /** Size added after a window under target. */
  increase?: number;
  /** Factor applied after a window over target (Clipper uses 10% backoff). */
  decrease?: number;
  /** Observations per decision. */
  window?: number;
  percentile?: number;
}

export class AimdController {
  readonly #o: Required<AimdOptions>;
  #size: number;
  #samples: number[] = [];

  constructor(options: AimdOptions) {
    if (!(options.targetMs > 0)) throw new RangeError('options.targetMs must be > 0');
    if (!(options.minSize >= 1 && options.maxSize >= options.minSize)) throw new RangeError('need 1 <= minSize <= maxSize');
    this.#o = { increase: 1, decrease: 0.9, window: 20, percentile: 0.99, ...options };
    this.#size = this.#o.maxSize;
  }

  get size(): number {
    return this.#size;
  }

  /** Records one batch's latency (ms); returns the new size when a decision was taken. */
  observe(latencyMs: number): number | undefined {
    this.#samples.push(latencyMs);
    if (this.#samples.length < this.#o.window) return undefined;
    const sorted = this.#samples.sort((a, b) => a - b);
    const tail = sorted[Math.min(sorted.length - 1, Math.floor(this.#o.percentile * sorted.length))] as number;
    this.#samples = [];
    const next = tail > this.#o.targetMs ? Math.floor(this.#size * this.#o.decrease) : this.#size + this.#o.increase;
    this.#size = Math.min(this.#o.maxSize, Math.max(this.#o.minSize, next));
    return this.#size;
  }
}
