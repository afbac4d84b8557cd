// Inference pool benchmark, a piece of the `npm run bench` harness: benchPool() returns plain JSON.
//
//   limit  one in-thread model runner (the worker's own code, inference-pool/model-runner.ts) with one
//          ORT session using every core (intraOpNumThreads = cores), fed the same 64-text batches, each
//          tokenized, sorted by length and cut by the same token budget: the best the hardware does
//          without threads or messages.
//   pool   InferencePool, one worker per core with one ORT thread each, the same batches kept in flight.
//   target pool >= 95 % of the limit; dispatch overhead < 0.2 ms per task (no-op round trip). Also
//          reported: worker time lost between tasks while saturated, per task (includes the pool's
//          thread competing with the workers for cores, when workers = cores).
//   linear the same runner with one ORT thread, times the cores: perfect scaling of one core. Worth having
//          where cores are shared, since a session's intra-op threads wait for each other whenever one is
//          preempted, which makes the limit look worse than the hardware is.
// The three run alternately, three rounds by default, and medians are reported, so that drift in a
// shared machine's load hits all of them alike. Tokenization is inside every figure (the limit tokenizes
// on one thread; the pool on every worker).
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-node';
import { InferencePool, type BatchEvent } from '../inference-pool/index.js';
import { ModelRunner } from '../inference-pool/model-runner.js';
import { sessionOptionsFor } from '../inference-pool/session-options.js';
import { threadCpus } from '../inference-pool/thread-affinity.js';
import { BUILTIN_EVAL_TEXTS } from '../src/compile/builtin-texts.js';
import { loadManifest, type LoadedModel } from '../src/model/manifest.js';

export interface PoolBenchOptions {
  modelDir: string;
  /** Texts per phase; default 2000 (the built-in evaluation texts, shuffled, repeated). */
  texts?: readonly string[];
  /** Texts per classify() call, as the pipeline's micro-batcher sends them. Default 64. */
  batchSize?: number;
  maxBatchTokens?: number;
  /** Rounds of (limit, pool). Default 3. */
  rounds?: number;
  /** No-op round trips for the dispatch figure. Default 500. */
  pings?: number;
}

export interface PoolBenchResult {
  model: { name: string; version: string; target: string };
  cores: number;
  workers: number;
  texts: number;
  batchSize: number;
  maxBatchTokens: number;
  limitTextsPerSec: number;
  poolTextsPerSec: number;
  /** pool / limit; the target is >= 0.95. */
  ratio: number;
  /** The same runner with one ORT thread, times the cores: perfect scaling of one core. */
  linearTextsPerSec: number;
  /** pool / linear: how much of perfect scaling the pool keeps. */
  ratioToLinear: number;
  dispatch: {
    /** A no-op task through the queue to a worker and back, one at a time. */
    noopRoundTripMs: { p50: number; p90: number; mean: number };
    /** Saturated pool: worker time not spent in tasks, per task ((wall x workers - sum of task times) / tasks). */
    idlePerTaskMs: number;
    /** Share of worker time spent in tasks while saturated. */
    utilization: number;
  };
  /** One text of median length alone through the pool, 200 times: the latency floor. */
  single: { chars: number; p50Ms: number; p90Ms: number };
  padding: { realTokens: number; paddedTokens: number; paddedTo128Tokens: number };
  memory: { perWorkerMb: number; rssMb: number };
  targets: { withinFivePercent: boolean; dispatchUnderPoint2Ms: boolean };
  note: string;
}

export async function benchPool(options: PoolBenchOptions): Promise<PoolBenchResult> {
  const model = loadManifest(options.modelDir);
  const cores = threadCpus()?.length ?? availableParallelism();
  const batchSize = options.batchSize ?? 64;
  const maxBatchTokens = options.maxBatchTokens ?? 8192;
  const rounds = options.rounds ?? 3;
  const texts = options.texts ?? defaultTexts(2000);
  const batches: string[][] = [];
  for (let at = 0; at < texts.length; at += batchSize) batches.push(texts.slice(at, at + batchSize));

  const { manifest } = model;
  const runner = (threads: number): ReturnType<typeof ModelRunner.load> => loadBenchRunner(model, model.modelPath, threads, maxBatchTokens);
  const limit = await runner(cores);
  const oneThread = await runner(1);
  const pool = await InferencePool.start({ modelDir: options.modelDir, workers: cores, threadsPerWorker: 1, maxBatchTokens, maxQueue: 2 * cores });
  const events: BatchEvent[] = [];
  pool.on('batch', (e) => events.push(e));
  try {
    const limitRates: number[] = [];
    const oneRates: number[] = [];
    const poolRates: number[] = [];
    const idle: number[] = [];
    const utilization: number[] = [];
    let padding = { realTokens: 0, paddedTokens: 0, paddedTo128Tokens: 0 };
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      padding = { realTokens: 0, paddedTokens: 0, paddedTo128Tokens: 0 };
      for (const batch of batches) {
        const reply = await limit.runner.classify(batch);
        padding.realTokens += reply.timings.tokens;
        padding.paddedTokens += reply.timings.paddedTokens;
        padding.paddedTo128Tokens += batch.length * manifest.maxLength;
      }
      limitRates.push(texts.length / ((performance.now() - t0) / 1000));

      t0 = performance.now();
      for (const batch of batches) await oneThread.runner.classify(batch);
      oneRates.push(texts.length / ((performance.now() - t0) / 1000));

      events.length = 0;
      t0 = performance.now();
      await classifyAll(pool, batches, 2 * cores);
      const wallMs = performance.now() - t0;
      poolRates.push(texts.length / (wallMs / 1000));
      const taskMs = events.reduce((sum, e) => sum + e.workerMs, 0);
      idle.push((wallMs * cores - taskMs) / events.length);
      utilization.push(taskMs / (wallMs * cores));
    }

    const pings: number[] = [];
    for (let i = 0; i < (options.pings ?? 500); i++) pings.push(await pool.ping());
    pings.sort((a, b) => a - b);
    // The latency floor: one text of median length alone through the pool (queue, tokenize, run, reply).
    const oneText = [...texts].sort((a, b) => a.length - b.length)[Math.floor(texts.length / 2)] ?? '';
    const singles: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await pool.classify([oneText]);
      singles.push(performance.now() - t0);
    }
    singles.sort((a, b) => a - b);

    const limitTextsPerSec = median(limitRates);
    const poolTextsPerSec = median(poolRates);
    const linearTextsPerSec = median(oneRates) * cores;
    const noop = { p50: round(pings[Math.floor(pings.length / 2)] ?? 0, 3), p90: round(pings[Math.floor(pings.length * 0.9)] ?? 0, 3), mean: round(mean(pings), 3) };
    const idlePerTaskMs = round(median(idle), 3);
    const mem = pool.memory();
    return {
      model: { name: manifest.name, version: manifest.version, target: manifest.target },
      cores,
      workers: cores,
      texts: texts.length,
      batchSize,
      maxBatchTokens,
      limitTextsPerSec: Math.round(limitTextsPerSec),
      poolTextsPerSec: Math.round(poolTextsPerSec),
      ratio: round(poolTextsPerSec / limitTextsPerSec, 3),
      linearTextsPerSec: Math.round(linearTextsPerSec),
      ratioToLinear: round(poolTextsPerSec / linearTextsPerSec, 3),
      dispatch: { noopRoundTripMs: noop, idlePerTaskMs, utilization: round(median(utilization), 3) },
      single: { chars: oneText.length, p50Ms: round(singles[100] ?? 0, 2), p90Ms: round(singles[180] ?? 0, 2) },
      padding,
      memory: { perWorkerMb: Math.round(mem.perWorkerBytes / 2 ** 20), rssMb: Math.round(mem.rssBytes / 2 ** 20) },
      targets: { withinFivePercent: poolTextsPerSec >= 0.95 * limitTextsPerSec, dispatchUnderPoint2Ms: noop.p50 < 0.2 },
      note: `medians of ${rounds} alternating rounds; ${cores} cores as seen by this process, which may share them with other work`,
    };
  } finally {
    await pool.close();
    await limit.runner.release();
    await oneThread.runner.release();
  }
}

/** Classifies every batch with `inFlight` calls outstanding, as the pipeline and the CLI do. */
async function classifyAll(pool: InferencePool, batches: readonly string[][], inFlight: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) await pool.classify(batches[next++] as string[]);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

/** The built-in evaluation texts (varied lengths), shuffled deterministically and repeated to `n`. */
function defaultTexts(n: number): string[] {
  let s = 12345;
  const out: string[] = [];
  while (out.length < n) {
    const pass = [...BUILTIN_EVAL_TEXTS];
    for (let i = pass.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) % 2147483648;
      const j = s % (i + 1);
      [pass[i], pass[j]] = [pass[j] as string, pass[i] as string];
    }
    out.push(...pass);
  }
  return out.slice(0, n);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * A ModelRunner on this thread, outside any pool (no pinning, normal priority): the session-level figures.
 * `session`: ONNX Runtime options on top of a worker's (op-profile.ts turns the profiler on).
 */
export function loadBenchRunner(model: LoadedModel, modelPath: string, threads: number, maxBatchTokens = 8192, session: InferenceSession.SessionOptions = {}): ReturnType<typeof ModelRunner.load> {
  const { manifest } = model;
  return ModelRunner.load({
    kind: 'init',
    slot: -1,
    model: { modelPath, tokenizerPath: model.tokenizerPath, labels: manifest.labels, maxLength: manifest.maxLength, inputs: manifest.inputs, output: manifest.output },
    session: { ...sessionOptionsFor({ manifest, threadsPerWorker: threads, pinning: undefined, gpu: undefined, oversubscribed: false, logSeverityLevel: 3 }), ...session },
    gpu: undefined,
    pinning: undefined,
    maxBatchTokens,
    maxRowsPerCall: 1024,
    niceness: 0,
    schedIdle: false,
  });
}
