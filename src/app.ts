// Wiring and lifecycle: the only module that knows every part. Start: brokers → registry → model pool
// (warm) → pipeline (group joined) → metrics server. Stop: the reverse, each step bounded in time.
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../consumers/kafka-client.js';
import { createRegistrySerdes, type RegistrySerdes } from '../consumers/serdes.js';
import type { ResolvedConfig } from './config.js';
import { codeOf, ConfigError, ShutdownTimeoutError } from './errors.js';
import { redactUrl } from './redact.js';
import type { Classifier } from './model/classifier.js';
import { Pipeline } from './pipeline.js';
import { loadBrandMatcher } from '../brands/index.js';
import { resolveBrokers } from './services/brokers.js';
import { candidateFactoryFromConfig, SwappableClassifier } from '../rollout/index.js';
import { requestSwap, watchModelFolder, type SwapSource } from '../rollout/triggers.js';
import type { SwapResult } from '../rollout/events.js';
import { startShadow, type RunningShadow } from './shadow-wiring.js';

/** What becomes of in-flight records the Kafka stage let go, by reason (consumers/kafka-stage.ts). */
const DROPPED_FATE = {
  rebalance: 'left uncommitted, to be redone',
  shutdown: 'left uncommitted, to be redone',
  resync: 'fetched again from the committed offset',
  'already-written': 'already written by another producer of their partition, not written again',
} as const;

/** Pool settings a second model gets apart from the live one's (a shadow: fewer workers, lowest priority). */
export interface PoolTuning {
  workers?: number;
  niceness?: number;
  /** Linux: its threads under SCHED_IDLE once loaded (inference-pool/sched-idle.ts). */
  schedIdle?: boolean;
  taskTimeoutMs?: number;
}

export type ClassifierFactory = (config: ResolvedConfig, tuning?: PoolTuning) => Promise<Classifier>;

/** Something started alongside the pipeline (the metrics server), stopped with it. */
export interface Attachment {
  stop(): Promise<void>;
}

export interface AppOptions {
  config: ResolvedConfig;
  createClassifier: ClassifierFactory;
  /** Attach observers (metrics, dashboard) once everything is wired; called before the group is joined. */
  attach?: (app: App) => Promise<Attachment | undefined>;
  log?: (line: string) => void;
  /** The pipeline cannot go on (see PipelineEventMap.fatal): the caller should stop and exit non-zero. */
  onFatal?: (error: Error) => void;
}

/** One line per key per 10 s, then how many were held back: a flapping stage must not flood the log. */
function rateLimited(log: (line: string) => void): (key: string, line: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key, line) => {
    const now = Date.now();
    const s = last.get(key);
    if (s && now - s.at < 10_000) {
      s.suppressed++;
      return;
    }
    const more = s && s.suppressed > 0 ? ` (and ${s.suppressed} more in the last ${Math.round((now - s.at) / 1000)} s)` : '';
    last.set(key, { at: now, suppressed: 0 });
    log(`${line}${more}`);
  };
}

export class App {
  readonly config: ResolvedConfig;
  readonly brokers: string[];
  readonly embeddedKafka: boolean;
  readonly kafka: Kafka;
  /** The live model, swappable while serving (rollout/). */
  readonly classifier: SwappableClassifier;
  readonly pipeline: Pipeline;
  readonly serdes: RegistrySerdes | undefined;
  #attachment: Attachment | undefined;
  #shadow: RunningShadow | undefined;
  #watch: { close: () => void } | undefined;
  readonly #log: (line: string) => void;
  #stopping: Promise<void> | undefined;
  #fatal: Error | undefined;

  private constructor(parts: {
    config: ResolvedConfig; brokers: string[]; embedded: boolean; kafka: Kafka; classifier: SwappableClassifier; pipeline: Pipeline; serdes: RegistrySerdes | undefined;
    log: (line: string) => void;
  }) {
    this.#log = parts.log;
    this.config = parts.config;
    this.brokers = parts.brokers;
    this.embeddedKafka = parts.embedded;
    this.kafka = parts.kafka;
    this.classifier = parts.classifier;
    this.pipeline = parts.pipeline;
    this.serdes = parts.serdes;
  }

  static async start(options: AppOptions): Promise<App> {
    const { config } = options;
    const log = options.log ?? (() => undefined);
    const p = config.pipeline;
    // The Avro result schema (schemas/classification-result.avsc) has no brands fields: the per-brand
    // results would be dropped without a word, and the monitor reads JSON results.
    if (config.brands.file && p.outputFormat === 'avro') {
      throw new ConfigError('--brands needs JSON results (--output-format json): the Avro result schema has no brands fields, and klassify brands reads JSON');
    }

    const needsRegistry = p.outputFormat === 'avro' || p.inputFormat === 'avro' || p.inputFormat === 'json-schema';
    if (needsRegistry && !config.registry.url) {
      throw new ConfigError('Avro / JSON Schema formats need a Schema Registry: set SCHEMA_REGISTRY_URL (klassify registry up starts a local one)');
    }

    const { brokers, embedded } = await resolveBrokers(config, log);
    const kafka = createKafka(config, brokers);

    let serdes: RegistrySerdes | undefined;
    if (config.registry.url) {
      serdes = await createRegistrySerdes(config.registry.url);
      await registerSchemas(serdes, config);
      log(`schema registry: ${redactUrl(config.registry.url)} (schemas registered)`);
    }

    log(`loading model ${config.model.dir} ...`);
    const classifier = new SwappableClassifier({
      live: await options.createClassifier(config),
      load: candidateFactoryFromConfig(config, options.createClassifier),
      minAgreement: config.model.swapMinAgreement,
    });
    const m = classifier.model;
    log(`model ${m.name} ${m.version} (${m.target}) ready on ${classifier.health().workers} worker(s)`);

    const brands = loadBrandMatcher(config.brands.file, classifier.model.labels);
    if (brands) log(`brands: ${brands.brands.length} from ${config.brands.file}`);
    const pipeline = new Pipeline({ config, kafka, classifier, serdes, brands });
    const app = new App({ config, brokers, embedded, kafka, classifier, pipeline, serdes, log });
    try {
      app.#shadow = await startShadow({ config, create: options.createClassifier, live: classifier, pipeline, kafka, log });
    } catch (err) {
      await classifier.close().catch(() => undefined);
      throw err;
    }
    // Always a listener: an EventEmitter 'error' nobody listens to is thrown, so with metrics off a
    // retried produce failure would have crashed the process.
    const limited = rateLimited(log);
    pipeline.on('error', ({ stage, error }) => limited(stage, `klassify: ${stage}: ${codeOf(error) === 'KLS_ERR_INTERNAL' ? '' : `${codeOf(error)}: `}${error.message}`));
    pipeline.on('dropped', ({ count, reason }) => limited(`dropped:${reason}`, `klassify: ${reason}: ${count} in-flight records ${DROPPED_FATE[reason]}`));
    pipeline.on('settled', ({ partitions }) => log(`klassify: exactly-once: the broker had left a transaction of ${partitions.map((tp) => `${tp.topic}[${tp.partition}]`).join(', ')} open (its markers skipped, KAFKA-20734); committed it before resuming, so it is not written twice`));
    pipeline.on('fatal', ({ error }) => {
      app.#fatal ??= error;
      log(`klassify: ${codeOf(error)}: ${error.message}`);
      options.onFatal?.(error);
    });
    try {
      app.#attachment = await options.attach?.(app);
      await pipeline.start();
      if (config.model.watch) app.#watch = watchModelFolder(config.model.dir, (manifest) => app.#onNewManifest(manifest));
    } catch (err) {
      await app.stop().catch(() => undefined);
      throw err;
    }
    return app;
  }

  /** The shadow model's runner (--shadow-model), until it is promoted or the app stops. */
  get shadow(): RunningShadow | undefined {
    return this.#shadow;
  }

  /**
   * Swaps the live model for the one in `dir` if it passes the gate (rollout/); logs the outcome. With
   * the shadow's folder this is its promotion: accepted, the shadow has nothing left to compare and stops
   * (while the gate runs, three models are loaded: live, shadow and its fresh copy, the candidate).
   */
  async swapModel(dir: string, source: SwapSource): Promise<SwapResult> {
    const result = await requestSwap(this.classifier, dir, source, this.#log);
    const shadow = this.#shadow;
    if (result.accepted && shadow !== undefined && resolve(dir) === shadow.dir) {
      this.#shadow = undefined;
      await shadow.stop();
      this.#log(`klassify: shadow model promoted to live; the shadow stopped`);
    }
    return result;
  }

  /** --model-watch: a new manifest in the model folder. Not now while a swap runs (SIGHUP, HTTP). */
  #onNewManifest(manifest: string): boolean {
    if (this.classifier.swapping) return false;
    let version: unknown;
    try {
      version = (JSON.parse(manifest) as { version?: unknown }).version;
    } catch {
      version = undefined;
    }
    // Already live (a SIGHUP took it first): nothing to do. A manifest that does not parse goes to the
    // swap, which refuses it and says why.
    if (version !== this.classifier.model.version) void this.swapModel(this.config.model.dir, 'watch');
    return true;
  }

  /** Why the app is not ready (/readyz), or an empty list. */
  notReady(): string[] {
    const reasons = this.#fatal ? [`failed: ${this.#fatal.message}`] : [];
    reasons.push(...this.pipeline.notReady());
    if (!this.classifier.health().ready) reasons.push('model not loaded');
    return reasons;
  }

  get ready(): boolean {
    return this.notReady().length === 0;
  }

  /** Graceful stop: drain and commit, leave the group, close the pool; rejects if it takes too long. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#watch?.close();
    const timeoutMs = this.config.pipeline.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ShutdownTimeoutError(`graceful stop took longer than ${timeoutMs} ms (KLASSIFY_SHUTDOWN_TIMEOUT_MS); uncommitted records will be redone`)), timeoutMs);
    });
    try {
      await Promise.race([this.pipeline.stop(), timeout]);
    } finally {
      clearTimeout(timer);
      await this.#shadow?.stop().catch(() => undefined);
      await this.classifier.close().catch(() => undefined);
      await this.#attachment?.stop().catch(() => undefined);
    }
  }
}

async function registerSchemas(serdes: RegistrySerdes, config: ResolvedConfig): Promise<void> {
  // Registering up front surfaces a registry problem at start rather than on the first record, and lets
  // producers serialize with useLatestVersion against the input subject.
  const p = config.pipeline;
  // The input subject belongs to the producers; klassify registers its Avro input schema there only when
  // told the input is Avro (with JSON Schema or auto, a producer's own schema may live there).
  if (p.inputFormat === 'avro') for (const topic of p.inputTopics) await serdes.register(topic, 'input');
  if (p.outputFormat === 'avro') {
    await serdes.register(p.outputTopic, 'result');
    await serdes.register(p.deadLetterTopic, 'deadLetter');
  }
}
