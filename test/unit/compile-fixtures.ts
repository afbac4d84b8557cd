// Shared by the compile tests: the committed tiny model, and small ONNX graphs built in code.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { encodeModel, floatTensor, makeNode, onnx, type ModelProto, type NodeProto, type TensorProto } from '../../src/compile/onnx-graph.js';
import { packageRoot } from '../../src/paths.js';

const dir = join(packageRoot, 'test', 'fixtures', 'models', 'tiny-sentiment');
export const TINY = {
  dir,
  model: join(dir, 'model.onnx'),
  tokenizer: join(dir, 'tokenizer.json'),
  labels: join(dir, 'labels.json'),
  eval: join(dir, 'eval.jsonl'),
};

const T = onnx.TensorProto.DataType;

export function valueInfo(name: string, elemType: number, dims: (number | string)[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

export function makeModel(parts: {
  nodes: NodeProto[];
  initializers?: TensorProto[];
  inputs: InstanceType<typeof onnx.ValueInfoProto>[];
  outputs: InstanceType<typeof onnx.ValueInfoProto>[];
  opset?: number;
}): ModelProto {
  return onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'klassify-tests',
    opsetImport: [{ domain: '', version: parts.opset ?? 17 }],
    graph: onnx.GraphProto.create({
      name: 'test',
      node: parts.nodes,
      initializer: parts.initializers ?? [],
      input: parts.inputs,
      output: parts.outputs,
    }),
  });
}

/** Deterministic pseudo-random floats in [-scale, scale]. */
export function randomFloats(count: number, seed: number, scale = 1): Float32Array {
  let x = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (((x >>> 0) / 0xffffffff) * 2 - 1) * scale;
  }
  return out;
}

/**
 * X [batch, 32] → MatMul(W1 32x48) → Add(b1) → Relu → Gemm(W2 stored [24,48], C [24], transB=1, alpha, beta)
 * → MatMul(W3 24x3, too small to quantize) → Y [batch, 3]
 */
export function linearModel(options: { alpha?: number; beta?: number } = {}): ModelProto {
  const attrs = [
    onnx.AttributeProto.create({ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }),
    onnx.AttributeProto.create({ name: 'alpha', type: onnx.AttributeProto.AttributeType.FLOAT, f: options.alpha ?? 1 }),
    onnx.AttributeProto.create({ name: 'beta', type: onnx.AttributeProto.AttributeType.FLOAT, f: options.beta ?? 1 }),
  ];
  return makeModel({
    nodes: [
      makeNode('MatMul', ['X', 'W1'], ['h1'], 'mm1'),
      makeNode('Add', ['h1', 'b1'], ['h2'], 'add1'),
      makeNode('Relu', ['h2'], ['h3'], 'relu'),
      makeNode('Gemm', ['h3', 'W2', 'C2'], ['h4'], 'gemm', '', attrs),
      makeNode('MatMul', ['h4', 'W3'], ['Y'], 'head'),
    ],
    initializers: [
      floatTensor('W1', [32, 48], randomFloats(32 * 48, 1, 0.3)),
      floatTensor('b1', [48], randomFloats(48, 2, 0.1)),
      floatTensor('W2', [24, 48], randomFloats(24 * 48, 3, 0.3)),
      floatTensor('C2', [24], randomFloats(24, 4, 0.1)),
      floatTensor('W3', [24, 3], randomFloats(24 * 3, 5, 0.5)),
    ],
    inputs: [valueInfo('X', T.FLOAT, ['batch', 32])],
    outputs: [valueInfo('Y', T.FLOAT, ['batch', 3])],
  });
}

export async function runOnce(model: ModelProto | Uint8Array, feeds: Record<string, ort.Tensor>, output: string): Promise<ort.Tensor> {
  const bytes = model instanceof Uint8Array ? model : encodeModel(model);
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = (await session.run(feeds))[output];
    if (!out) throw new Error(`no output ${output}`);
    return out;
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function tempDir(prefix = 'klassify-compile-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function opTypes(model: ModelProto): string[] {
  return (model.graph?.node ?? []).map((n) => n.opType ?? '');
}
