import { describe, expect, it } from 'vitest';
import { AimdController } from '../../src/batching/aimd.js';
import { MicroBatcher, type BatchItem, type Clock } from '../../src/batching/micro-batcher.js';

class FakeClock implements Clock {
  t = 0;
  timers: { at: number; fn: () => void; id: number }[] = [];
  #id = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle);
  }
  deferred: (() => void)[] = [];
  defer(fn: () => void): void {
    this.deferred.push(fn);
  }
  /** Ends the current burst: runs what add() deferred. */
  settle(): void {
    const d = this.deferred;
    this.deferred = [];
    for (const fn of d) fn();
  }
  advance(ms: number): void {
    this.settle();
    this.t += ms;
    const due = this.timers.filter((t) => t.at <= this.t);
    this.timers = this.timers.filter((t) => t.at > this.t);
    for (const t of due) t.fn();
  }
}

/** A dispatcher whose batches finish when the test says so. */
function harness(options: { maxSize?: number; maxTokens?: number; maxWaitMs?: number; slots?: number }) {
  const clock = new FakeClock();
  const batches: number[][] = [];
  const finishers: (() => void)[] = [];
  const batcher = new MicroBatcher<number>(
    { maxSize: 4, maxTokens: 1000, maxWaitMs: 0, slots: 1, ...options },
    (items: BatchItem<number>[]) => {
      batches.push(items.map((i) => i.value));
      return new Promise<void>((resolve) => finishers.push(resolve));
    },
    clock,
  );
  const finishOne = async (): Promise<void> => {
    clock.settle();
    finishers.shift()?.();
    await Promise.resolve();
    await Promise.resolve();
  };
  return { clock, batches, batcher, finishOne };
}

describe('MicroBatcher', () => {
  it('a burst of records added together becomes one batch, not singles', () => {
    const { clock, batches, batcher } = harness({ slots: 1, maxSize: 10 });
    for (let i = 1; i <= 5; i++) batcher.add(i, 10);
    clock.settle();
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
  });

  it('a partial batch is shared out over the free slots', () => {
    const { clock, batches, batcher } = harness({ slots: 2, maxSize: 10 });
    for (let i = 1; i <= 5; i++) batcher.add(i, 10);
    clock.settle();
    expect(batches).toEqual([[1, 2, 3], [4, 5]]);
  });

  it('at low load a record goes out at once, alone', () => {
    const { clock, batches, batcher } = harness({ slots: 2 });
    batcher.add(1, 10);
    expect(batches).toEqual([]);
    clock.settle();
    expect(batches).toEqual([[1]]);
  });

  it('while every slot is busy, records gather into one batch up to maxSize', async () => {
    const { clock, batches, batcher, finishOne } = harness({ slots: 1, maxSize: 3 });
    batcher.add(1, 10);
    clock.settle();
    for (let i = 2; i <= 8; i++) batcher.add(i, 10);
    clock.settle();
    expect(batches).toEqual([[1]]);
    await finishOne();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    await finishOne();
    expect(batches.at(-1)).toEqual([5, 6, 7]);
    await finishOne();
    expect(batches.at(-1)).toEqual([8]);
    expect(batcher.pending).toBe(0);
  });

  it('closes a batch before its padded token cost passes maxTokens', async () => {
    const { clock, batches, batcher, finishOne } = harness({ slots: 1, maxSize: 100, maxTokens: 100 });
    batcher.add(0, 1); // occupies the slot
    clock.settle();
    batcher.add(1, 20);
    batcher.add(2, 20);
    batcher.add(3, 20);
    batcher.add(4, 20); // 4 x 20 = 80 fits
    batcher.add(5, 30); // longest 30 x 5 = 150 > 100: closes [1..4]
    await finishOne();
    expect(batches[1]).toEqual([1, 2, 3, 4]);
    await finishOne();
    expect(batches[2]).toEqual([5]);
  });

  it('waits maxWaitMs for company when a slot is free, then flushes', () => {
    const { clock, batches, batcher } = harness({ slots: 1, maxWaitMs: 5 });
    batcher.add(1, 10);
    clock.advance(3);
    batcher.add(2, 10);
    expect(batches).toEqual([]);
    clock.advance(2);
    expect(batches).toEqual([[1, 2]]);
  });

  it('a full batch goes out without waiting', () => {
    const { clock, batches, batcher } = harness({ slots: 1, maxWaitMs: 1000, maxSize: 2 });
    batcher.add(1, 10);
    batcher.add(2, 10);
    clock.settle();
    expect(batches).toEqual([[1, 2]]);
  });

  it('drain flushes everything and resolves when all batches finished', async () => {
    const { batches, batcher, finishOne } = harness({ slots: 1, maxWaitMs: 1000, maxSize: 2 });
    for (let i = 1; i <= 5; i++) batcher.add(i, 10);
    let drained = false;
    const d = batcher.drain().then(() => (drained = true));
    for (let i = 0; i < 3; i++) await finishOne();
    await d;
    expect(drained).toBe(true);
    expect(batches.flat()).toEqual([1, 2, 3, 4, 5]);
  });

  it('discard drops undispatched records of revoked partitions', async () => {
    const { clock, batches, batcher, finishOne } = harness({ slots: 1, maxSize: 10 });
    batcher.add(1, 10);
    clock.settle();
    for (let i = 2; i <= 6; i++) batcher.add(i, 10);
    expect(batcher.discard((v) => v % 2 === 0).sort()).toEqual([3, 5]);
    await finishOne();
    expect(batches[1]).toEqual([2, 4, 6]);
  });

  it('setMaxSize applies to the open batch', async () => {
    const { clock, batches, batcher, finishOne } = harness({ slots: 1, maxSize: 10 });
    batcher.add(1, 10);
    clock.settle();
    for (let i = 2; i <= 5; i++) batcher.add(i, 10);
    batcher.setMaxSize(2);
    await finishOne();
    expect(batches[1]).toEqual([2, 3, 4, 5]);
  });

  it('rejects bad options naming them', () => {
    expect(() => new MicroBatcher({ maxSize: 0, maxTokens: 1, maxWaitMs: 0, slots: 1 }, async () => undefined)).toThrow(/options.maxSize/);
    expect(() => new MicroBatcher({ maxSize: 1, maxTokens: 1, maxWaitMs: -1, slots: 1 }, async () => undefined)).toThrow(/maxWaitMs/);
  });
});

describe('AimdController', () => {
  it('backs off multiplicatively over target and grows additively under it', () => {
    const c = new AimdController({ targetMs: 20, minSize: 1, maxSize: 64, window: 4 });
    expect(c.size).toBe(64);
    for (let i = 0; i < 3; i++) expect(c.observe(50)).toBeUndefined();
    expect(c.observe(50)).toBe(57);
    for (let i = 0; i < 4; i++) c.observe(5);
    expect(c.size).toBe(58);
    for (let k = 0; k < 100; k++) for (let i = 0; i < 4; i++) c.observe(100);
    expect(c.size).toBe(1);
  });
});
