// The input side: a kafkajs consumer group that hands records over as soon as they are fetched.
//
// kafkajs fetches, waits until every eachBatch handler returned, then fetches again. If the handler
// awaited inference and produce, the pipeline would stall for a whole round trip between rounds, and a
// record arriving mid-round would wait for the round to end. So eachBatch only hands the records over
// and returns; fetching continues while earlier records are classified. Consequences, handled here:
// - resolveOffset moves kafkajs's fetch position (with autoCommit off it commits nothing); offsets are
//   committed explicitly by the sink after delivery (commit()).
// - backpressure is pause()/resume() per partition, not a blocked handler (kafkajs heartbeats from its
//   fetch loop, which keeps running; a long-blocked handler would starve heartbeats: kafkajs #447, #1083).
// - after a rebalance kafkajs restarts every assigned partition from its committed offset, so in-flight
//   work of the previous generation is dropped (onAssignment) and redone: at-least-once, never lost.
// - kafkajs keeps its pause state across a rejoin (the same consumer group object syncs again), while
//   each generation starts unpaused here: what was paused is resumed on join, or a rebalance during
//   backpressure would leave those partitions paused with nothing in flight to ever resume them.
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import type { InputRecord } from './decode.js';
import type { TopicPartition } from './ledger.js';
import { retrying } from './kafka-client.js';

export interface SourceRecord extends InputRecord {
  headers: IHeaders | undefined;
  /** When this process fetched it (epoch ms). */
  receivedAt: number;
  /** Group generation it was fetched in; records of an older one are dropped. */
  generation: number;
}

export interface SourceHandlers {
  /** Takes the records of one fetched batch (one partition, offset order). Must not block. */
  onRecords(tp: TopicPartition, records: SourceRecord[]): void;
  /** The group (re)formed: `assigned` is now ours; everything fetched before belongs to an old generation. */
  onAssignment(assigned: TopicPartition[], generation: number): void;
  /** The consumer crashed for good (kafkajs gave up restarting it). */
  onCrash(error: Error): void;
}

export interface SourceOptions {
  groupId: string;
  topics: readonly string[];
  fromBeginning: boolean;
  /** Partitions handled concurrently by kafkajs (each handler only enqueues, so this is cheap). */
  concurrency: number;
  sessionTimeoutMs?: number;
  readCommitted?: boolean;
  /** Kafka's fetch.min.bytes (default 1) and fetch.max.wait.ms (default 100). */
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
}

export class KafkaSource {
  readonly #consumer: Consumer;
  readonly #options: SourceOptions;
  #generation = 0;
  #running = false;
  readonly #paused = new Map<string, TopicPartition>();
  #assignment: TopicPartition[] = [];
  /** Last answer from a broker (epoch ms): fetches every maxWaitTime, heartbeats every heartbeatInterval. */
  #lastContact = Date.now();
  /** Set when kafkajs crashed the consumer (it restarts it when the cause is retriable) until it rejoins. */
  #crash: Error | undefined;
  readonly #heartbeatMs: number;

  constructor(kafka: Kafka, options: SourceOptions) {
    this.#options = options;
    // Kafka's advice: heartbeat at most a third of the session timeout.
    this.#heartbeatMs = Math.max(500, Math.floor((options.sessionTimeoutMs ?? 30_000) / 10));
    this.#consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.#heartbeatMs,
      // By default a fetch returns as soon as one byte is there: latency matters more than request count.
      // Both are knobs (--fetch-min-bytes, --fetch-max-wait-ms): at moderate rates on few cores, fuller
      // fetches leave more CPU to the workers (the bench's "where the cores went" shows the broker's share).
      minBytes: options.fetchMinBytes ?? 1,
      maxWaitTimeInMs: options.fetchMaxWaitMs ?? 100,
      // One fetch may overshoot --max-in-flight before fetching pauses: keep a fetch modest so memory
      // stays bounded (128 KB a partition, 1 MB in all, is still hundreds of posts per partition).
      maxBytesPerPartition: 128 * 1024,
      maxBytes: 1024 * 1024,
      readUncommitted: options.readCommitted === false,
      retry: { retries: 10 },
    });
  }

  get consumer(): Consumer {
    return this.#consumer;
  }

  get generation(): number {
    return this.#generation;
  }

  get assignment(): readonly TopicPartition[] {
    return this.#assignment;
  }

  /**
   * Why this consumer cannot be trusted to make progress now, or undefined: it crashed (kafkajs restarts
   * it after a backoff when the cause is retriable, e.g. a broker restart), or no broker answered for
   * three heartbeat intervals (a fetch goes out every 100 ms and a heartbeat every interval, paused or not).
   */
  unhealthy(now = Date.now()): string | undefined {
    if (this.#crash) return `consumer crashed, restarting: ${this.#crash.message}`;
    const silentMs = now - this.#lastContact;
    const limit = Math.max(5_000, 3 * this.#heartbeatMs);
    if (this.#running && silentMs > limit) return `no answer from the brokers for ${Math.round(silentMs / 1000)} s`;
    return undefined;
  }

  async start(handlers: SourceHandlers): Promise<void> {
    const c = this.#consumer;
    c.on(c.events.REQUEST, () => {
      this.#lastContact = Date.now();
    });
    c.on(c.events.GROUP_JOIN, (e) => {
      this.#crash = undefined;
      this.#generation++;
      const assigned: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition });
      }
      this.#assignment = assigned;
      if (this.#paused.size > 0) {
        this.#consumer.resume(group([...this.#paused.values()]));
        this.#paused.clear();
      }
      handlers.onAssignment(assigned, this.#generation);
    });
    c.on(c.events.CRASH, (e) => {
      this.#crash = e.payload.error;
      if (!e.payload.restart) handlers.onCrash(e.payload.error);
    });
    await c.connect();
    // subscribe() reads the topic's metadata: a broker that does not host a fresh topic's partition yet
    // answers with a retriable error, which must not end the start (seen in CI under load).
    for (const topic of this.#options.topics) await retrying(() => c.subscribe({ topic, fromBeginning: this.#options.fromBeginning }));
    this.#running = true;
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.#options.concurrency,
      eachBatch: async (payload) => this.#onBatch(payload, handlers),
    });
  }

  #onBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload, handlers: SourceHandlers): Promise<void> {
    if (!isRunning() || isStale() || batch.messages.length === 0) return Promise.resolve();
    const now = Date.now();
    const generation = this.#generation;
    const tp = { topic: batch.topic, partition: batch.partition };
    const records: SourceRecord[] = batch.messages.map((m) => ({
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      key: m.key,
      value: m.value,
      timestamp: m.timestamp,
      headers: m.headers,
      receivedAt: now,
      generation,
    }));
    handlers.onRecords(tp, records);
    resolveOffset(batch.lastOffset());
    return Promise.resolve();
  }

  pause(tps: readonly TopicPartition[]): void {
    const fresh = tps.filter((tp) => !this.#paused.has(key(tp)));
    if (fresh.length === 0) return;
    for (const tp of fresh) this.#paused.set(key(tp), tp);
    this.#consumer.pause(group(fresh));
  }

  resume(tps: readonly TopicPartition[]): void {
    const paused = tps.filter((tp) => this.#paused.has(key(tp)));
    if (paused.length === 0) return;
    for (const tp of paused) this.#paused.delete(key(tp));
    this.#consumer.resume(group(paused));
  }

  /** Moves the fetch position of assigned partitions (exactly-once: to the offsets read after fencing). */
  seek(points: readonly { tp: TopicPartition; offset: number }[]): void {
    for (const p of points) this.#consumer.seek({ topic: p.tp.topic, partition: p.tp.partition, offset: String(p.offset) });
  }

  isPaused(tp: TopicPartition): boolean {
    return this.#paused.has(key(tp));
  }

  /** Commits "next offset to read" per partition (at-least-once mode; EOS commits inside transactions). */
  async commit(points: readonly { tp: TopicPartition; offset: number }[]): Promise<void> {
    if (points.length === 0 || !this.#running) return;
    await this.#consumer.commitOffsets(points.map((p) => ({ topic: p.tp.topic, partition: p.tp.partition, offset: String(p.offset) })));
  }

  /** Stops fetching everything (graceful shutdown: drain what is in flight, then commit, then stop()). */
  pauseAll(): void {
    this.pause(this.#assignment);
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#consumer.disconnect();
  }
}

const key = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;

function group(tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] {
  const byTopic = new Map<string, number[]>();
  for (const tp of tps) {
    const list = byTopic.get(tp.topic) ?? [];
    list.push(tp.partition);
    byTopic.set(tp.topic, list);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
