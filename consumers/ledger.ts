// The in-flight ledger: for every assigned input partition, the records fetched and not yet committed, in
// offset order. Results may finish out of order (several workers), but they leave in order: only the
// ready prefix of a partition is handed to the producer, and the commit point is the offset after the
// last record whose output the broker acknowledged. That is what makes "commit after delivery" and
// "order per partition" hold together. Pure logic: no Kafka client here.

export interface TopicPartition {
  topic: string;
  partition: number;
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

export interface LedgerEntry<O> {
  readonly tp: TopicPartition;
  readonly offset: number;
  /** What the fetched record weighs (key + value bytes), for the bytes-in-flight bound. */
  readonly bytes: number;
  /** Set once the record's output (result or dead letter) is known. */
  output: O | undefined;
  done: boolean;
  /** Dropped entries (revoked partition) are never produced or committed. */
  dropped: boolean;
}

interface PartitionState<O> {
  tp: TopicPartition;
  entries: LedgerEntry<O>[];
  /** Entries handed to the producer and not yet acknowledged (a prefix of `entries`). */
  sending: number;
  /** Id of the run being sent: only that run may acknowledge or release it (a late answer for a run
   *  of a revoked-then-reassigned partition must not move a newer run's commit point). */
  sendingRun: number;
  /** Next offset to commit (last acknowledged + 1), or undefined before the first ack. */
  commitOffset: number | undefined;
  committedOffset: number | undefined;
  /** Set by abandon(): records from here on are refused until the partition is dropped (a rebalance),
   *  so the commit point can never pass a record that was given up. */
  abandonedFrom: number | undefined;
}

export interface ReadyRun<O> {
  /** Unique per takeReady() hand-out. */
  id: number;
  tp: TopicPartition;
  entries: LedgerEntry<O>[];
}

/** Bounds what one takeReady() hands out (bytes per request and per record batch: see consumers/produce-budget.ts). */
export interface TakeBudget<O> {
  /** A new partition's run starts. */
  startRun(): void;
  /** May `entry` join what is being taken? */
  admit(entry: LedgerEntry<O>): boolean;
}

export class Ledger<O> {
  readonly #partitions = new Map<string, PartitionState<O>>();
  #size = 0;
  #bytes = 0;
  #runs = 0;

  /** Records in flight (fetched, not acknowledged), over all partitions. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the records in flight (their keys and values as fetched), over all partitions. */
  get bytes(): number {
    return this.#bytes;
  }

  sizeOf(tp: TopicPartition): number {
    return this.#partitions.get(tpKey(tp))?.entries.length ?? 0;
  }

  /** Adds a fetched record; undefined when that offset is already in flight (fetched twice). */
  append(tp: TopicPartition, offset: number, bytes = 0): LedgerEntry<O> | undefined {
    const state = this.#state(tp);
    const last = state.entries[state.entries.length - 1];
    if (last !== undefined && offset <= last.offset) return undefined;
    if (state.abandonedFrom !== undefined && offset >= state.abandonedFrom) return undefined;
    const entry: LedgerEntry<O> = { tp, offset, bytes, output: undefined, done: false, dropped: false };
    state.entries.push(entry);
    this.#size++;
    this.#bytes += bytes;
    return entry;
  }

  complete(entry: LedgerEntry<O>, output: O): void {
    if (entry.done) throw new Error(`record ${entry.tp.topic}[${entry.tp.partition}]@${entry.offset} completed twice`);
    entry.output = output;
    entry.done = true;
  }

  /**
   * Takes, for each partition with nothing already being sent, the run of finished records at its head.
   * The caller produces them and then calls acknowledge() (or release() on failure). A `budget` cuts
   * each run short where it says so (a run is always a prefix, so order per partition holds).
   */
  takeReady(budget?: TakeBudget<O>): ReadyRun<O>[] {
    const runs: ReadyRun<O>[] = [];
    for (const state of this.#partitions.values()) {
      if (state.sending > 0) continue;
      budget?.startRun();
      let n = 0;
      while (n < state.entries.length) {
        const entry = state.entries[n] as LedgerEntry<O>;
        if (!entry.done || (budget !== undefined && !budget.admit(entry))) break;
        n++;
      }
      if (n === 0) continue;
      state.sending = n;
      state.sendingRun = ++this.#runs;
      runs.push({ id: state.sendingRun, tp: state.tp, entries: state.entries.slice(0, n) });
    }
    return runs;
  }

  /** The broker acknowledged the run: drop it from the ledger and move the commit point. */
  acknowledge(run: ReadyRun<O>): void {
    const state = this.#partitions.get(tpKey(run.tp));
    // Revoked meanwhile, or a different run is out now: this answer moves nothing.
    if (state === undefined || state.sending === 0 || state.sendingRun !== run.id) return;
    const n = Math.min(state.sending, run.entries.length);
    const last = state.entries[n - 1] as LedgerEntry<O>;
    this.#remove(state.entries.splice(0, n));
    state.sending = 0;
    state.commitOffset = last.offset + 1;
  }

  /**
   * Part of the run is known to be committed already (up to, not including, `offset`): those entries
   * leave the ledger as if acknowledged; the rest is handed out again.
   */
  acknowledgeBelow(run: ReadyRun<O>, offset: number): void {
    const state = this.#partitions.get(tpKey(run.tp));
    if (state === undefined || state.sending === 0 || state.sendingRun !== run.id) return;
    let n = 0;
    while (n < state.sending && (state.entries[n] as LedgerEntry<O>).offset < offset) n++;
    if (n > 0) {
      this.#remove(state.entries.splice(0, n));
      state.commitOffset = offset;
      state.committedOffset = offset;
    }
    state.sending = 0;
  }

  /** Producing the run failed: hand it out again on the next takeReady(). */
  release(run: ReadyRun<O>): void {
    const state = this.#partitions.get(tpKey(run.tp));
    if (state !== undefined && state.sendingRun === run.id) state.sending = 0;
  }

  /** Commit points that moved since the last markCommitted(). */
  uncommitted(): { tp: TopicPartition; offset: number }[] {
    const out: { tp: TopicPartition; offset: number }[] = [];
    for (const s of this.#partitions.values()) {
      if (s.commitOffset !== undefined && s.commitOffset !== s.committedOffset) out.push({ tp: s.tp, offset: s.commitOffset });
    }
    return out;
  }

  markCommitted(points: readonly { tp: TopicPartition; offset: number }[]): void {
    for (const p of points) {
      const s = this.#partitions.get(tpKey(p.tp));
      if (s !== undefined && (s.committedOffset === undefined || p.offset > s.committedOffset)) s.committedOffset = p.offset;
    }
  }

  /**
   * Forgets partitions (revoked in a rebalance, or all of them when the group re-forms): their unsent
   * records are marked dropped so late results are ignored; the new owner redoes them from the last commit.
   */
  drop(keep: (tp: TopicPartition) => boolean): LedgerEntry<O>[] {
    const dropped: LedgerEntry<O>[] = [];
    for (const [key, state] of this.#partitions) {
      if (keep(state.tp)) continue;
      for (const e of state.entries) {
        e.dropped = true;
        dropped.push(e);
      }
      this.#remove(state.entries);
      this.#partitions.delete(key);
    }
    return dropped;
  }

  /**
   * Gives up on `entry` for this run (a transient failure while stopping): it and every later entry of
   * its partition leave the ledger unproduced and uncommitted, so the commit point stays before it and
   * the next owner redoes them. Returns how many entries left (0 if it was already gone).
   */
  abandon(entry: LedgerEntry<O>): number {
    const state = this.#partitions.get(tpKey(entry.tp));
    if (entry.dropped || state === undefined) return 0;
    const at = state.entries.indexOf(entry);
    // Never inside a run being sent (only finished entries are sent, and this one is not finished).
    if (at < 0 || at < state.sending) return 0;
    state.abandonedFrom = entry.offset;
    const gone = state.entries.splice(at);
    for (const e of gone) e.dropped = true;
    this.#remove(gone);
    return gone.length;
  }

  #remove(entries: readonly LedgerEntry<O>[]): void {
    this.#size -= entries.length;
    for (const e of entries) this.#bytes -= e.bytes;
  }

  partitions(): TopicPartition[] {
    return [...this.#partitions.values()].map((s) => s.tp);
  }

  #state(tp: TopicPartition): PartitionState<O> {
    const key = tpKey(tp);
    let state = this.#partitions.get(key);
    if (state === undefined) {
      state = { tp, entries: [], sending: 0, sendingRun: 0, commitOffset: undefined, committedOffset: undefined, abandonedFrom: undefined };
      this.#partitions.set(key, state);
    }
    return state;
  }
}
