// The classification pipeline: source → decode → micro-batcher → classifier → ledger → sink.
// Joins consumers/ (Kafka) and the Classifier seam (the inference pool) without either knowing the other.
import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { decodeInput, type DecodedInput, type DecodeOptions } from '../consumers/decode.js';
import { ensureTopics } from '../consumers/kafka-client.js';
import { Ledger, type LedgerEntry, type TopicPartition } from '../consumers/ledger.js';
import { deadLetter, deadLetterMessage, resultRecord, type Finished, type OutMessage } from '../consumers/messages.js';
import { isRegistryUnavailable, type RegistrySerdes } from '../consumers/serdes.js';
import { ProduceBudget, readProduceLimits } from '../consumers/produce-budget.js';
import { AtLeastOnceSink, ExactlyOnceSink, type FlushInfo, type Sink } from '../consumers/sink.js';
import { KafkaSource, type SourceRecord } from '../consumers/source.js';
import { AimdController } from './batching/aimd.js';
import { MicroBatcher, type BatchItem } from './batching/micro-batcher.js';
import type { ResolvedConfig } from './config.js';
import { codeOf, ConsumerCrashError, FenceError, InferenceError, messageOf, PoolOverloadedError } from './errors.js';
import { isFailure, type Classifier, type ClassifyOutcome } from './model/classifier.js';
import { brandFields, planBatch, type BrandMatcher } from '../brands/index.js';

type Out = Finished;

/** Fencing attempts before giving up (backoff 0.2 s doubling to 10 s: about a minute in all). */
const FENCE_ATTEMPTS = 10;

interface Job {
  entry: LedgerEntry<Out>;
  record: SourceRecord;
  input: DecodedInput;
}

/** Events the metrics module subscribes to (the pipeline never imports prom-client). */
export interface PipelineEventMap {
  records_in: [{ topic: string; partition: number; count: number }];
  dead_letter: [{ topic: string; code: string }];
  batch: [{ size: number; tokens: number; queueMs: number; inferenceMs: number; labels: string[] }];
  flushed: [{ records: number; byTopic: Map<string, number>; ms: number }];
  /** Per flush, per written result: event time → broker ack, and fetch → broker ack (ms). */
  latency: [{ endToEndMs: number[]; inPipelineMs: number[] }];
  assigned: [{ partitions: TopicPartition[] }];
  paused: [{ paused: boolean; inFlight: number }];
  error: [{ stage: string; error: Error }];
  /** The pipeline cannot go on (consumer crashed for good, fencing keeps failing): exit and be restarted. */
  fatal: [{ error: Error }];
}

export interface PipelineOptions {
  config: ResolvedConfig;
  kafka: Kafka;
  classifier: Classifier;
  serdes?: RegistrySerdes | undefined;
  /** Create the input/output/dead-letter topics when missing (the embedded Kafka; off for strict clusters). */
  createTopics?: boolean;
  /** Brand monitoring: find mentions and classify the span each is judged on in the same batch. */
  brands?: BrandMatcher | undefined;
}

export class Pipeline extends EventEmitter<PipelineEventMap> {
  readonly #o: PipelineOptions;
  readonly #ledger = new Ledger<Out>();
  readonly #source: KafkaSource;
  readonly #sink: Sink;
  readonly #budget = new ProduceBudget();
  readonly #batcher: MicroBatcher<Job>;
  readonly #aimd: AimdController | undefined;
  readonly #decode: DecodeOptions;
  #outputPartitions = 1;
  #dlqPartitions = 1;
  #joined = false;
  #stopping = false;
  #backpressure = false;

  constructor(options: PipelineOptions) {
    super();
    this.#o = options;
    const { config, kafka, classifier } = options;
    const p = config.pipeline;
    this.#source = new KafkaSource(kafka, {
      groupId: p.groupId,
      topics: p.inputTopics,
      fromBeginning: p.fromBeginning,
      concurrency: 64,
      readCommitted: true,
      sessionTimeoutMs: p.sessionTimeoutMs,
    });
    const events = {
      onFlushed: (info: FlushInfo) => this.#onFlushed(info),
      onError: (error: Error) => this.emit('error', { stage: 'produce', error }),
    };
    const sinkOptions = { budget: this.#budget, deadLetterTopic: p.deadLetterTopic };
    this.#sink = p.delivery === 'exactly-once'
      ? new ExactlyOnceSink(kafka, this.#ledger, p.groupId, sinkOptions, events)
      : new AtLeastOnceSink(kafka, this.#ledger, this.#source, sinkOptions, events, p.commitIntervalMs);
    const workers = classifier.health().workers;
    this.#batcher = new MicroBatcher<Job>(
      { maxSize: config.batch.maxSize, maxTokens: config.batch.maxTokens, maxWaitMs: config.batch.maxWaitMs, slots: workers },
      (items) => this.#dispatch(items),
    );
    this.#aimd = config.batch.adaptive
      ? new AimdController({ targetMs: config.batch.targetP99Ms, minSize: 1, maxSize: config.batch.maxSize })
      : undefined;
    this.#decode = { format: p.inputFormat, maxTextBytes: p.maxTextBytes, wire: options.serdes?.decode };
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

  /** True once the consumer joined its group. */
  get joined(): boolean {
    return this.#joined;
  }

  /** Why the pipeline is not ready to make progress (empty: ready). */
  notReady(): string[] {
    const reasons: string[] = [];
    if (!this.#joined) reasons.push('consumer group not joined yet');
    const consumer = this.#source.unhealthy();
    if (consumer) reasons.push(consumer);
    if (this.#sink.failure) reasons.push(`writing results fails: ${this.#sink.failure}`);
    return reasons;
  }

  get inFlight(): number {
    return this.#ledger.size;
  }

  get batcher(): MicroBatcher<unknown> {
    return this.#batcher as MicroBatcher<unknown>;
  }

  async start(): Promise<void> {
    const p = this.#o.config.pipeline;
    const topics = [...p.inputTopics, p.outputTopic, p.deadLetterTopic];
    const partitions = await ensureTopics(this.#o.kafka, topics, p.partitions, this.#o.createTopics !== false);
    this.#outputPartitions = partitions.get(p.outputTopic) ?? 1;
    this.#dlqPartitions = partitions.get(p.deadLetterTopic) ?? 1;
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      this.#budget.setLimits(await readProduceLimits(admin, [p.outputTopic, p.deadLetterTopic]));
    } finally {
      await admin.disconnect();
    }
    await this.#source.start({
      onRecords: (tp, records) => this.#onRecords(tp, records),
      onAssignment: (assigned) => this.#onAssignment(assigned),
      onCrash: (error) => this.emit('fatal', { error: new ConsumerCrashError(`the consumer crashed and kafkajs gave up restarting it: ${error.message}`, { cause: error }) }),
    });
  }

  #onAssignment(assigned: TopicPartition[]): void {
    // kafkajs restarts every assigned partition from its committed offset after a rejoin: whatever is in
    // flight from before would be fetched again, so drop it (it was never committed; it will be redone).
    const dropped = this.#ledger.drop(() => false);
    this.#batcher.discard((job) => !job.entry.dropped);
    this.#backpressure = false;
    // Ready when records can flow: in exactly-once mode that is after fencing (below).
    this.#joined = this.#o.config.pipeline.delivery !== 'exactly-once' || assigned.length === 0;
    this.emit('assigned', { partitions: assigned });
    if (dropped.length > 0) this.emit('error', { stage: 'rebalance', error: new Error(`rebalance: ${dropped.length} in-flight records will be redone`) });
    if (this.#o.config.pipeline.delivery === 'exactly-once' && assigned.length > 0) {
      // Fence older owners before fetching: pause, init each partition's transactional producer (which
      // aborts or completes what a previous owner left open), re-read the committed offsets, resume.
      this.#source.pause(assigned);
      void this.#fenceAndResume(assigned, this.#source.generation);
    }
  }

  /**
   * Exactly-once: fence older owners and read where to start (consumers/sink.ts), then fetch. A failed
   * fence is retried with backoff; past FENCE_ATTEMPTS the instance cannot own its partitions and says
   * so as fatal (the process exits non-zero so an orchestrator restarts it), instead of sitting paused.
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

  #onRecords(tp: TopicPartition, records: SourceRecord[]): void {
    if (this.#stopping) return;
    // Exactly-once: until this generation's fence is done and its offsets are read, a fetch that was
    // already under way when the partitions were paused may deliver records from a stale position (an
    // earlier owner's transaction still settling). They are refetched after the seek; taking them would
    // write them twice (seen after a broker restart).
    if (!this.#joined || records.some((r) => r.generation !== this.#source.generation)) return;
    this.emit('records_in', { topic: tp.topic, partition: tp.partition, count: records.length });
    for (const record of records) {
      const entry = this.#ledger.append(tp, Number(record.offset));
      // A record already in flight (fetched again after a seek) is not taken twice.
      if (entry === undefined) continue;
      this.#untilAvailable(() => decodeInput(record, this.#decode)).then(
        (input) => {
          if (entry.dropped) return;
          this.#batcher.add({ entry, record, input }, this.#estimateTokens(input.text));
        },
        (err: unknown) => this.#deadLetter(entry, record, codeOf(err), messageOf(err)),
      );
    }
    this.#checkBackpressure();
  }

  /** A cheap upper-ish estimate (no tokenizer on this thread): English WordPiece averages ~4 chars a token. */
  #estimateTokens(text: string): number {
    return Math.min(this.#o.classifier.model.maxLength, Math.ceil(text.length / 4) + 2);
  }

  #deadLetter(entry: LedgerEntry<Out>, record: SourceRecord, code: string, message: string): void {
    if (entry.dropped) return;
    const p = this.#o.config.pipeline;
    const dl = deadLetter(record, code, message);
    const partition = record.partition % this.#dlqPartitions;
    const complete = (msg: OutMessage): void => {
      if (entry.dropped) return;
      this.#ledger.complete(entry, { messages: [msg], eventTs: Number(record.timestamp), receivedAt: record.receivedAt, deadLetter: true });
      this.emit('dead_letter', { topic: record.topic, code });
      this.#sink.kick();
    };
    if (p.outputFormat === 'avro' && this.#o.serdes) {
      this.#o.serdes.encodeDeadLetter(p.deadLetterTopic, dl).then(
        (value) => complete({ topic: p.deadLetterTopic, partition, key: record.key, value, headers: record.headers }),
        // Cannot encode the envelope: keep the record anyway, raw with headers.
        () => complete(deadLetterMessage(p.deadLetterTopic, partition, dl, record.headers)),
      );
    } else {
      complete(deadLetterMessage(p.deadLetterTopic, partition, dl, record.headers));
    }
  }

  async #dispatch(items: BatchItem<Job>[]): Promise<void> {
    const live = items.filter((i) => !i.value.entry.dropped);
    if (live.length === 0) return;
    const started = performance.now();
    // With brands, each mention's span joins its post in this one inference call (texts beyond the
    // posts' own are the spans; a single-brand post's span is the post itself and costs nothing).
    const planned = this.#o.brands ? planBatch(this.#o.brands, live.map((i) => i.value.input)) : undefined;
    const outcomes = await this.#classify(planned?.batch.texts ?? live.map((i) => i.value.input.text));
    const scoresAt = (k: number): Record<string, number> | undefined => {
      const o = outcomes[k];
      return o && !isFailure(o) ? o.scores : undefined;
    };
    const inferenceMs = performance.now() - started;
    // Steered by how long a batch takes to process, as in Clipper, not by queueing: shrinking batches
    // because records queued would lower throughput and lengthen the queue it reacted to.
    this.#aimd?.observe(inferenceMs);
    if (this.#aimd && this.#aimd.size !== this.#batcher.maxSize) this.#batcher.setMaxSize(this.#aimd.size);
    const labels: string[] = [];
    const encodes: Promise<void>[] = [];
    for (let i = 0; i < live.length; i++) {
      const item = live[i] as BatchItem<Job>;
      const outcome = outcomes[i] as ClassifyOutcome;
      const { entry, record, input } = item.value;
      if (entry.dropped) continue;
      if (isFailure(outcome)) {
        this.#deadLetter(entry, record, outcome.error.code, outcome.error.message);
        continue;
      }
      labels.push(outcome.label);
      const result = resultRecord(input, record, outcome, this.#modelRef(), {
        receivedAt: record.receivedAt,
        queueMs: started - item.enqueuedAt,
        inferenceMs,
        batchSize: live.length,
      }, planned && brandFields(planned.plans[i]!, planned.batch.spanIndex[i]!, outcome.scores, scoresAt));
      encodes.push(this.#complete(entry, record, result));
    }
    await Promise.all(encodes);
    this.emit('batch', {
      size: live.length,
      tokens: live.reduce((n, i) => n + i.tokens, 0),
      queueMs: started - (live[0] as BatchItem<Job>).enqueuedAt,
      inferenceMs,
      labels,
    });
    this.#sink.kick();
    this.#checkBackpressure();
  }

  /**
   * Runs a registry-backed step, retrying while the registry is unavailable: an outage holds the records
   * (in flight, so fetching pauses at --max-in-flight) instead of dead-lettering innocent ones. Gives up
   * only on stop, leaving the records uncommitted for the next run.
   */
  async #untilAvailable<T>(step: () => Promise<T>): Promise<T> {
    for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await step();
      } catch (err) {
        if (!isRegistryUnavailable(err) || this.#stopping) throw err;
        this.emit('error', { stage: 'registry', error: err as Error });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async #complete(entry: LedgerEntry<Out>, record: SourceRecord, result: ReturnType<typeof resultRecord>): Promise<void> {
    const p = this.#o.config.pipeline;
    const serdes = this.#o.serdes;
    let value: Buffer | string;
    try {
      value = p.outputFormat === 'avro' && serdes
        ? await this.#untilAvailable(() => serdes.encodeResult(p.outputTopic, result))
        : JSON.stringify(result);
    } catch (err) {
      // One record's result that its schema cannot carry is that record's dead letter, never a crash.
      this.#deadLetter(entry, record, codeOf(err) === 'KLS_ERR_INTERNAL' ? 'KLS_ERR_SCHEMA' : codeOf(err), `encoding the result failed: ${messageOf(err)}`);
      return;
    }
    if (entry.dropped) return;
    const message: OutMessage = {
      topic: p.outputTopic,
      // Input partition p feeds output partition p (mod count): order per input partition survives.
      partition: record.partition % this.#outputPartitions,
      key: record.key,
      value,
      headers: record.headers,
    };
    this.#ledger.complete(entry, { messages: [message], eventTs: result.ts ?? Number(record.timestamp), receivedAt: record.receivedAt, deadLetter: false });
  }

  /** Classifies, waiting out pool overload (backpressure) rather than failing records. */
  async #classify(texts: string[]): Promise<ClassifyOutcome[]> {
    let wait = 2;
    for (;;) {
      try {
        return await this.#o.classifier.classify(texts);
      } catch (err) {
        if (err instanceof PoolOverloadedError && !this.#stopping) {
          await new Promise((r) => setTimeout(r, wait));
          wait = Math.min(wait * 2, 200);
          continue;
        }
        const failure = { error: { code: err instanceof InferenceError ? err.code : codeOf(err), message: messageOf(err) } };
        return texts.map(() => failure);
      }
    }
  }

  #modelRef(): { name: string; version: string; target: string } {
    const m = this.#o.classifier.model;
    return { name: m.name, version: m.version, target: m.target };
  }

  #checkBackpressure(): void {
    const max = this.#o.config.pipeline.maxInFlight;
    const size = this.#ledger.size;
    if (!this.#backpressure && size >= max) {
      this.#backpressure = true;
      this.#source.pause(this.#source.assignment);
      this.emit('paused', { paused: true, inFlight: size });
    } else if (this.#backpressure && size <= max / 2 && !this.#stopping) {
      this.#backpressure = false;
      this.#source.resume(this.#source.assignment);
      this.emit('paused', { paused: false, inFlight: size });
    }
  }

  /** Graceful stop: stop fetching, finish what is in flight, write and commit it, leave the group. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#source.pauseAll();
    // Everything fetched is either written and committed, or (if the caller's timeout hits first)
    // left uncommitted for the next owner to redo.
    while (this.#ledger.size > 0) {
      await this.#batcher.drain();
      await this.#sink.flushAll();
      if (this.#ledger.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
    await this.#sink.flushAll();
    await this.#source.stop();
    await this.#sink.close();
  }
}
