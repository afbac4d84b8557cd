// Windowed aggregation of brand mentions by event time: per brand and tumbling window (1 min and 1 h),
// mention count, label counts, net sentiment and share of voice. Pure and clock-free: time comes from the
// records (event time) and, for idle streams, from advanceWatermark(clock()). State is plain JSON so the
// pipeline can snapshot it (e.g. with its offset commits) and rebuild it after a restart.
//
// Lateness, as in the Dataflow/Flink model: the watermark is the largest event time seen so far. A window
// [start, end) closes once the watermark reaches end + allowedLatenessMs; a record for a window that has
// already closed is late and dropped (counted in `lateDropped`), one for an open window is added even if it
// is behind the watermark. Closed windows are emitted in order and without gaps (empty windows too: a
// minute with no mentions is a data point for spike baselines).
import { z } from 'zod';
import type { Label } from './mentions.js';

export const kWindowSizes = { '1m': 60_000, '1h': 3_600_000 } as const;
export type WindowSize = keyof typeof kWindowSizes;

/** One brand in one post, with the label towards that brand (mentions.ts / brandSentiments). */
export interface BrandRecord {
  readonly postId: string;
  readonly brand: string;
  readonly label: Label;
  /** Epoch ms: the post's event time. */
  readonly eventTime: number;
}

export interface WindowOptions {
  /** The configured brands: share of voice is among these; records for other brands are rejected. */
  readonly brands: readonly string[];
  /** How long after a window's end records are still accepted (ms). Default 30 000 (30 s). */
  readonly allowedLatenessMs?: number;
  readonly sizes?: readonly WindowSize[];
  /** Post ids kept per brand, window and label, for alert samples. Default 5. */
  readonly maxSamples?: number;
  /** A watermark jump wider than this many windows skips the empty ones between (bad clock). Default 10 000. */
  readonly maxGapWindows?: number;
  /**
   * 'record' (default): each record's event time moves the watermark. 'external': only advanceWatermark()
   * does, e.g. the minimum over input partitions, as Flink does, so one partition running ahead of another
   * does not make the other's records late.
   */
  readonly watermark?: 'record' | 'external';
}

export interface BrandWindowStats {
  readonly count: number;
  readonly labels: Readonly<Record<Label, number>>;
  /** (positive − negative) / count; null when count is 0. */
  readonly netSentiment: number | null;
  /** count / all configured brands' counts in the window; null when the window is empty. */
  readonly shareOfVoice: number | null;
  readonly samplePostIds: Readonly<Record<Label, readonly string[]>>;
}

export interface ClosedWindow {
  readonly size: WindowSize;
  readonly start: number;
  readonly end: number;
  /** Brand mentions of all configured brands (a post naming two brands counts for each). */
  readonly total: number;
  readonly brands: Readonly<Record<string, BrandWindowStats>>;
}

export interface AddResult {
  /** Sizes whose window took the record, and sizes for which it was late. */
  readonly accepted: readonly WindowSize[];
  readonly late: readonly WindowSize[];
  /** Sizes whose window kept the record's post id as one of its samples. */
  readonly sampled: readonly WindowSize[];
  readonly unknownBrand: boolean;
  /** Windows the record's event time closed. */
  readonly closed: readonly ClosedWindow[];
}

const labelCounts = z.object({ negative: z.number(), neutral: z.number(), positive: z.number() });
const samples = z.object({ negative: z.array(z.string()), neutral: z.array(z.string()), positive: z.array(z.string()) });
const cell = z.object({ labels: labelCounts, samples });
const stateSchema = z.object({
  version: z.literal(1),
  watermark: z.number().nullable(),
  lateDropped: z.number(),
  sizes: z.record(z.string(), z.object({ nextStart: z.number().nullable(), open: z.record(z.string(), z.record(z.string(), cell)) })),
});
export type WindowState = z.infer<typeof stateSchema>;
type Cell = z.infer<typeof cell>;

export class WindowAggregator {
  readonly #brands: readonly string[];
  readonly #known: ReadonlySet<string>;
  readonly #lateness: number;
  readonly #sizes: readonly WindowSize[];
  readonly #maxSamples: number;
  readonly #maxGap: number;
  #watermark: number | null = null;
  #lateDropped = 0;
  readonly #external: boolean;
  // Per size: start of the oldest window not yet closed (null before the first record), and open windows
  // by start, each a map brand → counts.
  readonly #nextStart = new Map<WindowSize, number | null>();
  readonly #open = new Map<WindowSize, Map<number, Map<string, Cell>>>();

  constructor(options: WindowOptions, state?: WindowState) {
    this.#brands = [...options.brands];
    this.#known = new Set(options.brands);
    this.#lateness = options.allowedLatenessMs ?? 30_000;
    this.#sizes = options.sizes ?? ['1m', '1h'];
    this.#maxSamples = options.maxSamples ?? 5;
    this.#maxGap = options.maxGapWindows ?? 10_000;
    this.#external = options.watermark === 'external';
    if (!Number.isFinite(this.#lateness) || this.#lateness < 0) throw new RangeError('allowedLatenessMs must be a non-negative number');
    for (const size of this.#sizes) {
      if (!(size in kWindowSizes)) throw new RangeError(`unknown window size ${String(size)}`);
      this.#nextStart.set(size, null);
      this.#open.set(size, new Map());
    }
    if (state !== undefined) this.#restore(stateSchema.parse(state));
  }

  /** Rebuilds an aggregator from toJSON() output (after a restart). */
  static fromJSON(state: unknown, options: WindowOptions): WindowAggregator {
    return new WindowAggregator(options, stateSchema.parse(state));
  }

  get watermark(): number | null {
    return this.#watermark;
  }

  get lateDropped(): number {
    return this.#lateDropped;
  }

  add(record: BrandRecord): AddResult {
    if (!Number.isFinite(record.eventTime)) throw new RangeError(`record ${record.postId}: eventTime must be a finite epoch-ms number, got ${String(record.eventTime)}`);
    if (!this.#known.has(record.brand)) return { accepted: [], late: [], sampled: [], unknownBrand: true, closed: [] };
    const accepted: WindowSize[] = [];
    const late: WindowSize[] = [];
    const sampled: WindowSize[] = [];
    for (const size of this.#sizes) {
      const ms = kWindowSizes[size];
      const start = Math.floor(record.eventTime / ms) * ms;
      const next = this.#nextStart.get(size) ?? null;
      if (next === null || start < next) {
        // A window before the oldest open one is late only if it has closed by now (end + lateness reached);
        // else it opens, and emission runs from it (a record behind the first one seen is not late).
        if (next !== null && this.#watermark !== null && start + ms + this.#lateness <= this.#watermark) {
          late.push(size);
          continue;
        }
        this.#nextStart.set(size, start);
      }
      const open = this.#open.get(size) as Map<number, Map<string, Cell>>;
      let window = open.get(start);
      if (window === undefined) open.set(start, (window = new Map()));
      let c = window.get(record.brand);
      if (c === undefined) window.set(record.brand, (c = { labels: { negative: 0, neutral: 0, positive: 0 }, samples: { negative: [], neutral: [], positive: [] } }));
      c.labels[record.label]++;
      if (c.samples[record.label].length < this.#maxSamples) {
        c.samples[record.label].push(record.postId);
        sampled.push(size);
      }
      accepted.push(size);
    }
    if (late.length > 0) this.#lateDropped++;
    const closed = this.#external ? [] : this.advanceWatermark(record.eventTime);
    return { accepted, late, sampled, unknownBrand: false, closed };
  }

  /** Every (brand, post id) an open window of `size` keeps as a sample, as `brand|postId`: what a closing window may still name. */
  openSamples(size: WindowSize): Set<string> {
    const out = new Set<string>();
    const windows = this.#open.get(size);
    if (windows !== undefined) {
      for (const cells of windows.values()) {
        for (const [brand, c] of cells) for (const ids of Object.values(c.samples)) for (const id of ids) out.add(`${brand}|${id}`);
      }
    }
    return out;
  }

  /**
   * Moves the watermark forward (never back) and returns the windows that closed, oldest first, 1 min before
   * 1 h at equal end. Call it with an injected clock's time (minus the expected delivery delay) so windows
   * close while the stream is idle.
   */
  advanceWatermark(time: number): ClosedWindow[] {
    if (this.#watermark !== null && time <= this.#watermark) return [];
    this.#watermark = time;
    const closed: ClosedWindow[] = [];
    for (const size of this.#sizes) {
      const ms = kWindowSizes[size];
      let next = this.#nextStart.get(size) ?? null;
      if (next === null) continue;
      const open = this.#open.get(size) as Map<number, Map<string, Cell>>;
      if ((time - this.#lateness - next) / ms > this.#maxGap) {
        // Emit what is open, skip the empty stretch: a bogus future timestamp must not emit millions of windows.
        for (const start of [...open.keys()].sort((a, b) => a - b)) if (start + ms + this.#lateness <= time) closed.push(this.#close(size, start));
        next = Math.floor((time - this.#lateness) / ms) * ms; // the first window that cannot close yet
      }
      while (next + ms + this.#lateness <= time) {
        closed.push(this.#close(size, next));
        next += ms;
      }
      this.#nextStart.set(size, next);
    }
    return closed.sort((a, b) => a.end - b.end || kWindowSizes[a.size] - kWindowSizes[b.size]);
  }

  #close(size: WindowSize, start: number): ClosedWindow {
    const open = this.#open.get(size) as Map<number, Map<string, Cell>>;
    const cells = open.get(start) ?? new Map<string, Cell>();
    open.delete(start);
    const counts = new Map(this.#brands.map((b) => [b, cells.get(b)]));
    let total = 0;
    for (const c of counts.values()) if (c !== undefined) total += c.labels.negative + c.labels.neutral + c.labels.positive;
    const brands: Record<string, BrandWindowStats> = {};
    for (const [brand, c] of counts) {
      const labels = c?.labels ?? { negative: 0, neutral: 0, positive: 0 };
      const count = labels.negative + labels.neutral + labels.positive;
      brands[brand] = {
        count,
        labels: { ...labels },
        netSentiment: count === 0 ? null : (labels.positive - labels.negative) / count,
        shareOfVoice: total === 0 ? null : count / total,
        samplePostIds: { negative: [...(c?.samples.negative ?? [])], neutral: [...(c?.samples.neutral ?? [])], positive: [...(c?.samples.positive ?? [])] },
      };
    }
    return { size, start, end: start + kWindowSizes[size], total, brands };
  }

  /** Plain-JSON state; `new WindowAggregator(options, state)` or fromJSON() continues exactly where this left off. */
  toJSON(): WindowState {
    const sizes: WindowState['sizes'] = {};
    for (const size of this.#sizes) {
      const open: Record<string, Record<string, Cell>> = {};
      for (const [start, cells] of this.#open.get(size) as Map<number, Map<string, Cell>>) {
        open[String(start)] = Object.fromEntries([...cells].map(([b, c]) => [b, structuredClone(c)]));
      }
      sizes[size] = { nextStart: this.#nextStart.get(size) ?? null, open };
    }
    return { version: 1, watermark: this.#watermark, lateDropped: this.#lateDropped, sizes };
  }

  #restore(state: WindowState): void {
    this.#watermark = state.watermark;
    this.#lateDropped = state.lateDropped;
    for (const size of this.#sizes) {
      const s = state.sizes[size];
      if (s === undefined) continue;
      this.#nextStart.set(size, s.nextStart);
      const open = new Map<number, Map<string, Cell>>();
      for (const [start, cells] of Object.entries(s.open)) open.set(Number(start), new Map(Object.entries(cells).map(([b, c]) => [b, structuredClone(c)])));
      this.#open.set(size, open);
    }
  }
}

