// Outlier-channel split of the feed-forward blocks, before int8 quantization (the decomposition of
// LLM.int8(), Dettmers et al. 2022, arXiv:2208.07339, applied to a feed-forward block's hidden channels).
//
// DynamicQuantizeMatMul gives its whole activation ONE uint8 scale. In MiniLM-L6 the GELU output that the
// down-projection reads has one or two channels running 6-13x the median channel in layers 0-3 (3.1-3.6x in
// layers 4-5, which quantize fine as they are); the one scale sized for them leaves every other channel a
// handful of steps. Per-token scaling (activation-prep.ts) fixes that with three passes over the 1,536-wide
// activation (ReduceMax, Div, and the bias Add moved out of the GEMM). Here the few largest channels leave the
// int8 path instead: the up-projection's columns and the down-projection's rows of those channels become a
// thin fp32 path of their own, and the block's output is the sum of the two paths,
//   down(gelu(up(x))) = down_n(gelu(up_n(x))) + down_o(gelu(up_o(x))),
// exact in real arithmetic because every op between the two projections works channel by channel. The
// remaining channels of the int8 path run as evenly as layers 4-5. Cost: two fp32 GEMMs 16 channels wide and
// one Add of the block's output, against the three passes over the wide activation.
import {
  DataType,
  NameAllocator,
  consumerMap,
  dimsOf,
  floatTensor,
  graphOf,
  initializerMap,
  makeNode,
  producerMap,
  readFloats,
  removeUnusedInitializers,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx-graph.js';

export interface OutlierSplitOptions {
  /** Channels moved to the fp32 path per block (the largest by calibrated max |value|). */
  channels: number;
  /** Only blocks whose down-projection input runs at least this uneven (largest channel over median). */
  minRatio: number;
}

export interface SplitBlock {
  /** The down-projection's activation input (the feed-forward's hidden activation). */
  activation: string;
  channels: number[];
  /** Largest channel over the median, before and after the split (calibrated ranges). */
  ratioBefore: number;
  ratioAfter: number;
}

export interface OutlierSplitReport {
  blocks: SplitBlock[];
  /** The fp32 path's MatMul nodes: quantization must leave them alone. */
  fp32Nodes: Set<string>;
}

// Ops that work channel by channel (with scalar or per-channel constants): what may stand between the
// up- and the down-projection for the split to be exact.
const CHANNELWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Gelu', 'Pow', 'Sqrt', 'Neg', 'Abs']);

/** Largest value over the median one. */
export function channelRatio(amax: Float32Array): number {
  if (amax.length === 0) return 1;
  const sorted = Float32Array.from(amax).sort();
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  return median > 0 ? (sorted[sorted.length - 1] as number) / median : Infinity;
}

/**
 * Rewrites, in place, every feed-forward block whose down-projection input is uneven enough, and updates
 * `ranges` (calibrated per-channel max |value| by tensor) for the narrowed tensors. Blocks that do not have
 * the shape (MatMul with a [H, K] weight → channel-wise ops → MatMul with a [K, N] weight, K > N, nothing
 * else reading the tensors between) are left as they are.
 */
export function splitOutlierChannels(model: ModelProto, ranges: Map<string, Float32Array>, options: OutlierSplitOptions): OutlierSplitReport {
  const report: OutlierSplitReport = { blocks: [], fp32Nodes: new Set() };
  if (options.channels <= 0) return report;
  const graph = graphOf(model);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  for (const down of [...(graph.node ?? [])]) {
    const block = matchBlock(down, graph, inits, ranges, options);
    if (!block) continue;
    rewriteBlock(model, block, inits, names, ranges, report);
  }
  if (report.blocks.length > 0) removeUnusedInitializers(graph);
  return report;
}

interface Block {
  up: NodeProto;
  chain: NodeProto[];
  down: NodeProto;
  k: number;
  outliers: number[];
  kept: number[];
  ratioBefore: number;
}

function matchBlock(down: NodeProto, graph: GraphProto, inits: Map<string, TensorProto>, ranges: ReadonlyMap<string, Float32Array>, o: OutlierSplitOptions): Block | undefined {
  if ((down.domain ?? '') !== '' || down.opType !== 'MatMul') return undefined;
  const wDown = inits.get(down.input?.[1] ?? '');
  const dims = wDown ? dimsOf(wDown) : [];
  if (!wDown || wDown.dataType !== DataType.FLOAT || dims.length !== 2) return undefined;
  const [k, n] = dims as [number, number];
  const activation = down.input?.[0] ?? '';
  const amax = ranges.get(activation);
  if (k <= n || !amax || amax.length !== k || o.channels >= k / 2) return undefined;
  const ratioBefore = channelRatio(amax);
  if (ratioBefore < o.minRatio) return undefined;

  const producers = producerMap(graph);
  const consumers = consumerMap(graph);

  // Walk back from the activation through channel-wise ops to one MatMul whose weight is [H, K].
  const chain = new Set<NodeProto>();
  let up: NodeProto | undefined;
  const pending = [activation];
  while (pending.length > 0) {
    const tensor = pending.pop() as string;
    const p = producers.get(tensor);
    if (!p) return undefined; // a graph input or an initializer feeding the chain directly
    if (chain.has(p) || p === up) continue;
    const w = p.opType === 'MatMul' && (p.domain ?? '') === '' ? inits.get(p.input?.[1] ?? '') : undefined;
    if (w) {
      const wd = dimsOf(w);
      if (w.dataType !== DataType.FLOAT || wd.length !== 2 || wd[1] !== k || (up && up !== p)) return undefined;
      up = p;
      continue;
    }
    if ((p.domain ?? '') !== '' || !CHANNELWISE.has(p.opType ?? '') || (p.output ?? []).length !== 1) return undefined;
    chain.add(p);
    for (const input of p.input ?? []) {
      const c = inits.get(input);
      if (c) {
        const cd = dimsOf(c);
        const count = cd.reduce((a, b) => a * b, 1);
        if (c.dataType !== DataType.FLOAT || !(count === 1 || (cd.length === 1 && cd[0] === k))) return undefined;
      } else if (input !== '') pending.push(input);
    }
  }
  if (!up || chain.size === 0) return undefined;
  // Nothing outside the block may read what the split narrows.
  const inside = new Set([...chain, down]);
  for (const t of [up.output?.[0] ?? '', ...[...chain].map((c) => c.output?.[0] ?? '')]) {
    if ((consumers.get(t) ?? []).some((c) => !inside.has(c))) return undefined;
  }
  const order = [...amax.keys()].sort((a, b) => (amax[b] as number) - (amax[a] as number));
  const outliers = order.slice(0, o.channels).sort((a, b) => a - b);
  const out = new Set(outliers);
  const kept = [...amax.keys()].filter((c) => !out.has(c));
  return { up, chain: (graph.node ?? []).filter((x) => chain.has(x)), down, k, outliers, kept, ratioBefore };
}

function rewriteBlock(model: ModelProto, b: Block, inits: Map<string, TensorProto>, names: NameAllocator, ranges: Map<string, Float32Array>, report: OutlierSplitReport): void {
  const graph = graphOf(model);
  const addInit = (wanted: string, dims: number[], values: Float32Array): string => {
    const name = names.take(wanted);
    const t = floatTensor(name, dims, values);
    (graph.initializer ??= []).push(t);
    inits.set(name, t);
    return name;
  };
  const wUpName = b.up.input?.[1] ?? '';
  const wUp = inits.get(wUpName) as TensorProto;
  const h = dimsOf(wUp)[0] as number;
  const up = readFloats(wUp);
  const wDownName = b.down.input?.[1] ?? '';
  const wDown = inits.get(wDownName) as TensorProto;
  const n = dimsOf(wDown)[1] as number;
  const downW = readFloats(wDown);
  const columns = (channels: number[]): Float32Array => {
    const out = new Float32Array(h * channels.length);
    for (let r = 0; r < h; r++) channels.forEach((c, j) => (out[r * channels.length + j] = up[r * b.k + c] as number));
    return out;
  };
  const rows = (channels: number[]): Float32Array => {
    const out = new Float32Array(channels.length * n);
    channels.forEach((c, j) => out.set(downW.subarray(c * n, (c + 1) * n), j * n));
    return out;
  };
  const pick = (values: Float32Array, channels: number[]): Float32Array => Float32Array.from(channels, (c) => values[c] as number);

  // The int8 path keeps its tensors' names, narrowed to the kept channels.
  b.up.input = [b.up.input?.[0] ?? '', addInit(`${wUpName}_kept`, [h, b.kept.length], columns(b.kept))];
  b.down.input = [b.down.input?.[0] ?? '', addInit(`${wDownName}_kept`, [b.kept.length, n], rows(b.kept))];
  const outlierOf = new Map<string, string>();
  const upOut = b.up.output?.[0] ?? '';
  outlierOf.set(upOut, names.take(`${upOut}_outliers`));
  const tag = names.take(`${b.down.name ?? wDownName}/outlier_channels`);
  const fp32Path: NodeProto[] = [
    makeNode('MatMul', [b.up.input[0] as string, addInit(`${wUpName}_outliers`, [h, b.outliers.length], columns(b.outliers))], [outlierOf.get(upOut) as string], `${tag}/up`),
  ];
  for (const node of b.chain) {
    const kept: string[] = [];
    const outl: string[] = [];
    for (const input of node.input ?? []) {
      const c = inits.get(input);
      if (c && dimsOf(c).length === 1 && dimsOf(c)[0] === b.k) {
        // A per-channel constant (the up-projection's bias): each path takes its own channels.
        const values = readFloats(c);
        kept.push(addInit(`${input}_kept`, [b.kept.length], pick(values, b.kept)));
        outl.push(addInit(`${input}_outliers`, [b.outliers.length], pick(values, b.outliers)));
      } else {
        kept.push(input);
        outl.push(outlierOf.get(input) ?? input);
      }
    }
    node.input = kept;
    const out = node.output?.[0] ?? '';
    outlierOf.set(out, names.take(`${out}_outliers`));
    fp32Path.push(makeNode(node.opType ?? '', outl, [outlierOf.get(out) as string], names.take(`${tag}/${node.name ?? node.opType ?? 'op'}`), node.domain ?? '', [...(node.attribute ?? [])]));
  }
  const activation = b.down.input[0] as string;
  const partial = names.take(`${tag}/output`);
  fp32Path.push(makeNode('MatMul', [outlierOf.get(activation) as string, addInit(`${wDownName}_outliers`, [b.outliers.length, n], rows(b.outliers))], [partial], `${tag}/down`));
  report.fp32Nodes.add(`${tag}/up`).add(`${tag}/down`);

  // Sum the paths after the down-projection's bias Add when it has one (so quantization can still fold that
  // bias into the int8 GEMM), else right after the down-projection.
  const consumers = consumerMap(graph);
  const downOut = b.down.output?.[0] ?? '';
  const readers = consumers.get(downOut) ?? [];
  const biasAdd = readers.length === 1 && readers[0]?.opType === 'Add' && (readers[0].input ?? []).some((i) => {
    const c = inits.get(i);
    return c !== undefined && dimsOf(c).length === 1 && dimsOf(c)[0] === n;
  }) ? readers[0] : undefined;
  const last = biasAdd ?? b.down;
  // The sum takes over the name its readers already read.
  const sumOut = last.output?.[0] ?? '';
  const mainOut = names.take(`${sumOut}_int8_path`);
  last.output = [mainOut];
  const sum = makeNode('Add', [mainOut, partial], [sumOut], `${tag}/sum`);

  const list = graph.node ?? [];
  const at = list.indexOf(b.down);
  const withPath = [...list.slice(0, at), ...fp32Path, ...list.slice(at)];
  withPath.splice(withPath.indexOf(last) + 1, 0, sum);
  graph.node = withPath;
  // Shapes recorded for the narrowed tensors no longer hold.
  const narrowed = new Set([upOut, ...b.chain.map((c) => c.output?.[0] ?? '')]);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !narrowed.has(v.name ?? ''));

  const amax = ranges.get(activation) as Float32Array;
  for (const t of narrowed) {
    const r = ranges.get(t);
    if (r && r.length === b.k) ranges.set(t, pick(r, b.kept));
  }
  report.blocks.push({ activation, channels: b.outliers, ratioBefore: b.ratioBefore, ratioAfter: channelRatio(pick(amax, b.kept)) });
}
