// Exactly-once output: one transactional producer per input partition (transactional.id derived from
// group, topic and partition), so a new owner of a partition fences the old one (the pre-KIP-447
// pattern; kafkajs has no consumer-group-metadata fencing). Each flush of a partition is one transaction
// holding its outputs and its offset commit; readers use read_committed.
//
// Each partition goes through the same small state machine:
//   closed ──open──▶ opening (init the producer: fences older ones, settles what they left open;
//                              then read the group's committed offset) ──▶ ready(next)
//   ready(next) ──run starting at next──▶ sending ──commit──▶ ready(last + 1)
//                                                  └─failure──▶ closed (outcome unknown, producer maybe
//                                                               fenced: the next run opens anew)
//   ready(next) ──run starting elsewhere──▶ skip what is below next / resync the ledger (txn-plan.ts)
// Only a producer opened this way may write, and only from the offset it read after its own init: that
// is what makes a zombie's stale ledger, or a commit whose answer was lost, harmless.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { ProduceError } from '../src/errors.js';
import { withAdmin } from './kafka-client.js';
import { tpKey, type Ledger, type ReadyRun, type TopicPartition } from './ledger.js';
import { isTooLarge } from './produce-budget.js';
import { Backoff, count, finishedOf, fitRuns, FlushLoop, topicMessages, within, type Out, type SeekPoint, type Sink, type SinkEvents, type SinkOptions } from './sink.js';
import { planRun } from './txn-plan.js';
import { settle } from './txn-settle.js';

/**
 * The transactional id of one input partition's producer. Joined with '-', group "a-b" + topic "c" and
 * group "a" + topic "b-c" got the same id and fenced each other; '|' cannot occur in a topic name and is
 * escaped in the group id, so distinct (group, topic, partition) give distinct ids.
 */
export function transactionalIdFor(groupId: string, tp: TopicPartition): string {
  return `klassify|${encodeURIComponent(groupId)}|${tp.topic}|${tp.partition}`;
}

/**
 * Fenced means another producer of this partition was initialised after ours: most likely this instance
 * lost the partition and has not heard yet (its next heartbeat tells it). Opening again at once would
 * fence the new owner back; waiting a moment lets the rebalance reach this instance first.
 */
const FENCED_WAIT_MS = 2_000;

/** The coordinator aborts a transaction idle this long (the producers' transaction.timeout.ms). */
const COORDINATOR_TIMEOUT_MS = 60_000;

/** Longest a transaction may take before it counts as failed (a healthy one takes milliseconds). */
const TRANSACTION_TIMEOUT_MS = 30_000;

/** `work`'s result, or a rejection with `message` after `ms` (work keeps running, its failure ignored). */
async function settleWithin(work: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => undefined);
  try {
    await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function isFenced(error: unknown): boolean {
  const type = (error as { type?: string; cause?: { type?: string } }).type ?? (error as { cause?: { type?: string } }).cause?.type;
  return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || /old epoch|newer producer|fenced/i.test((error as Error).message);
}

/** One partition's open producer and where its next transaction must start. */
interface PartitionTxn {
  readonly producer: Producer;
  /** The group's committed offset as of this producer's init, moved by its own commits; undefined
   *  while the group has none. */
  next: number | undefined;
}

export class ExactlyOnceSink implements Sink {
  /** Per partition (tpKey): its producer being opened, or open. No entry: closed. */
  readonly #txns = new Map<string, Promise<PartitionTxn>>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #loop: FlushLoop;
  readonly #backoff = new Backoff();
  /** Next offset after the last commit this instance knows of, per partition (tpKey), kept across a
   *  rebalance for partitions it keeps. */
  readonly #committed = new Map<string, number>();
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

  kick(): void {
    this.#loop.kick();
  }

  /**
   * Opens the partitions' producers: settle what a broker left open (txn-settle.ts), connect and init
   * each (beginning and aborting an empty transaction forces kafkajs' lazy InitProducerId, which fences
   * any older producer with the id and waits until the coordinator completed or aborted what that one
   * left open), then read the group's committed offsets, final by then. A commit of ours whose markers
   * are not visible to that read yet is covered by #committed: for a partition kept, our own last commit
   * wins when it is later.
   */
  #open(tps: readonly TopicPartition[]): Promise<PartitionTxn>[] {
    const settled = this.#settle(tps);
    const producers = tps.map((tp) => settled.then(() => this.#initProducer(tp)));
    const offsets = Promise.all(producers).then(() => this.#committedOffsets(tps));
    return tps.map((tp, i) => {
      const k = tpKey(tp);
      const producer = producers[i] as Promise<Producer>;
      const opened = Promise.all([producer, offsets]).then(([p, read]): PartitionTxn => {
        const group = read[i] as number;
        const mine = this.#committed.get(k);
        const next = group >= 0 || mine !== undefined ? Math.max(group, mine ?? -1) : undefined;
        return { producer: p, next };
      });
      opened.catch(() => {
        if (this.#txns.get(k) === opened) this.#txns.delete(k);
        void within(producer.then((p) => p.disconnect()), 5_000);
      });
      this.#txns.set(k, opened);
      return opened;
    });
  }

  async #settle(tps: readonly TopicPartition[]): Promise<void> {
    const writesTo = this.options.writesTo;
    if (writesTo === undefined) return;
    const items = tps.map((tp) => ({ transactionalId: transactionalIdFor(this.groupId, tp), writesTo: writesTo(tp) }));
    const ids = new Set(await settle(this.kafka, items, { groupId: this.groupId, transactionTimeoutMs: COORDINATOR_TIMEOUT_MS }));
    const settledTps = tps.filter((tp) => ids.has(transactionalIdFor(this.groupId, tp)));
    if (settledTps.length > 0) this.events.onSettled?.(settledTps);
  }

  async #initProducer(tp: TopicPartition): Promise<Producer> {
    const producer = this.kafka.producer({
      transactionalId: transactionalIdFor(this.groupId, tp),
      idempotent: true,
      maxInFlightRequests: 1,
      // The coordinator aborts a transaction idle this long. Its expiry is the one path that runs while a
      // broker is impaired, and Kafka skips the markers of partitions it finds no leader for then (the
      // fragment stays open and a later commit of this producer id commits it): brokers that stay fenced
      // longer than this after a restart (broker.session.timeout.ms) risk duplicates.
      transactionTimeout: COORDINATOR_TIMEOUT_MS,
      allowAutoTopicCreation: false,
      // After a commit the coordinator writes its markers asynchronously and answers the next
      // transaction's first request with CONCURRENT_TRANSACTIONS until done (a few ms). The default
      // 100 ms first backoff would stall every partition's next flush; retry quickly instead.
      retry: { initialRetryTime: 5, maxRetryTime: 500, retries: 50 },
    });
    await producer.connect();
    const fence = await producer.transaction();
    await fence.abort();
    return producer;
  }

  /** Closes a partition: its producer is dropped (a failed or revoked one is never used again). */
  #close(k: string): void {
    const txn = this.#txns.get(k);
    this.#txns.delete(k);
    void within(txn?.then((t) => t.producer.disconnect()), 5_000);
  }

  /** The group's committed offset of each partition (-1: none), in the order given. */
  #committedOffsets(tps: readonly TopicPartition[]): Promise<number[]> {
    return withAdmin(this.kafka, async (admin) => {
      const fetched = await admin.fetchOffsets({ groupId: this.groupId, topics: [...new Set(tps.map((tp) => tp.topic))] });
      return tps.map((tp) => Number(fetched.find((t) => t.topic === tp.topic)?.partitions.find((x) => x.partition === tp.partition)?.offset ?? -1));
    });
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
    const first = run.entries[0];
    const last = run.entries[run.entries.length - 1];
    if (first === undefined || last === undefined) return;
    const k = tpKey(run.tp);
    const opening = this.#txns.get(k) ?? (this.#open([run.tp])[0] as Promise<PartitionTxn>);
    let txn: PartitionTxn;
    try {
      txn = await opening;
    } catch (err) {
      await this.#failed(run, new ProduceError(`transactional producer for ${run.tp.topic}[${run.tp.partition}]: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const plan = planRun(txn.next, first.offset);
    if (plan.action === 'skip-below') {
      const skipped = run.entries.filter((e) => e.offset < plan.offset).length;
      this.ledger.acknowledgeBelow(run, plan.offset);
      this.events.onAlreadyWritten?.(run.tp, skipped);
      return;
    }
    if (plan.action === 'resync') {
      this.ledger.release(run);
      this.events.onResync?.(run.tp, plan.offset);
      return;
    }
    const tm = topicMessages([run]);
    let open: Awaited<ReturnType<Producer['transaction']>> | undefined;
    try {
      const work = (async () => {
        open = await txn.producer.transaction();
        if (tm.length > 0) await open.sendBatch({ topicMessages: tm, acks: -1 });
        await open.sendOffsets({
          consumerGroupId: this.groupId,
          topics: [{ topic: run.tp.topic, partitions: [{ partition: run.tp.partition, offset: String(last.offset + 1) }] }],
        });
        await open.commit();
      })();
      // Bounded too: after a coordinator move kafkajs can retry one request for many minutes (50 retries,
      // each up to its request timeout), and a new assignment waits for transactions in flight before it
      // fences, so one such transaction stalled every partition (seen in CI after NOT_COORDINATOR). Its
      // outcome is then unknown, like any failure: the next producer's init settles it.
      await settleWithin(work, TRANSACTION_TIMEOUT_MS, `transaction did not finish in ${TRANSACTION_TIMEOUT_MS / 1000} s`);
    } catch (err) {
      // Bounded: after a coordinator move kafkajs may never answer an abort or a disconnect, and a wait
      // here would hold the partition's run for ever (seen once in CI: 16 results never written). The next
      // producer's init aborts whatever this one left open anyway.
      await within(open?.abort(), 5_000);
      // Closed: the outcome is unknown (the broker may have committed just before the connection broke)
      // and a fenced producer stays fenced. The next run opens anew and learns from the committed offset.
      if (this.#txns.get(k) === opening) this.#close(k);
      if (isFenced(err)) await sleep(FENCED_WAIT_MS);
      await this.#failed(run, new ProduceError(`transaction for ${run.tp.topic}[${run.tp.partition}] aborted: ${(err as Error).message}`, { cause: err }));
      return;
    }
    txn.next = last.offset + 1;
    this.#failure = undefined;
    this.#backoff.reset();
    this.options.budget.succeeded();
    this.#committed.set(k, last.offset + 1);
    const appendTime = Date.now();
    this.ledger.acknowledge(run);
    this.ledger.markCommitted([{ tp: run.tp, offset: last.offset + 1 }]);
    this.events.onFlushed?.({ ...count(tm), ms: performance.now() - started, appendTime, finished: finishedOf([run]) });
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

  async flushAll(): Promise<void> {
    this.kick();
    await this.#loop.idle();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * A new assignment: wait for this instance's own transactions still in flight (they could otherwise
   * commit after the read), then open every assigned partition anew and return where each starts.
   * Kept partitions are reopened too: kafkajs inits a producer once, and this instance cannot tell
   * whether another one owned a "kept" partition in between (a frozen zombie that lost its session, a
   * generation whose sync it missed).
   */
  async onAssignment(assigned: readonly TopicPartition[]): Promise<SeekPoint[]> {
    const keep = new Set(assigned.map(tpKey));
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    for (const k of [...this.#txns.keys()]) this.#close(k);
    for (const k of [...this.#committed.keys()]) if (!keep.has(k)) this.#committed.delete(k);
    const txns = await Promise.all(this.#open(assigned));
    return assigned.flatMap((tp, i) => {
      const next = (txns[i] as PartitionTxn).next;
      return next === undefined ? [] : [{ tp, offset: next }];
    });
  }

  async close(): Promise<void> {
    await this.flushAll();
    const open = await Promise.allSettled([...this.#txns.values()]);
    await Promise.all(open.map(async (r) => (r.status === 'fulfilled' ? r.value.producer.disconnect() : undefined)));
    this.#txns.clear();
  }
}
