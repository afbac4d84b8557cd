// The classification pipeline: source → decode → micro-batcher → classifier → ledger → sink.
// Joins consumers/ (Kafka) and the Classifier seam (the inference pool) without either knowing the other.
import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { decodeInput, type DecodedInput, type DecodeOptions } from '../consumers/decode.js';
import { ensureTopics } from '../consumers/kafka-client.js';
import { Ledger, type LedgerEntry, type TopicPartition } from '../consumers/ledger.js';
import { deadLetter, deadLetterMessage, resultRecord, type Finished, type OutMessage } from '../consumers/messages.js';
import type { RegistrySerdes } from '../consumers/serdes.js';
import { AtLeastOnceSink, ExactlyOnceSink, type FlushInfo, type Sink } from '../consumers/sink.js';
import { KafkaSource, type SourceRecord } from '../consumers/source.js';
import { AimdController } from './batching/aimd.js';
import { MicroBatcher, type BatchItem } from './batching/micro-batcher.js';
import type { ResolvedConfig } from './config.js';
import { codeOf, InferenceError, messageOf, PoolOverloadedError } from './errors.js';
import { isFailure, type Classifier, type ClassifyOutcome } from './model/classifier.js';

type Out = Finished;

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
}

export interface PipelineOptions {
  config: ResolvedConfig;
  kafka: Kafka;
  classifier: Classifier;
  serdes?: RegistrySerdes | undefined;
  /** Create the input/output/dead-letter topics when missing (the embedded Kafka; off for strict clusters). */
  createTopics?: boolean;
}

export class Pipeline extends EventEmitter<PipelineEventMap> {
  readonly #o: PipelineOptions;
  readonly #ledger = new Ledger<Out>();
  readonly #source: KafkaSource;
  readonly #sink: Sink;
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
    this.#sink = p.delivery === 'exactly-once'
      ? new ExactlyOnceSink(kafka, this.#ledger, p.groupId, `klassify-${p.groupId}`, events)
      : new AtLeastOnceSink(kafka, this.#ledger, this.#source, events, p.commitIntervalMs);
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

  /** True once the consumer joined its group (readiness). */
  get joined(): boolean {
    return this.#joined;
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
    await this.#source.start({
      onRecords: (tp, records) => this.#onRecords(tp, records),
      onAssignment: (assigned) => this.#onAssignment(assigned),
      onCrash: (error) => this.emit('error', { stage: 'consume', error }),
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
      void this.#fenceAndResume(assigned);
    }
  }

  async #fenceAndResume(assigned: TopicPartition[]): Promise<void> {
    try {
      await this.#sink.onAssignment(assigned);
      const admin = this.#o.kafka.admin();
      await admin.connect();
      try {
        const topics = [...new Set(assigned.map((tp) => tp.topic))];
        const committed = await admin.fetchOffsets({ groupId: this.#o.config.pipeline.groupId, topics });
        for (const t of committed) {
          for (const part of t.partitions) {
            if (Number(part.offset) >= 0 && assigned.some((a) => a.topic === t.topic && a.partition === part.partition)) {
              this.#source.consumer.seek({ topic: t.topic, partition: part.partition, offset: part.offset });
            }
          }
        }
      } finally {
        await admin.disconnect();
      }
      if (!this.#stopping) this.#source.resume(assigned);
      this.#joined = true;
    } catch (error) {
      this.emit('error', { stage: 'assign', error: error as Error });
    }
  }

  #onRecords(tp: TopicPartition, records: SourceRecord[]): void {
    if (this.#stopping) return;
    this.emit('records_in', { topic: tp.topic, partition: tp.partition, count: records.length });
    for (const record of records) {
      const entry = this.#ledger.append(tp, Number(record.offset));
      // A record already in flight (fetched again after a seek) is not taken twice.
      if (entry === undefined) continue;
      decodeInput(record, this.#decode).then(
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
    const outcomes = await this.#classify(live.map((i) => i.value.input.text));
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
      });
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

  async #complete(entry: LedgerEntry<Out>, record: SourceRecord, result: ReturnType<typeof resultRecord>): Promise<void> {
    const p = this.#o.config.pipeline;
    const value = p.outputFormat === 'avro' && this.#o.serdes
      ? await this.#o.serdes.encodeResult(p.outputTopic, result)
      : JSON.stringify(result);
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
