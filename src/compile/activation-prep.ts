// What happens to an activation before DynamicQuantizeMatMul quantizes it, emitted once per activation
// tensor and shared by every MatMul reading it (the Q, K and V projections read the same one).
//
// DynamicQuantizeMatMul gives the whole activation tensor (every token of every text in the call) ONE
// uint8 scale. Two things make that scale too coarse in transformer encoders, each with its own fix:
//   - a few channels run far larger than the rest, for every token: smoothing (smoothing.ts) moves part of
//     their range into the weights, A·W = (A·diag(1/s))·(diag(s)·W);
//   - some tokens run far larger than others: per-token scaling divides each row by its own max |value|
//     (Abs → ReduceMax → Div), so every row spans [-1, 1] and the single scale fits all of them, and
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
  const abs = names.take(`${activation}_abs`);
  const rowMax = names.take(`${activation}_row_max`);
  const rowScale = names.take(`${activation}_row_scale`);
  const floor = names.take(`${activation}_row_floor`);
  const scaled = names.take(`${activation}_row_scaled`);
  newInits.push(floatTensor(floor, [], Float32Array.of(MIN_ROW_MAX)));
  const reduce =
    ctx.opset >= 18
      ? makeNode('ReduceMax', [abs, axesInit(ctx, activation)], [rowMax], names.take(`${rowMax}_reduce`), '', [intAttr('keepdims', 1)])
      : makeNode('ReduceMax', [abs], [rowMax], names.take(`${rowMax}_reduce`), '', [
          onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [-1] }),
          intAttr('keepdims', 1),
        ]);
  nodes.push(
    makeNode('Abs', [input], [abs], names.take(`${abs}_op`)),
    reduce,
    makeNode('Max', [rowMax, floor], [rowScale], names.take(`${rowScale}_floor`)),
    makeNode('Div', [input, rowScale], [scaled], names.take(`${scaled}_div`)),
  );
  return { input: scaled, rowScale };
}

function axesInit(ctx: PrepContext, activation: string): string {
  const name = ctx.names.take(`${activation}_row_axes`);
  ctx.newInits.push(int64Tensor(name, [-1]));
  return name;
}
