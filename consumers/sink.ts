// The output side: writes finished records (results and dead letters) in offset order per input
// partition, then commits the input offsets they cover. Nothing is committed before the broker
// acknowledged (acks=all) the outputs of every record up to that offset.
//
// at-least-once: one idempotent producer; every flush is one sendBatch over all partitions with ready
//   records, then one offset commit. A crash between the two redoes those records (duplicates, no loss).
// exactly-once: one transactional producer per input partition (transactional.id derived from group,
//   topic and partition), so a new owner of a partition fences the old one (the pre-KIP-447 pattern;
//   kafkajs has no consumer-group-metadata fencing). Each flush of a partition is one transaction holding
//   its outputs and its offset commit; readers use read_committed.
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { ProduceError } from '../src/errors.js';
import { tpKey, type Ledger, type ReadyRun, type TopicPartition } from './ledger.js';
import type { Finished } from './messages.js';
import type { KafkaSource } from './source.js';

export interface FlushInfo {
  records: number;
  byTopic: Map<string, number>;
  ms: number;
  /** When the broker acknowledged (epoch ms). */
  appendTime: number;
  finished: Finished[];
}

function finishedOf(runs: readonly ReadyRun<Out>[]): Finished[] {
  const out: Finished[] = [];
  for (const run of runs) for (const e of run.entries) if (e.output !== undefined) out.push(e.output);
  return out;
}

export interface SinkEvents {
  /** A flush was acknowledged: records written per topic, time it took, and what was written. */
  onFlushed?(info: FlushInfo): void;
  onError?(error: Error): void;
}

export interface Sink {
  /** There may be new ready records: flush when possible. Cheap to call often. */
  kick(): void;
  /** Resolves when everything ready has been written and committed. */
  flushAll(): Promise<void>;
  /** Prepares for a new assignment (EOS: fences older owners before fetching resumes). */
  onAssignment(assigned: readonly TopicPartition[]): Promise<void>;
  close(): Promise<void>;
}

type Out = Finished;

function topicMessages(runs: readonly ReadyRun<Out>[]): TopicMessages[] {
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

function count(tm: readonly TopicMessages[]): { records: number; byTopic: Map<string, number> } {
  const byTopic = new Map(tm.map((t) => [t.topic, t.messages.length]));
  return { records: [...byTopic.values()].reduce((a, b) => a + b, 0), byTopic };
}

/** Runs `flush` whenever kicked, one at a time, re-running while work remains. */
class FlushLoop {
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
    let backoff = 50;
    do {
      this.#again = false;
      try {
        while (await this.flushOnce()) backoff = 50;
      } catch (err) {
        this.onError(err as Error);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5_000);
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

  constructor(
    kafka: Kafka,
    private readonly ledger: Ledger<Out>,
    private readonly source: KafkaSource,
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

  async #flushOnce(): Promise<boolean> {
    await this.#connected;
    const runs = this.ledger.takeReady();
    if (runs.length === 0) return false;
    const tm = topicMessages(runs);
    const started = performance.now();
    try {
      if (tm.length > 0) await this.#producer.sendBatch({ topicMessages: tm, acks: -1 });
    } catch (err) {
      for (const run of runs) this.ledger.release(run);
      throw new ProduceError(`writing ${count(tm).records} records failed: ${(err as Error).message}`, { cause: err });
    }
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

  async onAssignment(): Promise<void> {
    /* nothing to fence in at-least-once mode */
  }

  async close(): Promise<void> {
    await this.#loop.idle();
    clearTimeout(this.#commitTimer);
    await this.#producer.disconnect();
  }
}

export class ExactlyOnceSink implements Sink {
  readonly #producers = new Map<string, Promise<Producer>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #loop: FlushLoop;

  constructor(
    private readonly kafka: Kafka,
    private readonly ledger: Ledger<Out>,
    private readonly groupId: string,
    private readonly transactionalIdPrefix: string,
    private readonly events: SinkEvents = {},
  ) {
    this.#loop = new FlushLoop(() => this.#flushOnce(), (e) => this.events.onError?.(e));
  }

  #producer(tp: TopicPartition): Promise<Producer> {
    const k = tpKey(tp);
    let p = this.#producers.get(k);
    if (p === undefined) {
      const producer = this.kafka.producer({
        transactionalId: `${this.transactionalIdPrefix}-${tp.topic}-${tp.partition}`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
        allowAutoTopicCreation: false,
        // After a commit the coordinator writes its markers asynchronously and answers the next
        // transaction's first request with CONCURRENT_TRANSACTIONS until done (a few ms). The default
        // 100 ms first backoff would stall every partition's next flush; retry quickly instead.
        retry: { initialRetryTime: 5, maxRetryTime: 500, retries: 50 },
      });
      // connect() runs InitProducerId: it fences any older producer with this id and completes or
      // aborts the transaction it left open, so nothing it half-wrote becomes visible.
      p = producer.connect().then(() => producer);
      p.catch(() => this.#producers.delete(k));
      this.#producers.set(k, p);
    }
    return p;
  }

  kick(): void {
    this.#loop.kick();
  }

  async #flushOnce(): Promise<boolean> {
    const runs = this.ledger.takeReady();
    if (runs.length === 0) {
      if (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
      return this.#inFlight.size > 0;
    }
    for (const run of runs) {
      const t: Promise<void> = this.#commitRun(run).finally(() => {
        this.#inFlight.delete(t);
        this.kick();
      });
      this.#inFlight.add(t);
    }
    return true;
  }

  async #commitRun(run: ReadyRun<Out>): Promise<void> {
    const started = performance.now();
    const tm = topicMessages([run]);
    const last = run.entries[run.entries.length - 1];
    if (last === undefined) return;
    let producer: Producer;
    try {
      producer = await this.#producer(run.tp);
    } catch (err) {
      this.ledger.release(run);
      this.events.onError?.(new ProduceError(`transactional producer for ${run.tp.topic}[${run.tp.partition}]: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const txn = await producer.transaction();
    try {
      if (tm.length > 0) await txn.sendBatch({ topicMessages: tm, acks: -1 });
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: run.tp.topic, partitions: [{ partition: run.tp.partition, offset: String(last.offset + 1) }] }],
      });
      await txn.commit();
    } catch (err) {
      await txn.abort().catch(() => undefined);
      this.ledger.release(run);
      // A fenced producer stays fenced: make a new one next time (it will fence or be refused cleanly).
      this.#producers.delete(tpKey(run.tp));
      await producer.disconnect().catch(() => undefined);
      this.events.onError?.(new ProduceError(`transaction for ${run.tp.topic}[${run.tp.partition}] aborted: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const appendTime = Date.now();
    this.ledger.acknowledge(run);
    this.ledger.markCommitted([{ tp: run.tp, offset: last.offset + 1 }]);
    this.events.onFlushed?.({ ...count(tm), ms: performance.now() - started, appendTime, finished: finishedOf([run]) });
  }

  async flushAll(): Promise<void> {
    this.kick();
    await this.#loop.idle();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async onAssignment(assigned: readonly TopicPartition[]): Promise<void> {
    const keep = new Set(assigned.map(tpKey));
    for (const [k, p] of this.#producers) {
      if (keep.has(k)) continue;
      this.#producers.delete(k);
      void p.then((producer) => producer.disconnect()).catch(() => undefined);
    }
    await Promise.all(assigned.map((tp) => this.#producer(tp)));
  }

  async close(): Promise<void> {
    await this.flushAll();
    const producers = await Promise.allSettled([...this.#producers.values()]);
    await Promise.all(producers.map(async (r) => (r.status === 'fulfilled' ? r.value.disconnect() : undefined)));
    this.#producers.clear();
  }
}
