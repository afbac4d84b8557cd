// The cpu-int8 recipe: which activations get per-token scaling and which get smoothing, and what 'auto'
// picks for them. targets.ts applies it; quantize-int8.ts and activation-prep.ts do the rewriting.
import type { NodePlan } from './int8-plan.js';
import { graphOf, type ModelProto } from './onnx-graph.js';
import type { Int8PerToken, Int8SmoothAt } from './options.js';

export interface Int8Recipe {
  perToken: Int8PerToken | 'auto';
  /** SmoothQuant strength, 0 = off; undefined: by the weight range. */
  smoothing: number | undefined;
  /** Which activations are smoothed: those a normalization produced (LayerNorm outputs), or all. */
  smoothAt: Int8SmoothAt | 'auto';
  embeddings: boolean;
  /** Self-attention blocks as one QAttention each (fuse-attention.ts). */
  fuseAttention: boolean;
}

// A down-projection's input is scaled per token only when its calibrated channel maxima are this uneven
// (largest over median): in MiniLM-L6 the GELU outputs of layers 0-3 run 7.6-16x, of layers 4-5 under 4x,
// and per-token scaling of the last two gained no agreement (99.49% either way) for its cost.
const PER_TOKEN_OUTLIER_RATIO = 6;
const NORMALIZATIONS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * What 'auto' picks, by weight range (itself probed from the CPU unless forced). Measured on the v2
 * MiniLM-L6 classifier, the default model before the distilled one (which gets the same picks, at 99.38%);
 * bench --int8 has the ablation; label agreement with fp32 on 3550 held-out texts, choices made on the 3550
 * validation texts:
 *   8-bit (VNNI): per-token scaling only for the down-projections' inputs with outlier channels (the GELU
 *     outputs of layers 0-3) and smoothing α 0.75 of the LayerNorm outputs only: 99.49%, 1.28x the speed of the
 *     recipe shipped before it (7-bit below: 99.38%). Without per-token 98.5%; per-token costs a few
 *     elementwise passes over each activation it scales, smoothing one Mul;
 *   7-bit (no VNNI, or a file for unknown CPUs): one bit less leaves too little resolution for that
 *     (98.9%), so per-token everywhere and α 0.5 everywhere: 99.38% (α 0.75: 98.99%).
 */
export function autoInt8Recipe(recipe: Int8Recipe, sevenBit: boolean): { perToken: Int8PerToken; smoothing: number; smoothAt: Int8SmoothAt } {
  return {
    perToken: recipe.perToken !== 'auto' ? recipe.perToken : sevenBit ? 'all' : 'down',
    smoothing: recipe.smoothing ?? (sevenBit ? 0.5 : 0.75),
    smoothAt: recipe.smoothAt !== 'auto' ? recipe.smoothAt : sevenBit ? 'all' : 'norm',
  };
}

/** Per-channel max ratio, largest over median: how uneven an activation's channels run. */
function outlierRatio(amax: Float32Array | undefined): number {
  if (!amax || amax.length === 0) return Infinity;
  const sorted = Float32Array.from(amax).sort();
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  return median > 0 ? (sorted[sorted.length - 1] as number) / median : Infinity;
}

/** The activations a normalization node produced. */
function normalizationOutputs(model: ModelProto): Set<string> {
  return new Set((graphOf(model).node ?? []).filter((n) => NORMALIZATIONS.has(n.opType ?? '')).flatMap((n) => n.output ?? []));
}

/** The per-token choice as quantizeDynamicInt8 takes it. */
export function perTokenFilter(which: Int8PerToken, ranges: ReadonlyMap<string, Float32Array> | undefined): boolean | ((activation: string, reader: NodePlan) => boolean) {
  if (which !== 'down') return which === 'all';
  return (activation, p) => p.k > p.n && outlierRatio(ranges?.get(activation)) >= PER_TOKEN_OUTLIER_RATIO;
}

/** The calibration ranges of the activations to smooth (all, or the normalization outputs); undefined: none. */
export function smoothedRanges(model: ModelProto, ranges: ReadonlyMap<string, Float32Array> | undefined, r: { smoothing: number; smoothAt: Int8SmoothAt }): Map<string, Float32Array> | undefined {
  if (!ranges || r.smoothing <= 0) return undefined;
  const norms = normalizationOutputs(model);
  return new Map([...ranges].filter(([name]) => r.smoothAt === 'all' || norms.has(name)));
}

export function perTokenWhich(which: Int8PerToken): string {
  return which === 'all'
    ? 'every quantized activation'
    : `the inputs of the down-projections (K > N: in a transformer the feed-forward's GELU output) whose largest channel runs at least ${PER_TOKEN_OUTLIER_RATIO}x the median one`;
}
