// Open-loop pacing: message i is due at start + i/rate, whatever happened to earlier sends, so a slow
// system under test shows up as latency instead of silently lowering the offered load.
export class Pacer {
  readonly #start = performance.now();
  #sent = 0;
  constructor(private readonly ratePerSec: number) {}

  /** How many messages are due now (0 = unlimited rate: always `max`). */
  due(max: number): number {
    if (this.ratePerSec <= 0) return max;
    const target = Math.floor(((performance.now() - this.#start) / 1000) * this.ratePerSec);
    return Math.max(0, Math.min(max, target - this.#sent));
  }

  /** Milliseconds until the next message is due. */
  waitMs(): number {
    if (this.ratePerSec <= 0) return 0;
    const nextAt = this.#start + ((this.#sent + 1) / this.ratePerSec) * 1000;
    return Math.max(0, nextAt - performance.now());
  }

  sent(n: number): void {
    this.#sent += n;
  }
}
