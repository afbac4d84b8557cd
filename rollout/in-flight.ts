// Counts the classify calls still running on one classifier, so a retired model is closed only after
// the batches it took have finished: a swap never fails a batch that was already on the old model.

export class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  /** Counts `call` until it settles; returns it unchanged. */
  track<T>(call: Promise<T>): Promise<T> {
    this.#count++;
    const done = (): void => {
      if (--this.#count === 0) for (const wake of this.#idle.splice(0)) wake();
    };
    call.then(done, done);
    return call;
  }

  /**
   * Resolves true once nothing is running, or false after `timeoutMs` with calls still running (a
   * classifier whose calls do not settle must not hold the swap, and the memory of two models, for ever).
   */
  settled(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idle = this.#idle.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.#idle.push(wake);
    });
  }
}
