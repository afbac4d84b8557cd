// Activation smoothing before int8 quantization (SmoothQuant, Xiao et al. 2022, arXiv:2211.10438).
//
// DynamicQuantizeMatMul quantizes its activation input with ONE scale for the whole tensor. Transformer
// encoders have a few "outlier" channels: in MiniLM the input of the feed-forward layers has one channel
// ~15x larger than the median one, so a single scale leaves the other channels a handful of int8 steps.
// (activation-prep.ts has the measured effect, together with per-token scaling.)
//
// The fix is exact in real arithmetic: A·W = (A·diag(1/s))·(diag(s)·W). With s_k = amax_k^α / wmax_k^(1-α)
// (amax from calibration texts, wmax the weight row's max), α = 0.5 moves half of each channel's range
// from the activation into the weight, where per-column weight scales absorb it. It costs one elementwise
// Mul per activation tensor (shared by e.g. the Q, K and V projections), about 0.1-0.3% of the MatMul work.
import type { NodePlan } from './int8-plan.js';

export interface SmoothingOptions {
  /** Per-channel max |activation| by tensor name (see calibrate.ts). */
  ranges: ReadonlyMap<string, Float32Array>;
  /** Migration strength: 0 = none, 1 = all range into the weights. Default 0.5. */
  alpha?: number;
}

// Keeps a dead or enormous channel from producing a degenerate factor.
const MIN_FACTOR = 1e-3;
const MAX_FACTOR = 1e3;

/**
 * Per-channel factors s for each activation the plans read, computed over every weight reading it (they
 * share one scaled activation). Activations without calibration data, or whose channel count does not
 * match the weights' K, are left out (not smoothed).
 */
export function smoothingFactors(plans: readonly NodePlan[], options: SmoothingOptions): Map<string, Float32Array> {
  const alpha = options.alpha ?? 0.5;
  const groups = new Map<string, NodePlan[]>();
  for (const p of plans) groups.set(p.activation, [...(groups.get(p.activation) ?? []), p]);
  const factors = new Map<string, Float32Array>();
  for (const [activation, group] of groups) {
    const amax = options.ranges.get(activation);
    const k = group[0]?.k ?? 0;
    if (!amax || amax.length !== k || group.some((p) => p.k !== k)) continue;
    const wmax = new Float32Array(k);
    for (const p of group) {
      for (let row = 0; row < k; row++) {
        for (let col = 0; col < p.n; col++) {
          const v = Math.abs(p.kn[row * p.n + col] as number);
          if (v > (wmax[row] as number)) wmax[row] = v;
        }
      }
    }
    const s = new Float32Array(k);
    for (let row = 0; row < k; row++) {
      const a = amax[row] as number;
      const w = wmax[row] as number;
      const f = a > 0 && w > 0 ? a ** alpha / w ** (1 - alpha) : 1;
      s[row] = Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, f));
    }
    factors.set(activation, s);
  }
  return factors;
}

/** diag(s)·W: row k of a row-major [K, N] weight times s_k (returns a new array). */
export function scaleRows(kn: Float32Array, k: number, n: number, s: Float32Array): Float32Array {
  const out = new Float32Array(kn.length);
  for (let row = 0; row < k; row++) {
    const f = s[row] as number;
    for (let col = 0; col < n; col++) out[row * n + col] = (kn[row * n + col] as number) * f;
  }
  return out;
}
