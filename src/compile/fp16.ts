// fp16 conversion for GPU targets: weights and most activations in float16, numerically sensitive ops
// kept in float32 behind Cast nodes, graph inputs and outputs exactly as declared (int64 ids in, float32
// logits out), so the pool feeds a cuda-fp16 model the same tensors as any other.
//
// Why these ops stay fp32: normalizations and reductions sum many terms (fp16 has 11 bits of mantissa, and
// a variance can underflow), softmax and exp overflow past 65504, and erf/pow/sqrt lose most of their
// precision in fp16. They are a small share of the FLOPs; the MatMuls, where the speed is, run in fp16.
//
// Float constants are clamped to the fp16 range before conversion: exporters write attention masks as
// `(1 - mask) * float32.min`, and -3.4e38 would become -inf, then 0 * -inf = NaN for every real token.
import { CompileError } from '../errors.js';
import {
  DataType,
  NameAllocator,
  assertFlatGraph,
  consumerMap,
  dimsOf,
  float16Tensor,
  graphOf,
  intAttr,
  makeNode,
  onnx,
  readFloats,
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-graph.js';

export const DEFAULT_FP32_OPS: readonly string[] = Object.freeze([
  'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization',
  'Softmax', 'LogSoftmax', 'ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'ReduceL2', 'ReduceLogSumExp',
  'Pow', 'Sqrt', 'Reciprocal', 'Erf', 'Exp', 'Log', 'Range', 'CumSum',
]);

export const FP16_MAX = 65504;

export interface Fp16Options {
  /** Op types computed in fp32 (inputs cast up, outputs cast back down). Default DEFAULT_FP32_OPS. */
  keepFp32Ops?: readonly string[];
}

export interface Fp16Report {
  fp16Params: number;
  fp32Params: number;
  castsInserted: number;
  /** How many nodes of each kept op type now compute in fp32. */
  fp32Nodes: Record<string, number>;
  /** Float constants outside ±65504 that were clamped. */
  clampedValues: number;
}

/**
 * Converts `model` in place. `types` names each tensor's element type (see discoverTensorTypes); the
 * conversion follows it rather than guessing per op, so any op whose float inputs and outputs share one
 * type (nearly all of them) converts correctly.
 */
export function convertToFp16(model: ModelProto, types: ReadonlyMap<string, string>, options: Fp16Options = {}): Fp16Report {
  const graph = graphOf(model);
  assertFlatGraph(graph, 'fp16 conversion');
  const keep = new Set(options.keepFp32Ops ?? DEFAULT_FP32_OPS);
  const report: Fp16Report = { fp16Params: 0, fp32Params: 0, castsInserted: 0, fp32Nodes: {}, clampedValues: 0 };
  const names = new NameAllocator(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const floatInits = new Set((graph.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT).map((t) => t.name ?? ''));
  const isFloat = (name: string): boolean => name !== '' && (floatInits.has(name) || types.get(name) === 'float32');

  // Tensors that are fp32 after conversion: float graph inputs and outputs, and weights that only fp32 ops
  // read. Every other float tensor becomes fp16.
  const fp32 = new Set<string>();
  for (const input of graph.input ?? []) if (isFloat(input.name ?? '') && !floatInits.has(input.name ?? '')) fp32.add(input.name ?? '');
  for (const name of floatInits) {
    const readers = consumers.get(name) ?? [];
    if (readers.length > 0 && readers.every((n) => keep.has(n.opType ?? '')) && !graphOutputs.has(name)) fp32.add(name);
  }
  // Graph outputs keep their declared float32 (a converted producer gets a Cast into the output's name;
  // any node inside the graph that also reads it sees float32 too).
  for (const name of graphOutputs) if (isFloat(name)) fp32.add(name);

  const out: NodeProto[] = [];
  const castCache = new Map<string, string>();
  const cast = (from: string, to: 'fp16' | 'fp32', into?: string): string => {
    const key = `${from}->${to}`;
    const hit = into === undefined ? castCache.get(key) : undefined;
    if (hit !== undefined) return hit;
    const target = into ?? names.take(`${from}_${to}`);
    const toType = to === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
    out.push(makeNode('Cast', [from], [target], names.take(`Cast_${target}`), '', [intAttr('to', toType)]));
    report.castsInserted++;
    if (into === undefined) castCache.set(key, target);
    return target;
  };

  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const fp32Op = keep.has(op);
    const touchesFloat = [...(node.input ?? []), ...(node.output ?? [])].some(isFloat);
    node.input = (node.input ?? []).map((i) => {
      if (!isFloat(i)) return i;
      if (fp32Op) return fp32.has(i) ? i : cast(i, 'fp32');
      return fp32.has(i) ? cast(i, 'fp16') : i;
    });
    const after: [string, string, 'fp16' | 'fp32'][] = [];
    node.output = (node.output ?? []).map((o) => {
      if (!isFloat(o)) return o;
      if (fp32Op) {
        if (graphOutputs.has(o)) return o;
        const inner = names.take(`${o}_fp32`);
        after.push([inner, o, 'fp16']);
        return inner;
      }
      if (!graphOutputs.has(o)) return o;
      const inner = names.take(`${o}_fp16`);
      after.push([inner, o, 'fp32']);
      return inner;
    });
    if (!fp32Op) retypeAttributes(node, report);
    else if (touchesFloat) report.fp32Nodes[op] = (report.fp32Nodes[op] ?? 0) + 1;
    out.push(node);
    for (const [from, into, to] of after) cast(from, to, into);
  }
  graph.node = out;

  graph.initializer = (graph.initializer ?? []).map((t) => {
    const count = dimsOf(t).reduce((a, b) => a * b, 1);
    if (t.dataType !== DataType.FLOAT) return t;
    if (fp32.has(t.name ?? '')) {
      report.fp32Params += count;
      return t;
    }
    report.fp16Params += count;
    return toFloat16Tensor(t, report);
  });
  // Recorded intermediate types are stale now; ORT infers them again at load.
  graph.valueInfo = [];
  return report;
}

/** Makes a converted node produce fp16 where its attributes name float32. */
function retypeAttributes(node: NodeProto, report: Fp16Report): void {
  const op = node.opType ?? '';
  for (const attr of node.attribute ?? []) {
    if ((op === 'Cast' && attr.name === 'to') || attr.name === 'dtype') {
      if (Number(attr.i ?? 0) === DataType.FLOAT) attr.i = DataType.FLOAT16;
    } else if ((op === 'Constant' || op === 'ConstantOfShape') && attr.name === 'value' && attr.t?.dataType === DataType.FLOAT) {
      attr.t = toFloat16Tensor(attr.t, report);
    }
  }
  if (op === 'ConstantOfShape' && !(node.attribute ?? []).some((a) => a.name === 'value')) {
    // The default value is a float32 zero.
    node.attribute = [...(node.attribute ?? []), tensorAttr('value', float16Tensor('', [1], new Uint16Array(1)))];
  }
  if (op === 'Constant') {
    node.attribute = (node.attribute ?? []).map((a) => {
      if (a.name === 'value_float') return tensorAttr('value', toFloat16Tensor(floatTensorOf([], [a.f ?? 0]), report));
      if (a.name === 'value_floats') return tensorAttr('value', toFloat16Tensor(floatTensorOf([(a.floats ?? []).length], a.floats ?? []), report));
      return a;
    });
  }
  if (op === 'Cast' || op === 'Constant' || op === 'ConstantOfShape') return;
  if ((node.attribute ?? []).some((a) => a.t?.dataType === DataType.FLOAT)) {
    throw new CompileError(`fp16 conversion: ${op} node ${node.name ?? '?'} has a float32 tensor attribute it cannot convert`);
  }
}

function tensorAttr(name: string, t: TensorProto): AttributeProto {
  return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.TENSOR, t });
}

function floatTensorOf(dims: number[], values: number[]): TensorProto {
  return onnx.TensorProto.create({ dims, dataType: DataType.FLOAT, floatData: values });
}

function toFloat16Tensor(t: TensorProto, report: Fp16Report): TensorProto {
  const values = readFloats(t);
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let v = values[i] as number;
    if (Number.isFinite(v) && Math.abs(v) > FP16_MAX) {
      v = Math.sign(v) * FP16_MAX;
      report.clampedValues++;
    }
    bits[i] = float16Bits(v);
  }
  return float16Tensor(t.name ?? '', dimsOf(t), bits);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of `value`, rounded to nearest even (overflow gives ±inf, NaN stays NaN). */
export function float16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0] as number;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry into the exponent is correct rounding
  return sign | half;
}

/** The number a binary16 bit pattern stands for (tests and diagnostics). */
export function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
