// A short latency/throughput comparison of source and compiled model, for the report and the manifest.
//
// Deliberately small (a few seconds in all): batch sizes 1, 8, 32 at 16, 32 and 64 tokens, each timed for
// a fixed budget after one warm-up call, median of the calls. It answers "how much faster is the compiled
// model on this machine"; bench/ measures the whole pipeline. Source and compiled calls alternate, so a
// burst of load from another process (this machine is shared) hits both instead of skewing the ratio.
import type { ModelManifest } from '../model/manifest.js';
import type { ModelRunner, PaddedBatch } from './runner.js';

export type BenchRow = NonNullable<ModelManifest['benchmark']>['rows'][number];

export interface BenchOptions {
  batchSizes: readonly number[];
  seqLens: readonly number[];
  /** Time spent timing each model per cell, after the warm-up (ms; both models: twice this). */
  budgetMs: number;
  minRuns: number;
  maxRuns: number;
}

export const DEFAULT_BENCH: BenchOptions = Object.freeze({ batchSizes: [1, 8, 32], seqLens: [16, 32, 64], budgetMs: 120, minRuns: 3, maxRuns: 40 });

/**
 * Builds a [batch, seq] batch of real token ids: `sample` is one tokenized text (special tokens at both
 * ends) at least `seq` long; every row keeps its first seq-1 tokens and its closing special token.
 */
export function syntheticBatch(sample: readonly number[], batch: number, seq: number): PaddedBatch {
  const row = [...sample.slice(0, seq - 1), sample[sample.length - 1] as number];
  const ids = new BigInt64Array(batch * seq);
  for (let r = 0; r < batch; r++) row.forEach((id, c) => (ids[r * seq + c] = BigInt(id)));
  return { rows: batch, cols: seq, ids, mask: new BigInt64Array(batch * seq).fill(1n), types: new BigInt64Array(batch * seq) };
}

/** Median ms per call of each runner, calls alternating A B A B... after one warm-up call each. */
async function timePair(a: ModelRunner, b: ModelRunner, batch: PaddedBatch, options: BenchOptions): Promise<[number, number]> {
  await a.run(batch); // warm-up: first-call allocations and kernel selection
  await b.run(batch);
  const ta: number[] = [];
  const tb: number[] = [];
  const start = performance.now();
  while (ta.length < options.maxRuns && (ta.length < options.minRuns || performance.now() - start < 2 * options.budgetMs)) {
    let t0 = performance.now();
    await a.run(batch);
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b.run(batch);
    tb.push(performance.now() - t0);
  }
  return [median(ta), median(tb)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export async function benchmark(
  source: ModelRunner,
  compiled: ModelRunner,
  sample: readonly number[],
  options: BenchOptions = DEFAULT_BENCH,
  onCell?: (done: number, total: number) => void,
): Promise<BenchRow[]> {
  const seqLens = options.seqLens.filter((s) => s <= sample.length);
  const total = seqLens.length * options.batchSizes.length;
  const rows: BenchRow[] = [];
  for (const seqLen of seqLens) {
    for (const batchSize of options.batchSizes) {
      const batch = syntheticBatch(sample, batchSize, seqLen);
      const [sourceMs, compiledMs] = await timePair(source, compiled, batch, options);
      rows.push({
        batchSize,
        seqLen,
        sourceMs: round(sourceMs, 3),
        compiledMs: round(compiledMs, 3),
        sourceTextsPerSec: round((batchSize * 1000) / sourceMs, 1),
        compiledTextsPerSec: round((batchSize * 1000) / compiledMs, 1),
        speedup: round(sourceMs / compiledMs, 2),
      });
      onCell?.(rows.length, total);
    }
  }
  return rows;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
