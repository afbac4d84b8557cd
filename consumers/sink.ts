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
//
// Every request is capped by bytes (produce-budget.ts); a "too large" refusal halves the caps and turns a
// lone oversized message into a dead letter that fits, instead of retrying the same refused batch forever.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer, TopicMessages } from 'kafkajs';
import { ProduceError } from '../src/errors.js';
import { withAdmin } from './kafka-client.js';
import { tpKey, type Ledger, type ReadyRun, type TopicPartition } from './ledger.js';
import { fitMessage, type Finished } from './messages.js';
import { isTooLarge, messageBytes, type ProduceBudget } from './produce-budget.js';
import type { KafkaSource } from './source.js';

/**
 * The transactional id of one input partition's producer. Joined with '-', group "a-b" + topic "c" and
 * group "a" + topic "b-c" got the same id and fenced each other; '|' cannot occur in a topic name and is
 * escaped in the group id, so distinct (group, topic, partition) give distinct ids.
 */
export function transactionalIdFor(groupId: string, tp: TopicPartition): string {
  return `klassify|${encodeURIComponent(groupId)}|${tp.topic}|${tp.partition}`;
}

export interface SeekPoint {
  tp: TopicPartition;
  offset: number;
}

/** What both sinks need besides the ledger: the byte budget and where an oversized message goes instead. */
export interface SinkOptions {
  budget: ProduceBudget;
  deadLetterTopic: string;
}

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

/** Replaces, in place, every message over its topic's current limit by a dead letter that fits. */
function fitRuns(runs: readonly ReadyRun<Out>[], o: SinkOptions): void {
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
async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (p === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

/** Exponential backoff with jitter, reset on success (kafkajs' retrier does the same inside a request). */
class Backoff {
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

export class ExactlyOnceSink implements Sink {
  readonly #producers = new Map<string, Promise<Producer>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #loop: FlushLoop;
  readonly #backoff = new Backoff();
  /** Next offset after this instance's last committed transaction, per partition (tpKey). */
  readonly #committed = new Map<string, number>();
  /** Partitions whose last transaction failed with an unknown outcome (see #commitRun). */
  readonly #unsure = new Set<string>();
  #failure: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly ledger: Ledger<Out>,
    private readonly groupId: string,
    private readonly options: SinkOptions,
    private readonly events: SinkEvents = {},
  ) {
    this.#loop = new FlushLoop(() => this.#flushOnce(), (e) => this.events.onError?.(e));
  }

  get failure(): string | undefined {
    return this.#failure;
  }

  /**
   * A failed transaction keeps its partition blocked for a backoff before the run is handed out again:
   * released at once, it was retried in a tight loop, thousands of times a second, while a broker was away.
   */
  async #failed(run: ReadyRun<Out>, error: Error): Promise<void> {
    this.#failure = error.message;
    if (isTooLarge(error)) this.options.budget.refused();
    this.events.onError?.(error);
    await sleep(this.#backoff.next());
    this.ledger.release(run);
  }

  #producer(tp: TopicPartition): Promise<Producer> {
    const k = tpKey(tp);
    let p = this.#producers.get(k);
    if (p === undefined) {
      const producer = this.kafka.producer({
        transactionalId: transactionalIdFor(this.groupId, tp),
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 60_000,
        allowAutoTopicCreation: false,
        // After a commit the coordinator writes its markers asynchronously and answers the next
        // transaction's first request with CONCURRENT_TRANSACTIONS until done (a few ms). The default
        // 100 ms first backoff would stall every partition's next flush; retry quickly instead.
        retry: { initialRetryTime: 5, maxRetryTime: 500, retries: 50 },
      });
      // kafkajs' connect() does not run InitProducerId; its first transaction() does. Beginning and
      // aborting an empty transaction forces it now: it fences any older producer with this id and
      // waits until the coordinator completed or aborted what that one left open (CONCURRENT_TRANSACTIONS
      // is retried meanwhile), so the committed offsets read after it are final.
      p = producer.connect().then(async () => {
        const fence = await producer.transaction();
        await fence.abort();
        return producer;
      });
      p.catch(() => this.#producers.delete(k));
      this.#producers.set(k, p);
    }
    return p;
  }

  kick(): void {
    this.#loop.kick();
  }

  async #flushOnce(): Promise<boolean> {
    const runs = this.ledger.takeReady(this.options.budget.take(true));
    if (runs.length === 0) {
      if (this.#inFlight.size > 0) await Promise.race(this.#inFlight);
      return this.#inFlight.size > 0;
    }
    fitRuns(runs, this.options);
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
      await this.#failed(run, new ProduceError(`transactional producer for ${run.tp.topic}[${run.tp.partition}]: ${(err as Error).message}`, { cause: err }));
      return;
    }
    // After a failed transaction its outcome is unknown: the broker may have committed it just before the
    // connection broke. The new producer's init has settled it by now; the group's committed offset says
    // which, and what is already committed is not sent again (it would be written twice).
    if (this.#unsure.has(tpKey(run.tp))) {
      try {
        const committed = (await this.#committedOffsets([run.tp]))[0]!;
        this.#unsure.delete(tpKey(run.tp));
        const first = run.entries[0] as (typeof run.entries)[number];
        if (committed > first.offset) {
          this.ledger.acknowledgeBelow(run, committed);
          this.#committed.set(tpKey(run.tp), committed);
          return;
        }
      } catch (err) {
        await this.#failed(run, new ProduceError(`reading the committed offset of ${run.tp.topic}[${run.tp.partition}]: ${(err as Error).message}`, { cause: err }));
        return;
      }
    }
    let txn: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      txn = await producer.transaction();
      if (tm.length > 0) await txn.sendBatch({ topicMessages: tm, acks: -1 });
      await txn.sendOffsets({
        consumerGroupId: this.groupId,
        topics: [{ topic: run.tp.topic, partitions: [{ partition: run.tp.partition, offset: String(last.offset + 1) }] }],
      });
      await txn.commit();
    } catch (err) {
      // Bounded: after a coordinator move kafkajs may never answer an abort or a disconnect, and a wait
      // here would hold the partition's run for ever (seen once in CI: 16 results never written). The new
      // producer's InitProducerId aborts whatever this one left open anyway.
      await within(txn?.abort(), 5_000);
      // A fenced producer stays fenced: make a new one next time (it will fence or be refused cleanly).
      this.#producers.delete(tpKey(run.tp));
      this.#unsure.add(tpKey(run.tp));
      void within(producer.disconnect(), 5_000);
      await this.#failed(run, new ProduceError(`transaction for ${run.tp.topic}[${run.tp.partition}] aborted: ${(err as Error).message}`, { cause: err }));
      return;
    }
    this.#failure = undefined;
    this.#backoff.reset();
    this.options.budget.succeeded();
    this.#committed.set(tpKey(run.tp), last.offset + 1);
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

  /** The group's committed offset of each partition (-1: none), in the order given. */
  #committedOffsets(tps: readonly TopicPartition[]): Promise<number[]> {
    return withAdmin(this.kafka, async (admin) => {
      const fetched = await admin.fetchOffsets({ groupId: this.groupId, topics: [...new Set(tps.map((tp) => tp.topic))] });
      return tps.map((tp) => Number(fetched.find((t) => t.topic === tp.topic)?.partitions.find((x) => x.partition === tp.partition)?.offset ?? -1));
    });
  }

  /**
   * Fence, then read: (1) wait for this instance's own transactions still in flight, which could
   * otherwise commit after the read below; (2) init every assigned partition's producer, fencing older
   * owners and settling what they left open; (3) read the group's committed offsets. A commit of ours
   * whose markers the coordinator has not yet written is not visible to that read, so for a partition we
   * kept, our own last commit wins when it is later.
   */
  async onAssignment(assigned: readonly TopicPartition[]): Promise<SeekPoint[]> {
    const keep = new Set(assigned.map(tpKey));
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    // Every producer is made anew, kept partitions too: kafkajs inits a producer once, and this instance
    // cannot tell whether another one owned a "kept" partition in between (a frozen zombie that lost its
    // session, a generation whose sync it missed). A fresh init fences whoever wrote meanwhile and waits
    // for what they left open, so the read below is final.
    for (const [k, p] of this.#producers) {
      this.#producers.delete(k);
      if (!keep.has(k)) this.#committed.delete(k);
      void within(p.then((producer) => producer.disconnect()), 5_000);
    }
    await Promise.all(assigned.map((tp) => this.#producer(tp)));
    // The offsets read below settle what a failed transaction did: nothing stays unsure.
    this.#unsure.clear();
    const group = await this.#committedOffsets(assigned);
    const points: SeekPoint[] = [];
    assigned.forEach((tp, i) => {
      const offset = Math.max(group[i]!, this.#committed.get(tpKey(tp)) ?? -1);
      if (offset >= 0) points.push({ tp, offset });
    });
    return points;
  }

  async close(): Promise<void> {
    await this.flushAll();
    const producers = await Promise.allSettled([...this.#producers.values()]);
    await Promise.all(producers.map(async (r) => (r.status === 'fulfilled' ? r.value.disconnect() : undefined)));
    this.#producers.clear();
  }
}
