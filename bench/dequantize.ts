// The fp32 model the benchmark compares against, rebuilt from the shipped int8 model: every
// DynamicQuantizeMatMul(A, W_int8, scale, _, bias) becomes MatMul(A, W_int8 x scale) (+ Add bias), and every
// MatMulIntegerToFloat(DynamicQuantizeLinear(A), W_int8, _, scale, _, _, bias) the same (its
// DynamicQuantizeLinear goes when nothing else reads it).
//
// Why: the fine-tuned fp32 source is ~87 MB and is kept out of git (the training recipe rebuilds it).
// The rebuilt model has the same graph, shapes and operator kinds as the fp32 source, so it runs at fp32
// speed; its weights are the real trained ones rounded to int8 steps, so its labels are the model's own.
// When the fp32 source is present (KLASSIFY_FP32_MODEL), the benchmark uses it instead.
import { readFileSync, writeFileSync } from 'node:fs';
import {
  DataType, MS_DOMAIN, NameAllocator, dimsOf, encodeModel, decodeModel, floatTensor, graphOf, initializerMap, makeNode, readFloats,
  removeUnusedInitializers, type NodeProto, type TensorProto,
} from '../src/compile/onnx-graph.js';

function readInt8(t: TensorProto): Int8Array {
  if (t.dataType !== DataType.INT8) throw new Error(`tensor ${t.name ?? '?'} is not int8`);
  const count = dimsOf(t).reduce((a, b) => a * b, 1);
  if (t.rawData && t.rawData.length === count) return new Int8Array(new Uint8Array(t.rawData).buffer, 0, count);
  return Int8Array.from(t.int32Data ?? []);
}

export function dequantizeFile(input: string, output: string): { rewritten: number } {
  const model = decodeModel(readFileSync(input), input);
  const graph = graphOf(model);
  const inits = initializerMap(graph);
  const names = new NameAllocator(graph);
  const nodes: NodeProto[] = [];
  let rewritten = 0;
  const quantizedFrom = new Map<string, string>();
  for (const node of graph.node ?? []) if (node.opType === 'DynamicQuantizeLinear') quantizedFrom.set(node.output?.[0] ?? '', node.input?.[0] ?? '');
  for (const node of graph.node ?? []) {
    const fused = node.domain === MS_DOMAIN && node.opType === 'MatMulIntegerToFloat';
    if ((node.opType !== 'DynamicQuantizeMatMul' || node.domain !== MS_DOMAIN) && !fused) {
      nodes.push(node);
      continue;
    }
    const inputs = node.input ?? [];
    const [a, w, scale, bias] = fused ? [quantizedFrom.get(inputs[0] ?? ''), inputs[1], inputs[3], inputs[6]] : [inputs[0], inputs[1], inputs[2], inputs[4]];
    const wt = inits.get(w ?? '');
    const st = inits.get(scale ?? '');
    if (!a || !wt || !st) throw new Error(`${node.opType ?? '?'} ${node.name ?? '?'} has no constant weight/scale`);
    const [k, n] = dimsOf(wt) as [number, number];
    const q = readInt8(wt);
    const s = readFloats(st);
    const f = new Float32Array(k * n);
    for (let r = 0; r < k; r++) for (let c = 0; c < n; c++) f[r * n + c] = (q[r * n + c] as number) * (s.length === 1 ? (s[0] as number) : (s[c] as number));
    const wName = names.take(`${w}_fp32`);
    graph.initializer?.push(floatTensor(wName, [k, n], f));
    const out = node.output?.[0] ?? '';
    if (bias) {
      const mid = names.take(`${out}_matmul`);
      nodes.push(makeNode('MatMul', [a, wName], [mid], names.take(`${node.name ?? 'dq'}_matmul`)));
      nodes.push(makeNode('Add', [mid, bias], [out], names.take(`${node.name ?? 'dq'}_bias`)));
    } else {
      nodes.push(makeNode('MatMul', [a, wName], [out], names.take(`${node.name ?? 'dq'}_matmul`)));
    }
    rewritten++;
  }
  const read = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.node = nodes.filter((n) => n.opType !== 'DynamicQuantizeLinear' || (n.output ?? []).some((o) => read.has(o)));
  removeUnusedInitializers(graph);
  writeFileSync(output, encodeModel(model));
  return { rewritten };
}
