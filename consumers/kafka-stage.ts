// The Kafka stage of the pipeline, in one place: topics and produce limits at start, the consumer group
// (source.ts), the ledger of in-flight records, the sink that writes and commits them (sink.ts), fencing
// on every assignment in exactly-once mode, and backpressure by records in flight. The pipeline hands it
// finished records and never touches kafkajs, admin requests or offsets itself.
import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { ConsumerCrashError, FenceError, messageOf } from '../src/errors.js';
import { ensureTopics, withAdmin } from './kafka-client.js';
import { Ledger, type LedgerEntry, type TopicPartition } from './ledger.js';
import type { Finished } from './messages.js';
import { ProduceBudget, readProduceLimits } from './produce-budget.js';
import { ExactlyOnceSink } from './exactly-once-sink.js';
import { AtLeastOnceSink, type FlushInfo, type Sink } from './sink.js';
import { KafkaSource, type SourceRecord } from './source.js';

/** Fencing attempts before giving up (backoff 0.2 s doubling to 10 s: about a minute in all). */
const FENCE_ATTEMPTS = 10;

export type Delivery = 'at-least-once' | 'exactly-once';

/** What the stage reports (the pipeline re-emits these as its own events). */
export interface StageEventMap {
  records_in: [{ topic: string; partition: number; count: number }];
  flushed: [{ records: number; byTopic: Map<string, number>; ms: number }];
  /** Per flush, per written result: event time → broker ack, and fetch → broker ack (ms). */
  latency: [{ endToEndMs: number[]; inPipelineMs: number[] }];
  assigned: [{ partitions: TopicPartition[] }];
  paused: [{ paused: boolean; inFlight: number }];
  error: [{ stage: string; error: Error }];
  /** In-flight records left uncommitted: a rebalance or a stop (the next owner redoes them), a resync
   *  (fetched again at once), or already written by another producer of the partition (never again). */
  dropped: [{ count: number; reason: 'rebalance' | 'shutdown' | 'resync' | 'already-written' }];
  /** Exactly-once: a transaction a broker left open for these input partitions (its markers skipped)
   *  was committed before they resumed, so nothing of it is written twice (txn-settle.ts). */
  settled: [{ partitions: TopicPartition[] }];
  /** The stage cannot go on (consumer crashed for good, fencing keeps failing): exit and be restarted. */
  fatal: [{ error: Error }];
}

export interface StageOptions {
  groupId: string;
  inputTopics: readonly string[];
  outputTopic: string;
  deadLetterTopic: string;
  /** Partitions of topics klassify creates. */
  partitions: number;
  /** Create missing topics (the embedded Kafka; off for strict clusters). */
  createTopics: boolean;
  delivery: Delivery;
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  commitIntervalMs: number;
  /** Kafka's fetch.min.bytes and fetch.max.wait.ms for the input fetches. */
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /** Fetching pauses at this many records in flight and resumes at half. */
  maxInFlight: number;
  /** Fetching also pauses at this many bytes (keys + values) in flight, and resumes at half. */
  maxInFlightBytes: number;
}

/** One fetched record, entered in the ledger: complete it (result or dead letter) to get it written. */
export interface Taken {
  entry: LedgerEntry<Finished>;
  record: SourceRecord;
}

export interface StageHandlers {
  /** Records of one fetch, in offset order, each in the ledger. Must not block. */
  onRecords(taken: Taken[]): void;
  /** A new generation: everything handed out before is void (entries are marked dropped). */
  onRebalance(): void;
}

export class KafkaStage extends EventEmitter<StageEventMap> {
  readonly #kafka: Kafka;
  readonly #o: StageOptions;
  readonly #ledger = new Ledger<Finished>();
  readonly #budget = new ProduceBudget();
  readonly #source: KafkaSource;
  readonly #sink: Sink;
  #outputPartitions = 1;
  #dlqPartitions = 1;
  #joined = false;
  #stopping = false;
  #backpressure = false;

  constructor(kafka: Kafka, options: StageOptions) {
    super();
    this.#kafka = kafka;
    this.#o = options;
    this.#source = new KafkaSource(kafka, {
      groupId: options.groupId,
      topics: options.inputTopics,
      fromBeginning: options.fromBeginning,
      concurrency: 64,
      readCommitted: true,
      sessionTimeoutMs: options.sessionTimeoutMs,
      ...(options.fetchMinBytes === undefined ? {} : { fetchMinBytes: options.fetchMinBytes }),
      ...(options.fetchMaxWaitMs === undefined ? {} : { fetchMaxWaitMs: options.fetchMaxWaitMs }),
    });
    const events = {
      onFlushed: (info: FlushInfo) => this.#onFlushed(info),
      onError: (error: Error) => this.emit('error', { stage: 'produce', error }),
      onResync: (tp: TopicPartition, offset: number) => this.#resync(tp, offset),
      onAlreadyWritten: (_tp: TopicPartition, count: number) => this.emit('dropped', { count, reason: 'already-written' }),
      onSettled: (partitions: TopicPartition[]) => this.emit('settled', { partitions }),
    };
    const sinkOptions = {
      budget: this.#budget,
      deadLetterTopic: options.deadLetterTopic,
      writesTo: (tp: TopicPartition): TopicPartition[] => [
        { topic: options.outputTopic, partition: this.#outputPartitionOf(tp.partition) },
        { topic: options.deadLetterTopic, partition: this.#deadLetterPartitionOf(tp.partition) },
      ],
    };
    this.#sink = options.delivery === 'exactly-once'
      ? new ExactlyOnceSink(kafka, this.#ledger, options.groupId, sinkOptions, events)
      : new AtLeastOnceSink(kafka, this.#ledger, this.#source, sinkOptions, events, options.commitIntervalMs);
  }

  /** True once records can flow (exactly-once: after this generation's fence). */
  get joined(): boolean {
    return this.#joined;
  }

  get inFlight(): number {
    return this.#ledger.size;
  }

  get inFlightBytes(): number {
    return this.#ledger.bytes;
  }

  /** Why the stage cannot make progress now (empty: ready). */
  notReady(): string[] {
    const reasons: string[] = [];
    if (!this.#joined) reasons.push('consumer group not joined yet');
    const consumer = this.#source.unhealthy();
    if (consumer) reasons.push(consumer);
    if (this.#sink.failure) reasons.push(`writing results fails: ${this.#sink.failure}`);
    return reasons;
  }

  /** Input partition p feeds output partition p (mod count): order per input partition survives. */
  outputPartition(record: SourceRecord): number {
    return this.#outputPartitionOf(record.partition);
  }

  deadLetterPartition(record: SourceRecord): number {
    return this.#deadLetterPartitionOf(record.partition);
  }

  #outputPartitionOf(inputPartition: number): number {
    return inputPartition % this.#outputPartitions;
  }

  #deadLetterPartitionOf(inputPartition: number): number {
    return inputPartition % this.#dlqPartitions;
  }

  async start(handlers: StageHandlers): Promise<void> {
    const o = this.#o;
    const partitions = await ensureTopics(this.#kafka, [...o.inputTopics, o.outputTopic, o.deadLetterTopic], o.partitions, o.createTopics);
    this.#outputPartitions = partitions.get(o.outputTopic) ?? 1;
    this.#dlqPartitions = partitions.get(o.deadLetterTopic) ?? 1;
    this.#budget.setLimits(await withAdmin(this.#kafka, (admin) => readProduceLimits(admin, [o.outputTopic, o.deadLetterTopic])));
    await this.#source.start({
      onRecords: (tp, records) => this.#onRecords(tp, records, handlers),
      onAssignment: (assigned) => this.#onAssignment(assigned, handlers),
      onCrash: (error) => this.emit('fatal', { error: new ConsumerCrashError(`the consumer crashed and kafkajs gave up restarting it: ${error.message}`, { cause: error }) }),
    });
  }

  /** Records the output of a taken record (written by a later flush()). */
  complete(entry: LedgerEntry<Finished>, output: Finished): void {
    if (!entry.dropped) this.#ledger.complete(entry, output);
  }

  /**
   * Gives up on a taken record for this run (a transient failure while stopping): it and the records
   * after it in its partition stay uncommitted, for the next owner to redo; never a dead letter.
   */
  abandon(entry: LedgerEntry<Finished>): void {
    const count = this.#ledger.abandon(entry);
    if (count > 0) this.emit('dropped', { count, reason: 'shutdown' });
  }

  /** Writes what is ready when possible, and re-checks backpressure. Cheap to call often. */
  flush(): void {
    this.#sink.kick();
    this.#checkBackpressure();
  }

  #onRecords(tp: TopicPartition, records: SourceRecord[], handlers: StageHandlers): void {
    if (this.#stopping) return;
    // Exactly-once: until this generation's fence is done and its offsets are read, a fetch that was
    // already under way when the partitions were paused may deliver records from a stale position (an
    // earlier owner's transaction still settling). They are refetched after the seek; taking them would
    // write them twice (seen after a broker restart).
    if (!this.#joined || records.some((r) => r.generation !== this.#source.generation)) return;
    this.emit('records_in', { topic: tp.topic, partition: tp.partition, count: records.length });
    const taken: Taken[] = [];
    for (const record of records) {
      const entry = this.#ledger.append(tp, Number(record.offset), (record.key?.length ?? 0) + (record.value?.length ?? 0));
      // A record already in flight (fetched again after a seek) is not taken twice.
      if (entry !== undefined) taken.push({ entry, record });
    }
    handlers.onRecords(taken);
    this.#checkBackpressure();
  }

  #onAssignment(assigned: TopicPartition[], handlers: StageHandlers): void {
    // kafkajs restarts every assigned partition from its committed offset after a rejoin: whatever is in
    // flight from before would be fetched again, so drop it (it was never committed; it will be redone).
    const dropped = this.#ledger.drop(() => false);
    handlers.onRebalance();
    this.#backpressure = false;
    const eos = this.#o.delivery === 'exactly-once';
    this.#joined = !eos || assigned.length === 0;
    this.emit('assigned', { partitions: assigned });
    if (dropped.length > 0) this.emit('dropped', { count: dropped.length, reason: 'rebalance' });
    if (eos && assigned.length > 0) {
      // Fence older owners before fetching: pause, init each partition's transactional producer (which
      // aborts or completes what a previous owner left open), re-read the committed offsets, resume.
      this.#source.pause(assigned);
      void this.#fenceAndResume(assigned, this.#source.generation);
    }
  }

  /**
   * Exactly-once: fence older owners and read where to start (sink.ts), then fetch. A failed fence is
   * retried with backoff; past FENCE_ATTEMPTS the instance cannot own its partitions and says so as
   * fatal (the process exits non-zero so an orchestrator restarts it), instead of sitting paused.
   */
  async #fenceAndResume(assigned: TopicPartition[], generation: number): Promise<void> {
    for (let attempt = 1, wait = 200; ; attempt++, wait = Math.min(wait * 2, 10_000)) {
      if (this.#stopping || generation !== this.#source.generation) return;
      try {
        const points = await this.#sink.onAssignment(assigned);
        if (generation !== this.#source.generation) return;
        this.#source.seek(points);
        this.#joined = true;
        if (!this.#stopping) this.#source.resume(assigned);
        return;
      } catch (error) {
        this.emit('error', { stage: 'fence', error: error as Error });
        if (attempt >= FENCE_ATTEMPTS) {
          this.emit('fatal', { error: new FenceError(`fencing ${assigned.length} partition(s) failed ${attempt} times: ${messageOf(error)}`, { cause: error }) });
          return;
        }
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** Exactly-once: the partition's ledger does not start at its committed offset; fetch it again from there. */
  #resync(tp: TopicPartition, offset: number): void {
    const dropped = this.#ledger.drop((t) => t.topic !== tp.topic || t.partition !== tp.partition);
    this.#source.seek([{ tp, offset }]);
    if (dropped.length > 0) this.emit('dropped', { count: dropped.length, reason: 'resync' });
    this.#checkBackpressure();
  }

  #onFlushed(info: FlushInfo): void {
    // Records leave the ledger only here, once written: the last point where fetching may resume. With
    // everything paused nothing else would look again, and the pipeline would sit idle with work waiting.
    this.#checkBackpressure();
    this.emit('flushed', { records: info.records, byTopic: info.byTopic, ms: info.ms });
    if (this.listenerCount('latency') === 0) return;
    const endToEndMs: number[] = [];
    const inPipelineMs: number[] = [];
    for (const f of info.finished) {
      if (f.deadLetter) continue;
      endToEndMs.push(info.appendTime - f.eventTs);
      inPipelineMs.push(info.appendTime - f.receivedAt);
    }
    this.emit('latency', { endToEndMs, inPipelineMs });
  }

  #checkBackpressure(): void {
    const max = this.#o.maxInFlight;
    const maxBytes = this.#o.maxInFlightBytes;
    const size = this.#ledger.size;
    const bytes = this.#ledger.bytes;
    // By records and by bytes: 4,096 posts of 60 KB would be 240 MB in flight under the record bound alone.
    if (!this.#backpressure && (size >= max || bytes >= maxBytes)) {
      this.#backpressure = true;
      this.#source.pause(this.#source.assignment);
      this.emit('paused', { paused: true, inFlight: size });
    } else if (this.#backpressure && size <= max / 2 && bytes <= maxBytes / 2 && !this.#stopping) {
      this.#backpressure = false;
      this.#source.resume(this.#source.assignment);
      this.emit('paused', { paused: false, inFlight: size });
    }
  }

  /**
   * Graceful stop: stop fetching; `drain` finishes what is in flight upstream; write and commit it;
   * leave the group. If the caller's timeout hits first, what is left stays uncommitted for the next owner.
   */
  async stop(drain: () => Promise<void>): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#source.pauseAll();
    while (this.#ledger.size > 0) {
      await drain();
      await this.#sink.flushAll();
      if (this.#ledger.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
    await this.#sink.flushAll();
    await this.#source.stop();
    await this.#sink.close();
  }
}
