// What happens to an activation before DynamicQuantizeMatMul quantizes it, emitted once per activation
// tensor and shared by every MatMul reading it (the Q, K and V projections read the same one).
//
// DynamicQuantizeMatMul gives the whole activation tensor (every token of every text in the call) ONE
// uint8 scale. Two things make that scale too coarse in transformer encoders, each with its own fix:
//   - a few channels run far larger than the rest, for every token: smoothing (smoothing.ts) moves part of
//     their range into the weights, A·W = (A·diag(1/s))·(diag(s)·W);
//   - some tokens run far larger than others: per-token scaling divides each row by its own max |value|
//     (ReduceMax, ReduceMin → Div), so every row spans [-1, 1] and the single scale fits all of them, and
//     multiplies the product back: A·W = diag(r)·((diag(1/r)·A)·W). Exact in real arithmetic; this is
//     per-token dynamic quantization built from standard ops.
// Measured on the fine-tuned MiniLM-L6 sentiment classifier (3550 validation texts, 7-bit weights), label
// agreement with fp32: 98.06% as is, 99.27% with per-token scaling, 99.32% with both. Cost: a few
// elementwise passes over the activation, under 1% of the MatMul work it feeds.
import { floatTensor, int64Tensor, intAttr, makeNode, onnx, type NameAllocator, type NodeProto, type TensorProto } from './onnx-graph.js';

export interface PreparedActivation {
  /** The tensor DynamicQuantizeMatMul reads. */
  input: string;
  /** Per-row scale [.., 1] to multiply the product by, when per-token scaling is on. */
  rowScale?: string;
}

export interface PrepContext {
  names: NameAllocator;
  newInits: TensorProto[];
  /** ReduceMax takes its axes as an input from opset 18 on, as an attribute before. */
  opset: number;
}

// Keeps an all-zero row from dividing by zero; far below any real activation's max.
const MIN_ROW_MAX = 1e-12;

/** Emits the smoothing Mul and/or the per-token scaling for `activation` into `nodes`. */
export function prepareActivation(
  activation: string,
  smoothing: Float32Array | undefined,
  perToken: boolean,
  ctx: PrepContext,
  nodes: NodeProto[],
): PreparedActivation {
  const { names, newInits } = ctx;
  let input = activation;
  if (smoothing) {
    const inv = names.take(`${activation}_smooth_inv`);
    newInits.push(floatTensor(inv, [smoothing.length], smoothing.map((v) => 1 / v)));
    const out = names.take(`${activation}_smoothed`);
    nodes.push(makeNode('Mul', [input, inv], [out], names.take(`${activation}_smooth`)));
    input = out;
  }
  if (!perToken) return { input };
  // max |x| of a row as max(max x, -min x): two reductions that only read the row, where Abs would first
  // write a copy of the whole activation.
  const rowHigh = names.take(`${activation}_row_high`);
  const rowLow = names.take(`${activation}_row_low`);
  const negLow = names.take(`${activation}_row_neg_low`);
  const rowScale = names.take(`${activation}_row_scale`);
  const floor = names.take(`${activation}_row_floor`);
  const scaled = names.take(`${activation}_row_scaled`);
  newInits.push(floatTensor(floor, [], Float32Array.of(MIN_ROW_MAX)));
  nodes.push(
    reduceLastAxis('ReduceMax', input, rowHigh, activation, ctx),
    reduceLastAxis('ReduceMin', input, rowLow, activation, ctx),
    makeNode('Neg', [rowLow], [negLow], names.take(`${negLow}_op`)),
    makeNode('Max', [rowHigh, negLow, floor], [rowScale], names.take(`${rowScale}_max`)),
    makeNode('Div', [input, rowScale], [scaled], names.take(`${scaled}_div`)),
  );
  return { input: scaled, rowScale };
}

/** ReduceMax / ReduceMin over the last axis, keeping it: axes are an input from opset 18 on, an attribute before. */
function reduceLastAxis(op: 'ReduceMax' | 'ReduceMin', input: string, output: string, activation: string, ctx: PrepContext): NodeProto {
  const name = ctx.names.take(`${output}_reduce`);
  if (ctx.opset < 18) {
    const axes = onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [-1] });
    return makeNode(op, [input], [output], name, '', [axes, intAttr('keepdims', 1)]);
  }
  const axes = ctx.names.take(`${activation}_${op === 'ReduceMax' ? 'max' : 'min'}_axes`);
  ctx.newInits.push(int64Tensor(axes, [-1]));
  return makeNode(op, [input, axes], [output], name, '', [intAttr('keepdims', 1)]);
}
