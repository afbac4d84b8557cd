// Prometheus metrics. They subscribe to the pipeline's and the pool's events rather than sitting in the
// hot path; names take the klassify_ prefix and a unit suffix; failure labels come from the fixed set of
// error codes.
import client, { type Registry } from 'prom-client';
import type { BatchTimings, Classifier } from '../model/classifier.js';
import type { Pipeline } from '../pipeline.js';
import type { SwappableClassifier } from '../../rollout/swappable.js';
import { DURATION_BUCKETS, SIZE_BUCKETS, TOKEN_BUCKETS } from './buckets.js';
import type { GroupLag } from './lag.js';
import { STATUS_SEVERITY } from './lag-status.js';

export class Metrics {
  readonly registry: Registry;
  readonly recordsIn: client.Counter<'topic'>;
  readonly recordsOut: client.Counter<'topic'>;
  readonly deadLetters: client.Counter<'topic' | 'code'>;
  readonly labels: client.Counter<'label'>;
  readonly batchSize: client.Histogram;
  readonly batchTokens: client.Histogram;
  readonly queueWait: client.Histogram;
  readonly inference: client.Histogram;
  readonly poolTokenize: client.Histogram;
  readonly poolInference: client.Histogram;
  readonly produce: client.Histogram;
  readonly endToEnd: client.Histogram;
  readonly inPipeline: client.Histogram;
  readonly poolQueueDepth: client.Gauge;
  readonly poolBusyRatio: client.Gauge;
  readonly poolWorkers: client.Gauge;
  readonly inFlight: client.Gauge;
  readonly inFlightBytes: client.Gauge;
  readonly fetchPaused: client.Gauge;
  readonly modelInfo: client.Gauge<'name' | 'version' | 'target'>;
  readonly lagRecords: client.Gauge<'group' | 'topic' | 'partition'>;
  readonly lagSeconds: client.Gauge<'group' | 'topic' | 'partition'>;
  readonly groupStatus: client.Gauge<'group'>;
  readonly errors: client.Counter<'stage'>;
  readonly groupJoins: client.Counter;
  readonly redone: client.Counter<'reason'>;
  readonly streamDrops: client.Counter<'why'>;
  readonly settled: client.Counter;
  readonly swaps: client.Counter<'result' | 'code'>;
  readonly swapAgreement: client.Gauge;
  readonly fetchPauses: client.Counter;

  constructor(registry: Registry = new client.Registry()) {
    this.registry = registry;
    client.collectDefaultMetrics({ register: registry });
    const r = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new client.Counter<L>({ name, help, labelNames, registers: r });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new client.Gauge<L>({ name, help, labelNames, registers: r });
    const histogram = (name: string, help: string, buckets: readonly number[]) => new client.Histogram({ name, help, buckets: [...buckets], registers: r });

    this.recordsIn = counter('klassify_records_in_total', 'Records fetched from input topics.', ['topic']);
    this.recordsOut = counter('klassify_records_out_total', 'Results written to the output topic (acknowledged).', ['topic']);
    this.deadLetters = counter('klassify_dead_letters_total', 'Records sent to the dead-letter topic, by input topic and error code.', ['topic', 'code']);
    this.labels = counter('klassify_predictions_total', 'Predicted labels.', ['label']);
    this.batchSize = histogram('klassify_batch_size', 'Records per inference batch.', SIZE_BUCKETS);
    this.batchTokens = histogram('klassify_batch_tokens', 'Estimated tokens per inference batch.', TOKEN_BUCKETS);
    this.queueWait = histogram('klassify_queue_wait_seconds', 'From fetch to the start of the record\'s inference batch.', DURATION_BUCKETS);
    this.inference = histogram('klassify_inference_seconds', 'Round trip of one batch through the inference pool (queue + tokenize + run).', DURATION_BUCKETS);
    this.poolTokenize = histogram('klassify_tokenize_seconds', 'Tokenization time of one batch inside a worker.', DURATION_BUCKETS);
    this.poolInference = histogram('klassify_model_run_seconds', 'ONNX Runtime time of one batch inside a worker.', DURATION_BUCKETS);
    this.produce = histogram('klassify_produce_seconds', 'Writing one flush of results (and its commit) to Kafka.', DURATION_BUCKETS);
    this.endToEnd = histogram('klassify_end_to_end_seconds', 'From the input event time (ts field or record timestamp) to the result being acknowledged.', DURATION_BUCKETS);
    this.inPipeline = histogram('klassify_pipeline_seconds', 'From fetch to the result being acknowledged.', DURATION_BUCKETS);
    this.poolQueueDepth = gauge('klassify_pool_queue_depth', 'Batches waiting for an inference worker.');
    this.poolBusyRatio = gauge('klassify_pool_busy_ratio', 'Share of time the inference workers were busy (0..1).');
    this.poolWorkers = gauge('klassify_pool_workers', 'Inference workers running.');
    this.inFlight = gauge('klassify_in_flight_records', 'Records fetched and not yet committed.');
    this.inFlightBytes = gauge('klassify_in_flight_bytes', 'Bytes (keys + values as fetched) of the records in flight.');
    this.fetchPaused = gauge('klassify_fetch_paused', '1 while fetching is paused for backpressure.');
    this.modelInfo = gauge('klassify_model_info', 'The loaded model (value is always 1).', ['name', 'version', 'target']);
    this.lagRecords = gauge('klassify_consumer_lag_records', 'Log-end offset minus committed offset.', ['group', 'topic', 'partition']);
    this.lagSeconds = gauge('klassify_consumer_lag_seconds', 'Age of the oldest unconsumed record (0 when none).', ['group', 'topic', 'partition']);
    this.groupStatus = gauge('klassify_consumer_group_status', 'Group status: 0 OK, 1 WARNING, 2 STALLED, 3 STOPPED, 4 ERROR.', ['group']);
    this.errors = counter('klassify_errors_total', 'Errors by pipeline stage (retried or dead-lettered; see logs).', ['stage']);
    this.fetchPauses = counter('klassify_fetch_pauses_total', 'Times fetching was paused because records in flight passed --max-in-flight or --max-in-flight-bytes.');
    this.redone = counter('klassify_records_redone_total', 'In-flight records let go uncommitted: for the next owner to redo (rebalance, transient failure at shutdown), fetched again (resync), or already written by another producer of the partition (already-written).', ['reason']);
    this.settled = counter('klassify_transactions_settled_total', 'Exactly-once: input partitions whose transaction a broker had left open (its markers skipped) and that klassify committed before resuming them.');
    this.streamDrops = counter('klassify_dashboard_streams_dropped_total', 'Live-dashboard streams closed to stay bounded: the oldest past the client cap, or a client that stopped reading.', ['why']);
    this.swaps = counter('klassify_model_swaps_total', 'Model swaps asked for (POST /admin/model, SIGHUP, --model-watch), by result and refusal code.', ['result', 'code']);
    this.swapAgreement = gauge('klassify_model_swap_agreement', 'Label agreement of the last swap candidate with the live model on recent live texts (0..1).');
    this.groupJoins = counter('klassify_group_joins_total', 'Times this instance joined its consumer group (1 + rebalances it took part in).');
  }

  observePipeline(pipeline: Pipeline): void {
    pipeline.on('records_in', (e) => this.recordsIn.inc({ topic: e.topic }, e.count));
    pipeline.on('dead_letter', (e) => this.deadLetters.inc({ topic: e.topic, code: e.code }));
    pipeline.on('batch', (e) => {
      this.batchSize.observe(e.size);
      this.batchTokens.observe(e.tokens);
      this.queueWait.observe(e.queueMs / 1000);
      this.inference.observe(e.inferenceMs / 1000);
      for (const label of e.labels) this.labels.inc({ label });
    });
    pipeline.on('flushed', (e) => {
      this.produce.observe(e.ms / 1000);
      for (const [topic, n] of e.byTopic) this.recordsOut.inc({ topic }, n);
    });
    pipeline.on('latency', (e) => {
      for (const ms of e.endToEndMs) this.endToEnd.observe(Math.max(0, ms) / 1000);
      for (const ms of e.inPipelineMs) this.inPipeline.observe(Math.max(0, ms) / 1000);
    });
    pipeline.on('paused', (e) => {
      this.fetchPaused.set(e.paused ? 1 : 0);
      if (e.paused) this.fetchPauses.inc();
    });
    pipeline.on('assigned', () => this.groupJoins.inc());
    pipeline.on('dropped', (e) => this.redone.inc({ reason: e.reason }, e.count));
    pipeline.on('settled', (e) => this.settled.inc(e.partitions.length));
    pipeline.on('error', (e) => this.errors.inc({ stage: e.stage }));
  }

  /** Model info, and worker-side timings when the classifier reports them; returns the unsubscribe. */
  /** Model swaps (rollout/): the info gauge follows the live model; results and agreement are counted. */
  observeSwaps(classifier: SwappableClassifier): void {
    classifier.on('swap_switched', ({ to }) => {
      this.modelInfo.reset();
      this.modelInfo.set({ name: to.name, version: to.version, target: to.target }, 1);
    });
    classifier.on('swap_accepted', (r) => {
      this.swaps.inc({ result: 'accepted', code: '' });
      this.swapAgreement.set(r.figures.agreement);
    });
    classifier.on('swap_refused', (r) => {
      this.swaps.inc({ result: 'refused', code: r.code });
      if (r.figures) this.swapAgreement.set(r.figures.agreement);
    });
  }

  observeClassifier(classifier: Classifier): () => void {
    const m = classifier.model;
    this.modelInfo.set({ name: m.name, version: m.version, target: m.target }, 1);
    return classifier.onBatch?.((t: BatchTimings) => {
      this.poolTokenize.observe(t.tokenizeMs / 1000);
      this.poolInference.observe(t.inferenceMs / 1000);
    }) ?? (() => undefined);
  }

  /** Refreshes gauges that are sampled rather than evented (called before each scrape). */
  sample(classifier: Classifier, pipeline: Pipeline): void {
    const h = classifier.health();
    this.poolQueueDepth.set(h.queued);
    this.poolBusyRatio.set(h.busyRatio);
    this.poolWorkers.set(h.workers);
    this.inFlight.set(pipeline.inFlight);
    this.inFlightBytes.set(pipeline.inFlightBytes);
  }

  observeLag(g: GroupLag): void {
    for (const p of g.partitions) {
      if (p.partition < 0) continue;
      const labels = { group: g.group, topic: p.topic, partition: String(p.partition) };
      this.lagRecords.set(labels, p.lag);
      if (p.lagSeconds !== null) this.lagSeconds.set(labels, p.lagSeconds);
    }
    this.groupStatus.set({ group: g.group }, STATUS_SEVERITY[g.status]);
  }
}
