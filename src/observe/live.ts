// The live view behind the dashboard: once a second, what happened in the last second (rates, latency
// percentiles, batch sizes, labels) plus sampled state (workers, lag). Fed by the same pipeline events
// as the Prometheus metrics; pushed to browsers over Server-Sent Events.
import type { Classifier } from '../model/classifier.js';
import type { Pipeline } from '../pipeline.js';
import type { GroupLag } from './lag.js';
import type { ShadowRunner } from '../../rollout/shadow.js';

type ShadowReport = ReturnType<ShadowRunner['report']>;

/** The shadow model's window figures as the dashboard shows them (null without a shadow). */
export interface ShadowView {
  model: { name: string; version: string };
  sample: number;
  compared: number;
  agreement: number | null;
  perClass: { label: string; texts: number; agreement: number }[];
  labels: readonly string[];
  confusion: number[][];
  confidence: { live: number | null; shadow: number | null };
  p99Ms: { live: number | null; shadow: number | null };
  errors: { live: number; shadow: number };
  shed: number;
}

function shadowView(r: ShadowReport): ShadowView {
  const a = r.agreement;
  return {
    model: { name: r.models.shadow.name, version: r.models.shadow.version },
    sample: r.sample,
    compared: a.compared,
    agreement: a.compared > 0 ? a.agreement : null,
    perClass: a.perClass.map((c) => ({ label: c.label, texts: c.texts, agreement: c.agreement })),
    labels: a.labels,
    confusion: a.confusion,
    confidence: { live: r.live.meanConfidence, shadow: r.shadow.meanConfidence },
    p99Ms: { live: r.live.latencyMs?.p99 ?? null, shadow: r.shadow.latencyMs?.p99 ?? null },
    errors: { live: r.live.errors, shadow: r.shadow.errors },
    shed: Object.values(r.counts.shed).reduce((n, x) => n + x, 0),
  };
}

export interface LiveSnapshot {
  at: number;
  /** Records per second over the last interval. */
  inPerSec: number;
  outPerSec: number;
  deadLettersPerSec: number;
  /** End-to-end latency percentiles over the last interval (ms); null when nothing was written. */
  latencyMs: { p50: number; p95: number; p99: number; max: number } | null;
  batch: { count: number; meanSize: number; maxSize: number };
  workers: { count: number; busyRatio: number; queued: number };
  inFlight: number;
  labels: Record<string, number>;
  deadLetterCodes: Record<string, number>;
  lag: { status: string; totalRecords: number; maxSeconds: number; partitions: { key: string; records: number; seconds: number | null }[] } | null;
  model: { name: string; version: string; target: string };
  totals: { in: number; out: number; deadLetters: number };
  shadow: ShadowView | null;
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

export class LiveStats {
  #in = 0;
  #out = 0;
  #dead = 0;
  #latencies: number[] = [];
  #batches: number[] = [];
  #labels: Record<string, number> = {};
  #codes: Record<string, number> = {};
  #lag: GroupLag | undefined;
  #last = Date.now();
  readonly #totals = { in: 0, out: 0, deadLetters: 0 };

  constructor(
    private readonly pipeline: Pipeline,
    private readonly classifier: Classifier,
    private readonly outputTopic: string,
    /** The shadow model's report now, when one runs (it stops once promoted). */
    private readonly shadow: () => ShadowReport | undefined = () => undefined,
  ) {
    pipeline.on('records_in', (e) => (this.#in += e.count));
    pipeline.on('dead_letter', (e) => {
      this.#dead++;
      this.#codes[e.code] = (this.#codes[e.code] ?? 0) + 1;
    });
    pipeline.on('flushed', (e) => (this.#out += e.byTopic.get(outputTopic) ?? 0));
    pipeline.on('latency', (e) => {
      // Bounded: at most the last 50k samples of an interval are kept for the percentiles.
      for (const ms of e.endToEndMs) if (this.#latencies.length < 50_000) this.#latencies.push(ms);
    });
    pipeline.on('batch', (e) => {
      this.#batches.push(e.size);
      for (const l of e.labels) this.#labels[l] = (this.#labels[l] ?? 0) + 1;
    });
  }

  setLag(lag: GroupLag): void {
    this.#lag = lag;
  }

  /** Takes the interval's figures and starts a new interval. */
  take(): LiveSnapshot {
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.#last) / 1000);
    this.#last = now;
    const lat = this.#latencies.sort((a, b) => a - b);
    const h = this.classifier.health();
    const m = this.classifier.model;
    this.#totals.in += this.#in;
    this.#totals.out += this.#out;
    this.#totals.deadLetters += this.#dead;
    const snap: LiveSnapshot = {
      at: now,
      inPerSec: this.#in / secs,
      outPerSec: this.#out / secs,
      deadLettersPerSec: this.#dead / secs,
      latencyMs: lat.length ? { p50: percentile(lat, 0.5), p95: percentile(lat, 0.95), p99: percentile(lat, 0.99), max: lat[lat.length - 1] as number } : null,
      batch: {
        count: this.#batches.length,
        meanSize: this.#batches.length ? this.#batches.reduce((a, b) => a + b, 0) / this.#batches.length : 0,
        maxSize: this.#batches.reduce((a, b) => Math.max(a, b), 0),
      },
      workers: { count: h.workers, busyRatio: h.busyRatio, queued: h.queued },
      inFlight: this.pipeline.inFlight,
      labels: this.#labels,
      deadLetterCodes: this.#codes,
      lag: this.#lag
        ? {
            status: this.#lag.status,
            totalRecords: this.#lag.totalLag,
            maxSeconds: this.#lag.maxLagSeconds,
            partitions: this.#lag.partitions.filter((p) => p.partition >= 0).map((p) => ({ key: `${p.topic}[${p.partition}]`, records: p.lag, seconds: p.lagSeconds })),
          }
        : null,
      model: { name: m.name, version: m.version, target: m.target },
      totals: { ...this.#totals },
      shadow: ((r) => (r ? shadowView(r) : null))(this.shadow()),
    };
    this.#in = 0;
    this.#out = 0;
    this.#dead = 0;
    this.#latencies = [];
    this.#batches = [];
    this.#labels = {};
    this.#codes = {};
    return snap;
  }
}
