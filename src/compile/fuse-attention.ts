// cpu-int8: one com.microsoft QAttention per self-attention block, in place of the dozen nodes a BERT-style
// export leaves after quantization and ONNX Runtime's own fusions:
//
//   a_q ─┬─ MatMulIntegerToFloat(Wq, bias) → Reshape → Transpose(0,2,1,3) ─┐
//        ├─ MatMulIntegerToFloat(Wk, bias) → Reshape → Transpose(0,2,3,1) ─┴─ FusedMatMul(α) → Add(mask) → Softmax ─┐
//        └─ MatMulIntegerToFloat(Wv, bias) → Reshape → Transpose(0,2,1,3) ──────────────────────── MatMul ←──────────┘
//                                                                                                   → Transpose(0,2,1,3) → Reshape
//   becomes  a_q → QAttention(W_qkv int8 [D, 3·D], per-column scales, bias, mask) → the same output.
//
// Why: ORT's stock-quantized BERT and ours ran the attention core as separate Reshape/Transpose/Softmax/MatMul
// kernels (Softmax alone ~12% of the time, Transpose ~5%) and three int8 GEMMs on the same quantized input.
// QAttention runs one packed int8 GEMM for Q, K and V, and the heads' scores, softmax and context in one
// kernel. The arithmetic is the same: the activation's scale and zero point and the weights' per-column
// scales are passed through unchanged, so labels agree with the unfused graph (the parity gate still checks).
//
// The rewrite only fires on the exact pattern, with the additive mask computed from the model's attention_mask
// input (a padding mask: QAttention gets that input itself, cast to int32) and the score scale equal to
// 1/sqrt(head size) (QAttention's own); anything else is left as it is and said so in the report.
import { CompileError } from '../errors.js';
import {
  DataType, MS_DOMAIN, NameAllocator, consumerMap, dimsOf, ensureOpsetImport, floatTensor, getAttr, getFloatAttr, getIntAttr,
  graphOf, initializerMap, int8Tensor, intAttr, makeNode, producerMap, readFloats, removeUnusedInitializers, toNumber,
  type GraphProto, type ModelProto, type NodeProto, type TensorProto,
} from './onnx-graph.js';

export interface AttentionFusion {
  /** Attention blocks replaced by QAttention. */
  fused: number;
  /** Heads of each fused block. */
  heads: number[];
  /** Why each Softmax that looked like attention was left alone. */
  skipped: string[];
}

interface Qkv {
  matmul: NodeProto;
  reshape: NodeProto;
  transpose: NodeProto;
  heads: number;
  headSize: number;
}

/** Rewrites every matching attention block of an optimized int8 graph in place. */
export function fuseInt8Attention(model: ModelProto, attentionMask: string | undefined): AttentionFusion {
  const graph = graphOf(model);
  const result: AttentionFusion = { fused: 0, heads: [], skipped: [] };
  const softmaxes = (graph.node ?? []).filter((n) => n.opType === 'Softmax' && (n.domain ?? '') === '');
  if (softmaxes.length === 0) return result;
  if (attentionMask === undefined) {
    result.skipped.push('the model has no attention_mask input');
    return result;
  }
  const names = new NameAllocator(graph);
  const maskInt32 = names.take(`${attentionMask}_int32`);
  const replaced = new Map<NodeProto, NodeProto>(); // final Reshape of a block → its QAttention
  // Built once: the graph's nodes change only after every block is matched (new initializers are not read).
  const maps: GraphMaps = { producer: producerMap(graph), consumers: consumerMap(graph), inits: initializerMap(graph) };
  for (const softmax of softmaxes) {
    const m = matchBlock(graph, maps, softmax, attentionMask);
    if (typeof m === 'string') {
      result.skipped.push(`${softmax.name ?? 'Softmax'}: ${m}`);
      continue;
    }
    replaced.set(m.output, qattention(graph, maps.inits, m, maskInt32, names));
    result.fused++;
    result.heads.push(m.q.heads);
  }
  if (result.fused === 0) return result;
  ensureOpsetImport(model, MS_DOMAIN, 1);
  // Each QAttention takes the place of its block's last node, where all its inputs exist (node order stays
  // topological); the mask cast reads a graph input and goes first.
  const cast = makeNode('Cast', [attentionMask], [maskInt32], names.take('attention_mask_to_int32'), '', [intAttr('to', DataType.INT32)]);
  graph.node = [cast, ...(graph.node ?? []).map((n) => replaced.get(n) ?? n)];
  removeDeadNodes(graph);
  removeUnusedInitializers(graph);
  return result;
}

interface Block {
  q: Qkv;
  k: Qkv;
  v: Qkv;
  /** The block's last node (Reshape back to [batch, sequence, hidden]). */
  output: NodeProto;
}

/** The attention block around one Softmax, or why it is not one this rewrite handles. */
interface GraphMaps {
  producer: Map<string, NodeProto>;
  consumers: Map<string, NodeProto[]>;
  inits: Map<string, TensorProto>;
}

function matchBlock(graph: GraphProto, { producer, consumers, inits }: GraphMaps, softmax: NodeProto, attentionMask: string): Block | string {
  const only = (tensor: string | undefined): NodeProto | undefined => {
    const list = consumers.get(tensor ?? '') ?? [];
    return list.length === 1 ? list[0] : undefined;
  };
  const axis = getIntAttr(softmax, 'axis', -1);
  if (axis !== -1 && axis !== 3) return `softmax over axis ${axis}, not the keys`;
  const add = producer.get(softmax.input?.[0] ?? '');
  if (add?.opType !== 'Add' || only(add.output?.[0]) !== softmax) return 'no mask Add before the softmax';
  const scoresAt = (add.input ?? []).findIndex((i) => producer.get(i)?.opType === 'FusedMatMul');
  if (scoresAt < 0) return 'scores are not one FusedMatMul';
  const scores = producer.get(add.input?.[scoresAt] ?? '') as NodeProto;
  const mask = add.input?.[1 - scoresAt] ?? '';
  const from = valuesFrom(producer, mask, new Set((graph.input ?? []).map((i) => i.name ?? '')));
  if (from.size !== 1 || !from.has(attentionMask)) return `the additive mask does not come from ${attentionMask} alone`;
  if (['transA', 'transB', 'transBatchA', 'transBatchB'].some((a) => getIntAttr(scores, a, 0) !== 0)) return 'transposed FusedMatMul';
  if (only(scores.output?.[0]) !== add) return 'scores read elsewhere';
  const q = headsOf(producer, inits, only, scores.input?.[0], [0, 2, 1, 3]);
  const k = headsOf(producer, inits, only, scores.input?.[1], [0, 2, 3, 1]);
  if (typeof q === 'string') return `query: ${q}`;
  if (typeof k === 'string') return `key: ${k}`;
  const context = only(softmax.output?.[0]);
  if (context?.opType !== 'MatMul' || context.input?.[0] !== softmax.output?.[0]) return 'the softmax is not multiplied by the values';
  const v = headsOf(producer, inits, only, context.input?.[1], [0, 2, 1, 3]);
  if (typeof v === 'string') return `value: ${v}`;
  if (q.heads !== k.heads || q.heads !== v.heads || q.headSize !== k.headSize || q.headSize !== v.headSize) return 'Q, K and V split into different heads';
  const shared = (i: number): boolean => q.matmul.input?.[i] === k.matmul.input?.[i] && q.matmul.input?.[i] === v.matmul.input?.[i];
  if (!shared(0) || !shared(2) || !shared(4)) return 'Q, K and V do not read one quantized activation';
  const alpha = getFloatAttr(scores, 'alpha', 1);
  if (Math.abs(alpha * Math.sqrt(q.headSize) - 1) > 1e-4) return `score scale ${alpha} is not 1/sqrt(${q.headSize})`;
  const back = only(context.output?.[0]);
  if (back?.opType !== 'Transpose' || !permIs(back, [0, 2, 1, 3])) return 'context not transposed back';
  const output = only(back.output?.[0]);
  if (output?.opType !== 'Reshape') return 'context not reshaped back';
  return { q, k, v, output };
}

/** MatMulIntegerToFloat → Reshape [b, s, heads, size] → Transpose(perm), read from the Transpose's output. */
function headsOf(
  producer: Map<string, NodeProto>, inits: Map<string, TensorProto>, only: (t: string | undefined) => NodeProto | undefined,
  tensor: string | undefined, perm: number[],
): Qkv | string {
  const transpose = producer.get(tensor ?? '');
  if (transpose?.opType !== 'Transpose' || !permIs(transpose, perm)) return `not Transpose(${perm.join(',')})`;
  const reshape = producer.get(transpose.input?.[0] ?? '');
  if (reshape?.opType !== 'Reshape' || only(reshape.output?.[0]) !== transpose || getIntAttr(reshape, 'allowzero', 0) !== 0) return 'not split into heads by a Reshape';
  const split = headSplit(producer, inits, reshape.input?.[1]);
  if (!split) return 'head count not a constant';
  const matmul = producer.get(reshape.input?.[0] ?? '');
  if (matmul?.opType !== 'MatMulIntegerToFloat' || (matmul.domain ?? '') !== MS_DOMAIN || only(matmul.output?.[0]) !== reshape) return 'projection is not an int8 MatMulIntegerToFloat';
  const w = inits.get(matmul.input?.[1] ?? '');
  const scale = inits.get(matmul.input?.[3] ?? '');
  if (w?.dataType !== DataType.INT8 || dimsOf(w).length !== 2 || (matmul.input?.[5] ?? '') !== '') return 'weight is not a symmetric int8 constant';
  const cols = dimsOf(w)[1] ?? 0;
  // Exporters write the head count as -1 ("the rest") as often as a number.
  const heads = split.heads === -1 && cols % split.headSize === 0 ? cols / split.headSize : split.heads;
  if (cols !== heads * split.headSize) return `weight has ${cols} columns, heads give ${heads * split.headSize}`;
  if (scale?.dataType !== DataType.FLOAT || ![1, cols].includes(readFloats(scale).length)) return 'weight scale not per tensor or per column';
  const bias = matmul.input?.[6] ?? '';
  if (bias !== '' && inits.get(bias)?.dataType !== DataType.FLOAT) return 'bias not a float constant';
  return { matmul, reshape, transpose, heads, headSize: split.headSize };
}

/** [*, *, heads or -1, size] from a Reshape's shape: an int64 initializer or a Concat whose last two parts are. */
function headSplit(producer: Map<string, NodeProto>, inits: Map<string, TensorProto>, shape: string | undefined): { heads: number; headSize: number } | undefined {
  const constant = inits.get(shape ?? '');
  let dims: (number | undefined)[] | undefined;
  if (constant) dims = readInt64s(constant);
  else {
    const concat = producer.get(shape ?? '');
    if (concat?.opType !== 'Concat' || (concat.input ?? []).length !== 4) return undefined;
    dims = (concat.input ?? []).map((i) => {
      const t = inits.get(i);
      const v = t ? readInt64s(t) : undefined;
      return v?.length === 1 ? v[0] : undefined;
    });
  }
  const [heads, headSize] = [dims?.[2], dims?.[3]];
  return dims?.length === 4 && heads !== undefined && headSize !== undefined && (heads > 0 || heads === -1) && headSize > 0 ? { heads, headSize } : undefined;
}

function qattention(graph: GraphProto, inits: Map<string, TensorProto>, b: Block, mask: string, names: NameAllocator): NodeProto {
  const parts = [b.q, b.k, b.v].map((p) => {
    const w = inits.get(p.matmul.input?.[1] ?? '') as TensorProto;
    const [rows, cols] = dimsOf(w) as [number, number];
    const scale = readFloats(inits.get(p.matmul.input?.[3] ?? '') as TensorProto);
    const biasName = p.matmul.input?.[6] ?? '';
    return {
      rows, cols,
      weight: readInt8s(w),
      scale: scale.length === 1 ? new Float32Array(cols).fill(scale[0] as number) : scale,
      bias: biasName === '' ? new Float32Array(cols) : readFloats(inits.get(biasName) as TensorProto),
    };
  });
  const rows = parts[0]?.rows ?? 0;
  const cols = parts.reduce((a, p) => a + p.cols, 0);
  if (parts.some((p) => p.rows !== rows)) throw new CompileError('attention fusion: Q, K and V weights have different input sizes');
  // [rows, q | k | v]: QAttention reads one weight whose columns are Q's, then K's, then V's.
  const weight = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let at = r * cols;
    for (const p of parts) {
      weight.set(p.weight.subarray(r * p.cols, (r + 1) * p.cols), at);
      at += p.cols;
    }
  }
  const concat = (pick: (p: (typeof parts)[number]) => Float32Array): Float32Array => {
    const out = new Float32Array(cols);
    let at = 0;
    for (const p of parts) {
      out.set(pick(p), at);
      at += p.cols;
    }
    return out;
  };
  const base = (b.q.matmul.name ?? 'attention').replace(/\/query\/.*$/, '/qkv');
  const [w, s, bias] = [names.take(`${base}_weight_int8`), names.take(`${base}_weight_scale`), names.take(`${base}_bias`)];
  graph.initializer = [...(graph.initializer ?? []), int8Tensor(w, [rows, cols], weight), floatTensor(s, [cols], concat((p) => p.scale)), floatTensor(bias, [cols], concat((p) => p.bias))];
  const a = b.q.matmul.input ?? [];
  return makeNode('QAttention', [a[0] ?? '', w, bias, a[2] ?? '', s, mask, a[4] ?? ''], [b.output.output?.[0] ?? ''], names.take(`${base}/QAttention`), MS_DOMAIN, [intAttr('num_heads', b.q.heads)]);
}

/**
 * The graph inputs whose values reach `tensor`. A Shape node passes on only its input's shape (exports size
 * the mask by the hidden states' batch and length), so the walk stops there.
 */
function valuesFrom(producer: Map<string, NodeProto>, tensor: string, graphInputs: Set<string>): Set<string> {
  const found = new Set<string>();
  const seen = new Set<string>();
  const stack = [tensor];
  while (stack.length > 0) {
    const t = stack.pop() as string;
    if (seen.has(t)) continue;
    seen.add(t);
    if (graphInputs.has(t)) found.add(t);
    const node = producer.get(t);
    if (node && node.opType !== 'Shape') stack.push(...(node.input ?? []).filter((i) => i !== ''));
  }
  return found;
}

function permIs(node: NodeProto, perm: number[]): boolean {
  const got = (getAttr(node, 'perm')?.ints ?? []).map((v) => toNumber(v));
  return got.length === perm.length && got.every((v, i) => v === perm[i]);
}

/** Drops nodes none of whose outputs is read (by a node or as a graph output), until none is left. */
function removeDeadNodes(graph: GraphProto): number {
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const before = (graph.node ?? []).length;
  for (;;) {
    const read = new Set(outputs);
    for (const n of graph.node ?? []) for (const i of n.input ?? []) read.add(i);
    const live = (graph.node ?? []).filter((n) => (n.output ?? []).some((o) => o !== '' && read.has(o)));
    if (live.length === (graph.node ?? []).length) break;
    graph.node = live;
  }
  return before - (graph.node ?? []).length;
}

function readInt64s(t: TensorProto): number[] | undefined {
  if (t.dataType !== DataType.INT64) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData);
    return Array.from(new BigInt64Array(copy.buffer, 0, copy.length / 8), (v) => Number(v));
  }
  return (t.int64Data ?? []).map((v) => toNumber(v));
}

function readInt8s(t: TensorProto): Int8Array {
  const raw = t.rawData;
  if (!raw || raw.length === 0) return Int8Array.from(t.int32Data ?? []); // ONNX stores small ints widened there
  return new Int8Array(new Uint8Array(raw).buffer, 0, raw.length);
}
