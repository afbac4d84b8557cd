// Which MatMul/Gemm nodes int8 quantization rewrites, and their weights read as row-major [K, N].
import {
  DataType,
  dimsOf,
  getFloatAttr,
  getIntAttr,
  graphOf,
  initializerMap,
  readFloats,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-graph.js';

export interface Int8PlanOptions {
  /** Weights with fewer rows (K) or columns (N) than this stay fp32. Default 16. */
  minDim?: number;
  /** Nodes (by name) to leave in fp32. */
  skipNode?: (name: string) => boolean;
}

export interface NodePlan {
  node: NodeProto;
  /** The activation input (A of A·W). */
  activation: string;
  /** Cache key: the weight initializer, plus the layout it is read in. */
  weightKey: string;
  /** Row-major [K, N] fp32 weight (a copy: smoothing may scale it). */
  kn: Float32Array;
  k: number;
  n: number;
  /** Gemm C to pass as the bias as is, or (with biasValues) to derive a scaled copy from. */
  bias?: string;
  biasValues?: Float32Array;
}

export interface KeptWeight {
  name: string;
  shape: number[];
  reason: string;
}

export interface Int8Plan {
  nodes: NodePlan[];
  kept: KeptWeight[];
}

export function planInt8(model: ModelProto, options: Int8PlanOptions = {}): Int8Plan {
  const minDim = options.minDim ?? 16;
  const graph = graphOf(model);
  const inits = initializerMap(graph);
  const plan: Int8Plan = { nodes: [], kept: [] };
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) continue;
    if (options.skipNode?.(node.name ?? '') === true) continue;
    const p = planNode(node, inits, minDim, plan.kept);
    if (p) plan.nodes.push(p);
  }
  return plan;
}

/** The activations the planned nodes read (what calibration has to measure). */
export function plannedActivations(plan: Int8Plan): string[] {
  return [...new Set(plan.nodes.map((p) => p.activation))];
}

function planNode(node: NodeProto, inits: Map<string, TensorProto>, minDim: number, kept: KeptWeight[]): NodePlan | undefined {
  const weightName = node.input?.[1] ?? '';
  const w = inits.get(weightName);
  if (!w || w.dataType !== DataType.FLOAT) return undefined; // activation x activation (attention scores)
  const dims = dimsOf(w);
  const keep = (reason: string): undefined => {
    if (!kept.some((k) => k.name === weightName)) kept.push({ name: weightName, shape: dims, reason });
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
    if (alpha !== 1) {
      kn = kn.map((v) => v * alpha);
      weightKey = `${weightKey}#a${alpha}`;
    }
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
  if (k < minDim || n < minDim) return keep(`under ${minDim} in a dimension: no speed to gain, and its error would land on the output directly`);
  const plan: NodePlan = { node, activation: node.input?.[0] ?? '', weightKey, kn, k, n };
  if (bias !== undefined) plan.bias = bias;
  if (biasValues !== undefined) plan.biasValues = biasValues;
  return plan;
}

/** A row-major [rows, cols] matrix as row-major [cols, rows]. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}
