// What each target does to the source graph. Every build returns the compiled bytes plus what the
// manifest and report need to say about them.
//
//   cpu        ORT optimization at the chosen level, saved.
//   cpu-int8   ORT basic (constant folding, so Linear weights are plain initializers) → TS int8 quantization
//              (MatMul/Gemm weights, and the embedding tables as per-row int8 lookups) → ORT optimization at
//              the chosen level (fusions around the new nodes), saved.
//   cuda-fp16  ORT basic → TS fp16 conversion. No CPU-level fusions are baked in: the CUDA session applies
//              its own when it loads the model, and CPU-fused contrib ops may lack fp16 CUDA kernels.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelManifest, Target } from '../model/manifest.js';
import { activationRanges, type CalibrationInput } from './calibrate.js';
import { DEFAULT_FP32_OPS, convertToFp16 } from './fp16.js';
import { decodeModel, encodeModel, type ModelProto } from './onnx-graph.js';
import { isPortable, optimizeWithOrt, type OptimizationLevel } from './optimize.js';
import { WEIGHT_RANGE_LABEL, int8KernelSaturates } from './int8-kernel.js';
import type { Int8Weights } from './options.js';
import { splitOutlierChannels, type OutlierSplitReport } from './outlier-split.js';
import { PER_TOKEN_OUTLIER_RATIO, autoInt8Recipe, perTokenFilter, perTokenWhich, smoothedRanges, type Int8Recipe } from './int8-recipe.js';
import { planInt8, plannedActivations, type KeptWeight } from './int8-plan.js';
import { fuseInt8Attention } from './fuse-attention.js';
import type { QuantizeInt8Options, QuantizeInt8Report } from './quantize-int8.js';
import { discoverTensorTypes } from './value-types.js';

export type Quantizer = (model: ModelProto, options: QuantizeInt8Options) => QuantizeInt8Report;

export type { Int8Recipe } from './int8-recipe.js';

export interface BuildContext {
  source: Uint8Array;
  workDir: string;
  level: OptimizationLevel;
  threads: number;
  /** cpu-int8 weight range: probe this CPU, or force 7-bit (portable) / 8-bit. */
  int8Weights: Int8Weights;
  /** cpu-int8 steps (options.ts); every one can be turned off for the ablation. */
  int8Recipe: Int8Recipe;
  quantize: Quantizer;
  /** Texts (and how to feed them) whose activations calibrate int8 smoothing. */
  calibration: Omit<CalibrationInput, 'threads'>;
  /** Announces each step of the build (progress). */
  step: (label: string) => void;
}

export interface TargetBuild {
  bytes: Uint8Array;
  /** Human-readable account of each step taken, for report.md. */
  done: string[];
  optimization: ModelManifest['optimization'];
  quantization: ModelManifest['quantization'];
  executionProvider: ModelManifest['executionProvider'];
  verifiedOnTarget: boolean;
  notes: string[];
}

/** How many steps a target's build announces (for the progress total). */
export function buildSteps(target: Target): number {
  return target === 'cpu' ? 1 : 2 + (target === 'cpu-int8' ? 1 : 0);
}

export function buildTarget(target: Target, ctx: BuildContext): Promise<TargetBuild> {
  switch (target) {
    case 'cpu':
      return buildCpu(ctx);
    case 'cpu-int8':
      return buildCpuInt8(ctx);
    case 'cuda-fp16':
      return buildCudaFp16(ctx);
  }
}

async function ortPass(ctx: BuildContext, model: Uint8Array, level: OptimizationLevel, file: string): Promise<Uint8Array> {
  const path = join(ctx.workDir, file);
  await optimizeWithOrt(model, path, level, ctx.threads);
  return readFileSync(path);
}

function optimization(level: OptimizationLevel): ModelManifest['optimization'] {
  const portable = isPortable(level);
  return {
    level,
    portable,
    note: portable
      ? `ONNX Runtime '${level}' graph optimizations saved in the file: standard and contrib ops only, loads on any CPU`
      : "ONNX Runtime 'all' optimizations can bake hardware-specific layouts/kernels into the saved graph: load it on the same CPU kind it was compiled on",
  };
}

async function buildCpu(ctx: BuildContext): Promise<TargetBuild> {
  ctx.step(`optimize graph (${ctx.level})`);
  const bytes = await ortPass(ctx, ctx.source, ctx.level, 'optimized.onnx');
  return {
    bytes,
    done: [`Optimized the graph with ONNX Runtime ('${ctx.level}' level: constant folding, redundant-node removal, operator fusions) and saved the result; weights stay fp32.`],
    optimization: optimization(ctx.level),
    quantization: { kind: 'none', details: 'fp32 weights, as in the source' },
    executionProvider: 'cpu',
    verifiedOnTarget: true,
    notes: [],
  };
}

async function buildCpuInt8(ctx: BuildContext): Promise<TargetBuild> {
  ctx.step('constant-fold graph (basic)');
  const folded = await ortPass(ctx, ctx.source, 'basic', 'folded.onnx');
  ctx.step('calibrate and quantize weights to int8');
  const model = decodeModel(folded, 'constant-folded model');
  const reduceRange = ctx.int8Weights === 'auto' ? await int8KernelSaturates() : ctx.int8Weights === '7';
  const r = { ...ctx.int8Recipe, ...autoInt8Recipe(ctx.int8Recipe, reduceRange) };
  const needRanges = r.smoothing > 0 || r.perToken === 'down' || r.outlierChannels > 0;
  const ranges = needRanges ? await activationRanges(model, plannedActivations(planInt8(model)), { ...ctx.calibration, threads: ctx.threads }) : undefined;
  // Before smoothing and per-token choices: the split narrows the activations those read their ranges of.
  const split = ranges ? splitOutlierChannels(model, ranges, { channels: r.outlierChannels, minRatio: PER_TOKEN_OUTLIER_RATIO }) : undefined;
  const smoothed = smoothedRanges(model, ranges, r);
  const q = ctx.quantize(model, {
    skipNode: (name) => split?.fp32Nodes.has(name) === true,
    ...(smoothed ? { smoothing: { ranges: smoothed, alpha: r.smoothing } } : {}),
    perToken: perTokenFilter(r.perToken, ranges),
    reduceRange,
    ...(r.embeddings ? { gatherTables: {} } : {}),
  });
  const bits = WEIGHT_RANGE_LABEL[reduceRange ? 7 : 8];
  ctx.step(`optimize graph (${ctx.level})`);
  let bytes = await ortPass(ctx, encodeModel(model), ctx.level, 'optimized.onnx');
  // After ORT's fusions: the pattern fuse-attention.ts looks for is the one ORT leaves (MatMulIntegerToFloat,
  // FusedMatMul), and ORT has no pass of its own that turns it into QAttention.
  const optimized = decodeModel(bytes, 'optimized int8 model');
  const attention = r.fuseAttention ? fuseInt8Attention(optimized, ctx.calibration.inputs.attentionMask) : undefined;
  if (attention && attention.fused > 0) bytes = encodeModel(optimized);
  const kept = q.keptFp32.map(describeKept);
  const tables = q.tables.map((t) => `${t.name} ${t.shape.join('x')}, ${mb(t.bytesBefore)} → ${mb(t.bytesAfter)}`);
  const tableBytes = q.tables.reduce((a, t) => ({ before: a.before + t.bytesBefore, after: a.after + t.bytesAfter }), { before: 0, after: 0 });
  const notes = [
    `Activations are quantized to uint8 by ONNX Runtime at run time, one scale per call${q.perToken > 0 ? ` (after per-token scaling for ${perTokenWhich(r.perToken)})` : ''}${q.smoothed > 0 ? '; the smoothing factors come from per-channel activation maxima on the built-in texts' : ''}.`,
    ctx.int8Weights === '7'
      ? 'Weights are 7-bit (--int8-weights 7): they cannot saturate the int8 kernel of any x86 CPU (with or without VNNI), so the file gives the same results everywhere.'
      : ctx.int8Weights === '8'
        ? 'Weights use the full 8-bit range (--int8-weights 8): on x86 CPUs without VNNI (before Cascade Lake / Zen 4) the int8 kernel saturates them and accuracy drops; use 7 for a file shipped to unknown machines.'
        : reduceRange
      ? "Weights are 7-bit: this CPU's int8 kernel saturates 8-bit weights (no VNNI; checked by running a probe through ONNX Runtime). 7-bit weights cannot saturate on any x86 CPU, so the file stays portable."
      : "Weights use the full 8-bit range: this CPU's int8 kernel does not saturate (VNNI). On x86 CPUs without VNNI (before Cascade Lake / Zen 4) it would: compile on such a machine to get 7-bit weights there.",
  ];
  const picked = [
    ctx.int8Recipe.perToken === 'auto' ? `per-token scaling: ${r.perToken}` : '',
    ctx.int8Recipe.smoothing === undefined ? `smoothing α ${r.smoothing}` : '',
    ctx.int8Recipe.smoothAt === 'auto' ? `smoothing at: ${r.smoothAt === 'norm' ? 'LayerNorm outputs' : 'every activation'}` : '',
    ctx.int8Recipe.outlierChannels === 'auto' ? `outlier channels in fp32: ${r.outlierChannels}` : '',
  ].filter(Boolean);
  if (picked.length > 0) {
    notes.push(`Picked for ${reduceRange ? '7-bit' : '8-bit'} weights: ${picked.join(', ')} (${reduceRange ? 'with one bit less, per-token scaling everywhere keeps label agreement' : r.outlierChannels > 0 ? 'moving the few outlier channels to fp32 keeps agreement without passes over the wide activations' : 'per-token scaling only where tokens are most uneven keeps agreement at a fraction of its cost'}; --int8-per-token, --int8-smoothing, --int8-smooth-at and --int8-outlier-channels choose otherwise).`);
  }
  if (q.tables.length > 0) {
    notes.unshift('Embedding tables are int8 to make the file smaller, not the model faster: a lookup reads the int8 rows and dequantizes only the rows a batch uses, at about the cost of the fp32 lookup.');
  }
  // Not an error: the result is still a valid (fp32) model, and the report says why it is not faster.
  if (q.quantized === 0) notes.push('No MatMul/Gemm had a quantizable constant weight: the model is fp32 and will not be faster.');
  return {
    bytes,
    done: [
      "Constant-folded the graph with ONNX Runtime ('basic' level), so every Linear weight is a plain initializer.",
      (q.smoothed > 0
        ? `Measured per-channel activation ranges on ${ctx.calibration.texts.length} calibration texts and smoothed ${q.smoothed} activation tensor(s)${r.smoothAt === 'norm' ? ', the LayerNorm outputs' : ''} (SmoothQuant, α ${r.smoothing}: per-channel range moved from activations into weights, one Mul each); `
        : 'No activation smoothed; ') +
        (q.perToken > 0
          ? `scaled ${q.perToken} activation tensor(s) per token, ${perTokenWhich(r.perToken)} (each row to [-1, 1] before quantization, the product scaled back), so that one quantization scale per call fits every token of those; `
          : 'no per-token scaling; ') +
        `${describeSplit(split, r.outlierChannels)}${q.shared} activation(s) read by several MatMuls (Q, K, V) quantized once for all of them (DynamicQuantizeLinear → MatMulInteger, fused by ONNX Runtime into MatMulIntegerToFloat).`,
      `Quantized ${q.quantized} MatMul/Gemm weight(s) to ${bits} int8, symmetric per output column (com.microsoft DynamicQuantizeMatMul, one fp32 scale per column, no zero point), folding ${q.biasesFolded} bias add(s) into them.` +
        (kept.length > 0 ? ` Kept in fp32: ${kept.join('; ')}.` : ''),
      (q.tables.length > 0
        ? `Stored ${q.tables.length} embedding table(s) as 8-bit int8, symmetric per row (one fp32 scale per row, no zero point): ${tables.join('; ')}. ` +
          'Each lookup gathers the int8 rows and their scales and multiplies them back to fp32 (standard Gather, Cast and Mul), so only the rows used are dequantized.'
        : q.keptTables.length > 0
          ? 'Embedding tables stay fp32.'
          : 'No embedding table (a constant table read by Gather) was stored as int8.') +
        (q.keptTables.length > 0 ? ` Kept in fp32: ${q.keptTables.map(describeKept).join('; ')}.` : '') +
        ` Int8 parameters: ${q.int8Params.toLocaleString('en-US')}; fp32 parameters left: ${q.fp32Params.toLocaleString('en-US')}.`,
      `Optimized the quantized graph with ONNX Runtime ('${ctx.level}' level) and saved the result.`,
      describeAttention(attention),
    ],
    optimization: optimization(ctx.level),
    quantization: {
      kind: 'dynamic-int8',
      details: `${q.quantized} MatMul/Gemm → DynamicQuantizeMatMul (${q.shared} shared activations: MatMulInteger), per-column symmetric ${bits} weights, dynamic uint8 activations, ${split?.blocks.length ?? 0} feed-forward block(s) with ${r.outlierChannels} outlier channels in fp32, ${q.perToken} scaled per token (${r.perToken}), ${q.smoothed} smoothed (α ${r.smoothing}, at ${r.smoothAt}), ${kept.length} small weight(s) kept fp32, ${attention?.fused ?? 0} attention block(s) as QAttention; ` +
        (q.tables.length > 0
          ? `${q.tables.length} embedding table(s) int8, per-row symmetric 8-bit, dequantized after the lookup (Gather → Cast → Mul by the gathered row scales): ${q.tables.map((t) => t.name).join(', ')}, ${mb(tableBytes.before)} → ${mb(tableBytes.after)}` +
            (q.keptTables.length > 0 ? `; ${q.keptTables.length} table(s) kept fp32` : '')
          : q.keptTables.length > 0
            ? `${q.keptTables.length} embedding table(s) kept fp32`
            : 'no embedding table stored as int8'),
    },
    executionProvider: 'cpu',
    verifiedOnTarget: true,
    notes,
  };
}

async function buildCudaFp16(ctx: BuildContext): Promise<TargetBuild> {
  ctx.step('constant-fold graph (basic)');
  const folded = await ortPass(ctx, ctx.source, 'basic', 'folded.onnx');
  ctx.step('convert to fp16');
  const model = decodeModel(folded, 'constant-folded model');
  const types = await discoverTensorTypes(model);
  const r = convertToFp16(model, types);
  const fp32Ops = Object.entries(r.fp32Nodes).map(([op, n]) => `${op} ×${n}`).join(', ');
  return {
    bytes: encodeModel(model),
    done: [
      "Constant-folded the graph with ONNX Runtime ('basic' level: provider-independent rewrites only).",
      `Converted weights and activations to fp16 (${r.fp16Params.toLocaleString('en-US')} parameters), keeping numerically sensitive ops in fp32 behind Cast nodes (${fp32Ops || 'none present'}; ${r.castsInserted} casts inserted). ` +
        `Graph inputs and outputs keep their declared types (int64 ids in, float32 logits out).` +
        (r.clampedValues > 0 ? ` ${r.clampedValues} float constant(s) beyond ±65504 (e.g. attention-mask fill values) clamped to the fp16 range.` : ''),
    ],
    optimization: {
      level: 'basic',
      portable: true,
      note: 'only provider-independent rewrites are saved; the CUDA session applies its own fusions when it loads the model',
    },
    quantization: { kind: 'fp16', details: `fp16 weights and activations; fp32 kept for ${DEFAULT_FP32_OPS.join(', ')}` },
    executionProvider: 'cuda',
    verifiedOnTarget: false,
    notes: [
      'NOT VERIFIED ON A GPU: compiled on a machine without one. Parity was measured with the CPU execution provider, where ONNX Runtime computes the fp16 ops that lack CPU kernels in fp32 (it inserts its own casts). That run checks fp16 weight and constant rounding, not fp16 arithmetic or speed on CUDA.',
    ],
  };
}

function describeAttention(a: ReturnType<typeof fuseInt8Attention> | undefined): string {
  if (!a) return 'Self-attention kept as separate nodes (--int8-fuse-attention not given).';
  if (a.fused === 0) return `No self-attention block fused${a.skipped.length > 0 ? ` (${[...new Set(a.skipped.map((s) => s.replace(/^[^:]*: /, '')))].join('; ')})` : ''}.`;
  return `Fused ${a.fused} self-attention block(s) into com.microsoft QAttention (${[...new Set(a.heads)].join('/')} heads): Q, K and V as one packed int8 GEMM on the shared quantized activation, the heads' scores, padding mask, softmax and context in one kernel, in place of three MatMulIntegerToFloat, Reshape/Transpose pairs, FusedMatMul, Add, Softmax and MatMul.` +
    (a.skipped.length > 0 ? ` Left unfused: ${a.skipped.join('; ')}.` : '');
}

function describeKept(k: KeptWeight): string {
  return `${k.name} (${k.shape.join('x')}: ${k.reason})`;
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

function describeSplit(split: OutlierSplitReport | undefined, channels: number): string {
  if (!split || channels === 0) return 'no outlier-channel split; ';
  if (split.blocks.length === 0) return `no feed-forward block uneven enough for the outlier-channel split (largest hidden channel at least ${PER_TOKEN_OUTLIER_RATIO}x the median); `;
  const ratios = split.blocks.map((b) => `${b.ratioBefore.toFixed(1)}x → ${b.ratioAfter.toFixed(1)}x`).join(', ');
  return `moved the ${channels} largest hidden channels of ${split.blocks.length} feed-forward block(s) to an fp32 path beside the int8 GEMMs (their up-projection columns and down-projection rows; the block's output is the sum of both paths), so the rest quantize with one scale per call (largest channel over the median: ${ratios}); `;
}
