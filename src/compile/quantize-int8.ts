// Dynamic int8 quantization of the constant-weight MatMul/Gemm nodes, on the ONNX protobuf.
//
// Each eligible node becomes a com.microsoft DynamicQuantizeMatMul(A, W_int8 [K,N], scale [N], '', bias [N]):
// ONNX Runtime quantizes the activation A to uint8 at run time (one scale per call) and multiplies it with
// the int8 weights on its integer GEMM kernels. An activation several nodes read (the Q, K and V
// projections) is quantized once instead, by a DynamicQuantizeLinear feeding one MatMulInteger chain per
// reader, which ONNX Runtime fuses into MatMulIntegerToFloat (what its stock quantizer writes). Activations are prepared first (activation-prep.ts:
// smoothing and per-token scaling) so that one scale per call fits them.
//
// Weights are quantized symmetrically per output column: scale[n] = max_k |W[k,n]| / qmax, no zero point.
// Per-column scales keep one large column from crushing the resolution of the others. What stays fp32:
//   - weights that are not 2-D initializers (activations x activations, like Q·Kᵀ, are not weights);
//   - small weights (K or N below `minDim`): no speed to gain, and in a classifier the smallest one is the
//     head, whose error lands directly on the logits;
//   - the embedding tables (Gather): a lookup, not a GEMM, so not rewritten here. With `gatherTables` they
//     are stored int8 too, per row (quantize-embedding.ts): that saves bytes, not time.
import { GELU_MIN, isGeluOutput, prepareActivation, type PreparedActivation } from './activation-prep.js';
import { planInt8, type Int8PlanOptions, type KeptWeight, type NodePlan } from './int8-plan.js';
import { quantizeGatherTables, type GatherTableOptions, type QuantizedTable } from './quantize-embedding.js';
import {
  DataType,
  MS_DOMAIN,
  NameAllocator,
  consumerMap,
  defaultOpset,
  dimsOf,
  ensureOpsetImport,
  floatTensor,
  graphOf,
  initializerMap,
  int8Tensor,
  intAttr,
  makeNode,
  producerMap,
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
  /**
   * Scale each token's activation row to [-1, 1] before quantizing it (see activation-prep.ts): all, or those
   * chosen (asked once per activation, with the first node reading it).
   */
  perToken?: boolean | ((activation: string, reader: NodePlan) => boolean);
  /** Activation smoothing from calibration ranges; without it activations are quantized as they come. */
  smoothing?: SmoothingOptions;
  /**
   * Also store the large constant tables read only by Gather (embeddings) as int8 with per-row scales
   * (quantize-embedding.ts). Off when absent.
   */
  gatherTables?: Omit<GatherTableOptions, 'perturbScales'>;
  /**
   * Test seam: called with each weight's fresh per-column scales (and each Gather table's per-row scales)
   * before they are written. Tests corrupt them to prove the parity gate refuses a broken quantization;
   * production code never sets it.
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
  /** Activation tensors scaled per token. */
  perToken: number;
  /** Activation tensors quantized once for several MatMuls (one DynamicQuantizeLinear, MatMulInteger each). */
  shared: number;
  /** fp32 weights left alone, with the reason. */
  keptFp32: KeptWeight[];
  /** Gather tables now stored as int8, largest first (empty without `gatherTables`). */
  tables: QuantizedTable[];
  /** Gather tables left fp32, with the reason (empty without `gatherTables`). */
  keptTables: KeptWeight[];
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
  const producers = producerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const names = new NameAllocator(graph);
  const newInits: TensorProto[] = [];
  const prep = { names, newInits, opset: defaultOpset(model) };
  const factors = options.smoothing ? smoothingFactors(plan.nodes, options.smoothing) : new Map<string, Float32Array>();
  const report: QuantizeInt8Report = { quantized: 0, biasesFolded: 0, smoothed: factors.size, perToken: 0, shared: 0, keptFp32: plan.kept, tables: [], keptTables: [], int8Params: 0, fp32Params: 0 };
  const prepared = new Map<string, PreparedActivation>();
  const weights = new Map<string, { weight: string; scale: string }>();
  const removed = new Set<NodeProto>();
  const readers = new Map<string, number>();
  for (const p of plan.nodes) readers.set(p.activation, (readers.get(p.activation) ?? 0) + 1);
  const sharedQuant = new Map<string, { q: string; scale: string; zp: string }>();
  const replaced = new Map<NodeProto, NodeProto[]>();

  const quantized = (p: NodePlan, s: Float32Array | undefined): { weight: string; scale: string } => {
    // A weight shared by two activations gets a copy per smoothing (its rows are scaled differently).
    const key = s ? `${p.weightKey}@${p.activation}` : p.weightKey;
    const hit = weights.get(key);
    if (hit) return hit;
    const base = p.node.input?.[1] ?? 'W';
    const { q, scales } = quantizePerColumn(s ? scaleRows(p.kn, p.k, p.n, s) : p.kn, p.k, p.n, options.reduceRange ? 63 : 127);
    options.perturbScales?.(scales, base);
    const entry = { weight: names.take(`${base}_int8`), scale: names.take(`${base}_scale`) };
    newInits.push(int8Tensor(entry.weight, [p.k, p.n], q), floatTensor(entry.scale, [p.n], scales));
    weights.set(key, entry);
    return entry;
  };

  for (const p of plan.nodes) {
    const emitted: NodeProto[] = [];
    const s = factors.get(p.activation);
    let a = prepared.get(p.activation);
    if (!a) {
      // Emitted before the first reader (node order is topological), reused by the others.
      const perToken = typeof options.perToken === 'function' ? options.perToken(p.activation, p) : options.perToken === true;
      const lowerBound = perToken && isGeluOutput(p.activation, producers) ? GELU_MIN : undefined;
      a = prepareActivation(p.activation, s, perToken, prep, emitted, lowerBound);
      prepared.set(p.activation, a);
      if (a.rowScale) report.perToken++;
      if (!a.rowScale && (readers.get(p.activation) ?? 0) > 1) {
        const t = { q: names.take(`${a.input}_quantized`), scale: names.take(`${a.input}_quant_scale`), zp: names.take(`${a.input}_zero_point`) };
        emitted.push(makeNode('DynamicQuantizeLinear', [a.input], [t.q, t.scale, t.zp], names.take(`${a.input}_quantize`)));
        sharedQuant.set(p.activation, t);
        report.shared++;
      }
    }
    const q = quantized(p, s);
    let output = p.node.output?.[0] ?? '';
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
    const base = p.node.name || 'MatMul';
    const shared = sharedQuant.get(p.activation);
    if (shared) {
      // The stock quantizer's chain, which ONNX Runtime fuses into MatMulIntegerToFloat: the activation is
      // quantized once for all its readers (Q, K and V), where each DynamicQuantizeMatMul would do it again.
      const integer = names.take(`${output}_int32`);
      const asFloat = names.take(`${output}_int32_float`);
      const scales = names.take(`${output}_scales`);
      const product = bias === undefined ? output : names.take(`${output}_unbiased`);
      emitted.push(
        makeNode('MatMulInteger', [shared.q, q.weight, shared.zp], [integer], names.take(`${base}_quant`)),
        makeNode('Cast', [integer], [asFloat], names.take(`${base}_cast`), '', [intAttr('to', DataType.FLOAT)]),
        makeNode('Mul', [shared.scale, q.scale], [scales], names.take(`${base}_scales`)),
        makeNode('Mul', [asFloat, scales], [product], names.take(`${base}_rescale`)),
      );
      if (bias !== undefined) emitted.push(makeNode('Add', [product, bias], [output], names.take(`${base}_bias`)));
    } else if (a.rowScale) {
      // Per-token scaling: undo the row scale before the bias, y = r·(A'·W) + b.
      const product = names.take(`${output}_scaled_product`);
      const unscaled = bias === undefined ? output : names.take(`${output}_unbiased`);
      emitted.push(
        makeNode('DynamicQuantizeMatMul', [a.input, q.weight, q.scale], [product], names.take(`${base}_quant`), MS_DOMAIN),
        makeNode('Mul', [product, a.rowScale], [unscaled], names.take(`${base}_row_unscale`)),
      );
      if (bias !== undefined) emitted.push(makeNode('Add', [unscaled, bias], [output], names.take(`${base}_bias`)));
    } else {
      const inputs = [a.input, q.weight, q.scale, ...(bias !== undefined ? ['', bias] : [])];
      emitted.push(makeNode('DynamicQuantizeMatMul', inputs, [output], names.take(`${base}_quant`), MS_DOMAIN));
    }
    replaced.set(p.node, emitted);
    report.quantized++;
  }

  graph.node = (graph.node ?? []).filter((n) => !removed.has(n)).flatMap((n) => replaced.get(n) ?? [n]);
  graph.initializer = [...(graph.initializer ?? []), ...newInits];
  removeUnusedInitializers(graph);
  if (options.gatherTables) {
    const t = quantizeGatherTables(model, { ...options.gatherTables, perturbScales: options.perturbScales });
    report.tables = t.tables.sort((a, b) => b.bytesBefore - a.bytesBefore);
    report.keptTables = t.kept;
  }
  if (report.quantized > 0) ensureOpsetImport(model, MS_DOMAIN, 1);
  for (const t of graph.initializer) {
    const count = dimsOf(t).reduce((x, y) => x * y, 1);
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
      const v = Math.abs(kn[row * n + col] as number);
      if (v > (scales[col] as number)) scales[col] = v;
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
