// Where a record's milliseconds go, from the pipeline's own figures: each result carries when klassify
// fetched it, how long it waited for its batch and its batch's round trip through the inference pool;
// the output topic stamps its append time and the input its due time. Per record:
//
//   fetched        receivedAt - input time                 (broker append, fetch wait, decode)
//   batch          timings.queueMs                         (micro-batcher: size / token budget / max wait)
//   pool           timings.inferenceMs                     (waiting for a worker + tokenize + model run)
//   written        append - receivedAt - queueMs - pool    (ordered flush, produce until the broker acked)
//
// They add up to the end-to-end latency exactly. The pool's share is split into waiting for a worker,
// tokenize and model run by the workers' own per-batch means (klassify_tokenize_seconds,
// klassify_model_run_seconds, klassify_inference_seconds). The commit follows the append and is not in this
// latency; its time is in klassify_produce_seconds (one flush: write + commit).
import type { Observed } from './kafka-phases.js';

export interface HistogramTotals {
  sum: number;
  count: number;
}

/** `<name>_sum` and `<name>_count` of every unlabelled histogram in a Prometheus text exposition. */
export function histogramTotals(metrics: string): Map<string, HistogramTotals> {
  const out = new Map<string, HistogramTotals>();
  for (const line of metrics.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)_(sum|count) ([0-9.eE+-]+)$/.exec(line.trim());
    if (!m) continue;
    const [, name, kind, value] = m as unknown as [string, string, 'sum' | 'count', string];
    const t = out.get(name) ?? { sum: 0, count: 0 };
    t[kind] = Number(value);
    out.set(name, t);
  }
  return out;
}

/** Mean (seconds -> ms) of a histogram between two scrapes; 0 when it saw nothing. */
function meanMs(before: Map<string, HistogramTotals>, after: Map<string, HistogramTotals>, name: string): number {
  const a = after.get(name);
  const b = before.get(name) ?? { sum: 0, count: 0 };
  if (!a || a.count <= b.count) return 0;
  return ((a.sum - b.sum) / (a.count - b.count)) * 1000;
}

export interface StageShare {
  stage: string;
  /** Mean over all measured records. */
  meanMs: number;
  share: number;
  /** Mean over the slowest 1% of records (at or above the p99 end-to-end latency). */
  slowestMeanMs: number;
}

export interface LatencyBudget {
  records: number;
  endToEndMeanMs: number;
  stages: StageShare[];
  /** One flush (write + commit), mean ms, from klassify_produce_seconds. */
  flushMeanMs: number;
}

type Timed = Required<Observed['records'][number]> & { ts: number };

export function latencyBudget(records: Observed['records'], before: string, after: string): LatencyBudget {
  const timed = records.filter((r): r is Timed => r.ts !== null && r.timings !== undefined);
  const b = histogramTotals(before);
  const a = histogramTotals(after);
  const pool = meanMs(b, a, 'klassify_inference_seconds');
  const tokenize = meanMs(b, a, 'klassify_tokenize_seconds');
  const run = meanMs(b, a, 'klassify_model_run_seconds');
  // The workers' split of a pool round trip, applied to each record's own round trip.
  const tokShare = pool > 0 ? Math.min(1, tokenize / pool) : 0;
  const runShare = pool > 0 ? Math.min(1 - tokShare, run / pool) : 0;
  const parts = (r: Timed): number[] => {
    const fetched = r.timings.receivedAt - r.ts;
    const inPool = r.timings.inferenceMs;
    const written = r.appended - r.timings.receivedAt - r.timings.queueMs - inPool;
    return [fetched, r.timings.queueMs, inPool * (1 - tokShare - runShare), inPool * tokShare, inPool * runShare, written];
  };
  const names = ['broker append -> fetched', 'queued for a batch', 'waiting for a worker', 'tokenize', 'model run', 'ordered flush + produce until acked'];
  const total = (r: Timed): number => r.appended - r.ts;
  const sorted = [...timed].sort((x, y) => total(x) - total(y));
  const slowest = sorted.slice(Math.max(0, Math.ceil(0.99 * sorted.length) - 1));
  const mean = (rs: readonly Timed[], f: (r: Timed) => number): number => (rs.length === 0 ? 0 : rs.reduce((n, r) => n + f(r), 0) / rs.length);
  const e2e = mean(timed, total);
  return {
    records: timed.length,
    endToEndMeanMs: round(e2e),
    stages: names.map((stage, i) => {
      const m = mean(timed, (r) => parts(r)[i] as number);
      return { stage, meanMs: round(m), share: e2e > 0 ? round(m / e2e, 3) : 0, slowestMeanMs: round(mean(slowest, (r) => parts(r)[i] as number)) };
    }),
    flushMeanMs: round(meanMs(b, a, 'klassify_produce_seconds')),
  };
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
