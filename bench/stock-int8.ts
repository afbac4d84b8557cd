// ONNX Runtime's stock dynamic quantization, reimplemented on the protobuf so the bench can build the
// stock model from the same fp32 source without Python: what
//
//   onnxruntime.quantization.quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
//
// writes with its defaults (ORT 1.32, quantize.py / operators/matmul.py / operators/gather.py):
//   - first, every Gemm with alpha = beta = 1 and no transA becomes MatMul (+ Add of C), its B transposed
//     when transB (onnx_model.py replace_gemm_with_matmul);
//   - every MatMul whose B is a constant ('MatMulConstBOnly' is on by default in dynamic mode) becomes
//       DynamicQuantizeLinear(A) → MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast(float) → Mul(by A_s·W_s);
//     the weight is int8, symmetric, ONE scale for the whole tensor (per_channel=False), the full range
//     [-127, 127] (reduce_range=False); one DynamicQuantizeLinear per activation, shared by its readers;
//   - every Gather from a constant table reads a uint8 copy of it (asymmetric, one scale and zero point per
//     table, as its activations are) and is followed by a DequantizeLinear.
// ONNX Runtime fuses the MatMul chains into DynamicQuantizeMatMul when the session loads the model.
// The input should be constant-folded first (ORT 'basic'), as the stock recipe's pre-processing does.
import {
  DataType, NameAllocator, dimsOf, floatTensor, getFloatAttr, getIntAttr, graphOf, initializerMap, int8Tensor, intAttr, makeNode, onnx, readFloats, removeUnusedInitializers,
  type ModelProto, type NodeProto, type TensorProto,
} from '../src/compile/onnx-graph.js';
import { transpose } from '../src/compile/int8-plan.js';

export interface StockReport {
  matmuls: number;
  gathers: number;
}

export function stockQuantizeDynamic(model: ModelProto): StockReport {
  const graph = graphOf(model);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const added: TensorProto[] = [];
  const dynamic = new Map<string, { q: string; scale: string; zp: string }>();
  const report: StockReport = { matmuls: 0, gathers: 0 };
  const nodes: NodeProto[] = [];

  const quantizeActivation = (a: string): { q: string; scale: string; zp: string } => {
    let hit = dynamic.get(a);
    if (!hit) {
      hit = { q: names.take(`${a}_quantized`), scale: names.take(`${a}_scale`), zp: names.take(`${a}_zero_point`) };
      nodes.push(makeNode('DynamicQuantizeLinear', [a], [hit.q, hit.scale, hit.zp], names.take(`${a}_QuantizeLinear`)));
      dynamic.set(a, hit);
    }
    return hit;
  };

  for (const node of gemmsAsMatMul(graph.node ?? [], inits, names, added)) {
    const domain = node.domain ?? '';
    const table = node.opType === 'Gather' && domain === '' ? inits.get(node.input?.[0] ?? '') : undefined;
    const weight = node.opType === 'MatMul' && domain === '' ? inits.get(node.input?.[1] ?? '') : undefined;
    if (weight?.dataType === DataType.FLOAT && dimsOf(weight).length === 2) {
      const out = node.output?.[0] ?? '';
      const a = quantizeActivation(node.input?.[0] ?? '');
      const w = quantizeSymmetricInt8(readFloats(weight));
      const base = weight.name ?? 'W';
      const wq = names.take(`${base}_quantized`);
      const ws = names.take(`${base}_scale`);
      const wzp = names.take(`${base}_zero_point`);
      added.push(int8Tensor(wq, dimsOf(weight), w.q), floatTensor(ws, [], Float32Array.of(w.scale)), int8Tensor(wzp, [], Int8Array.of(0)));
      const integer = names.take(`${out}_output_quantized`);
      const cast = names.take(`${integer}_cast_output`);
      const scales = names.take(`${node.name ?? out}_quant_scales_mul:0`);
      nodes.push(
        makeNode('MatMulInteger', [a.q, wq, a.zp, wzp], [integer], names.take(`${node.name ?? out}_quant`)),
        makeNode('Cast', [integer], [cast], names.take(`${integer}_cast`), '', [intAttr('to', DataType.FLOAT)]),
        makeNode('Mul', [a.scale, ws], [scales], names.take(`${node.name ?? out}_quant_scales_mul`)),
        makeNode('Mul', [cast, scales], [out], names.take(`${node.name ?? out}_quant_output_scale_mul`)),
      );
      report.matmuls++;
    } else if (table?.dataType === DataType.FLOAT) {
      const out = node.output?.[0] ?? '';
      const t = quantizeAsymmetricUint8(readFloats(table));
      const base = table.name ?? 'table';
      const tq = names.take(`${base}_quantized`);
      const ts = names.take(`${base}_scale`);
      const tzp = names.take(`${base}_zero_point`);
      added.push(uint8Tensor(tq, dimsOf(table), t.q), floatTensor(ts, [], Float32Array.of(t.scale)), uint8Tensor(tzp, [], Uint8Array.of(t.zeroPoint)));
      const gathered = names.take(`${out}_quantized`);
      nodes.push(
        makeNode('Gather', [tq, node.input?.[1] ?? ''], [gathered], node.name ?? names.take('Gather'), '', node.attribute ?? []),
        makeNode('DequantizeLinear', [gathered, ts, tzp], [out], names.take(`${out}_DequantizeLinear`)),
      );
      report.gathers++;
    } else {
      nodes.push(node);
    }
  }
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...added];
  removeUnusedInitializers(graph);
  return report;
}

/** Gemm(A, B, C) with alpha = beta = 1 and transA = 0 → MatMul(A, B or a transposed copy of B) + Add(C). */
function gemmsAsMatMul(nodes: readonly NodeProto[], inits: Map<string, TensorProto>, names: NameAllocator, added: TensorProto[]): NodeProto[] {
  const transposed = new Map<string, string>();
  return nodes.flatMap((node) => {
    if (node.opType !== 'Gemm' || (node.domain ?? '') !== '') return [node];
    if (getFloatAttr(node, 'alpha', 1) !== 1 || getFloatAttr(node, 'beta', 1) !== 1 || getIntAttr(node, 'transA', 0) !== 0) return [node];
    let b = node.input?.[1] ?? '';
    const out = node.output?.[0] ?? '';
    const pre: NodeProto[] = [];
    if (getIntAttr(node, 'transB', 0) === 1) {
      const t = inits.get(b);
      let name = transposed.get(b);
      if (name === undefined) {
        name = names.take(`${b}_Transposed`);
        if (t?.dataType === DataType.FLOAT && dimsOf(t).length === 2) {
          const [rows, cols] = dimsOf(t) as [number, number];
          const copy = floatTensor(name, [cols, rows], transpose(readFloats(t), rows, cols));
          added.push(copy);
          inits.set(name, copy);
        } else {
          pre.push(makeNode('Transpose', [b], [name], names.take(`${node.name ?? out}_Transpose`)));
        }
        transposed.set(b, name);
      }
      b = name;
    }
    const c = node.input?.[2] ?? '';
    if (c === '') return [...pre, makeNode('MatMul', [node.input?.[0] ?? '', b], [out], names.take(`${node.name ?? out}_MatMul`))];
    const product = names.take(`${out}_MatMul`);
    return [...pre, makeNode('MatMul', [node.input?.[0] ?? '', b], [product], names.take(`${node.name ?? out}_MatMul`)), makeNode('Add', [product, c], [out], names.take(`${node.name ?? out}_Add`))];
  });
}

/** int8, symmetric, one scale for the tensor: scale = max|w| / 127, q = round-half-even(w / scale). */
export function quantizeSymmetricInt8(values: Float32Array): { q: Int8Array; scale: number } {
  let absMax = 0;
  for (const v of values) absMax = Math.max(absMax, Math.abs(v));
  const scale = Math.fround(absMax === 0 ? 1 : (2 * absMax) / 254);
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = clamp(roundHalfEven((values[i] as number) / scale), -127, 127);
  return { q, scale };
}

/** uint8, asymmetric over [min(x, 0), max(x, 0)], one scale and zero point for the tensor. */
export function quantizeAsymmetricUint8(values: Float32Array): { q: Uint8Array; scale: number; zeroPoint: number } {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = hi === lo ? 1 : Math.fround((hi - lo) / 255);
  const zeroPoint = hi === lo ? 0 : clamp(roundHalfEven(-lo / scale), 0, 255);
  const q = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = clamp(roundHalfEven((values[i] as number) / scale) + zeroPoint, 0, 255);
  return { q, scale, zeroPoint };
}

/** numpy.round and QuantizeLinear round ties to even; Math.round would round them up. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function uint8Tensor(name: string, dims: readonly number[], values: Uint8Array): TensorProto {
  return onnx.TensorProto.create({ name, dims: [...dims], dataType: DataType.UINT8, rawData: values });
}
