// The classification pipeline: Kafka stage (consumers/) → decode → micro-batcher → classifier → back to
// the stage, which writes results and dead letters and commits. Joins the stages without either side
// knowing the other: no kafkajs here, no ONNX Runtime in consumers/.
import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { decodeInput, type DecodedInput, type DecodeOptions } from '../consumers/decode.js';
import { OutputEncoder } from '../consumers/encode.js';
import { KafkaStage, type StageEventMap, type Taken } from '../consumers/kafka-stage.js';
import { resultRecord, sourceOf, type ResultRecord } from '../consumers/messages.js';
import { isRegistryUnavailable, whileRegistryUnavailable, type RegistrySerdes } from '../consumers/serdes.js';
import { brandBatch, type BrandMatcher } from '../brands/index.js';
import { AimdController } from './batching/aimd.js';
import { estimateTokens, MicroBatcher, type BatchItem } from './batching/micro-batcher.js';
import type { ResolvedConfig } from './config.js';
import { codeOf, messageOf } from './errors.js';
import { classifyPatiently } from './model/classify-patiently.js';
import { isFailure, type Classifier, type ClassifyOutcome } from './model/classifier.js';
import { ResultWriter } from './result-writer.js';

interface Job extends Taken {
  input: DecodedInput;
}

/** Events the metrics module subscribes to (the pipeline never imports prom-client). */
export interface PipelineEventMap extends StageEventMap {
  dead_letter: [{ topic: string; code: string }];
  batch: [{ size: number; tokens: number; queueMs: number; inferenceMs: number; labels: string[] }];
  /** A batch's posts and their outcomes (emitted only with a listener: a shadow model, rollout/shadow.ts). */
  classified: [{ posts: { id: string; text: string; source: ResultRecord['source'] }[]; outcomes: ClassifyOutcome[] }];
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

const FORWARDED = ['records_in', 'flushed', 'latency', 'assigned', 'paused', 'error', 'dropped', 'settled', 'fatal'] as const;

export class Pipeline extends EventEmitter<PipelineEventMap> {
  readonly #o: PipelineOptions;
  readonly #stage: KafkaStage;
  readonly #writer: ResultWriter;
  readonly #batcher: MicroBatcher<Job>;
  readonly #aimd: AimdController | undefined;
  readonly #decode: DecodeOptions;
  #stopping = false;

  constructor(options: PipelineOptions) {
    super();
    this.#o = options;
    const { config, kafka, classifier } = options;
    const p = config.pipeline;
    this.#stage = new KafkaStage(kafka, { ...p, createTopics: options.createTopics !== false });
    for (const event of FORWARDED) this.#stage.on(event, (...args: unknown[]) => (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args));
    const retry = <T>(step: () => Promise<T>): Promise<T> => this.#untilAvailable(step);
    this.#writer = new ResultWriter(this.#stage, new OutputEncoder({ ...p, serdes: options.serdes, format: p.outputFormat, retry }), (topic, code) => this.emit('dead_letter', { topic, code }));
    const b = config.batch;
    this.#batcher = new MicroBatcher<Job>({ maxSize: b.maxSize, maxTokens: b.maxTokens, maxWaitMs: b.maxWaitMs, slots: classifier.health().workers }, (items) => this.#dispatch(items));
    this.#aimd = config.batch.adaptive ? new AimdController({ targetMs: config.batch.targetP99Ms, minSize: 1, maxSize: config.batch.maxSize }) : undefined;
    this.#decode = { format: p.inputFormat, maxTextBytes: p.maxTextBytes, wire: options.serdes?.decode };
  }

  /** True once records can flow (the group joined; exactly-once: fenced). */
  get joined(): boolean {
    return this.#stage.joined;
  }

  /** Why the pipeline is not ready to make progress (empty: ready). */
  notReady(): string[] {
    return this.#stage.notReady();
  }

  get inFlight(): number {
    return this.#stage.inFlight;
  }

  get inFlightBytes(): number {
    return this.#stage.inFlightBytes;
  }

  get batcher(): MicroBatcher<unknown> {
    return this.#batcher as MicroBatcher<unknown>;
  }

  async start(): Promise<void> {
    await this.#stage.start({
      onRecords: (taken) => {
        for (const t of taken) {
          this.#untilAvailable(() => decodeInput(t.record, this.#decode)).then(
            (input) => {
              if (!t.entry.dropped) this.#batcher.add({ ...t, input }, estimateTokens(input.text, this.#o.classifier.model.maxLength));
            },
            (err: unknown) => (isRegistryUnavailable(err) ? this.#writer.abandon(t) : void this.#writer.deadLetter(t, codeOf(err), messageOf(err))),
          );
        }
      },
      onRebalance: () => this.#batcher.discard((job) => !job.entry.dropped),
    });
  }

  async #dispatch(items: BatchItem<Job>[]): Promise<void> {
    const live = items.filter((i) => !i.value.entry.dropped);
    if (live.length === 0) return;
    const started = performance.now();
    const plan = brandBatch(this.#o.brands, live.map((i) => i.value.input));
    const outcomes = await classifyPatiently(this.#o.classifier, plan.texts, () => this.#stopping);
    const inferenceMs = performance.now() - started;
    // Steered by how long a batch takes to process, as in Clipper, not by queueing: shrinking batches
    // because records queued would lower throughput and lengthen the queue it reacted to.
    this.#aimd?.observe(inferenceMs);
    if (this.#aimd && this.#aimd.size !== this.#batcher.maxSize) this.#batcher.setMaxSize(this.#aimd.size);
    const labels: string[] = [];
    await Promise.all(live.map(async (item, i) => {
      const job = item.value;
      const outcome = outcomes[i]!;
      if (job.entry.dropped) return;
      if (isFailure(outcome)) return this.#writer.failed(job, outcome.error);
      labels.push(outcome.label);
      const timings = { receivedAt: job.record.receivedAt, queueMs: started - item.enqueuedAt, inferenceMs, batchSize: live.length };
      const brands = plan.fieldsOf(i, outcomes);
      // The model that produced this outcome: after a hot swap (rollout/) the live one may already be another.
      const by = outcome.model ?? this.#o.classifier.model;
      const result = resultRecord(job.input, job.record, outcome, { name: by.name, version: by.version, target: by.target }, timings, brands);
      return this.#writer.result(job, result);
    }));
    if (this.listenerCount('classified') > 0) {
      this.emit('classified', { posts: live.map(({ value: v }) => ({ id: v.input.id, text: v.input.text, source: sourceOf(v.record) })), outcomes: outcomes.slice(0, live.length) });
    }
    this.emit('batch', { size: live.length, tokens: live.reduce((n, i) => n + i.tokens, 0), queueMs: started - live[0]!.enqueuedAt, inferenceMs, labels });
    this.#stage.flush();
  }

  #untilAvailable<T>(step: () => Promise<T>): Promise<T> {
    return whileRegistryUnavailable(step, () => this.#stopping, (error) => this.emit('error', { stage: 'registry', error }));
  }

  /**
   * Graceful stop: stop fetching, finish the batches the workers already have, write and commit them,
   * leave the group. Records no worker has started stay uncommitted for the next owner (never written, so
   * never twice): draining all of --max-in-flight on a loaded machine outlasted the shutdown timeout, and
   * a pod scaled in should hand its partitions over in a moment, not after its whole backlog.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#stage.stop(async () => {
      for (const job of this.#batcher.discard(() => false)) this.#writer.abandon(job);
      await this.#batcher.drain();
    });
  }
}
