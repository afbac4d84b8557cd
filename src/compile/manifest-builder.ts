// Assembles manifest.json for a compiled model and validates it against the shared schema before anything
// is written: a manifest the inference pool would refuse must never reach the disk.
import { createHash } from 'node:crypto';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parseManifest, type ModelManifest } from '../model/manifest.js';
import { packageVersion } from '../paths.js';
import type { BenchRow } from './bench.js';
import type { ResolvedCompileOptions } from './options.js';
import type { Parity } from './parity.js';
import type { ModelSignature } from './signature.js';
import type { TargetBuild } from './targets.js';

export interface ManifestInput {
  options: ResolvedCompileOptions;
  signature: ModelSignature;
  sourceBytes: Uint8Array;
  build: TargetBuild;
  parity: Parity | undefined;
  benchmark: BenchRow[] | undefined;
  notes: string[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function buildManifest(input: ManifestInput): ModelManifest {
  const { options: o, signature: sig, build } = input;
  const resultSha = sha256(build.bytes);
  const cpu = cpus();
  const draft = {
    schemaVersion: 1,
    name: o.name,
    version: o.version ?? resultSha.slice(0, 12),
    task: 'text-classification',
    target: o.target,
    labels: o.labels,
    files: { model: 'model.onnx', tokenizer: 'tokenizer.json' },
    inputs: sig.inputs,
    output: sig.output,
    maxLength: o.maxLength,
    opset: sig.opset,
    onnxruntimeVersion: ort.env.versions.node ?? ort.env.versions.common,
    executionProvider: build.executionProvider,
    optimization: build.optimization,
    quantization: build.quantization,
    verifiedOnTarget: build.verifiedOnTarget,
    source: { file: basename(o.model), sha256: sha256(input.sourceBytes), bytes: input.sourceBytes.byteLength },
    result: { file: 'model.onnx', sha256: resultSha, bytes: build.bytes.byteLength },
    parity: input.parity,
    benchmark: input.benchmark
      ? { threads: o.threads, rows: input.benchmark, sizeRatio: build.bytes.byteLength / input.sourceBytes.byteLength }
      : undefined,
    host: { cpu: cpu[0]?.model.trim() ?? 'unknown', cores: Math.max(1, cpu.length), platform: process.platform, arch: process.arch },
    createdAt: new Date().toISOString(),
    klassifyVersion: packageVersion,
    notes: input.notes,
  };
  return parseManifest(draft, 'compiled manifest');
}
