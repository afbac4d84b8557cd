// The pool's options, validated once at the edge (piscina's habit): a wrong type or range is a TypeError
// or RangeError naming the option; a setting that users choose (core sets, GPUs, token budget vs the
// model) is a ConfigError naming the knob. Everything inside the pool takes ResolvedPoolOptions.
import { availableParallelism } from 'node:os';
import type { ResolvedConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { loadManifest, type LoadedModel } from '../src/model/manifest.js';
import { assertCudaProviderInstalled } from './cuda.js';
import { planPinning, type WorkerPinning } from './pinning.js';
import { threadCpus } from './thread-affinity.js';

export interface PoolOptions {
  /** Compiled model folder (manifest.json, model.onnx, tokenizer.json). */
  modelDir: string;
  /** Worker threads, each with its own session. Default: one per GPU with `gpus`, else one per core. */
  workers?: number;
  /** ONNX Runtime intra-op threads per worker. Default 1. */
  threadsPerWorker?: number;
  /** Core set per worker ("0-1", "0+2"), one per worker; empty: no pinning. */
  cpuSets?: readonly string[];
  /** GPU ids, one worker each with the CUDA provider. */
  gpus?: readonly number[];
  /** Tasks waiting for a worker before classify() refuses with PoolOverloadedError. Default 8. */
  maxQueue?: number;
  /** Padded tokens (rows x longest) of one session.run. Default 8192. */
  maxBatchTokens?: number;
  /** Most rows in one session.run (TEI's max_batch_requests). Default 1024: the token budget binds first. */
  maxRowsPerCall?: number;
  /** Larger classify() calls are split into tasks of this many texts, spread over the workers. Default 256. */
  maxTaskTexts?: number;
  /** A task running longer than this terminates its worker and is retried (a stuck worker). Default 60 s. */
  taskTimeoutMs?: number;
  /** How long close() lets queued and running tasks finish before failing them. Default 30 s. */
  closeTimeoutMs?: number;
  /** ONNX Runtime log severity: 0 verbose … 4 fatal. Default 3 (errors). */
  ortLogLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Scheduling niceness of the worker threads and their ONNX Runtime threads, 0 (normal) … 19 (only what
   * normal threads leave). Default 0. A shadow model's pool runs at 19 so it takes spare CPU only
   * (Linux: niceness is per thread, set before the session creates its threads, which inherit it).
   */
  niceness?: number;
  /**
   * Run the workers and their ONNX Runtime threads under SCHED_IDLE once loaded (Linux): only on CPU time
   * nothing else wants. Default false; a shadow model's pool sets it (inference-pool/sched-idle.ts).
   */
  schedIdle?: boolean;
}

export interface ResolvedPoolOptions {
  readonly model: LoadedModel;
  readonly workers: number;
  readonly threadsPerWorker: number;
  readonly gpus: readonly number[];
  /** Per worker, when core sets were given. */
  readonly pinning: readonly WorkerPinning[] | undefined;
  readonly maxQueue: number;
  readonly maxBatchTokens: number;
  readonly maxRowsPerCall: number;
  readonly maxTaskTexts: number;
  readonly taskTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly ortLogLevel: 0 | 1 | 2 | 3 | 4;
  readonly niceness: number;
  readonly schedIdle: boolean;
  /** More ORT threads than CPUs available. */
  readonly oversubscribed: boolean;
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`options.${name} must be a positive integer, got ${String(value)}`);
  if (value < 1) throw new RangeError(`options.${name} must be a positive integer, got ${value}`);
  return value;
}

export function resolvePoolOptions(options: PoolOptions): ResolvedPoolOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (typeof options.modelDir !== 'string' || options.modelDir === '') throw new TypeError('options.modelDir must be a non-empty string');
  const gpus = [...(options.gpus ?? [])];
  for (const g of gpus) if (!Number.isInteger(g) || g < 0) throw new RangeError(`options.gpus must hold GPU ids (integers >= 0), got ${String(g)}`);
  if (new Set(gpus).size !== gpus.length) throw new ConfigError(`--gpus (KLASSIFY_GPUS) lists a GPU twice: ${gpus.join(',')}`);
  const cpuSets = [...(options.cpuSets ?? [])];
  for (const s of cpuSets) if (typeof s !== 'string') throw new TypeError('options.cpuSets must hold strings');

  const allowed = threadCpus();
  const cores = allowed?.length ?? availableParallelism();
  const workers = positiveInt('workers', options.workers, gpus.length > 0 ? gpus.length : cores);
  if (gpus.length > 0 && workers !== gpus.length) {
    throw new ConfigError(`--gpus (KLASSIFY_GPUS) runs one worker per GPU: ${gpus.length} GPU(s) but ${workers} worker(s) asked for`);
  }
  const threadsPerWorker = positiveInt('threadsPerWorker', options.threadsPerWorker, 1);
  const maxBatchTokens = positiveInt('maxBatchTokens', options.maxBatchTokens, 8192);
  const ortLogLevel = options.ortLogLevel ?? 3;
  if (![0, 1, 2, 3, 4].includes(ortLogLevel)) throw new RangeError(`options.ortLogLevel must be 0..4, got ${String(ortLogLevel)}`);
  const niceness = options.niceness ?? 0;
  if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19) throw new RangeError(`options.niceness must be an integer 0..19, got ${String(niceness)}`);

  const model = loadManifest(options.modelDir);
  const { manifest } = model;
  if (maxBatchTokens < manifest.maxLength) {
    throw new ConfigError(
      `--pool-max-batch-tokens (KLASSIFY_POOL_MAX_BATCH_TOKENS) is ${maxBatchTokens}, below the model's max length ${manifest.maxLength}: one full-length text would not fit in a call`,
    );
  }
  if (gpus.length > 0) {
    // The environment first: without the provider no model choice helps.
    assertCudaProviderInstalled(gpus);
    if (manifest.executionProvider !== 'cuda') {
      throw new ConfigError(`--gpus needs a model compiled for CUDA (target cuda-fp16); ${model.dir} is ${manifest.target}`);
    }
  } else if (manifest.executionProvider === 'cuda') {
    throw new ConfigError(`${model.dir} is compiled for ${manifest.target}: run it with --gpus, or compile a cpu or cpu-int8 target`);
  }

  return Object.freeze({
    model,
    workers,
    threadsPerWorker,
    gpus: Object.freeze(gpus),
    pinning: planPinning(cpuSets, workers, threadsPerWorker, allowed),
    maxQueue: positiveInt('maxQueue', options.maxQueue, 8),
    maxBatchTokens,
    maxRowsPerCall: positiveInt('maxRowsPerCall', options.maxRowsPerCall, 1024),
    maxTaskTexts: positiveInt('maxTaskTexts', options.maxTaskTexts, 256),
    taskTimeoutMs: positiveInt('taskTimeoutMs', options.taskTimeoutMs, 60_000),
    closeTimeoutMs: positiveInt('closeTimeoutMs', options.closeTimeoutMs, 30_000),
    ortLogLevel,
    niceness,
    schedIdle: options.schedIdle === true,
    oversubscribed: gpus.length === 0 && workers * threadsPerWorker > cores,
  });
}

/** The pool options of the pipeline's configuration (src/config.ts knobs model.* and pool.*). */
export function poolOptionsFromConfig(config: ResolvedConfig): PoolOptions {
  const { pool } = config;
  return {
    modelDir: config.model.dir,
    // With GPUs the worker count follows them; the default --workers (one per core) does not apply.
    workers: pool.gpus.length > 0 ? pool.gpus.length : pool.workers,
    threadsPerWorker: pool.threadsPerWorker,
    cpuSets: pool.cpuSets,
    gpus: pool.gpus,
    maxQueue: pool.maxQueue,
    maxBatchTokens: pool.maxBatchTokens,
  };
}
