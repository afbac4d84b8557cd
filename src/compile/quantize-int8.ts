// Dynamic int8 quantization of the constant-weight MatMul/Gemm nodes, on the ONNX protobuf.
//
// Each eligible node becomes one com.microsoft DynamicQuantizeMatMul(A, W_int8 [K,N], scale [N], '', bias [N]):
// ONNX Runtime quantizes the activations A to uint8 at run time (per call, asymmetric) and multiplies with
// the int8 weights on the integer GEMM kernels (VNNI where the CPU has it). Measured here: 2.5-3.2x faster
// than fp32 on a BERT-like encoder (see /work/shared/notes/onnxruntime-facts.md).
//
// Weights are quantized symmetrically per output column: scale[n] = max_k |W[k,n]| / 127, no zero point.
// Per-column scales keep one large column from crushing the resolution of the others, which matters for
// the attention projections of trained transformers. What stays fp32, and why:
//   - weights that are not 2-D initializers (activations x activations, like Q·Kᵀ, are not weights);
//   - small weights (K or N below `minDim`): no speed to gain, and in a classifier the smallest one is the
//     head, whose error lands directly on the logits;
//   - the embedding tables (Gather): a lookup, not a GEMM; int8 there saves bytes, not time.
import {
  DataType,
  MS_DOMAIN,
  NameAllocator,
  consumerMap,
  dimsOf,
  ensureOpsetImport,
  floatTensor,
  getFloatAttr,
  getIntAttr,
  graphOf,
  initializerMap,
  int8Tensor,
  makeNode,
  readFloats,
  removeUnusedInitializers,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-graph.js';

export interface QuantizeInt8Options {
  /** Weights with fewer rows (K) or columns (N) than this stay fp32. Default 16. */
  minDim?: number;
  /**
   * Test seam: called with each weight's fresh per-column scales before they are written. Tests corrupt
   * them to prove the parity gate refuses a broken quantization; production code never sets it.
   */
  perturbScales?: (scales: Float32Array, weightName: string) => void;
}

export interface QuantizeInt8Report {
  /** Nodes rewritten to DynamicQuantizeMatMul. */
  quantized: number;
  /** Bias Adds (and Gemm C inputs) folded into the quantized node. */
  biasesFolded: number;
  /** fp32 weights left alone, with the reason. */
  keptFp32: { name: string; shape: number[]; reason: string }[];
  /** Parameters now stored as int8 / still stored as fp32 (all float initializers). */
  int8Params: number;
  fp32Params: number;
}

interface QuantizedWeight {
  weight: string;
  scale: string;
}

/** Quantizes `model` in place and says what it did. The model should be constant-folded first. */
export function quantizeDynamicInt8(model: ModelProto, options: QuantizeInt8Options = {}): QuantizeInt8Report {
  const minDim = options.minDim ?? 16;
  const graph = graphOf(model);
  const inits = initializerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const names = new NameAllocator(graph);
  const cache = new Map<string, QuantizedWeight>();
  const report: QuantizeInt8Report = { quantized: 0, biasesFolded: 0, keptFp32: [], int8Params: 0, fp32Params: 0 };
  const removed = new Set<NodeProto>();
  const replaced = new Map<NodeProto, NodeProto>();
  const newInits: TensorProto[] = [];

  const quantized = (weightName: string, kn: Float32Array, k: number, n: number): QuantizedWeight => {
    const hit = cache.get(weightName);
    if (hit) return hit;
    const { q, scales } = quantizePerColumn(kn, k, n);
    options.perturbScales?.(scales, weightName);
    const entry = { weight: names.take(`${weightName}_int8`), scale: names.take(`${weightName}_scale`) };
    newInits.push(int8Tensor(entry.weight, [k, n], q), floatTensor(entry.scale, [n], scales));
    cache.set(weightName, entry);
    return entry;
  };

  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) continue;
    const plan = planNode(node, inits, minDim, report);
    if (!plan) continue;
    const q = quantized(plan.weightKey, plan.kn, plan.k, plan.n);
    let output = node.output?.[0] ?? '';
    let bias = plan.bias;
    if (bias === undefined && node.opType === 'MatMul') {
      // MatMul followed by Add(bias) is how exporters write Linear on 3-D activations: fold the Add.
      const fold = foldableBiasAdd(output, consumers, graphOutputs, inits, plan.n);
      if (fold) {
        bias = fold.bias;
        output = fold.add.output?.[0] ?? output;
        removed.add(fold.add);
      }
    } else if (bias !== undefined && plan.biasValues) {
      const name = names.take(`${bias}_scaled`);
      newInits.push(floatTensor(name, [plan.n], plan.biasValues));
      bias = name;
    }
    if (bias !== undefined) report.biasesFolded++;
    const inputs = [node.input?.[0] ?? '', q.weight, q.scale, ...(bias !== undefined ? ['', bias] : [])];
    replaced.set(node, makeNode('DynamicQuantizeMatMul', inputs, [output], names.take(`${node.name || 'MatMul'}_quant`), MS_DOMAIN));
    report.quantized++;
  }

  graph.node = (graph.node ?? []).filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  graph.initializer = [...(graph.initializer ?? []), ...newInits];
  removeUnusedInitializers(graph);
  if (report.quantized > 0) ensureOpsetImport(model, MS_DOMAIN, 1);
  for (const t of graph.initializer) {
    const count = dimsOf(t).reduce((a, b) => a * b, 1);
    if (t.dataType === DataType.INT8) report.int8Params += count;
    else if (t.dataType === DataType.FLOAT) report.fp32Params += count;
  }
  return report;
}

interface NodePlan {
  /** Cache key: the weight initializer, plus the layout it is read in. */
  weightKey: string;
  kn: Float32Array;
  k: number;
  n: number;
  /** Bias initializer to pass as is, or (when biasValues is set) the name to derive a scaled copy from. */
  bias?: string;
  biasValues?: Float32Array;
}

/** Decides whether a MatMul/Gemm is quantizable and returns its weight as a row-major [K,N] array. */
function planNode(node: NodeProto, inits: Map<string, TensorProto>, minDim: number, report: QuantizeInt8Report): NodePlan | undefined {
  const weightName = node.input?.[1] ?? '';
  const w = inits.get(weightName);
  if (!w || w.dataType !== DataType.FLOAT) return undefined; // activation x activation (attention scores)
  const dims = dimsOf(w);
  const keep = (reason: string): undefined => {
    if (!report.keptFp32.some((k) => k.name === weightName)) report.keptFp32.push({ name: weightName, shape: dims, reason });
    return undefined;
  };
  if (dims.length !== 2) return keep(`${dims.length}-D weight`);
  let kn = readFloats(w);
  let [k, n] = dims as [number, number];
  let weightKey = weightName;
  let bias: string | undefined;
  let biasValues: Float32Array | undefined;
  if (node.opType === 'Gemm') {
    if (getIntAttr(node, 'transA', 0) !== 0) return keep('Gemm with transA');
    if (getIntAttr(node, 'transB', 0) !== 0) {
      // W is stored [N,K] (PyTorch Linear layout); DynamicQuantizeMatMul wants [K,N].
      [k, n] = [n, k];
      kn = transpose(kn, n, k);
      weightKey = `${weightName}#T`;
    }
    const alpha = getFloatAttr(node, 'alpha', 1);
    if (alpha !== 1) kn = kn.map((v) => v * alpha);
    if (alpha !== 1) weightKey = `${weightKey}#a${alpha}`;
    const c = node.input?.[2] ?? '';
    if (c !== '') {
      const ct = inits.get(c);
      const cDims = ct ? dimsOf(ct) : [];
      const isRow = cDims.length === 1 ? cDims[0] === n : cDims.length === 2 && cDims[0] === 1 && cDims[1] === n;
      if (!ct || ct.dataType !== DataType.FLOAT || !isRow) return keep('Gemm whose C is not a constant [N] bias');
      const beta = getFloatAttr(node, 'beta', 1);
      bias = c;
      if (beta !== 1 || cDims.length !== 1) biasValues = readFloats(ct).map((v) => v * beta);
    }
  }
  if (k < minDim || n < minDim) return keep(`smaller than ${minDim} in a dimension (${k}x${n}): no speed to gain, error would land on the output directly`);
  const plan: NodePlan = { weightKey, kn, k, n };
  if (bias !== undefined) plan.bias = bias;
  if (biasValues !== undefined) plan.biasValues = biasValues;
  return plan;
}

/** The Add that only adds a constant [N] vector to `output`, when there is exactly one such reader. */
function foldableBiasAdd(
  output: string,
  consumers: Map<string, NodeProto[]>,
  graphOutputs: Set<string>,
  inits: Map<string, TensorProto>,
  n: number,
): { add: NodeProto; bias: string } | undefined {
  const readers = consumers.get(output) ?? [];
  if (graphOutputs.has(output) || readers.length !== 1) return undefined;
  const add = readers[0] as NodeProto;
  if (add.opType !== 'Add' || (add.domain ?? '') !== '' || (add.input ?? []).length !== 2) return undefined;
  const other = add.input?.[0] === output ? add.input?.[1] : add.input?.[0];
  if (other === undefined || other === output) return undefined;
  const t = inits.get(other);
  if (!t || t.dataType !== DataType.FLOAT) return undefined;
  const dims = dimsOf(t);
  if (dims.length !== 1 || dims[0] !== n) return undefined;
  return { add, bias: other };
}

/** Symmetric per-column int8: scale[n] = max|W[:,n]| / 127, q = round(W / scale) in [-127, 127]. */
export function quantizePerColumn(kn: Float32Array, k: number, n: number): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(n);
  for (let row = 0; row < k; row++) {
    for (let col = 0; col < n; col++) {
      const a = Math.abs(kn[row * n + col] as number);
      if (a > (scales[col] as number)) scales[col] = a;
    }
  }
  // An all-zero column gets scale 1 (any value works; 0 would divide by zero).
  for (let col = 0; col < n; col++) scales[col] = (scales[col] as number) === 0 ? 1 : (scales[col] as number) / 127;
  const q = new Int8Array(k * n);
  for (let row = 0; row < k; row++) {
    for (let col = 0; col < n; col++) {
      const v = Math.round((kn[row * n + col] as number) / (scales[col] as number));
      q[row * n + col] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
  return { q, scales };
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}
