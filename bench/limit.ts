// The bench's "limit": the best in-process configuration of the model on this machine's cores, measured
// in the same round as what is compared with it. One session with every core as intra-op threads is not
// always the best (its threads wait for each other at every op, worse when a shared core is preempted);
// N one-thread sessions side by side is what the pool does without threads or messages. Each layout runs
// at several batch sizes (length-sorted calls, the pool's tokenization inside), and the best one is the
// limit of that round.
import type { ModelRunner } from '../inference-pool/model-runner.js';
import type { LoadedModel } from '../src/model/manifest.js';
import { loadBenchRunner } from './pool.js';

export interface LimitLayout {
  sessions: number;
  threads: number;
}

export interface LimitMeasure extends LimitLayout {
  name: string;
  batchSize: number;
  textsPerSec: number;
}

/** The layouts worth trying on `cores` cores: one wide session, one session per core, and between. */
export function limitLayouts(cores: number): LimitLayout[] {
  const out: LimitLayout[] = [{ sessions: 1, threads: cores }];
  for (let threads = Math.floor(cores / 2); threads >= 1; threads = Math.floor(threads / 2)) {
    if (cores % threads === 0) out.push({ sessions: cores / threads, threads });
  }
  return out.filter((l, i) => out.findIndex((o) => o.sessions === l.sessions && o.threads === l.threads) === i);
}

export function layoutName(l: LimitLayout, batchSize: number): string {
  return `${l.sessions} session${l.sessions > 1 ? 's' : ''} x ${l.threads} thread${l.threads > 1 ? 's' : ''}, B=${batchSize}`;
}

/** The best measure (highest texts/s). */
export function bestOf(measures: readonly LimitMeasure[]): LimitMeasure {
  const best = measures.reduce<LimitMeasure | undefined>((a, b) => (a === undefined || b.textsPerSec > a.textsPerSec ? b : a), undefined);
  if (best === undefined) throw new Error('no limit configuration was measured');
  return best;
}

/** Runners of every layout, loaded once for the whole bench. */
export class LimitRunners {
  private constructor(private readonly layouts: { layout: LimitLayout; runners: ModelRunner[] }[]) {}

  static async load(model: LoadedModel, cores: number): Promise<LimitRunners> {
    const layouts: { layout: LimitLayout; runners: ModelRunner[] }[] = [];
    for (const layout of limitLayouts(cores)) {
      const runners: ModelRunner[] = [];
      for (let i = 0; i < layout.sessions; i++) runners.push((await loadBenchRunner(model, model.modelPath, layout.threads)).runner);
      layouts.push({ layout, runners });
    }
    return new LimitRunners(layouts);
  }

  /** One round: every layout at every batch size over the same texts. */
  async measure(texts: readonly string[], batchSizes: readonly number[]): Promise<LimitMeasure[]> {
    const out: LimitMeasure[] = [];
    for (const { layout, runners } of this.layouts) {
      for (const batchSize of batchSizes) {
        out.push({ ...layout, name: layoutName(layout, batchSize), batchSize, textsPerSec: Math.round(await rate(runners, texts, batchSize)) });
      }
    }
    return out;
  }

  async release(): Promise<void> {
    for (const { runners } of this.layouts) for (const r of runners) await r.release();
  }
}

/** Texts per second with each runner pulling the next batch as it finishes (onnxruntime-node runs off the JS thread). */
async function rate(runners: readonly ModelRunner[], texts: readonly string[], batchSize: number): Promise<number> {
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize));
  // Warm this shape on every session.
  await Promise.all(runners.map((r) => r.classify(batches[0] ?? [])));
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    runners.map(async (r) => {
      while (next < batches.length) await r.classify(batches[next++] as string[]);
    }),
  );
  return texts.length / ((performance.now() - t0) / 1000);
}
