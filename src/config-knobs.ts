// The table of every configuration knob: its key in ResolvedConfig, its environment variable, its
// command-line flag, its default and when to change it. CLI options and the README table come from here.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultHome, packageRoot } from './paths.js';

export type KnobType = 'string' | 'int' | 'number' | 'bool' | 'list' | 'int-list' | 'cpu-sets';

export interface Knob {
  key: string;
  env: string;
  flag: string;
  type: KnobType;
  default: () => unknown;
  help: string;
}

const k = (key: string, env: string, flag: string, type: KnobType, def: unknown, help: string): Knob => ({
  key,
  env,
  flag,
  type,
  default: typeof def === 'function' ? (def as () => unknown) : () => def,
  help,
});

export const DEFAULT_MODEL = join('compiled-models', 'sentiment-minilm', 'cpu-int8');

export const knobs: readonly Knob[] = Object.freeze([
  k('home', 'KLASSIFY_HOME', 'home', 'string', defaultHome, 'Cache for downloaded Kafka/registry jars and local service state. Default ~/.cache/klassify.'),
  k('logLevel', 'KLASSIFY_LOG_LEVEL', 'log-level', 'string', 'info', 'error | warn | info | debug.'),
  // Kafka
  k('kafka.brokers', 'KAFKA_BROKERS', 'brokers', 'list', [], 'Bootstrap servers of your cluster (host:port,...). Empty: klassify runs its own local Kafka.'),
  k('kafka.clientId', 'KAFKA_CLIENT_ID', 'client-id', 'string', 'klassify', 'Client id shown in broker logs and quotas.'),
  k('kafka.ssl', 'KAFKA_SSL', 'ssl', 'bool', false, 'Connect with TLS.'),
  k('kafka.sslCa', 'KAFKA_SSL_CA', 'ssl-ca', 'string', undefined, 'PEM file of the CA that signed the brokers\' certificates, when not a public CA.'),
  k('kafka.saslMechanism', 'KAFKA_SASL_MECHANISM', 'sasl-mechanism', 'string', 'none', 'none | plain | scram-sha-256 | scram-sha-512.'),
  k('kafka.saslUsername', 'KAFKA_SASL_USERNAME', 'sasl-username', 'string', undefined, 'SASL user name.'),
  k('kafka.saslPassword', 'KAFKA_SASL_PASSWORD', 'sasl-password', 'string', undefined, 'SASL password (prefer the environment variable over the flag).'),
  k('kafka.localPort', 'KLASSIFY_KAFKA_PORT', 'kafka-port', 'int', 19092, 'Port of the embedded local Kafka (0 picks a free one). Change when 19092 is taken.'),
  k('kafka.localControllerPort', 'KLASSIFY_KAFKA_CONTROLLER_PORT', 'kafka-controller-port', 'int', 19093, 'KRaft controller port of the embedded local Kafka (0 picks a free one).'),
  // Schema Registry
  k('registry.url', 'SCHEMA_REGISTRY_URL', 'registry-url', 'string', undefined, 'Confluent-API Schema Registry URL. Set it to read/write Avro in the Confluent wire format.'),
  k('registry.localPort', 'KLASSIFY_REGISTRY_PORT', 'registry-port', 'int', 18081, 'Port of the embedded local Schema Registry (Apicurio).'),
  k('registry.localManagementPort', 'KLASSIFY_REGISTRY_MANAGEMENT_PORT', 'registry-management-port', 'int', 18082, 'Health/management port of the embedded Schema Registry.'),
  // Pipeline
  k('pipeline.inputTopics', 'KLASSIFY_INPUT_TOPICS', 'input', 'list', ['klassify.input'], 'Topics to classify (comma-separated).'),
  k('pipeline.outputTopic', 'KLASSIFY_OUTPUT_TOPIC', 'output', 'string', 'klassify.results', 'Topic the results are written to.'),
  k('pipeline.deadLetterTopic', 'KLASSIFY_DLQ_TOPIC', 'dlq', 'string', 'klassify.dead-letter', 'Topic for records that cannot be classified, with the reason.'),
  k('pipeline.groupId', 'KLASSIFY_GROUP_ID', 'group', 'string', 'klassify', 'Consumer group. Instances sharing it split the partitions.'),
  k('pipeline.partitions', 'KLASSIFY_PARTITIONS', 'partitions', 'int', 6, 'Partitions for topics klassify creates (existing topics are left alone).'),
  k('pipeline.inputFormat', 'KLASSIFY_INPUT_FORMAT', 'input-format', 'string', 'auto', 'auto | json | text | avro | json-schema. auto: Confluent wire format if it starts with magic byte 0, else JSON if it parses, else text.'),
  k('pipeline.outputFormat', 'KLASSIFY_OUTPUT_FORMAT', 'output-format', 'string', 'json', 'json | avro (needs a Schema Registry).'),
  k('pipeline.delivery', 'KLASSIFY_DELIVERY', 'delivery', 'string', 'at-least-once', 'at-least-once | exactly-once (transactions; readers use read_committed).'),
  k('pipeline.maxTextBytes', 'KLASSIFY_MAX_TEXT_BYTES', 'max-text-bytes', 'int', 65_536, 'Texts longer than this (UTF-8 bytes) go to the dead-letter topic instead of being truncated.'),
  k('pipeline.maxInFlight', 'KLASSIFY_MAX_IN_FLIGHT', 'max-in-flight', 'int', 4096, 'Records fetched but not yet committed; above it fetching pauses. Bounds memory.'),
  k('pipeline.maxInFlightBytes', 'KLASSIFY_MAX_IN_FLIGHT_BYTES', 'max-in-flight-bytes', 'int', 64 * 1024 * 1024, 'Bytes (keys + values as fetched) of the records in flight; above it fetching pauses, as with --max-in-flight. Default 64 MiB: with its decoded text and result a record costs about 3x its size, well inside the default heap of Node on a 1 GB container.'),
  k('pipeline.shutdownTimeoutMs', 'KLASSIFY_SHUTDOWN_TIMEOUT_MS', 'shutdown-timeout-ms', 'int', 30_000, 'How long a graceful stop may take to drain and commit (ms).'),
  k('pipeline.commitIntervalMs', 'KLASSIFY_COMMIT_INTERVAL_MS', 'commit-interval-ms', 'int', 100, 'At-least-once: how often delivered offsets are committed (ms). Lower: less redone after a crash; higher: fewer requests. Exactly-once commits with every transaction.'),
  k('pipeline.fetchMinBytes', 'KLASSIFY_FETCH_MIN_BYTES', 'fetch-min-bytes', 'int', 1, 'Bytes a fetch waits for before the broker answers (Kafka fetch.min.bytes), up to --fetch-max-wait-ms. 1: a record is fetched as soon as it is there. Larger: fewer, fuller fetches (less CPU for klassify and the broker at moderate rates), for up to --fetch-max-wait-ms more latency.'),
  k('pipeline.fetchMaxWaitMs', 'KLASSIFY_FETCH_MAX_WAIT_MS', 'fetch-max-wait-ms', 'int', 100, 'Longest a fetch waits for --fetch-min-bytes (ms; Kafka fetch.max.wait.ms). With --fetch-min-bytes 1 it only bounds an idle poll.'),
  k('pipeline.sessionTimeoutMs', 'KLASSIFY_SESSION_TIMEOUT_MS', 'session-timeout-ms', 'int', 30_000, 'Consumer-group session timeout (ms): how long a dead instance holds its partitions before the group moves them. Lower: faster failover; the broker bounds it (group.min.session.timeout.ms, 6 s by default).'),
  k('pipeline.fromBeginning', 'KLASSIFY_FROM_BEGINNING', 'from-beginning', 'bool', true, 'Where a new group starts: earliest (true) or latest offset.'),
  // Micro-batching
  k('batch.maxSize', 'KLASSIFY_BATCH_MAX_SIZE', 'batch-max-size', 'int', 64, 'Most records in one inference batch. Larger: more throughput, more latency.'),
  k('batch.maxWaitMs', 'KLASSIFY_BATCH_MAX_WAIT_MS', 'batch-max-wait-ms', 'number', 0, 'How long a record may wait for company while a worker is free (ms). 0: send at once; with every worker busy, batches grow by themselves. Raise it only to trade latency for fewer, larger batches at low load.'),
  k('batch.maxTokens', 'KLASSIFY_BATCH_MAX_TOKENS', 'batch-max-tokens', 'int', 4096, 'Token budget of one batch (padded length x count). IMPORTANT: bounds worker memory and tail latency.'),
  k('batch.adaptive', 'KLASSIFY_BATCH_ADAPTIVE', 'batch-adaptive', 'bool', false, 'Adjust batch size so that processing one batch holds --batch-target-p99-ms (AIMD, as in Clipper). Queueing is not counted: near capacity, smaller batches would only lengthen the queue.'),
  k('batch.targetP99Ms', 'KLASSIFY_BATCH_TARGET_P99_MS', 'batch-target-p99-ms', 'number', 25, 'Target p99 of one batch\'s processing time under adaptive batching (ms).'),
  // Model and pool
  k('model.dir', 'KLASSIFY_MODEL', 'model', 'string', () => join(packageRoot, DEFAULT_MODEL), 'Compiled model folder (holds manifest.json). Default: the shipped sentiment model.'),
  k('model.watch', 'KLASSIFY_MODEL_WATCH', 'model-watch', 'bool', false, 'Swap to the model in --model when its manifest.json changes (a new compile), as SIGHUP does; the swap is gated like POST /admin/model.'),
  k('model.swapMinAgreement', 'KLASSIFY_SWAP_MIN_AGREEMENT', 'swap-min-agreement', 'number', 0.9, 'A new model is taken only if its labels agree with the live model on at least this share of recent live texts (and 0.8 within each live label).'),
  k('model.shadow', 'KLASSIFY_SHADOW_MODEL', 'shadow-model', 'string', undefined, 'A second compiled model that answers a sample of the records on spare CPU (its own pool at the lowest priority), judged by label agreement with the live model; its answers are not written to the output topic.'),
  k('model.shadowSample', 'KLASSIFY_SHADOW_SAMPLE', 'shadow-sample', 'number', 0.1, 'Share of classified records offered to the shadow model (shed, and counted, while the live pool is busy).'),
  k('model.shadowTopic', 'KLASSIFY_SHADOW_TOPIC', 'shadow-topic', 'string', undefined, 'Also write each shadow comparison (record id, source, both answers) to this topic.'),
  k('model.shadowMaxLiveBusy', 'KLASSIFY_SHADOW_MAX_LIVE_BUSY', 'shadow-max-live-busy', 'number', 0.5, 'Shed shadow work while the live workers were busy more than this share of the last second (1: only while live batches queue).'),
  k('model.shadowWorkers', 'KLASSIFY_SHADOW_WORKERS', 'shadow-workers', 'int', 1, 'Inference workers of the shadow model.'),
  k('pool.workers', 'KLASSIFY_WORKERS', 'workers', 'int', () => availableParallelism(), 'Inference worker threads, each with its own ONNX Runtime session. Default: one per core.'),
  k('pool.threadsPerWorker', 'KLASSIFY_THREADS_PER_WORKER', 'threads-per-worker', 'int', 1, 'ONNX Runtime intra-op threads per worker.'),
  k('pool.cpuSets', 'KLASSIFY_CPU_SETS', 'cpu-sets', 'cpu-sets', [], 'Pin worker i to core set i, e.g. "0-1,2-3" (0-based core ids, ranges with -, members with +: "0+2").'),
  k('pool.gpus', 'KLASSIFY_GPUS', 'gpus', 'int-list', [], 'GPU ids; one worker per GPU with the CUDA provider (needs a cuda-fp16 or cuda model and the CUDA libraries).'),
  k('pool.maxQueue', 'KLASSIFY_POOL_MAX_QUEUE', 'pool-max-queue', 'int', 8, 'Batches waiting for a worker before the pool refuses (overloaded) and the pipeline pauses fetching.'),
  k('pool.maxBatchTokens', 'KLASSIFY_POOL_MAX_BATCH_TOKENS', 'pool-max-batch-tokens', 'int', 8192, 'Token budget of one ONNX Runtime call inside a worker (padded length x rows).'),
  // Brand monitoring
  k('brands.file', 'KLASSIFY_BRANDS', 'brands', 'string', undefined, 'Brands file (JSON or YAML, see brands/README.md): each result then lists the brand mentions in its text with the sentiment towards each brand.'),
  k('brands.groupId', 'KLASSIFY_BRANDS_GROUP', 'brands-group', 'string', 'klassify-brands', 'Consumer group of the brand monitor (klassify brands) on the results topic. Run one instance per group.'),
  k('brands.statsTopic', 'KLASSIFY_BRANDS_STATS_TOPIC', 'brands-stats-topic', 'string', 'klassify.brand-stats', 'Compacted topic of per-brand window stats (key brand|window|start).'),
  k('brands.alertsTopic', 'KLASSIFY_BRANDS_ALERTS_TOPIC', 'brands-alerts-topic', 'string', 'klassify.brand-alerts', 'Topic of spike alerts (key: brand), written exactly once (read_committed).'),
  k('brands.stateTopic', 'KLASSIFY_BRANDS_STATE_TOPIC', 'brands-state-topic', 'string', 'klassify.brand-state', 'Compacted topic of the monitor\'s state snapshots (open windows, baselines), committed with its offsets.'),
  k('brands.webhookUrl', 'KLASSIFY_BRANDS_WEBHOOK_URL', 'brands-webhook-url', 'string', undefined, 'POST each alert here as JSON (retries with backoff, 5 s timeout, Idempotency-Key: the alert id).'),
  k('brands.webhookSecret', 'KLASSIFY_BRANDS_WEBHOOK_SECRET', 'brands-webhook-secret', 'string', undefined, 'Signs webhook bodies: x-klassify-signature: sha256=HMAC-SHA256(secret, body). Prefer the environment variable.'),
  // Metrics
  k('metrics.enabled', 'KLASSIFY_METRICS', 'metrics', 'bool', true, 'Serve /metrics, /healthz, /readyz and the dashboard.'),
  k('metrics.host', 'KLASSIFY_METRICS_HOST', 'metrics-host', 'string', '127.0.0.1', 'Address of the metrics server. 0.0.0.0 exposes it to the network (set a token).'),
  k('metrics.port', 'KLASSIFY_METRICS_PORT', 'metrics-port', 'int', 9464, 'Port of the metrics server (0 picks a free one).'),
  k('metrics.token', 'KLASSIFY_METRICS_TOKEN', 'metrics-token', 'string', undefined, 'When set, requests need "Authorization: Bearer <token>".'),
  k('metrics.insecure', 'KLASSIFY_METRICS_INSECURE', 'metrics-insecure', 'bool', false, 'Allow serving on a non-loopback address without a token (only where the network is trusted or restricted).'),
]);
