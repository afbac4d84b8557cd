// The compiled-model manifest: written by `klassify compile`, read by the inference pool and the pipeline.
// compiled-models/<name>/<target>/manifest.json; schemas/model-manifest.schema.json is generated from this.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ManifestError } from '../errors.js';

export const TARGETS = ['cpu', 'cpu-int8', 'cuda-fp16'] as const;
export type Target = (typeof TARGETS)[number];

/** Model names: the folder under compiled-models/. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const fileInfo = z.object({
  file: z.string().min(1),
  sha256,
  bytes: z.number().int().positive(),
});

const parity = z.object({
  evalSet: z.string().describe('where the evaluation texts came from'),
  count: z.number().int().nonnegative(),
  labeled: z.boolean(),
  agreement: z.number().min(0).max(1).describe('share of texts where source and compiled pick the same label'),
  sourceAccuracy: z.number().min(0).max(1).optional(),
  compiledAccuracy: z.number().min(0).max(1).optional(),
  maxAbsLogitDiff: z.number().nonnegative(),
  minAgreement: z.number().min(0).max(1),
  maxAccuracyDrop: z.number().min(0).max(1),
  passed: z.boolean(),
  forced: z.boolean(),
  measuredOn: z.enum(['cpu', 'cuda']).optional().describe('execution provider the parity run used (cpu for a cuda-fp16 model compiled without a GPU)'),
});

const host = z
  .object({
    cpu: z.string(),
    cores: z.number().int().positive(),
    platform: z.string(),
    arch: z.string(),
  })
  .describe('the machine that compiled the model and measured parity and speed');

const benchRow = z.object({
  batchSize: z.number().int().positive(),
  seqLen: z.number().int().positive(),
  sourceMs: z.number().nonnegative(),
  compiledMs: z.number().nonnegative(),
  sourceTextsPerSec: z.number().nonnegative(),
  compiledTextsPerSec: z.number().nonnegative(),
  speedup: z.number().nonnegative(),
});

export const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  // No /i flag: JSON Schema patterns have no flags, and the generated schema must accept what zod accepts.
  name: z.string().regex(MODEL_NAME),
  version: z.string().min(1).describe('model version: the first 12 hex digits of the compiled file sha256 unless given'),
  task: z.literal('text-classification'),
  target: z.enum(TARGETS),
  labels: z.array(z.string().min(1)).min(2),
  files: z.object({ model: z.string().min(1), tokenizer: z.string().min(1) }),
  inputs: z.object({
    inputIds: z.string().min(1),
    attentionMask: z.string().min(1).optional(),
    tokenTypeIds: z.string().min(1).optional(),
  }),
  output: z.string().min(1).describe('name of the logits output, shape [batch, labels]'),
  maxLength: z.number().int().min(2).describe('most tokens per text, special tokens included; longer texts are truncated'),
  opset: z.number().int().positive(),
  onnxruntimeVersion: z.string(),
  executionProvider: z.enum(['cpu', 'cuda']),
  optimization: z.object({
    level: z.enum(['disabled', 'basic', 'extended', 'all']),
    portable: z.boolean().describe('false when the saved graph holds CPU-specific fused kernels (load it on the same CPU kind)'),
    note: z.string(),
  }),
  quantization: z
    .object({
      kind: z.enum(['none', 'dynamic-int8', 'fp16']),
      details: z.string(),
    })
    .describe('how weights were converted'),
  verifiedOnTarget: z.boolean().describe('false for cuda-fp16 compiled on a machine without a GPU: parity and speed unmeasured there'),
  source: fileInfo,
  result: fileInfo,
  parity: parity.optional(),
  benchmark: z
    .object({
      threads: z.number().int().positive(),
      rows: z.array(benchRow),
      sizeRatio: z.number().positive().describe('compiled file bytes / source file bytes'),
    })
    .optional(),
  host: host.optional(),
  createdAt: z.string(),
  klassifyVersion: z.string(),
  notes: z.array(z.string()).default([]),
});

export type ModelManifest = z.infer<typeof manifestSchema>;

export const MANIFEST_FILE = 'manifest.json';

/** Parses and validates a manifest; errors name the first bad field. */
export function parseManifest(data: unknown, where = 'manifest'): ModelManifest {
  const parsed = manifestSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError(`${where}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export interface LoadedModel {
  dir: string;
  manifest: ModelManifest;
  modelPath: string;
  tokenizerPath: string;
}

/** Reads compiled-models/<name>/<target>/manifest.json and checks the files it names exist. */
export function loadManifest(dir: string): LoadedModel {
  const file = join(dir, MANIFEST_FILE);
  if (!existsSync(file)) throw new ManifestError(`no ${MANIFEST_FILE} in ${dir}: is this a compiled model folder? (klassify compile makes one)`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ManifestError(`${file} is not valid JSON`, { cause: err });
  }
  const manifest = parseManifest(data, file);
  const modelPath = join(dir, manifest.files.model);
  const tokenizerPath = join(dir, manifest.files.tokenizer);
  for (const path of [modelPath, tokenizerPath]) {
    if (!existsSync(path)) throw new ManifestError(`${file} names ${path}, which does not exist`);
  }
  return { dir, manifest, modelPath, tokenizerPath };
}

/** The manifest's JSON Schema (schemas/model-manifest.schema.json is this, written by `npm run docs`). */
export function manifestJsonSchema(): unknown {
  return z.toJSONSchema(manifestSchema, { io: 'input' });
}
