// `klassify compile` options: validated once here (each error names its flag), then passed on filled in.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { MODEL_NAME, TARGETS, type Target } from '../model/manifest.js';
import type { OptimizationLevel } from './optimize.js';
import { DEFAULT_GATE, type ParityGate } from './parity.js';

export interface CompileOptions {
  /** Source ONNX model (--model). */
  model: string;
  /** Hugging Face tokenizer.json (--tokenizer). */
  tokenizer: string;
  /** Labels in logit order: an array, "a,b,c", or the path of a JSON array file (labels.json). */
  labels: readonly string[] | string;
  /** cpu | cpu-int8 | cuda-fp16 (--target). */
  target: string;
  /** Model name: the folder under `out` (--name). */
  name: string;
  /** Root folder of compiled models (--out). Default "compiled-models". */
  out?: string;
  /** JSONL evaluation set (--eval). Default: the built-in texts. */
  evalSet?: string;
  /**
   * Per-class precision/recall and the confusion matrix of the source and the compiled model on the labeled
   * --eval set (--eval-report): returned in CompileResult.evaluation and written into report.md.
   */
  evalReport?: boolean;
  /** Most tokens per text, special tokens included (--max-length). Default 128. */
  maxLength?: number;
  /** Write even when the parity gate fails (--force). */
  force?: boolean;
  /** Model version for the manifest (--version). Default: 12 hex digits of the compiled file's sha256. */
  version?: string;
  /** Run the benchmark (--no-bench turns it off). Default true. */
  bench?: boolean;
  /**
   * ONNX Runtime intra-op threads for the parity and benchmark runs (--threads). Default 1: the pool's
   * default is one thread per worker, so that is the speed that matters, and a one-thread timing stays
   * meaningful on a busy machine (two spinning threads on two shared cores do not).
   */
  threads?: number;
  /** Saved graph optimization level for the CPU targets (--opt-level). Default 'extended' (portable). */
  optimizationLevel?: OptimizationLevel;
  /**
   * cpu-int8 weight range (--int8-weights): 'auto' probes this CPU (7-bit where its int8 kernel saturates
   * 8-bit weights, no VNNI); '7' forces the range that is exact on every x86 CPU (what a model compiled to
   * ship to unknown machines wants); '8' forces the full range (VNNI / ARM only).
   */
  int8Weights?: Int8Weights;
  /**
   * cpu-int8 steps, each measured in the bench's ablation (--int8-per-token, --int8-smoothing,
   * --no-int8-embeddings): which activations are scaled per token ('down': those of the down-projections,
   * K > N, the feed-forward outputs of a transformer; 'all'; 'none'; 'auto': by the weight range, see
   * int8-recipe.ts), the SmoothQuant strength (0 = off; absent: by the weight range), and whether embedding
   * tables are stored int8.
   */
  int8PerToken?: Int8PerToken | 'auto';
  int8Smoothing?: number;
  /** Smoothed activations: 'norm' (LayerNorm outputs), 'all', or 'auto' (norm with 8-bit weights, all with 7-bit). */
  int8SmoothAt?: Int8SmoothAt | 'auto';
  int8Embeddings?: boolean;
  /**
   * cpu-int8 (--int8-fuse-attention): each self-attention block becomes one QAttention (packed int8 Q/K/V GEMM,
   * fused softmax) where the graph has the pattern (fuse-attention.ts). Off by default: on the shipped
   * MiniLM-L6 it gave no speed (bench --int8: 'attention fused'), the same labels.
   */
  int8FuseAttention?: boolean;
  /**
   * cpu-int8 (--int8-outlier-channels): per feed-forward block whose hidden activation has outlier channels,
   * how many of its largest channels run in fp32 beside the int8 GEMMs (outlier-split.ts); 0 = off, 'auto':
   * 16 with 8-bit weights, 0 with 7-bit.
   */
  int8OutlierChannels?: number | 'auto';
  gate?: Partial<ParityGate>;
}

export type Int8Weights = 'auto' | '7' | '8';
export type Int8PerToken = 'down' | 'all' | 'none';
export type Int8SmoothAt = 'norm' | 'all';
export const INT8_SMOOTH_AT: readonly (Int8SmoothAt | 'auto')[] = ['auto', 'norm', 'all'];
export const INT8_PER_TOKEN: readonly (Int8PerToken | 'auto')[] = ['auto', 'down', 'all', 'none'];

export interface ResolvedCompileOptions {
  model: string;
  tokenizer: string;
  labels: string[];
  target: Target;
  name: string;
  out: string;
  evalSet: string | undefined;
  evalReport: boolean;
  maxLength: number;
  force: boolean;
  version: string | undefined;
  bench: boolean;
  threads: number;
  optimizationLevel: OptimizationLevel;
  int8Weights: Int8Weights;
  int8PerToken: Int8PerToken | 'auto';
  int8Smoothing: number | undefined;
  int8SmoothAt: Int8SmoothAt | 'auto';
  int8Embeddings: boolean;
  int8FuseAttention: boolean;
  int8OutlierChannels: number | 'auto';
  gate: ParityGate;
}

export function resolveCompileOptions(options: CompileOptions): ResolvedCompileOptions {
  if (!(TARGETS as readonly string[]).includes(options.target)) {
    throw new ConfigError(`--target: unknown target "${options.target}"; use one of ${TARGETS.join(', ')}`);
  }
  if (typeof options.name !== 'string' || !MODEL_NAME.test(options.name)) {
    throw new ConfigError(`--name: "${options.name}" must start with a letter or digit and hold only letters, digits, ".", "_" and "-"`);
  }
  for (const [flag, value] of [['--model', options.model], ['--tokenizer', options.tokenizer]] as const) {
    if (typeof value !== 'string' || value === '') throw new ConfigError(`${flag} is required`);
  }
  const maxLength = options.maxLength ?? 128;
  if (!Number.isInteger(maxLength) || maxLength < 2 || maxLength > 8192) {
    throw new ConfigError(`--max-length: expected an integer from 2 to 8192, got ${String(options.maxLength)}`);
  }
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new ConfigError(`--threads: expected an integer from 1 to 256, got ${String(options.threads)}`);
  const level = options.optimizationLevel ?? 'extended';
  if (!['basic', 'extended', 'all'].includes(level)) throw new ConfigError(`--opt-level: expected basic, extended or all, got "${String(level)}"`);
  const int8Weights = options.int8Weights ?? 'auto';
  if (!['auto', '7', '8'].includes(int8Weights)) throw new ConfigError(`--int8-weights: expected auto, 7 or 8, got "${String(int8Weights)}"`);
  const int8PerToken = options.int8PerToken ?? 'auto';
  if (!INT8_PER_TOKEN.includes(int8PerToken)) throw new ConfigError(`--int8-per-token: expected ${INT8_PER_TOKEN.join(', ')}, got "${String(int8PerToken)}"`);
  const int8SmoothAt = options.int8SmoothAt ?? 'auto';
  if (!INT8_SMOOTH_AT.includes(int8SmoothAt)) throw new ConfigError(`--int8-smooth-at: expected ${INT8_SMOOTH_AT.join(', ')}, got "${String(int8SmoothAt)}"`);
  const int8Smoothing = options.int8Smoothing;
  if (int8Smoothing !== undefined && !(int8Smoothing >= 0 && int8Smoothing <= 1)) throw new ConfigError(`--int8-smoothing: expected a strength from 0 (off) to 1, got ${String(options.int8Smoothing)}`);
  const int8OutlierChannels = options.int8OutlierChannels ?? 'auto';
  if (int8OutlierChannels !== 'auto' && !(Number.isInteger(int8OutlierChannels) && int8OutlierChannels >= 0 && int8OutlierChannels <= 256)) {
    throw new ConfigError(`--int8-outlier-channels: expected auto or an integer from 0 (off) to 256, got ${String(options.int8OutlierChannels)}`);
  }
  if (options.version !== undefined && options.version.trim() === '') throw new ConfigError('--version must not be empty');
  if (options.evalReport === true && (options.evalSet === undefined || options.evalSet === '')) {
    throw new ConfigError('--eval-report needs a labeled evaluation set: give --eval <file> with {"text","label"} lines');
  }
  const gate = { ...DEFAULT_GATE, ...options.gate };
  for (const [key, value] of Object.entries(gate)) {
    if (!(value >= 0 && value <= 1)) throw new ConfigError(`parity gate ${key} must be between 0 and 1, got ${value}`);
  }
  return {
    model: options.model,
    tokenizer: options.tokenizer,
    labels: parseLabels(options.labels),
    target: options.target as Target,
    name: options.name,
    out: options.out ?? 'compiled-models',
    evalSet: options.evalSet,
    evalReport: options.evalReport ?? false,
    int8Weights,
    int8PerToken,
    int8Smoothing,
    int8SmoothAt,
    int8Embeddings: options.int8Embeddings ?? true,
    int8FuseAttention: options.int8FuseAttention ?? false,
    int8OutlierChannels,
    maxLength,
    force: options.force ?? false,
    version: options.version?.trim(),
    bench: options.bench ?? true,
    threads,
    optimizationLevel: level,
    gate,
  };
}

/** "a,b,c", an array, or a JSON file holding an array (training recipes write labels.json). */
export function parseLabels(value: readonly string[] | string): string[] {
  let labels: unknown;
  if (typeof value === 'string' && value.trim().endsWith('.json')) {
    try {
      labels = JSON.parse(readFileSync(value.trim(), 'utf8'));
    } catch (err) {
      throw new ConfigError(`--labels: cannot read ${value} as a JSON array of label names: ${(err as Error).message}`, { cause: err });
    }
  } else {
    labels = typeof value === 'string' ? value.split(',').map((l) => l.trim()) : [...value];
  }
  if (!Array.isArray(labels) || !labels.every((l): l is string => typeof l === 'string' && l.trim() !== '')) {
    throw new ConfigError('--labels: expected non-empty label names, e.g. --labels negative,neutral,positive');
  }
  if (labels.length < 2) throw new ConfigError(`--labels: a classifier needs at least 2 labels, got ${labels.length}`);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup !== undefined) throw new ConfigError(`--labels: "${dup}" appears twice`);
  return labels.map((l) => l.trim());
}
