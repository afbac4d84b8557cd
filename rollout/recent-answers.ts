// The parity sample: a bounded ring of the texts one live model classified most recently, with the
// label it gave each. The gate compares models on what this deployment actually sees, not on a generic
// set; keeping the live answers means the gate runs only the candidate (asking the live model again put
// 512 texts in the queue of live traffic and paused the output for seconds). The ring caps the memory
// (capacity × the longest text the pipeline admits, --max-text-bytes).
import { isFailure, type Classification, type ClassifyOutcome } from '../src/model/classifier.js';

export interface Answered {
  readonly text: string;
  readonly answer: Classification;
}

export class RecentAnswers {
  readonly capacity: number;
  readonly #ring: Answered[] = [];
  /** Where the next entry goes once the ring is full (the oldest entry). */
  #next = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${String(capacity)}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#ring.length;
  }

  /** Records one classify call: `outcomes[i]` is the answer for `texts[i]`; failures are not kept
   *  (the gate cannot judge a candidate on a text the live model could not classify). */
  push(texts: readonly string[], outcomes: readonly ClassifyOutcome[]): void {
    if (outcomes.length !== texts.length) throw new RangeError(`${texts.length} texts but ${outcomes.length} outcomes`);
    // Only the last `capacity` texts of a large call can survive: skip the rest instead of cycling them through.
    for (let i = Math.max(0, texts.length - this.capacity); i < texts.length; i++) {
      const answer = outcomes[i] as ClassifyOutcome;
      if (isFailure(answer)) continue;
      const entry: Answered = { text: texts[i] as string, answer };
      if (this.#ring.length < this.capacity) {
        this.#ring.push(entry);
      } else {
        this.#ring[this.#next] = entry;
        this.#next = (this.#next + 1) % this.capacity;
      }
    }
  }

  /** A copy, oldest first: the gate works on it while live traffic keeps pushing. */
  snapshot(): Answered[] {
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
