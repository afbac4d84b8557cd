// Does this CPU's int8 GEMM saturate? Asked of ONNX Runtime directly, with a one-node model.
//
// DynamicQuantizeMatMul multiplies uint8 activations by int8 weights. On x86 CPUs without VNNI, ONNX
// Runtime's kernel uses vpmaddubsw, which adds pairs of u8×s8 products into a signed 16-bit lane: two
// products of 255×127 (64770) overflow it and are clamped to 32767. With weights limited to 7 bits
// ([-63, 63]) a pair is at most 255×63×2 = 32130 and cannot overflow. On the 2-core EPYC VM this project
// runs on, the probe below returns 32.4 instead of 64: the kernel saturates (its /proc/cpuinfo lists AVX2
// but no VNNI). With smoothing, which pushes more weights towards the ends of the range, 8-bit weights
// cost a MiniLM-sized stand-in model 6 points of label agreement there (95.4% → 89.4%).
import * as ort from 'onnxruntime-node';
import { encodeModel, floatTensor, int8Tensor, makeNode, onnx } from './onnx-graph.js';

/** How the compile names each weight range in the manifest's quantization details (targets.ts). */
export const WEIGHT_RANGE_LABEL = { 7: '7-bit ([-63, 63])', 8: '8-bit ([-127, 127])' } as const;

let cached: Promise<boolean> | undefined;

/** True when int8 weights must stay within 7 bits on this machine (see above). Cached per process. */
export function int8KernelSaturates(): Promise<boolean> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<boolean> {
  const k = 64;
  const n = 4;
  const tensor = (name: string, dims: number[]): InstanceType<typeof onnx.ValueInfoProto> =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const graph = onnx.GraphProto.create({
    name: 'int8-saturation-probe',
    node: [makeNode('DynamicQuantizeMatMul', ['A', 'W', 'S'], ['Y'], 'probe', 'com.microsoft')],
    initializer: [int8Tensor('W', [k, n], new Int8Array(k * n).fill(127)), floatTensor('S', [n], new Float32Array(n).fill(1 / 127))],
    input: [tensor('A', [1, k])],
    output: [tensor('Y', [1, n])],
  });
  const model = onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }], graph });
  const session = await ort.InferenceSession.create(encodeModel(model), { logSeverityLevel: 3 });
  try {
    // A = 1 everywhere quantizes to 255; W = 1 to 127 with scale 1/127: exact result 64.
    const out = await session.run({ A: new ort.Tensor('float32', new Float32Array(k).fill(1), [1, k]) });
    const y = (out.Y?.data as Float32Array | undefined)?.[0] ?? 0;
    return Math.abs(y - k) > 1;
  } finally {
    await session.release();
  }
}

/**
 * A warning for a model whose int8 weights use the full 8-bit range on a CPU whose kernel saturates them
 * (no VNNI): it runs, but its labels drift from what its report promises. Undefined when all is well.
 */
export async function int8WeightsWarning(quantizationDetails: string): Promise<string | undefined> {
  if (!quantizationDetails.includes(`${WEIGHT_RANGE_LABEL[8]} weights`) || !(await int8KernelSaturates())) return undefined;
  return "warning: this model's int8 weights use the full 8-bit range, which this CPU's int8 kernel saturates (no VNNI): expect more labels to differ from its fp32 source than its report says. Compile it here (klassify compile --target cpu-int8: 7-bit weights on this CPU) for exact results.";
}
