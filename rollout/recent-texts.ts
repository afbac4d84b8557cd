// The parity sample: a bounded ring of the texts the live model classified most recently. The gate
// compares models on what this deployment actually sees, not on a generic set, and the ring caps the
// memory that costs (capacity × the longest text the pipeline admits, --max-text-bytes).

export class RecentTexts {
  readonly capacity: number;
  readonly #ring: string[] = [];
  /** Where the next text goes once the ring is full (the oldest text). */
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${String(capacity)}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#ring.length;
  }

  push(texts: readonly string[]): void {
    // Only the last `capacity` texts of a large call can survive: skip the rest instead of cycling them through.
    for (let i = Math.max(0, texts.length - this.capacity); i < texts.length; i++) {
      const text = texts[i] as string;
      if (this.#ring.length < this.capacity) {
        this.#ring.push(text);
      } else {
        this.#ring[this.#next] = text;
        this.#next = (this.#next + 1) % this.capacity;
      }
    }
  }

  /** A copy, oldest first: the gate classifies it while live traffic keeps pushing. */
  snapshot(): string[] {
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
