// Activation statistics for int8 smoothing: the largest |value| each channel (last axis) of some tensors
// takes while the fp32 model reads a set of calibration texts.
//
// Same trick as value-types.ts: the tensors are added as graph outputs, so ONNX Runtime returns them
// from an ordinary run (with graph optimizations off, so none of them is fused away).
import * as ort from 'onnxruntime-node';
import { CompileError } from '../errors.js';
import type { EncodedText } from '../model/tokenizer.js';
import { encodeModel, graphOf, onnx, type ModelProto } from './onnx-graph.js';
import { padBatch } from './runner.js';
import type { ModelInputs } from './signature.js';

export interface CalibrationInput {
  inputs: ModelInputs;
  texts: readonly EncodedText[];
  padId: number;
  threads: number;
  batchSize?: number;
}

/** Per-channel max |value| of each tensor in `tensors`, over all calibration texts. */
export async function activationRanges(model: ModelProto, tensors: readonly string[], input: CalibrationInput): Promise<Map<string, Float32Array>> {
  const ranges = new Map<string, Float32Array>();
  if (tensors.length === 0 || input.texts.length === 0) return ranges;
  const graph = graphOf(model);
  const listed = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const extra = tensors.filter((t) => !listed.has(t)).map((name) => onnx.ValueInfoProto.create({ name }));
  const probe = onnx.ModelProto.create({ ...model, graph: onnx.GraphProto.create({ ...graph, output: [...(graph.output ?? []), ...extra] }) });
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(encodeModel(probe), { graphOptimizationLevel: 'disabled', intraOpNumThreads: input.threads, logSeverityLevel: 3 });
  } catch (err) {
    throw new CompileError(`cannot run the model for int8 calibration: ${(err as Error).message}`, { cause: err });
  }
  try {
    // Sorted by length so batches carry little padding; padded positions are still included, as they
    // are in the tensors ONNX Runtime quantizes when the model is served.
    const sorted = [...input.texts].sort((a, b) => a.ids.length - b.ids.length);
    const size = input.batchSize ?? 16;
    for (let start = 0; start < sorted.length; start += size) {
      const batch = padBatch(sorted.slice(start, start + size), input.padId);
      const dims = [batch.rows, batch.cols];
      const feeds: Record<string, ort.Tensor> = { [input.inputs.inputIds]: new ort.Tensor('int64', batch.ids, dims) };
      if (input.inputs.attentionMask) feeds[input.inputs.attentionMask] = new ort.Tensor('int64', batch.mask, dims);
      if (input.inputs.tokenTypeIds) feeds[input.inputs.tokenTypeIds] = new ort.Tensor('int64', batch.types, dims);
      const out = await session.run(feeds, [...tensors]);
      for (const name of tensors) {
        const t = out[name];
        if (!t || t.type !== 'float32') continue;
        const channels = t.dims[t.dims.length - 1] ?? 1;
        const data = t.data as Float32Array;
        const acc = ranges.get(name) ?? new Float32Array(channels);
        for (let i = 0; i < data.length; i++) {
          const a = Math.abs(data[i] as number);
          const c = i % channels;
          if (a > (acc[c] as number)) acc[c] = a;
        }
        ranges.set(name, acc);
      }
    }
  } finally {
    await session.release();
  }
  return ranges;
}
