// Spike detection per brand on closed windows (windows.ts), each brand against its own history.
//
// Method: robust z-score. The baseline of a brand is the median of its last `history` windows of the same
// size (default 30), its spread 1.4826 × MAD (the MAD scaled to a normal's standard deviation). Median and MAD
// ignore the spikes in the history that a mean and standard deviation would chase. Count data are lumpy, so
// the scale has a floor: for volume, the Poisson standard deviation sqrt(max(median, 1)); for negative
// share, the binomial standard deviation sqrt(p(1 − p) / n) of the observed window, and at least 0.02.
//
//   volume          z = (count − median count) / scale
//   negative_share  z = (negative/count − median share) / scale, for windows with count ≥ minVolume, and
//                   the share must also rise by at least minShareRise (a jump from 0.01 to 0.05 is no crisis)
//
// An alert needs z ≥ the preset's threshold, count ≥ minVolume, at least `minHistory` windows of history
// (default 10), and no alert of the same kind for that brand and window size in the last `cooldownWindows`
// windows (default 5). Its id (brand, kind, size, window start) is deterministic: the same window gives
// the same id after a restart or a redelivery, so it can serve as an idempotency key downstream.
import { z } from 'zod';
import type { Sensitivity } from './config.js';
import { kWindowSizes, type ClosedWindow, type WindowSize } from './windows.js';

export interface SpikePreset {
  /** Robust z-score an observation must reach. */
  readonly zVolume: number;
  readonly zNegative: number;
  /** Fewest mentions in the window for any alert. */
  readonly minVolume: number;
  /** Smallest rise of the negative share over its baseline (absolute, 0..1). */
  readonly minShareRise: number;
}

export const kSensitivityPresets: Readonly<Record<Sensitivity, SpikePreset>> = Object.freeze({
  low: { zVolume: 6, zNegative: 5, minVolume: 20, minShareRise: 0.25 },
  medium: { zVolume: 4.5, zNegative: 4, minVolume: 10, minShareRise: 0.2 },
  high: { zVolume: 3.5, zNegative: 3.5, minVolume: 5, minShareRise: 0.15 },
});

export interface SpikeOptions {
  /** Windows of history per brand and size. Default 30. */
  readonly history?: number;
  /** Windows of history needed before any alert. Default 10. */
  readonly minHistory?: number;
  /** After an alert, no alert of the same kind for the brand within this many windows. Default 5. */
  readonly cooldownWindows?: number;
  /** Preset per brand (BrandSpec.sensitivity); brands not listed use `defaultSensitivity`. */
  readonly sensitivity?: Readonly<Record<string, Sensitivity>>;
  readonly defaultSensitivity?: Sensitivity;
}

export type AlertKind = 'volume' | 'negative_share';

export interface SpikeAlert {
  /** `${brand}|${kind}|${size}|${window.start}`: stable across restarts and redeliveries. */
  readonly id: string;
  readonly brand: string;
  readonly kind: AlertKind;
  readonly window: { readonly start: number; readonly end: number; readonly size: WindowSize };
  /** Count (volume) or negative share (negative_share) in the window, and the baseline (median). */
  readonly observed: number;
  readonly expected: number;
  /** The robust z-score. */
  readonly score: number;
  readonly sensitivity: Sensitivity;
  readonly samplePostIds: readonly string[];
}

const seriesSchema = z.object({
  counts: z.array(z.number()),
  shares: z.array(z.number()),
  lastAlert: z.object({ volume: z.number().nullable(), negative_share: z.number().nullable() }),
  /** Start of the last window observed: a window replayed after a restore is ignored, not counted twice. */
  lastStart: z.number().nullable(),
});
const stateSchema = z.object({ version: z.literal(1), series: z.record(z.string(), seriesSchema) });
export type SpikeState = z.infer<typeof stateSchema>;
type Series = z.infer<typeof seriesSchema>;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median absolute deviation around `m`. */
export function mad(xs: readonly number[], m = median(xs)): number {
  return median(xs.map((x) => Math.abs(x - m)));
}

export class SpikeDetector {
  readonly #history: number;
  readonly #minHistory: number;
  readonly #cooldown: number;
  readonly #sensitivity: Readonly<Record<string, Sensitivity>>;
  readonly #default: Sensitivity;
  readonly #series = new Map<string, Series>();

  constructor(options: SpikeOptions = {}, state?: SpikeState) {
    this.#history = options.history ?? 30;
    this.#minHistory = options.minHistory ?? 10;
    this.#cooldown = options.cooldownWindows ?? 5;
    this.#sensitivity = options.sensitivity ?? {};
    this.#default = options.defaultSensitivity ?? 'medium';
    if (!Number.isInteger(this.#history) || this.#history < 3) throw new RangeError('history must be an integer >= 3');
    if (!Number.isInteger(this.#minHistory) || this.#minHistory < 1 || this.#minHistory > this.#history) throw new RangeError('minHistory must be an integer in 1..history');
    if (!Number.isInteger(this.#cooldown) || this.#cooldown < 0) throw new RangeError('cooldownWindows must be a non-negative integer');
    if (state !== undefined) for (const [k, v] of Object.entries(stateSchema.parse(state).series)) this.#series.set(k, structuredClone(v));
  }

  static fromJSON(state: unknown, options: SpikeOptions = {}): SpikeDetector {
    return new SpikeDetector(options, stateSchema.parse(state));
  }

  /**
   * Feeds one closed window (all brands); returns its alerts. Windows of one size must come in order; one
   * at or before the last seen (a replay after restoring state) is ignored.
   */
  observe(window: ClosedWindow): SpikeAlert[] {
    const alerts: SpikeAlert[] = [];
    const ms = kWindowSizes[window.size];
    for (const [brand, stats] of Object.entries(window.brands)) {
      const key = `${window.size}|${brand}`;
      let s = this.#series.get(key);
      if (s === undefined) this.#series.set(key, (s = { counts: [], shares: [], lastAlert: { volume: null, negative_share: null }, lastStart: null }));
      if (s.lastStart !== null && window.start <= s.lastStart) continue;
      s.lastStart = window.start;
      const sensitivity = this.#sensitivity[brand] ?? this.#default;
      const preset = kSensitivityPresets[sensitivity];
      const cooled = (kind: AlertKind): boolean => {
        const last = s.lastAlert[kind];
        return last === null || window.start - last >= this.#cooldown * ms;
      };
      const alert = (kind: AlertKind, observed: number, expected: number, score: number, samplePostIds: readonly string[]): void => {
        alerts.push({ id: `${brand}|${kind}|${window.size}|${window.start}`, brand, kind, window: { start: window.start, end: window.end, size: window.size }, observed, expected, score, sensitivity, samplePostIds });
        s.lastAlert[kind] = window.start;
      };

      const count = stats.count;
      if (s.counts.length >= this.#minHistory && count >= preset.minVolume && cooled('volume')) {
        const m = median(s.counts);
        const scale = Math.max(1.4826 * mad(s.counts, m), Math.sqrt(Math.max(m, 1)));
        const zv = (count - m) / scale;
        if (zv >= preset.zVolume) alert('volume', count, m, zv, [...stats.samplePostIds.negative, ...stats.samplePostIds.neutral, ...stats.samplePostIds.positive].slice(0, 10));
      }
      const share = count === 0 ? null : stats.labels.negative / count;
      if (share !== null && s.shares.length >= this.#minHistory && count >= preset.minVolume && cooled('negative_share')) {
        const m = median(s.shares);
        const scale = Math.max(1.4826 * mad(s.shares, m), Math.sqrt((m * (1 - m)) / count), 0.02);
        const zn = (share - m) / scale;
        if (zn >= preset.zNegative && share - m >= preset.minShareRise) alert('negative_share', share, m, zn, stats.samplePostIds.negative);
      }

      s.counts.push(count);
      if (s.counts.length > this.#history) s.counts.shift();
      // Shares of near-empty windows are noise (1 negative of 1 is a share of 1.0); they stay out of the baseline.
      if (share !== null && count >= Math.max(3, Math.ceil(preset.minVolume / 2))) {
        s.shares.push(share);
        if (s.shares.length > this.#history) s.shares.shift();
      }
    }
    return alerts;
  }

  toJSON(): SpikeState {
    return { version: 1, series: Object.fromEntries([...this.#series].map(([k, v]) => [k, structuredClone(v)])) };
  }
}
