// A stateful consume → process → produce loop with exactly-once output, for stream processors that keep
// state across records (the brand monitor's open windows and baselines). Each fetched batch is processed
// and then committed in one transaction holding the outputs, a snapshot of the state (to a compacted
// state topic, keyed by the group) and the input offsets. After a crash or a restart the last committed
// snapshot and the group's committed offsets belong to the same transaction, so the processor resumes
// exactly where that transaction left it: nothing counted twice, nothing lost, no output twice for
// read_committed readers. One transactional id per group: a new instance fences the old one (zombie).
//
// The processor keeps one state for all input partitions, so a group runs one active member: a second
// member would split the partitions and each would see part of the stream.
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { retrying, withAdmin } from './kafka-client.js';
import type { OutMessage } from './messages.js';

export interface StateStreamOptions {
  groupId: string;
  inputTopic: string;
  /** Compacted topic holding the latest state snapshot under the key `groupId`. */
  stateTopic: string;
  fromBeginning: boolean;
  sessionTimeoutMs?: number;
}

export interface StreamRecord {
  partition: number;
  offset: string;
  timestamp: string;
  value: Buffer | null;
}

export interface StateProcessor {
  /** Called before consuming, with the last committed snapshot (undefined on a first start), and again
   *  with it when a transaction failed for good: the state must become exactly that snapshot's. */
  restore(snapshot: string | undefined): void;
  /** Takes a batch of records (one partition, in order); returns what to write. Must not throw for bad records. */
  process(records: readonly StreamRecord[]): OutMessage[];
  /** Called when no record came for a while (event time stands still): time-driven outputs, e.g. closing idle windows. */
  tick(): OutMessage[];
  /** The input partitions this instance now owns (each group join). */
  assigned?(partitions: readonly number[]): void;
  /** The state to snapshot with this transaction. */
  snapshot(): string;
  /** The transaction holding these messages committed. */
  committed?(messages: readonly OutMessage[]): void;
}

/**
 * A snapshot as written to the state topic: gzip'd JSON. A monitor of 1,000 brands snapshots ~0.7 MB of
 * JSON (open windows, 30 windows of history per brand and size), close to a topic's default 1 MB record
 * limit; its repetitive keys and numbers compress about tenfold.
 */
export function encodeSnapshot(snapshot: string): Buffer {
  return gzipSync(snapshot);
}

/** A snapshot read back: gzip'd, or the plain JSON earlier versions wrote (it never starts with gzip's magic bytes). */
export function decodeSnapshot(value: Buffer): string {
  return value[0] === 0x1f && value[1] === 0x8b ? gunzipSync(value).toString('utf8') : value.toString('utf8');
}

export class StateStream {
  readonly #kafka: Kafka;
  readonly #o: StateStreamOptions;
  readonly #consumer: Consumer;
  readonly #producer: Producer;
  /** One transaction at a time: eachBatch runs serially and ticks wait for it. */
  #chain: Promise<void> = Promise.resolve();
  #lastRecordAt = 0;
  /** The snapshot of the last committed transaction (or the one restored): what the processor goes back to
   *  when a transaction fails for good, so its state never runs ahead of what Kafka holds. */
  #committedSnapshot: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(kafka: Kafka, options: StateStreamOptions) {
    this.#kafka = kafka;
    this.#o = options;
    this.#consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      readUncommitted: false,
      maxWaitTimeInMs: 200,
    });
    this.#producer = kafka.producer({
      transactionalId: `klassify.state.${options.groupId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 50, maxRetryTime: 2_000, retries: 30 },
    });
  }

  /** Fences older instances, restores the last snapshot, then consumes until stop(). */
  async start(processor: StateProcessor, tickMs = 2_000): Promise<void> {
    await this.#producer.connect();
    // Forces InitProducerId now (kafkajs runs it on the first transaction): fences a zombie and settles
    // what it left open, so the snapshot read below is the last committed one.
    await (await this.#producer.transaction()).abort();
    this.#committedSnapshot = await this.#readSnapshot();
    processor.restore(this.#committedSnapshot);
    this.#consumer.on(this.#consumer.events.GROUP_JOIN, (e) => processor.assigned?.(e.payload.memberAssignment[this.#o.inputTopic] ?? []));
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topic: this.#o.inputTopic, fromBeginning: this.#o.fromBeginning });
    this.#running = true;
    await this.#consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, isRunning, isStale, resolveOffset, heartbeat }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return;
        this.#lastRecordAt = Date.now();
        const records = batch.messages.map((m) => ({ partition: batch.partition, offset: m.offset, timestamp: m.timestamp, value: m.value }));
        const next = String(Number(batch.lastOffset()) + 1);
        await this.#transaction(processor, () => processor.process(records), { partition: batch.partition, offset: next });
        // Moves kafkajs' fetch position (autoCommit is off: the transaction committed the offsets). Without
        // it the same batch is fetched again, and windows still open would count its records twice.
        resolveOffset(batch.lastOffset());
        await heartbeat();
      },
    });
    this.#timer = setInterval(() => {
      if (Date.now() - this.#lastRecordAt < tickMs) return;
      // A failed tick was rolled back (see #transaction): the next tick closes the same windows again.
      void this.#transaction(processor, () => processor.tick()).catch(() => undefined);
    }, tickMs);
  }

  async #transaction(processor: StateProcessor, work: () => OutMessage[], offsets?: { partition: number; offset: string }): Promise<void> {
    const run = this.#chain.then(async () => {
      const messages = work();
      if (messages.length === 0 && offsets === undefined) return;
      const snapshot = processor.snapshot();
      const state: OutMessage = { topic: this.#o.stateTopic, key: this.#o.groupId, value: encodeSnapshot(snapshot) };
      for (let attempt = 0; ; attempt++) {
        const txn = await this.#producer.transaction();
        try {
          const byTopic = new Map<string, OutMessage[]>();
          for (const m of [...messages, state]) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), m]);
          await txn.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, ms]) => ({ topic, messages: ms.map((m) => ({ key: m.key, value: m.value, headers: m.headers })) })) });
          if (offsets) await txn.sendOffsets({ consumerGroupId: this.#o.groupId, topics: [{ topic: this.#o.inputTopic, partitions: [offsets] }] });
          await txn.commit();
          this.#committedSnapshot = snapshot;
          processor.committed?.(messages);
          return;
        } catch (err) {
          await txn.abort().catch(() => undefined);
          // The outputs were computed from the state before this batch; a retry sends the same ones.
          if (attempt >= 20) {
            // Given up: the processor's state already holds this work, Kafka does not. Back to the last
            // committed state, so the batch fetched again (its offsets were not committed) or the next
            // tick counts it once, and closed windows and alerts are produced again, not lost.
            processor.restore(this.#committedSnapshot);
            throw err;
          }
          await sleep(Math.min(5_000, 100 * 2 ** attempt));
        }
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** The latest committed snapshot in the state topic (read_committed, from the beginning to its end). */
  async #readSnapshot(): Promise<string | undefined> {
    // A state topic created a moment ago may not have its leader yet: "not the leader" is retriable.
    const ends = await withAdmin(this.#kafka, async (admin) =>
      new Map((await retrying(() => admin.fetchTopicOffsets(this.#o.stateTopic))).map((p) => [p.partition, Number(p.high)])));
    if ([...ends.values()].every((h) => h === 0)) return undefined;
    // Fetch sizes above the state topic's record limit, so one snapshot always fits one fetch.
    const reader = this.#kafka.consumer({ groupId: `${this.#o.groupId}.restore.${process.pid}.${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 100, maxBytesPerPartition: 16 * 2 ** 20, maxBytes: 32 * 2 ** 20 });
    let latest: string | undefined;
    const seen = new Map<number, number>();
    await reader.connect();
    try {
      await reader.subscribe({ topic: this.#o.stateTopic, fromBeginning: true });
      const done = new Promise<void>((resolve) => {
        void reader.run({
          eachMessage: async ({ partition, message }) => {
            if (message.key?.toString() === this.#o.groupId && message.value) latest = decodeSnapshot(message.value);
            seen.set(partition, Number(message.offset));
            // The log ends with a transaction marker, which is never delivered: one short of the end is the end.
            if ([...ends].every(([p, high]) => high === 0 || (seen.get(p) ?? -1) >= high - 2)) resolve();
          },
        });
      });
      // A snapshot topic whose last records were aborted ends earlier than its high watermark says.
      await Promise.race([done, sleep(10_000)]);
    } finally {
      await reader.disconnect();
    }
    return latest;
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#timer);
    await this.#consumer.stop();
    await this.#chain;
    await this.#consumer.disconnect();
    await this.#producer.disconnect();
  }
}
