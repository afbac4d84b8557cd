// The output side: writes finished records (results and dead letters) in offset order per input
// partition, then commits the input offsets they cover. Nothing is committed before the broker
// acknowledged (acks=all) the outputs of every record up to that offset.
//
// at-least-once: one idempotent producer; every flush is one sendBatch over all partitions with ready
//   records, then one offset commit. A crash between the two redoes those records (duplicates, no loss).
// exactly-once: exactly-once-sink.ts (one transactional producer per input partition).
//
// Every request is capped by bytes (produce-budget.ts); a "too large" refusal halves the caps and turns a
// lone oversized message into a dead letter that fits, instead of retrying the same refused batch forever.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { ProduceError } from '../src/errors.js';
import type { Ledger, ReadyRun, TopicPartition } from './ledger.js';
import { fitMessage, type Finished } from './messages.js';
import { isTooLarge, messageBytes, type ProduceBudget } from './produce-budget.js';
import type { KafkaSource } from './source.js';

export interface SeekPoint {
  tp: TopicPartition;
  offset: number;
}

/** What both sinks need besides the ledger: the byte budget and where an oversized message goes instead. */
export interface SinkOptions {
  budget: ProduceBudget;
  deadLetterTopic: string;
  /** Exactly-once: the partitions an input partition's results and dead letters go to (txn-settle.ts). */
  writesTo?: (tp: TopicPartition) => TopicPartition[];
}

export interface FlushInfo {
  records: number;
  byTopic: Map<string, number>;
  ms: number;
  /** When the broker acknowledged (epoch ms). */
  appendTime: number;
  finished: Finished[];
}

export function finishedOf(runs: readonly ReadyRun<Out>[]): Finished[] {
  const out: Finished[] = [];
  for (const run of runs) for (const e of run.entries) if (e.output !== undefined) out.push(e.output);
  return out;
}

export interface SinkEvents {
  /** A flush was acknowledged: records written per topic, time it took, and what was written. */
  onFlushed?(info: FlushInfo): void;
  onError?(error: Error): void;
  /** Exactly-once: the ledger of `tp` does not start where the group's committed offset is (see
   *  txn-plan.ts): drop what it holds of that partition and fetch again from `offset`. */
  onResync?(tp: TopicPartition, offset: number): void;
  /** Exactly-once: `count` records of a run were already written by another producer of the partition
   *  (a zombie's ledger, a commit whose answer was lost): left out, not written again. */
  onAlreadyWritten?(tp: TopicPartition, count: number): void;
  /** Exactly-once: these partitions' transactional ids had a transaction the broker left open (its
   *  markers skipped); it was committed before they resumed (txn-settle.ts). */
  onSettled?(tps: TopicPartition[]): void;
}

export interface Sink {
  /** There may be new ready records: flush when possible. Cheap to call often. */
  kick(): void;
  /** Why the last write failed, until one succeeds again (readiness). */
  readonly failure: string | undefined;
  /** Resolves when everything ready has been written and committed. */
  flushAll(): Promise<void>;
  /**
   * Prepares for a new assignment before fetching resumes. EOS: fences older owners and returns, per
   * assigned partition, the offset to fetch from (what the group committed, or this instance's own
   * later commit). At-least-once: nothing to fence, nothing to seek.
   */
  onAssignment(assigned: readonly TopicPartition[]): Promise<SeekPoint[]>;
  close(): Promise<void>;
}

export type Out = Finished;

export function topicMessages(runs: readonly ReadyRun<Out>[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages['messages']>();
  for (const run of runs) {
    for (const entry of run.entries) {
      for (const m of entry.output?.messages ?? []) {
        let list = byTopic.get(m.topic);
        if (list === undefined) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value, headers: m.headers, ...(m.partition === undefined ? {} : { partition: m.partition }) });
      }
    }
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Replaces, in place, every message over its topic's current limit by a dead letter that fits. */
export function fitRuns(runs: readonly ReadyRun<Out>[], o: SinkOptions): void {
  for (const run of runs) {
    for (const entry of run.entries) {
      const out = entry.output;
      if (out === undefined) continue;
      out.messages = out.messages.map((m) =>
        fitMessage(m, messageBytes(m), o.budget.maxMessageBytes(m.topic), o.deadLetterTopic, { topic: run.tp.topic, partition: run.tp.partition, offset: entry.offset }));
    }
  }
}

/** Waits for `p` at most `ms`; its failure or slowness is not the caller's concern. */
export async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (p === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Exponential backoff with jitter, reset on success (kafkajs' retrier does the same inside a request). */
export class Backoff {
  #failures = 0;
  constructor(private readonly firstMs = 50, private readonly maxMs = 5_000) {}
  next(): number {
    const ms = Math.min(this.maxMs, this.firstMs * 2 ** this.#failures++);
    return ms / 2 + Math.random() * (ms / 2);
  }
  reset(): void {
    this.#failures = 0;
  }
}

export function count(tm: readonly TopicMessages[]): { records: number; byTopic: Map<string, number> } {
  const byTopic = new Map(tm.map((t) => [t.topic, t.messages.length]));
  return { records: [...byTopic.values()].reduce((a, b) => a + b, 0), byTopic };
}

/** Runs `flush` whenever kicked, one at a time, re-running while work remains. */
export class FlushLoop {
  #running: Promise<void> | undefined;
  #again = false;
  #idle: (() => void)[] = [];
  constructor(private readonly flushOnce: () => Promise<boolean>, private readonly onError: (e: Error) => void) {}

  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    });
  }

  async #run(): Promise<void> {
    const backoff = new Backoff();
    do {
      this.#again = false;
      try {
        while (await this.flushOnce()) backoff.reset();
      } catch (err) {
        this.onError(err as Error);
        await sleep(backoff.next());
        this.#again = true;
      }
    } while (this.#again);
  }

  async idle(): Promise<void> {
    if (!this.#running) return;
    await new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

export class AtLeastOnceSink implements Sink {
  readonly #producer: Producer;
  readonly #loop: FlushLoop;
  #connected: Promise<void>;
  #committing: Promise<void> | undefined;
  #commitAgain = false;
  #lastCommit = 0;
  #commitTimer: NodeJS.Timeout | undefined;
  #failure: string | undefined;

  constructor(
    kafka: Kafka,
    private readonly ledger: Ledger<Out>,
    private readonly source: KafkaSource,
    private readonly options: SinkOptions,
    private readonly events: SinkEvents = {},
    private readonly commitIntervalMs = 100,
  ) {
    this.#producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.#connected = this.#producer.connect();
    this.#loop = new FlushLoop(() => this.#flushOnce(), (e) => this.events.onError?.(e));
  }

  kick(): void {
    this.#loop.kick();
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  async #flushOnce(): Promise<boolean> {
    await this.#connected;
    const runs = this.ledger.takeReady(this.options.budget.take(false));
    if (runs.length === 0) return false;
    fitRuns(runs, this.options);
    const tm = topicMessages(runs);
    const started = performance.now();
    try {
      if (tm.length > 0) await this.#producer.sendBatch({ topicMessages: tm, acks: -1 });
    } catch (err) {
      for (const run of runs) this.ledger.release(run);
      // Too large is never retried as is: the next request is half the size (a lone message, a dead letter that fits).
      if (isTooLarge(err)) this.options.budget.refused();
      this.#failure = (err as Error).message;
      throw new ProduceError(`writing ${count(tm).records} records failed: ${(err as Error).message}`, { cause: err });
    }
    this.#failure = undefined;
    this.options.budget.succeeded();
    const appendTime = Date.now();
    for (const run of runs) this.ledger.acknowledge(run);
    this.events.onFlushed?.({ ...count(tm), ms: performance.now() - started, appendTime, finished: finishedOf(runs) });
    this.#commitSoon();
    return true;
  }

  /**
   * Commits run beside produces, not between them: results that become ready during a commit go out at
   * once. At most one commit is in flight; it always commits the latest acknowledged points. Commits are
   * spaced by commitIntervalMs (like Kafka's auto.commit.interval.ms): a commit per flush costs the broker
   * and this process a request each time for nothing but a shorter redo window after a crash.
   */
  #commitSoon(force = false): void {
    if (this.#committing) {
      this.#commitAgain = true;
      return;
    }
    const wait = this.#lastCommit + this.commitIntervalMs - performance.now();
    if (!force && wait > 0) {
      this.#commitTimer ??= setTimeout(() => {
        this.#commitTimer = undefined;
        this.#commitSoon();
      }, wait);
      return;
    }
    const points = this.ledger.uncommitted();
    if (points.length === 0) return;
    this.#lastCommit = performance.now();
    this.#committing = this.source.commit(points).then(
      () => this.ledger.markCommitted(points),
      // A failed commit loses no work: the outputs are written and the next commit covers them.
      (err: unknown) => this.events.onError?.(err as Error),
    ).finally(() => {
      this.#committing = undefined;
      if (this.#commitAgain) {
        this.#commitAgain = false;
        this.#commitSoon();
      }
    });
  }

  async flushAll(): Promise<void> {
    this.kick();
    await this.#loop.idle();
    await this.#commitsSettled();
    // Commit now what the interval would have committed later (and catch a failed last commit).
    if (this.ledger.uncommitted().length > 0) {
      clearTimeout(this.#commitTimer);
      this.#commitTimer = undefined;
      this.#commitSoon(true);
      await this.#commitsSettled();
    }
  }

  async #commitsSettled(): Promise<void> {
    for (let c = this.#committing; c !== undefined; c = this.#committing) await c;
  }

  async onAssignment(): Promise<SeekPoint[]> {
    // Nothing to fence in at-least-once mode; kafkajs starts each partition at its committed offset.
    return [];
  }

  async close(): Promise<void> {
    await this.#loop.idle();
    clearTimeout(this.#commitTimer);
    await this.#producer.disconnect();
  }
}
