// fp16 conversion: the bit-level conversion, and a small embedding → LayerNorm → MatMul → masked Softmax
// graph: fp16 weights, fp32 LayerNorm/Softmax behind casts, declared input/output types kept, runs on ORT.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { float16Bits, float16Value, convertToFp16 } from '../../src/compile/fp16.js';
import { DataType, decodeModel, encodeModel, floatTensor, initializerMap, makeNode, onnx, type ModelProto } from '../../src/compile/onnx-graph.js';
import { discoverTensorTypes } from '../../src/compile/value-types.js';
import { makeModel, maxAbsDiff, randomFloats, runOnce, valueInfo } from './compile-fixtures.js';

describe('float16Bits', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest finite half: +inf
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -26, 0x0000], // below half of it: zero
    [0.1, 0x2e66],
    [1 + 2 ** -11, 0x3c00], // tie: rounds to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie: rounds to even (up)
  ])('%d → 0x%s', (value, bits) => {
    expect(float16Bits(value)).toBe(bits);
  });

  it('NaN stays NaN and values round-trip within half a unit in the last place', () => {
    expect(Number.isNaN(float16Value(float16Bits(NaN)))).toBe(true);
    for (const v of randomFloats(1000, 3, 1000)) {
      const back = float16Value(float16Bits(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -25);
    }
  });
});

/** ids → Gather(emb) → LayerNorm → MatMul(W) → Add(mask bias built with float32.min) → Softmax → Y */
function maskedModel(): ModelProto {
  const T = DataType;
  const constant = (name: string, value: number): ReturnType<typeof makeNode> =>
    makeNode('Constant', [], [name], name, '', [
      onnx.AttributeProto.create({ name: 'value', type: onnx.AttributeProto.AttributeType.TENSOR, t: floatTensor('', [], Float32Array.of(value)) }),
    ]);
  return makeModel({
    nodes: [
      makeNode('Gather', ['emb', 'ids'], ['e'], 'gather'),
      makeNode('LayerNormalization', ['e', 'ln_w', 'ln_b'], ['n'], 'ln'),
      makeNode('MatMul', ['n', 'W'], ['s'], 'mm'),
      makeNode('Cast', ['mask'], ['maskf'], 'cast', '', [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT })]),
      constant('one', 1),
      constant('fmin', -3.4028234663852886e38),
      makeNode('Sub', ['one', 'maskf'], ['inv'], 'sub'),
      makeNode('Mul', ['inv', 'fmin'], ['bias'], 'mul'),
      makeNode('Unsqueeze', ['bias', 'axes'], ['bias3'], 'unsq'),
      makeNode('Add', ['s', 'bias3'], ['masked'], 'add'),
      makeNode('Softmax', ['masked'], ['Y'], 'softmax', '', [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })]),
    ],
    initializers: [
      floatTensor('emb', [10, 8], randomFloats(80, 1)),
      floatTensor('ln_w', [8], randomFloats(8, 2, 1).map((v) => 1 + v / 4)),
      floatTensor('ln_b', [8], randomFloats(8, 3, 0.1)),
      floatTensor('W', [8, 4], randomFloats(32, 4)),
      onnx.TensorProto.create({ name: 'axes', dims: [1], dataType: T.INT64, int64Data: [2] }),
    ],
    inputs: [valueInfo('ids', T.INT64, ['batch', 'seq']), valueInfo('mask', T.INT64, ['batch', 'seq'])],
    outputs: [valueInfo('Y', T.FLOAT, ['batch', 'seq', 4])],
  });
}

describe('convertToFp16', () => {
  it('stores weights as fp16, keeps LayerNorm/Softmax in fp32, keeps int64 in / float32 out, clamps float32.min', async () => {
    const source = maskedModel();
    const fp16 = decodeModel(encodeModel(source), 'copy');
    const report = convertToFp16(fp16, await discoverTensorTypes(fp16));

    const inits = initializerMap(fp16.graph!);
    expect(inits.get('emb')?.dataType).toBe(DataType.FLOAT16);
    expect(inits.get('W')?.dataType).toBe(DataType.FLOAT16);
    // Only the (fp32) LayerNorm reads its scale and bias: they stay fp32, no cast needed.
    expect(inits.get('ln_w')?.dataType).toBe(DataType.FLOAT);
    expect(report.fp32Nodes).toEqual({ LayerNormalization: 1, Softmax: 1 });
    expect(report.clampedValues).toBe(1);
    const ln = fp16.graph!.node!.find((n) => n.opType === 'LayerNormalization')!;
    const producer = fp16.graph!.node!.find((n) => n.output?.includes(ln.input![0]!))!;
    expect(producer.opType).toBe('Cast');
    expect(fp16.graph!.input!.map((i) => i.type?.tensorType?.elemType)).toEqual([DataType.INT64, DataType.INT64]);
    expect(fp16.graph!.output![0]?.type?.tensorType?.elemType).toBe(DataType.FLOAT);

    const feeds = {
      ids: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n]), [2, 3]),
      mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 0n]), [2, 3]),
    };
    const expected = await runOnce(source, feeds, 'Y');
    const got = await runOnce(fp16, feeds, 'Y');
    expect(got.type).toBe('float32');
    expect(Array.from(got.data as Float32Array).every(Number.isFinite)).toBe(true);
    expect(maxAbsDiff(expected.data as Float32Array, got.data as Float32Array)).toBeLessThan(5e-3);
  });

  it('refuses graphs with control flow', async () => {
    const model = maskedModel();
    model.graph!.node!.push(
      makeNode('If', ['cond'], ['z'], 'if', '', [onnx.AttributeProto.create({ name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: onnx.GraphProto.create({ name: 'b' }) })]),
    );
    expect(() => convertToFp16(model, new Map())).toThrow(expect.objectContaining({ code: 'KLS_ERR_COMPILE' }));
  });
});
