// A steady synthetic stream for brands/spikes.ts: Poisson mention counts per brand and minute, each mention
// negative with a fixed probability, through the real WindowAggregator and SpikeDetector. The unit tests
// use simulate() to check detection and false alerts; run this file to print the false-alert rates that
// brands/README.md quotes:  npm run build && node dist/bench/brands-spikes.js
import { fileURLToPath } from 'node:url';
import type { Sensitivity } from '../brands/config.js';
import type { Label } from '../brands/mentions.js';
import { SpikeDetector, type SpikeAlert } from '../brands/spikes.js';
import { WindowAggregator } from '../brands/windows.js';
import { prng } from '../src/produce/generator.js';

export interface SimBrand {
  readonly name: string;
  /** Mean mentions per minute. */
  readonly rate: number;
  /** Probability that a mention is negative. */
  readonly negative: number;
}

export interface SimOptions {
  readonly brands: readonly SimBrand[];
  readonly windows: number;
  readonly seed?: number;
  readonly sensitivity?: Sensitivity;
  /** Changes a brand's rate and negative share for window w (spike injection). */
  readonly override?: (brand: SimBrand, w: number) => SimBrand;
}

/** Knuth's method: fine for the rates here (exp(-rate) stays far from underflow below ~700). */
export function poisson(rand: () => number, rate: number): number {
  const limit = Math.exp(-rate);
  let k = 0;
  let p = rand();
  while (p > limit) {
    k++;
    p *= rand();
  }
  return k;
}

export function simulate(options: SimOptions): SpikeAlert[] {
  const rand = prng(options.seed ?? 1);
  const windows = new WindowAggregator({ brands: options.brands.map((b) => b.name), sizes: ['1m'] });
  const detector = new SpikeDetector({ defaultSensitivity: options.sensitivity ?? 'medium' });
  const alerts: SpikeAlert[] = [];
  let id = 0;
  for (let w = 0; w < options.windows; w++) {
    const records: { brand: string; label: Label; eventTime: number; postId: string }[] = [];
    for (const base of options.brands) {
      const b = options.override?.(base, w) ?? base;
      const n = poisson(rand, b.rate);
      for (let i = 0; i < n; i++) {
        const r = rand();
        const label: Label = r < b.negative ? 'negative' : r < b.negative + (1 - b.negative) / 2 ? 'neutral' : 'positive';
        records.push({ brand: b.name, label, eventTime: w * 60_000 + Math.floor(rand() * 60_000), postId: `p-${++id}` });
      }
    }
    records.sort((a, b) => a.eventTime - b.eventTime);
    for (const r of records) for (const closed of windows.add(r).closed) alerts.push(...detector.observe(closed));
  }
  for (const closed of windows.advanceWatermark(options.windows * 60_000 + 60_000)) alerts.push(...detector.observe(closed));
  return alerts;
}

export const kSteadyBrands: readonly SimBrand[] = [
  { name: 'tiny', rate: 3, negative: 0.2 },
  { name: 'small', rate: 8, negative: 0.2 },
  { name: 'medium', rate: 20, negative: 0.2 },
  { name: 'large', rate: 50, negative: 0.3 },
  { name: 'huge', rate: 120, negative: 0.1 },
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const windows = 2000;
  const lines = ['| sensitivity | brand-windows | volume alerts | negative-share alerts | false alerts per brand-window |', '|---|---|---|---|---|'];
  for (const sensitivity of ['low', 'medium', 'high'] as const) {
    let v = 0;
    let n = 0;
    for (const seed of [1, 2, 3]) {
      const alerts = simulate({ brands: kSteadyBrands, windows, seed, sensitivity });
      v += alerts.filter((a) => a.kind === 'volume').length;
      n += alerts.filter((a) => a.kind === 'negative_share').length;
    }
    const total = 3 * windows * kSteadyBrands.length;
    lines.push(`| ${sensitivity} | ${total} | ${v} | ${n} | ${((v + n) / total).toFixed(5)} |`);
  }
  // Detection: an 8x volume minute, and the negative share going to 0.8 (from 0.2; 0.3 for `large`), at window
  // 150 for one brand; detected = alerted in window 150 or 151. 20 seeds per cell.
  const detect = ['', '| sensitivity | brand (rate) | 8x volume minute detected | negative share → 0.8 detected |', '|---|---|---|---|'];
  for (const sensitivity of ['low', 'medium', 'high'] as const) {
    for (const name of ['small', 'medium', 'large']) {
      let vol = 0;
      let neg = 0;
      for (let seed = 100; seed < 120; seed++) {
        const hit = (kind: string, alerts: SpikeAlert[]): boolean => alerts.some((a) => a.brand === name && a.kind === kind && a.window.start >= 150 * 60_000 && a.window.start <= 151 * 60_000);
        if (hit('volume', simulate({ brands: kSteadyBrands, windows: 160, seed, sensitivity, override: (b, w) => (b.name === name && w === 150 ? { ...b, rate: b.rate * 8 } : b) }))) vol++;
        if (hit('negative_share', simulate({ brands: kSteadyBrands, windows: 160, seed, sensitivity, override: (b, w) => (b.name === name && w >= 150 ? { ...b, negative: 0.8 } : b) }))) neg++;
      }
      const rate = kSteadyBrands.find((b) => b.name === name)?.rate ?? 0;
      detect.push(`| ${sensitivity} | ${name} (${rate}/min) | ${vol}/20 | ${neg}/20 |`);
    }
  }
  lines.push(`(3 seeds × ${windows} one-minute windows × brands at ${kSteadyBrands.map((b) => `${b.rate}/min`).join(', ')})`, ...detect, '(detected: alerted in the injected window or the next; 20 seeds per row)');
  process.stdout.write(`${lines.join('\n')}\n`);
}
