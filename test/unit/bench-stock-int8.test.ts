// The bench's reimplementation of ONNX Runtime's stock quantize_dynamic: its arithmetic, the graph it
// writes (the same node chain the Python quantizer writes), and that ONNX Runtime runs it close to fp32.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { quantizeAsymmetricUint8, quantizeSymmetricInt8, stockQuantizeDynamic } from '../../bench/stock-int8.js';
import { DataType, decodeModel, encodeModel, floatTensor, initializerMap, makeNode } from '../../src/compile/onnx-graph.js';
import { linearModel, makeModel, maxAbsDiff, opTypes, randomFloats, runOnce, valueInfo } from './compile-fixtures.js';

const T = DataType;

describe('stock arithmetic', () => {
  it('int8 weights: one scale max|w| / 127 for the tensor, ties rounded to even', () => {
    const { q, scale } = quantizeSymmetricInt8(Float32Array.from([1.27, -0.635, 0.005, 0.015, 0]));
    expect(scale).toBeCloseTo(0.01, 7);
    // 0.005 / 0.01 = 0.5 → 0 and 0.015 / 0.01 = 1.5 → 2 (half to even), not 1 and 2
    expect(Array.from(q)).toEqual([127, -64, 0, 2, 0]);
  });

  it('uint8 tables: asymmetric over [min(x, 0), max(x, 0)], dequantizing within half a step', () => {
    const values = randomFloats(1000, 3, 0.8).map((v) => v + 0.2);
    const { q, scale, zeroPoint } = quantizeAsymmetricUint8(values);
    expect(scale).toBeCloseTo((Math.max(...values) - Math.min(...values)) / 255, 6);
    for (let i = 0; i < values.length; i++) expect(Math.abs(((q[i] as number) - zeroPoint) * scale - (values[i] as number))).toBeLessThanOrEqual(scale / 2 + 1e-6);
  });
});

describe('stockQuantizeDynamic', () => {
  it('turns Gemm into MatMul + Add and constant-weight MatMuls into the DynamicQuantizeLinear → MatMulInteger → Cast → Mul chain', async () => {
    const source = linearModel();
    const q = decodeModel(encodeModel(source), 'copy');
    const report = stockQuantizeDynamic(q);
    expect(report).toEqual({ matmuls: 3, gathers: 0 }); // mm1, the Gemm (as MatMul + Add, B transposed) and the head
    expect(opTypes(q)).toEqual([
      'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add', 'Relu',
      'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add',
      'DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul',
    ]);
    const inits = initializerMap(q.graph!);
    expect(inits.get('W1_quantized')?.dataType).toBe(T.INT8);
    expect(inits.get('W1_scale')?.dims ?? []).toEqual([]); // per tensor, not per column
    const X = new ort.Tensor('float32', randomFloats(4 * 32, 42, 1), [4, 32]);
    const a = (await runOnce(source, { X }, 'Y')).data as Float32Array;
    const b = (await runOnce(q, { X }, 'Y')).data as Float32Array;
    expect(maxAbsDiff(a, b) / Math.max(...Array.from(a, Math.abs))).toBeLessThan(0.05);
  });

  it('shares one DynamicQuantizeLinear among the MatMuls reading one activation, and quantizes Gather tables', async () => {
    const model = makeModel({
      nodes: [
        makeNode('Gather', ['E', 'ids'], ['x'], 'lookup'),
        makeNode('MatMul', ['x', 'Wa'], ['ya'], 'a'),
        makeNode('MatMul', ['x', 'Wb'], ['yb'], 'b'),
        makeNode('Add', ['ya', 'yb'], ['Y'], 'sum'),
      ],
      initializers: [floatTensor('E', [50, 32], randomFloats(50 * 32, 9, 1)), floatTensor('Wa', [32, 16], randomFloats(512, 10, 0.3)), floatTensor('Wb', [32, 16], randomFloats(512, 11, 0.3))],
      inputs: [valueInfo('ids', T.INT64, ['n'])],
      outputs: [valueInfo('Y', T.FLOAT, ['n', 16])],
    });
    const q = decodeModel(encodeModel(model), 'copy');
    expect(stockQuantizeDynamic(q)).toEqual({ matmuls: 2, gathers: 1 });
    expect(opTypes(q).filter((op) => op === 'DynamicQuantizeLinear')).toHaveLength(1);
    expect(opTypes(q).slice(0, 2)).toEqual(['Gather', 'DequantizeLinear']);
    expect(initializerMap(q.graph!).get('E_quantized')?.dataType).toBe(T.UINT8);
    const ids = new ort.Tensor('int64', BigInt64Array.from([0n, 7n, 49n]), [3]);
    const a = (await runOnce(model, { ids }, 'Y')).data as Float32Array;
    const b = (await runOnce(q, { ids }, 'Y')).data as Float32Array;
    expect(maxAbsDiff(a, b) / Math.max(...Array.from(a, Math.abs))).toBeLessThan(0.05);
  });
});
