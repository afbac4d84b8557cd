// The brand monitor's processing: results (with their `brands` field) in; per brand and window, stats
// (count, labels, net sentiment, share of voice) and spike alerts out. Pure over records and a clock: the
// Kafka side (consumers/state-stream.ts) feeds it batches and commits what it returns, with its snapshot,
// in one transaction, so a restart resumes from the exact state the last transaction left.
import type { OutMessage } from '../consumers/messages.js';
import type { StateProcessor, StreamRecord } from '../consumers/state-stream.js';
import type { BrandsConfig } from './config.js';
import type { Label } from './mentions.js';
import { SpikeDetector, type SpikeAlert } from './spikes.js';
import { WindowAggregator, type ClosedWindow } from './windows.js';

export interface MonitorTopics {
  stats: string;
  alerts: string;
}

/** One stats record: a brand in one closed window (key `brand|size|start`, so the compacted topic keeps the latest). */
export interface BrandStatsRecord {
  brand: string;
  size: string;
  start: number;
  end: number;
  count: number;
  labels: Record<Label, number>;
  netSentiment: number | null;
  shareOfVoice: number | null;
  samplePostIds: Record<Label, readonly string[]>;
  /** Model versions that produced the window's results (a hot swap shows as two). */
  models: string[];
}

/** A sample post of an alert: its id, the label towards the brand, and the words (the mention's context). */
export interface SamplePost {
  id: string;
  label: Label | null;
  /** The result's `context` for this brand; null for a result without one (written before contexts existed). */
  text: string | null;
}

/** What the alerts topic, the webhook and the page get: the detector's alert with its sample posts' texts. */
export interface BrandAlert extends SpikeAlert {
  samplePosts: SamplePost[];
}

export interface MonitorEvents {
  onStats?(records: readonly BrandStatsRecord[]): void;
  onAlerts?(alerts: readonly BrandAlert[]): void;
  onRecord?(r: { brand: string; label: Label }): void;
  onSkipped?(reason: string): void;
}

interface Snapshot {
  version: 1;
  windows: unknown;
  spikes: unknown;
  /** Alerts written to the alerts topic but not yet delivered to the webhook. */
  pending: BrandAlert[];
  /** Texts of the posts open windows keep as samples, by `brand|postId` (absent in older snapshots). */
  texts?: Record<string, { label: Label; text: string }>;
  partitionTime: Record<string, number>;
  /** Model versions per open window start (1m windows), for the stats' `models`. */
  models: Record<string, string[]>;
}

const LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

/** How far behind the clock event time may be for an idle stream to close its windows by the clock (5 min). */
const IDLE_CLOSE_MAX_MS = 5 * 60_000;

/** A partition silent this long stops holding the watermark back (10 s). */
const IDLE_PARTITION_MS = 10_000;

export class BrandMonitor implements StateProcessor {
  readonly #config: BrandsConfig;
  readonly #topics: MonitorTopics;
  readonly #events: MonitorEvents;
  readonly #clock: () => number;
  readonly #latenessMs: number;
  #windows: WindowAggregator;
  #spikes: SpikeDetector;
  #models = new Map<string, Set<string>>();
  #pending: BrandAlert[] = [];
  /** Sample posts' texts, kept only while an open 1-minute window names them (pruned as windows close). */
  #texts = new Map<string, { label: Label; text: string }>();
  /** Largest event time seen per input partition; the watermark is their minimum over the assigned ones (Flink's rule). */
  #partitionTime = new Map<number, number>();
  #assigned: readonly number[] = [];
  #assignedAt = 0;
  /** Clock time each partition last delivered a record: a quiet partition must not hold the watermark back for ever. */
  readonly #partitionSeenAt = new Map<number, number>();
  readonly #delivering = new Set<string>();
  readonly #deliver: ((alert: BrandAlert) => Promise<boolean>) | undefined;

  constructor(
    config: BrandsConfig,
    topics: MonitorTopics,
    options: { events?: MonitorEvents; clock?: () => number; allowedLatenessMs?: number; deliver?: (alert: BrandAlert) => Promise<boolean> } = {},
  ) {
    this.#deliver = options.deliver;
    this.#config = config;
    this.#topics = topics;
    this.#events = options.events ?? {};
    this.#clock = options.clock ?? Date.now;
    this.#latenessMs = options.allowedLatenessMs ?? 30_000;
    this.#windows = this.#newWindows();
    this.#spikes = this.#newSpikes();
  }

  #newWindows(state?: unknown): WindowAggregator {
    const options = { brands: this.#config.brands.map((b) => b.name), allowedLatenessMs: this.#latenessMs, watermark: 'external' as const };
    return state === undefined ? new WindowAggregator(options) : WindowAggregator.fromJSON(state, options);
  }

  #newSpikes(state?: unknown): SpikeDetector {
    const options = { sensitivity: Object.fromEntries(this.#config.brands.map((b) => [b.name, b.sensitivity])) };
    return state === undefined ? new SpikeDetector(options) : SpikeDetector.fromJSON(state, options);
  }

  restore(snapshot: string | undefined): void {
    // No snapshot: a first start, or a rollback to before the first commit: a fresh state either way.
    const s: Snapshot = snapshot === undefined ? { version: 1, windows: undefined, spikes: undefined, models: {}, pending: [], partitionTime: {} } : (JSON.parse(snapshot) as Snapshot);
    this.#windows = this.#newWindows(s.windows);
    this.#spikes = this.#newSpikes(s.spikes);
    this.#models = new Map(Object.entries(s.models).map(([k, v]) => [k, new Set(v)]));
    this.#pending = s.pending ?? [];
    this.#texts = new Map(Object.entries(s.texts ?? {}));
    this.#partitionTime = new Map(Object.entries(s.partitionTime ?? {}).map(([p, t]) => [Number(p), t]));
    // Restored partitions count as just seen: each gets the idle time to deliver again before it is passed over.
    for (const p of this.#partitionTime.keys()) this.#partitionSeenAt.set(p, this.#clock());
    // Alerts committed before the crash but not confirmed delivered: send them again (same idempotency key).
    this.#sendPending();
  }

  /** The transaction holding new alerts committed: only now may the webhook hear of them. */
  committed(): void {
    this.#sendPending();
  }

  #sendPending(): void {
    const deliver = this.#deliver;
    if (!deliver) return;
    for (const alert of this.#pending) {
      if (this.#delivering.has(alert.id)) continue;
      this.#delivering.add(alert.id);
      void deliver(alert).then((ok) => {
        this.#delivering.delete(alert.id);
        // Dropped from the next snapshot; a crash before then sends it once more, which the key dedupes.
        if (ok) this.#pending = this.#pending.filter((a) => a.id !== alert.id);
      });
    }
  }

  snapshot(): string {
    const s: Snapshot = {
      version: 1,
      windows: this.#windows.toJSON(),
      spikes: this.#spikes.toJSON(),
      models: Object.fromEntries([...this.#models].map(([k, v]) => [k, [...v]])),
      pending: this.#deliver ? this.#pending : [],
      partitionTime: Object.fromEntries(this.#partitionTime),
      texts: Object.fromEntries(this.#texts),
    };
    return JSON.stringify(s);
  }

  process(records: readonly StreamRecord[]): OutMessage[] {
    const closed: ClosedWindow[] = [];
    for (const r of records) {
      const result = parseResult(r);
      if (typeof result === 'string') {
        this.#events.onSkipped?.(result);
        continue;
      }
      // A brand named twice in one post is one mention of it in that post.
      const seen = new Set<string>();
      for (const m of result.brands) {
        if (seen.has(m.brand)) continue;
        seen.add(m.brand);
        const add = this.#windows.add({ postId: result.id, brand: m.brand, label: m.label, eventTime: result.ts });
        if (add.sampled.includes('1m') && m.context !== undefined) this.#texts.set(`${m.brand}|${result.id}`, { label: m.label, text: m.context });
        if (add.accepted.length > 0) {
          this.#events.onRecord?.({ brand: m.brand, label: m.label });
          if (result.model) this.#noteModel(result.ts, result.model);
        }
      }
      this.#partitionTime.set(r.partition, Math.max(this.#partitionTime.get(r.partition) ?? result.ts, result.ts));
      this.#partitionSeenAt.set(r.partition, this.#clock());
    }
    const low = this.#lowWatermark();
    if (low !== undefined) closed.push(...this.#windows.advanceWatermark(low));
    return this.#emit(closed);
  }

  assigned(partitions: readonly number[]): void {
    this.#assigned = [...partitions];
    this.#assignedAt = this.#clock();
  }

  /**
   * The event time every active assigned partition has reached. A partition that delivered nothing for
   * IDLE_PARTITION_MS (or never, that long after the assignment) is idle and left out, as Flink's
   * withIdleness does; undefined while a partition could still bring older records.
   */
  #lowWatermark(): number | undefined {
    const now = this.#clock();
    const parts = this.#assigned.length > 0 ? this.#assigned : [...this.#partitionTime.keys()];
    let low = Number.POSITIVE_INFINITY;
    for (const p of parts) {
      const t = this.#partitionTime.get(p);
      const seen = this.#partitionSeenAt.get(p) ?? (t === undefined ? this.#assignedAt : 0);
      if (now - seen >= IDLE_PARTITION_MS) continue;
      if (t === undefined) return undefined;
      low = Math.min(low, t);
    }
    return Number.isFinite(low) ? low : undefined;
  }

  /**
   * Idle input: a live stream that went quiet (event time within IDLE_CLOSE_MAX_MS of the clock) takes
   * the clock as its event time, so its last windows close instead of waiting for traffic. A replay of old
   * results is left to event time alone: closing by the clock would close windows its next records belong to.
   */
  tick(): OutMessage[] {
    const wm = Math.max(...this.#partitionTime.values());
    const now = this.#clock();
    if (!Number.isFinite(wm) || now <= wm || now - wm > IDLE_CLOSE_MAX_MS) return [];
    return this.#emit(this.#windows.advanceWatermark(now));
  }

  #noteModel(ts: number, model: string): void {
    const key = String(Math.floor(ts / 60_000) * 60_000);
    let set = this.#models.get(key);
    if (!set) this.#models.set(key, (set = new Set()));
    set.add(model);
  }

  #modelsOf(w: ClosedWindow): string[] {
    const out = new Set<string>();
    for (const [k, v] of this.#models) {
      const t = Number(k);
      if (t >= w.start && t < w.end) for (const m of v) out.add(m);
    }
    // 1 h windows close last: what they cover is no longer needed.
    if (w.size === '1h') for (const k of [...this.#models.keys()]) if (Number(k) < w.end) this.#models.delete(k);
    return [...out].sort();
  }

  #emit(closed: readonly ClosedWindow[]): OutMessage[] {
    if (closed.length === 0) return [];
    const stats: BrandStatsRecord[] = [];
    const alerts: BrandAlert[] = [];
    for (const w of closed) {
      const models = this.#modelsOf(w);
      for (const [brand, s] of Object.entries(w.brands)) {
        stats.push({
          brand, size: w.size, start: w.start, end: w.end, count: s.count, labels: { ...s.labels },
          netSentiment: s.netSentiment, shareOfVoice: s.shareOfVoice,
          samplePostIds: { negative: [...s.samplePostIds.negative], neutral: [...s.samplePostIds.neutral], positive: [...s.samplePostIds.positive] },
          models,
        });
      }
      alerts.push(...this.#spikes.observe(w).map((a) => this.#withTexts(a)));
    }
    // The closed windows' samples are written (with the alerts that quote them): keep only what open ones
    // name. Only 1-minute samples keep their words: an hour's 15 per brand would make the snapshot, written
    // with every transaction, ~10x larger at 1,000 brands (2.5 MB of JSON); 1-hour alerts quote the ids.
    const open = this.#windows.openSamples('1m');
    for (const k of this.#texts.keys()) if (!open.has(k)) this.#texts.delete(k);
    if (this.#deliver) this.#pending.push(...alerts);
    this.#events.onStats?.(stats);
    if (alerts.length > 0) this.#events.onAlerts?.(alerts);
    return [
      ...stats.map((s) => ({ topic: this.#topics.stats, key: `${s.brand}|${s.size}|${s.start}`, value: JSON.stringify(s) })),
      ...alerts.map((a) => ({ topic: this.#topics.alerts, key: a.brand, value: JSON.stringify(a), headers: { 'klassify.alert.id': a.id } })),
    ];
  }

  #withTexts(a: SpikeAlert): BrandAlert {
    return { ...a, samplePosts: a.samplePostIds.map((id) => {
      const t = this.#texts.get(`${a.brand}|${id}`);
      return { id, label: t?.label ?? null, text: t?.text ?? null };
    }) };
  }
}

interface ParsedResult {
  id: string;
  ts: number;
  model: string | undefined;
  brands: { brand: string; label: Label; context: string | undefined }[];
}

/** A results-topic record, or why it is skipped (not JSON, no brands field: the pipeline ran without --brands). */
function parseResult(r: StreamRecord): ParsedResult | string {
  if (r.value === null) return 'empty record';
  let o: unknown;
  try {
    o = JSON.parse(r.value.toString('utf8'));
  } catch {
    return 'not JSON (the monitor reads JSON results)';
  }
  const v = o as { id?: unknown; ts?: unknown; brands?: unknown; model?: { version?: unknown } };
  if (!Array.isArray(v.brands)) return 'no "brands" field (run klassify start with --brands)';
  const ts = typeof v.ts === 'number' && Number.isFinite(v.ts) ? v.ts : Number(r.timestamp);
  const brands = v.brands.flatMap((b: { brand?: unknown; label?: unknown; context?: unknown }) =>
    typeof b.brand === 'string' && LABELS.includes(b.label as Label) ? [{ brand: b.brand, label: b.label as Label, context: typeof b.context === 'string' ? b.context : undefined }] : []);
  return { id: typeof v.id === 'string' ? v.id : `${r.partition}-${r.offset}`, ts, model: typeof v.model?.version === 'string' ? v.model.version : undefined, brands };
}
