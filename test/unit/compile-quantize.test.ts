// int8 quantization on small graphs built in code: the arithmetic, the graph rewrite, and that ONNX
// Runtime runs the result close to the fp32 original.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { int8KernelSaturates } from '../../src/compile/int8-kernel.js';
import { planInt8, type NodePlan } from '../../src/compile/int8-plan.js';
import { DataType, decodeModel, encodeModel, floatTensor, initializerMap, makeNode, readFloats, type ModelProto } from '../../src/compile/onnx-graph.js';
import { quantizeDynamicInt8, quantizePerColumn } from '../../src/compile/quantize-int8.js';
import { scaleRows, smoothingFactors } from '../../src/compile/smoothing.js';
import { autoInt8Recipe, perTokenFilter } from '../../src/compile/int8-recipe.js';
import { linearModel, makeModel, maxAbsDiff, opTypes, randomFloats, runOnce, valueInfo } from './compile-fixtures.js';

const X = new ort.Tensor('float32', randomFloats(4 * 32, 42, 1), [4, 32]);
// On CPUs whose int8 kernel saturates (no VNNI) 8-bit weights are wrong by design; compare like with like.
const reduceRange = await int8KernelSaturates();

function copy(model: ModelProto): ModelProto {
  return decodeModel(encodeModel(model), 'copy');
}

async function relativeError(model: ModelProto, quantized: ModelProto): Promise<number> {
  const a = (await runOnce(model, { X }, 'Y')).data as Float32Array;
  const b = (await runOnce(quantized, { X }, 'Y')).data as Float32Array;
  const scale = Math.max(...Array.from(a, Math.abs));
  return maxAbsDiff(a, b) / scale;
}

describe('quantizePerColumn', () => {
  it('scales each column by its own max |w| / 127 and rounds to nearest', () => {
    // [K=2, N=3], row-major: column 0 = (1, -0.5), column 1 = (0.25, 0.125), column 2 = (0, 0)
    const { q, scales } = quantizePerColumn(Float32Array.from([1, 0.25, 0, -0.5, 0.125, 0]), 2, 3);
    expect(Array.from(scales)).toEqual([1 / 127, 0.25 / 127, 1].map((v) => Math.fround(v)));
    expect(Array.from(q)).toEqual([127, 127, 0, -64, 64, 0]);
  });

  it('reconstructs every weight within half a step, and 7-bit mode stays within [-63, 63]', () => {
    const w = randomFloats(64 * 40, 7, 2);
    for (const qmax of [127, 63]) {
      const { q, scales } = quantizePerColumn(w, 64, 40, qmax);
      for (let i = 0; i < w.length; i++) {
        const col = i % 40;
        expect(Math.abs((q[i] as number) * (scales[col] as number) - (w[i] as number))).toBeLessThanOrEqual((scales[col] as number) / 2 + 1e-6);
        expect(Math.abs(q[i] as number)).toBeLessThanOrEqual(qmax);
      }
    }
  });
});

describe('quantizeDynamicInt8', () => {
  it('rewrites MatMul+Add and Gemm(transB, C) to DynamicQuantizeMatMul, keeps the small head fp32, and stays close to fp32', async () => {
    const source = linearModel();
    const q = copy(source);
    const report = quantizeDynamicInt8(q, { reduceRange });
    expect(report.quantized).toBe(2);
    expect(report.biasesFolded).toBe(2);
    expect(report.keptFp32.map((k) => k.name)).toEqual(['W3']);
    expect(opTypes(q)).toEqual(['DynamicQuantizeMatMul', 'Relu', 'DynamicQuantizeMatMul', 'MatMul']);
    expect(q.opsetImport.some((o) => o.domain === 'com.microsoft')).toBe(true);
    const inits = initializerMap(q.graph!);
    expect(inits.has('W1') || inits.has('W2')).toBe(false); // fp32 originals dropped
    expect(inits.get('W3')?.dataType).toBe(DataType.FLOAT);
    expect(report.int8Params).toBe(32 * 48 + 48 * 24);
    expect(await relativeError(source, q)).toBeLessThan(0.02);
  });

  it('folds Gemm alpha into the weights and beta into the bias', async () => {
    const source = linearModel({ alpha: 0.5, beta: 2 });
    const q = copy(source);
    quantizeDynamicInt8(q, { reduceRange });
    expect(await relativeError(source, q)).toBeLessThan(0.02);
  });

  it('quantizes a weight shared by two MatMuls once', () => {
    const model = makeModel({
      nodes: [makeNode('MatMul', ['X', 'W'], ['a'], 'm1'), makeNode('MatMul', ['X', 'W'], ['b'], 'm2'), makeNode('Add', ['a', 'b'], ['Y'], 'sum')],
      initializers: [floatTensor('W', [32, 32], randomFloats(32 * 32, 9))],
      inputs: [valueInfo('X', DataType.FLOAT, ['batch', 32])],
      outputs: [valueInfo('Y', DataType.FLOAT, ['batch', 32])],
    });
    quantizeDynamicInt8(model);
    const int8 = model.graph!.initializer!.filter((t) => t.dataType === DataType.INT8);
    expect(int8).toHaveLength(1);
    expect(opTypes(model)).toEqual(['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add']);
  });

  it('calls perturbScales for each weight, and corrupted scales change the output (the parity gate test seam)', async () => {
    const source = linearModel();
    const damaged = copy(source);
    const seen: string[] = [];
    quantizeDynamicInt8(damaged, { reduceRange, perturbScales: (s, name) => (seen.push(name), s.forEach((v, i) => (s[i] = v * (i % 2 ? 3 : 0.3)))) });
    expect(seen.sort()).toEqual(['W1', 'W2']);
    expect(await relativeError(source, damaged)).toBeGreaterThan(0.2);
  });

  it('with 7-bit weights (reduceRange) no weight exceeds 63', () => {
    const q = copy(linearModel());
    quantizeDynamicInt8(q, { reduceRange: true });
    for (const t of q.graph!.initializer!.filter((i) => i.dataType === DataType.INT8)) {
      expect(Math.max(...Array.from(new Int8Array(t.rawData!.slice().buffer), Math.abs))).toBeLessThanOrEqual(63);
    }
  });

  it('smoothing inserts one Mul per activation and keeps the result close to fp32', async () => {
    const source = linearModel();
    const q = copy(source);
    const ranges = new Map([['X', Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? 20 : 1))]]);
    const report = quantizeDynamicInt8(q, { reduceRange, smoothing: { ranges } });
    expect(report.smoothed).toBe(1);
    expect(opTypes(q)).toEqual(['Mul', 'DynamicQuantizeMatMul', 'Relu', 'DynamicQuantizeMatMul', 'MatMul']);
    expect(await relativeError(source, q)).toBeLessThan(0.03);
  });

  it('per-token scaling divides each row by its max |value| and scales the product back before the bias', async () => {
    const source = linearModel();
    const q = copy(source);
    const report = quantizeDynamicInt8(q, { reduceRange, perToken: true });
    expect(report.perToken).toBe(2);
    expect(opTypes(q)).toEqual([
      'ReduceMax', 'ReduceMin', 'Neg', 'Max', 'Div', 'DynamicQuantizeMatMul', 'Mul', 'Add', 'Relu',
      'ReduceMax', 'ReduceMin', 'Neg', 'Max', 'Div', 'DynamicQuantizeMatMul', 'Mul', 'Add', 'MatMul',
    ]);
    // Rows of very different magnitude: per-token scaling keeps the small ones accurate.
    const rows = Float32Array.from(randomFloats(4 * 32, 42, 1), (v, i) => v * (i < 32 ? 100 : 0.01));
    const feeds = { X: new ort.Tensor('float32', rows, [4, 32]) };
    const expected = (await runOnce(source, feeds, 'Y')).data as Float32Array;
    const plain = copy(source);
    quantizeDynamicInt8(plain, { reduceRange });
    const rowError = async (m: ModelProto): Promise<number> => {
      const got = (await runOnce(m, feeds, 'Y')).data as Float32Array;
      return maxAbsDiff(expected.subarray(3), got.subarray(3)) / Math.max(...Array.from(expected.subarray(3), Math.abs));
    };
    expect(await rowError(q)).toBeLessThan(0.05);
    expect(await rowError(plain)).toBeGreaterThan(await rowError(q));
  });

  it('per-token scaling also builds a valid graph at opset 18 (ReduceMax takes its axes as an input there)', async () => {
    const source = linearModel();
    source.opsetImport[0]!.version = 18;
    const q = copy(source);
    quantizeDynamicInt8(q, { reduceRange, perToken: true });
    expect(q.graph!.node!.find((n) => n.opType === 'ReduceMax')?.input).toHaveLength(2);
    expect(q.graph!.node!.find((n) => n.opType === 'ReduceMin')?.input).toHaveLength(2);
    expect(await relativeError(source, q)).toBeLessThan(0.02);
  });

  it('per-token scaling of a GELU output (the erf form exporters write) takes the row max alone, floored at GELU\'s -0.17', async () => {
    // X -> MatMul+Add -> x·0.5·(1 + erf(x/√2)) -> Gemm (the down-projection) -> head
    const gelu = (x: string, y: string): ReturnType<typeof makeNode>[] => [
      makeNode('Div', [x, 'sqrt2'], [`${y}_div`], `${y}_div`), makeNode('Erf', [`${y}_div`], [`${y}_erf`], `${y}_erf`),
      makeNode('Add', [`${y}_erf`, 'one'], [`${y}_add`], `${y}_add`), makeNode('Mul', [x, `${y}_add`], [`${y}_mul`], `${y}_mul`),
      makeNode('Mul', [`${y}_mul`, 'half'], [y], `${y}_half`),
    ];
    const base = linearModel();
    const nodes = base.graph!.node!;
    base.graph!.node = [...nodes.slice(0, 2), ...gelu('h2', 'h3'), ...nodes.slice(3)];
    base.graph!.initializer!.push(floatTensor('sqrt2', [], Float32Array.of(Math.SQRT2)), floatTensor('one', [], Float32Array.of(1)), floatTensor('half', [], Float32Array.of(0.5)));
    const source = copy(base);
    const q = copy(source);
    expect(quantizeDynamicInt8(q, { reduceRange, perToken: (_, p) => p.k > p.n }).perToken).toBe(1);
    const ops = opTypes(q);
    expect(ops.slice(ops.indexOf('ReduceMax'), ops.indexOf('ReduceMax') + 5)).toEqual(['ReduceMax', 'Max', 'Div', 'DynamicQuantizeMatMul', 'Mul']);
    expect(ops).not.toContain('ReduceMin');
    const floor = q.graph!.initializer!.find((t) => t.name?.endsWith('_row_floor'));
    expect(readFloats(floor!)[0]).toBeCloseTo(0.17, 6);
    expect(await relativeError(source, q)).toBeLessThan(0.03);
    // A Relu output is not a GELU's: both reductions stay.
    const relu = copy(linearModel());
    quantizeDynamicInt8(relu, { reduceRange, perToken: (_, p) => p.k > p.n });
    expect(opTypes(relu)).toContain('ReduceMin');
  });

  it('per-token scaling only where the predicate says (here the down-projection, K > N)', () => {
    const q = copy(linearModel());
    const report = quantizeDynamicInt8(q, { reduceRange, perToken: (_, p) => p.k > p.n });
    expect(report.perToken).toBe(1); // the Gemm, 48 -> 24; not the first MatMul, 32 -> 48
    expect(opTypes(q).slice(0, 3)).toEqual(['DynamicQuantizeMatMul', 'Relu', 'ReduceMax']);
  });

  it('quantizes an activation read by several MatMuls once (DynamicQuantizeLinear, then MatMulInteger each) and stays close to fp32', async () => {
    const source = makeModel({
      nodes: [makeNode('MatMul', ['X', 'Wa'], ['ya'], 'a'), makeNode('Add', ['ya', 'ba'], ['za'], 'a_bias'), makeNode('MatMul', ['X', 'Wb'], ['zb'], 'b'), makeNode('Add', ['za', 'zb'], ['Y'], 'sum')],
      initializers: [floatTensor('Wa', [32, 24], randomFloats(32 * 24, 21, 0.3)), floatTensor('ba', [24], randomFloats(24, 22, 0.1)), floatTensor('Wb', [32, 24], randomFloats(32 * 24, 23, 0.3))],
      inputs: [valueInfo('X', DataType.FLOAT, ['batch', 32])],
      outputs: [valueInfo('Y', DataType.FLOAT, ['batch', 24])],
    });
    const q = copy(source);
    const report = quantizeDynamicInt8(q, { reduceRange });
    expect(report.shared).toBe(1);
    expect(opTypes(q)).toEqual(['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add', 'MatMulInteger', 'Cast', 'Mul', 'Mul', 'Add']);
    expect(await relativeError(source, q)).toBeLessThan(0.02);
  });

  it('leaves nodes named by skipNode in fp32', () => {
    const q = copy(linearModel());
    quantizeDynamicInt8(q, { skipNode: (name) => name === 'gemm' });
    expect(opTypes(q)).toEqual(['DynamicQuantizeMatMul', 'Relu', 'Gemm', 'MatMul']);
  });
});

describe('smoothing', () => {
  it('is exact before quantization: (A / s)(diag(s) W) = A W', () => {
    const model = linearModel();
    const plan = planInt8(model).nodes.find((p) => p.node.name === 'mm1')!;
    const ranges = new Map([['X', Float32Array.from({ length: 32 }, (_, i) => 0.5 + i)]]);
    const s = smoothingFactors([plan], { ranges }).get('X')!;
    expect(s).toHaveLength(32);
    const a = randomFloats(32, 11);
    const w = readFloats(initializerMap(model.graph!).get('W1')!);
    const ws = scaleRows(w, 32, 48, s);
    for (let col = 0; col < 48; col++) {
      let plain = 0;
      let smoothed = 0;
      for (let k = 0; k < 32; k++) {
        plain += (a[k] as number) * (w[k * 48 + col] as number);
        smoothed += ((a[k] as number) / (s[k] as number)) * (ws[k * 48 + col] as number);
      }
      expect(smoothed).toBeCloseTo(plain, 4);
    }
  });

  it('skips activations without calibration data', () => {
    const plan = planInt8(linearModel()).nodes;
    expect(smoothingFactors(plan, { ranges: new Map() }).size).toBe(0);
  });
});

describe('int8KernelSaturates', () => {
  it('answers from a real ONNX Runtime run', async () => {
    expect(typeof (await int8KernelSaturates())).toBe('boolean');
  });
});

describe('autoInt8Recipe', () => {
  it('picks by weight range and keeps what the user chose', () => {
    const auto = { perToken: 'auto', smoothing: undefined, smoothAt: 'auto', embeddings: true, fuseAttention: true, outlierChannels: 'auto' } as const;
    expect(autoInt8Recipe(auto, false)).toEqual({ perToken: 'down', smoothing: 0.75, smoothAt: 'norm', outlierChannels: 16 });
    expect(autoInt8Recipe(auto, true)).toEqual({ perToken: 'all', smoothing: 0.5, smoothAt: 'all', outlierChannels: 0 });
    expect(autoInt8Recipe({ perToken: 'none', smoothing: 0, smoothAt: 'all', embeddings: false, fuseAttention: false, outlierChannels: 4 }, false)).toEqual({ perToken: 'none', smoothing: 0, smoothAt: 'all', outlierChannels: 4 });
  });
});

describe('perTokenFilter', () => {
  it("'down' scales a down-projection's input only when its largest channel runs at least 6x the median one", () => {
    const plan = (k: number, n: number): NodePlan => ({ node: {}, activation: 'a', weightKey: 'w', kn: new Float32Array(0), k, n });
    const ranges = new Map([['outliers', Float32Array.from([1, 1, 1, 7])], ['even', Float32Array.from([1, 2, 2, 3])]]);
    const down = perTokenFilter('down', ranges) as (a: string, p: NodePlan) => boolean;
    expect(down('outliers', plan(1536, 384))).toBe(true);
    expect(down('even', plan(1536, 384))).toBe(false);
    expect(down('outliers', plan(384, 1536))).toBe(false); // an up-projection
    expect(perTokenFilter('all', ranges)).toBe(true);
    expect(perTokenFilter('none', ranges)).toBe(false);
  });
});
