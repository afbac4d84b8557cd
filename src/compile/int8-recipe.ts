// The cpu-int8 recipe: which activations get per-token scaling and which get smoothing, and what 'auto'
// picks for them. targets.ts applies it; quantize-int8.ts and activation-prep.ts do the rewriting.
import type { NodePlan } from './int8-plan.js';
import { channelRatio } from './outlier-split.js';
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
  /** Channels per feed-forward block moved to an fp32 path (outlier-split.ts), 0 = off; 'auto': by the weight range. */
  outlierChannels: number | 'auto';
}

// A down-projection's input is scaled per token only when its calibrated channel maxima are this uneven
// (largest over median): in MiniLM-L6 the GELU outputs of layers 0-3 run 7.6-16x, of layers 4-5 under 4x,
// and per-token scaling of the last two gained no agreement (99.49% either way) for its cost.
export const PER_TOKEN_OUTLIER_RATIO = 6;
// Channels the outlier split (8-bit weights) moves to fp32 per block: the one or two outliers of each MiniLM
// block and the next largest, 16 in all so that the int8 GEMMs keep a K and N that are multiples of 16.
const AUTO_OUTLIER_CHANNELS = 16;
const NORMALIZATIONS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

/**
 * What 'auto' picks, by weight range (itself probed from the CPU unless forced). Label agreement with fp32 on
 * the 3550 validation texts (choices are made there; the compile's gate reads the 3550 held-out ones);
 * bench --int8 has the speed of each step:
 *   8-bit (VNNI): the outlier-channel split of the feed-forward blocks whose hidden activation is uneven (the
 *     GELU outputs of layers 0-3) and smoothing α 0.75 of the LayerNorm outputs only: on the distilled
 *     MiniLM-L6, 99.35% (held-out 99.69%), where per-token scaling of those activations instead gave 99.13%
 *     (99.55%) and costs three passes over each (ReduceMax, Div, the bias Add moved out of the GEMM).
 *     Without either, 98.5% on the v2 model; without smoothing, 99.18% held-out. Per-token scaling stays the
 *     'down' choice for blocks the split does not take.
 *   7-bit (no VNNI, or a file for unknown CPUs): one bit less leaves too little resolution for that
 *     (98.9% on the v2 model), so per-token everywhere and α 0.5 everywhere: 99.38% (α 0.75: 98.99%); the
 *     split is not used there (not measured on a CPU without VNNI).
 */
export function autoInt8Recipe(recipe: Int8Recipe, sevenBit: boolean): { perToken: Int8PerToken; smoothing: number; smoothAt: Int8SmoothAt; outlierChannels: number } {
  return {
    outlierChannels: recipe.outlierChannels !== 'auto' ? recipe.outlierChannels : sevenBit ? 0 : AUTO_OUTLIER_CHANNELS,
    perToken: recipe.perToken !== 'auto' ? recipe.perToken : sevenBit ? 'all' : 'down',
    smoothing: recipe.smoothing ?? (sevenBit ? 0.5 : 0.75),
    smoothAt: recipe.smoothAt !== 'auto' ? recipe.smoothAt : sevenBit ? 'all' : 'norm',
  };
}

/** How uneven an activation's channels run (largest over median); without calibration data: as uneven as can be. */
function outlierRatio(amax: Float32Array | undefined): number {
  return amax && amax.length > 0 ? channelRatio(amax) : Infinity;
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
