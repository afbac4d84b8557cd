// Dynamic int8 quantization of the constant-weight MatMul/Gemm nodes, on the ONNX protobuf.
//
// Each eligible node becomes one com.microsoft DynamicQuantizeMatMul(A, W_int8 [K,N], scale [N], '', bias [N]):
// ONNX Runtime quantizes the activations A to uint8 at run time (per call, one scale per tensor) and
// multiplies with the int8 weights on the integer GEMM kernels. Measured here: 2.5-3.2x faster than fp32
// on a BERT-like encoder (see /work/shared/notes/onnxruntime-facts.md).
//
// Weights are quantized symmetrically per output column: scale[n] = max_k |W[k,n]| / 127, no zero point.
// Per-column scales keep one large column from crushing the resolution of the others. Activation outliers
// are handled by smoothing (smoothing.ts) when calibration ranges are given. What stays fp32, and why:
//   - weights that are not 2-D initializers (activations x activations, like Q·Kᵀ, are not weights);
//   - small weights (K or N below `minDim`): no speed to gain, and in a classifier the smallest one is the
//     head, whose error lands directly on the logits;
//   - the embedding tables (Gather): a lookup, not a GEMM; int8 there saves bytes, not time.
import { planInt8, type Int8PlanOptions, type KeptWeight, type NodePlan } from './int8-plan.js';
import {
  DataType,
  MS_DOMAIN,
  NameAllocator,
  consumerMap,
  dimsOf,
  ensureOpsetImport,
  floatTensor,
  graphOf,
  initializerMap,
  int8Tensor,
  intAttr,
  makeNode,
  onnx,
  removeUnusedInitializers,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-graph.js';
import { scaleRows, smoothingFactors, type SmoothingOptions } from './smoothing.js';

export interface QuantizeInt8Options extends Int8PlanOptions {
  /**
   * 7-bit weights ([-63, 63]) instead of 8-bit: x86 CPUs without VNNI multiply u8 activations by s8 weights
   * with an instruction (vpmaddubsw) whose 16-bit pair sums saturate; 7-bit weights cannot overflow it.
   */
  reduceRange?: boolean;
  /** EXPERIMENT: per-row scaling for activations matching this. */
  rowScale?: (activation: string) => boolean;
  /** Activation smoothing from calibration ranges; without it activations are quantized as they come. */
  smoothing?: SmoothingOptions;
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
  /** Activation tensors smoothed (one Mul each). */
  smoothed: number;
  /** fp32 weights left alone, with the reason. */
  keptFp32: KeptWeight[];
  /** Parameters now stored as int8 / still stored as fp32 (all float initializers). */
  int8Params: number;
  fp32Params: number;
}

/** Quantizes `model` in place and says what it did. The model should be constant-folded first. */
export function quantizeDynamicInt8(model: ModelProto, options: QuantizeInt8Options = {}): QuantizeInt8Report {
  const graph = graphOf(model);
  const plan = planInt8(model, options);
  const inits = initializerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const names = new NameAllocator(graph);
  const factors = options.smoothing ? smoothingFactors(plan.nodes, options.smoothing) : new Map<string, Float32Array>();
  const report: QuantizeInt8Report = { quantized: 0, biasesFolded: 0, smoothed: factors.size, keptFp32: plan.kept, int8Params: 0, fp32Params: 0 };
  const newInits: TensorProto[] = [];
  const cache = new Map<string, { weight: string; scale: string }>();
  const smoothed = new Map<string, NodeProto>(); // activation -> its Mul(A, 1/s), emitted before first use
  const rowScales = new Map<string, { r: string; scaled: string }>();
  const removed = new Set<NodeProto>();
  const replaced = new Map<NodeProto, NodeProto[]>();

  const quantized = (p: NodePlan, s: Float32Array | undefined): { weight: string; scale: string } => {
    // A weight shared by two activations gets a copy per smoothing (its rows are scaled differently).
    const key = s ? `${p.weightKey}@${p.activation}` : p.weightKey;
    const hit = cache.get(key);
    if (hit) return hit;
    const base = p.node.input?.[1] ?? 'W';
    const { q, scales } = quantizePerColumn(s ? scaleRows(p.kn, p.k, p.n, s) : p.kn, p.k, p.n, options.reduceRange ? 63 : 127);
    options.perturbScales?.(scales, base);
    const entry = { weight: names.take(`${base}_int8`), scale: names.take(`${base}_scale`) };
    newInits.push(int8Tensor(entry.weight, [p.k, p.n], q), floatTensor(entry.scale, [p.n], scales));
    cache.set(key, entry);
    return entry;
  };

  for (const p of plan.nodes) {
    const s = factors.get(p.activation);
    const emitted: NodeProto[] = [];
    let activation: string = p.activation;
    if (s) {
      let mul = smoothed.get(p.activation);
      if (!mul) {
        const inv = names.take(`${p.activation}_smooth_inv`);
        newInits.push(floatTensor(inv, [p.k], s.map((v) => 1 / v)));
        mul = makeNode('Mul', [p.activation, inv], [names.take(`${p.activation}_smoothed`)], names.take(`${p.activation}_smooth`));
        smoothed.set(p.activation, mul);
        emitted.push(mul);
      }
      activation = mul.output?.[0] ?? activation;
    }
    const q = quantized(p, s);
    let output = p.node.output?.[0] ?? '';
    const rowScaled = options.rowScale?.(p.activation) === true;
    let rowScale: string | undefined;
    if (rowScaled) {
      let entry = rowScales.get(activation);
      if (!entry) {
        const abs = names.take(`${activation}_abs`);
        const r = names.take(`${activation}_rowmax`);
        const scaled = names.take(`${activation}_rownorm`);
        emitted.push(makeNode('Abs', [activation], [abs], names.take(`${abs}_n`)));
        emitted.push(makeNode('ReduceMax', [abs], [r], names.take(`${r}_n`), '', [onnx.AttributeProto.create({ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [-1] }), intAttr('keepdims', 1)]));
        emitted.push(makeNode('Div', [activation, r], [scaled], names.take(`${scaled}_n`)));
        entry = { r, scaled };
        rowScales.set(activation, entry);
      }
      activation = entry.scaled;
      rowScale = entry.r;
    }
    let bias = p.bias;
    if (bias === undefined && p.node.opType === 'MatMul') {
      // MatMul followed by Add(bias) is how exporters write Linear on 3-D activations: fold the Add.
      const fold = foldableBiasAdd(output, consumers, graphOutputs, inits, p.n);
      if (fold) {
        bias = fold.bias;
        output = fold.add.output?.[0] ?? output;
        removed.add(fold.add);
      }
    } else if (bias !== undefined && p.biasValues) {
      const name = names.take(`${bias}_scaled`);
      newInits.push(floatTensor(name, [p.n], p.biasValues));
      bias = name;
    }
    if (bias !== undefined) report.biasesFolded++;
    if (rowScale) {
      const y1 = names.take(`${output}_rowq`);
      const y2 = names.take(`${output}_rows`);
      emitted.push(makeNode('DynamicQuantizeMatMul', [activation, q.weight, q.scale], [y1], names.take(`${p.node.name || 'MatMul'}_quant`), MS_DOMAIN));
      emitted.push(makeNode('Mul', [y1, rowScale], bias !== undefined ? [y2] : [output], names.take(`${y2}_n`)));
      if (bias !== undefined) emitted.push(makeNode('Add', [y2, bias], [output], names.take(`${output}_b`)));
    } else {
    const inputs = [activation, q.weight, q.scale, ...(bias !== undefined ? ['', bias] : [])];
    emitted.push(makeNode('DynamicQuantizeMatMul', inputs, [output], names.take(`${p.node.name || 'MatMul'}_quant`), MS_DOMAIN));
    }
    replaced.set(p.node, emitted);
    report.quantized++;
  }

  graph.node = (graph.node ?? []).filter((n) => !removed.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
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

/** The Add that only adds a constant [N] vector to `output`, when it is that tensor's only reader. */
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

/** Symmetric per-column int8: scale[n] = max|W[:,n]| / qmax, q = round(W / scale) in [-qmax, qmax]. */
export function quantizePerColumn(kn: Float32Array, k: number, n: number, qmax = 127): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(n);
  for (let row = 0; row < k; row++) {
    for (let col = 0; col < n; col++) {
      const a = Math.abs(kn[row * n + col] as number);
      if (a > (scales[col] as number)) scales[col] = a;
    }
  }
  // An all-zero column gets scale 1 (any value works; 0 would divide by zero).
  for (let col = 0; col < n; col++) scales[col] = (scales[col] as number) === 0 ? 1 : (scales[col] as number) / qmax;
  const q = new Int8Array(k * n);
  for (let row = 0; row < k; row++) {
    for (let col = 0; col < n; col++) {
      const v = Math.round((kn[row * n + col] as number) / (scales[col] as number));
      q[row * n + col] = v > qmax ? qmax : v < -qmax ? -qmax : v;
    }
  }
  return { q, scales };
}
