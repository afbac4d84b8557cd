// The element type of every tensor in a graph, asked of ONNX Runtime itself.
//
// Saved ORT graphs carry no value_info, and re-implementing ONNX type inference for every op (contrib ops
// included) in TypeScript would be a second, drifting copy of ORT's. Instead: list every node output as a
// graph output and create a session with optimizations off. ORT resolves the graph (types included) at load
// time, and the session's output metadata then names each tensor's type. Nothing is run.
import * as ort from 'onnxruntime-node';
import { CompileError } from '../errors.js';
import { encodeModel, graphOf, onnx, type ModelProto } from './onnx-graph.js';

/** ORT type names ('float32', 'float16', 'int64', 'bool', ...) by tensor name, graph inputs included. */
export async function discoverTensorTypes(model: ModelProto): Promise<Map<string, string>> {
  // A shallow copy that shares nodes and weights: only the output list differs.
  const graph = onnx.GraphProto.create({ ...graphOf(model), output: [...(graphOf(model).output ?? [])] });
  const probe = onnx.ModelProto.create({ ...model, graph });
  const listed = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const outputs = graph.output;
  for (const node of graph.node ?? []) {
    for (const out of node.output ?? []) {
      if (out === '' || listed.has(out)) continue;
      listed.add(out);
      outputs.push(onnx.ValueInfoProto.create({ name: out }));
    }
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  } catch (err) {
    throw new CompileError(`cannot resolve the graph's tensor types: ${(err as Error).message}`, { cause: err });
  }
  const types = new Map<string, string>();
  try {
    for (const meta of [...session.inputMetadata, ...session.outputMetadata]) {
      if (meta.isTensor) types.set(meta.name, meta.type);
    }
  } finally {
    await session.release();
  }
  return types;
}
