// int8 embedding tables (quantize-embedding.ts): the per-row arithmetic, the Gather rewrite on small graphs
// built in code, that ONNX Runtime runs the result (also after its 'extended' optimizations), and that the
// committed tiny model compiles to cpu-int8 with its word-embedding table int8 and passes the parity gate.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModel } from '../../src/compile/index.js';
import { optimizeWithOrt } from '../../src/compile/optimize.js';
import { DEFAULT_MIN_TABLE_VALUES, quantizeGatherTables, quantizePerRow } from '../../src/compile/quantize-embedding.js';
import { quantizeDynamicInt8 } from '../../src/compile/quantize-int8.js';
import {
  DataType,
  decodeModel,
  dimsOf,
  encodeModel,
  floatTensor,
  initializerMap,
  intAttr,
  makeNode,
  readFloats,
  type ModelProto,
  type TensorProto,
} from '../../src/compile/onnx-graph.js';
import { TINY, makeModel, maxAbsDiff, opTypes, randomFloats, runOnce, tempDir, valueInfo } from './compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());

const V = 1000; // vocabulary rows
const H = 64; // columns: V·H = 64,000 values, under the default threshold, so the tests set minValues
const P = 16; // position rows

/** Rows of very different norms, as in real embedding tables (rare tokens are longer vectors). */
function table(rows: number, cols: number, seed: number): Float32Array {
  const t = randomFloats(rows * cols, seed, 1);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[r * cols + c] = (t[r * cols + c] as number) * (0.01 + (r % 7) * 0.3);
  return t;
}

/**
 * ids [batch, seq] → Gather(E [V, H]) + Gather(Pos [P, H], positions) + Gather(Type [2, H], type_ids) → Y;
 * the shape of BERT's embedding layer.
 */
function embeddingModel(): ModelProto {
  return makeModel({
    nodes: [
      makeNode('Gather', ['E', 'ids'], ['word'], 'word_gather'), // axis omitted: the default, 0
      makeNode('Gather', ['Pos', 'positions'], ['pos'], 'pos_gather', '', [intAttr('axis', 0)]),
      makeNode('Gather', ['Type', 'types'], ['type'], 'type_gather', '', [intAttr('axis', 0)]),
      makeNode('Add', ['word', 'pos'], ['sum'], 'add_pos'),
      makeNode('Add', ['sum', 'type'], ['Y'], 'add_type'),
    ],
    initializers: [floatTensor('E', [V, H], table(V, H, 1)), floatTensor('Pos', [P, H], table(P, H, 2)), floatTensor('Type', [2, H], table(2, H, 3))],
    inputs: [valueInfo('ids', DataType.INT64, ['batch', 'seq']), valueInfo('positions', DataType.INT64, ['seq']), valueInfo('types', DataType.INT64, ['batch', 'seq'])],
    outputs: [valueInfo('Y', DataType.FLOAT, ['batch', 'seq', H])],
  });
}

function copy(model: ModelProto): ModelProto {
  return decodeModel(encodeModel(model), 'copy');
}

const ids = [0, 1, 2, 999, 500, 7, 7, -1]; // a repeated id, and a negative one (Gather counts from the end)
const feeds = {
  ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [2, 4]),
  positions: new ort.Tensor('int64', BigInt64Array.from([0, 1, 2, 3], BigInt), [4]),
  types: new ort.Tensor('int64', BigInt64Array.from([0, 0, 1, 1, 0, 1, 0, 1], BigInt), [2, 4]),
};

function int8Values(t: TensorProto): Int8Array {
  const raw = t.rawData!.slice();
  return new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

describe('quantizePerRow', () => {
  it('scales each row by its own max |v| / 127 and rounds to nearest; an all-zero row gets scale 1', () => {
    // [3 rows, 2 columns]
    const { q, scales } = quantizePerRow(Float32Array.from([1, -0.5, 0.25, 0.125, 0, 0]), 3, 2);
    expect(Array.from(scales)).toEqual([1 / 127, 0.25 / 127, 1].map((v) => Math.fround(v)));
    expect(Array.from(q)).toEqual([127, -64, 127, 64, 0, 0]);
  });

  it('reconstructs every value within half a step of its row', () => {
    const t = table(50, 40, 9);
    const { q, scales } = quantizePerRow(t, 50, 40);
    for (let i = 0; i < t.length; i++) {
      const s = scales[Math.floor(i / 40)] as number;
      expect(Math.abs((q[i] as number) * s - (t[i] as number))).toBeLessThanOrEqual(s / 2 + 1e-7);
      expect(Math.abs(q[i] as number)).toBeLessThanOrEqual(127);
    }
  });
});

describe('quantizeGatherTables', () => {
  it('rewrites Gather(T, ids) to Mul(Cast(Gather(T_int8, ids)), Gather(scale [V, 1], ids)) and drops the fp32 table', () => {
    const model = embeddingModel();
    const report = quantizeGatherTables(model, { minValues: 1000 });
    expect(report.tables).toEqual([
      { name: 'E', shape: [V, H], gathers: 1, bytesBefore: V * H * 4, bytesAfter: V * H + V * 4 },
      { name: 'Pos', shape: [P, H], gathers: 1, bytesBefore: P * H * 4, bytesAfter: P * H + P * 4 },
    ]);
    expect(report.kept).toEqual([{ name: 'Type', shape: [2, H], reason: '128 values, under 1,000: too small to matter' }]);
    expect(opTypes(model)).toEqual(['Gather', 'Cast', 'Gather', 'Mul', 'Gather', 'Cast', 'Gather', 'Mul', 'Gather', 'Add', 'Add']);
    const [gather, cast, scale, mul] = model.graph!.node!;
    const inits = initializerMap(model.graph!);
    expect(inits.has('E') || inits.has('Pos')).toBe(false);
    expect(inits.get('Type')?.dataType).toBe(DataType.FLOAT);
    const q = inits.get(gather!.input![0]!)!;
    const s = inits.get(scale!.input![0]!)!;
    expect([q.dataType, dimsOf(q)]).toEqual([DataType.INT8, [V, H]]);
    expect([s.dataType, dimsOf(s)]).toEqual([DataType.FLOAT, [V, 1]]);
    // The lookups read the model's ids; the cast is to float; the Mul writes the original output name.
    expect([gather!.input![1], scale!.input![1]]).toEqual(['ids', 'ids']);
    expect(cast!.attribute!.find((a) => a.name === 'to')?.i).toBe(DataType.FLOAT);
    expect([mul!.input, mul!.output]).toEqual([[cast!.output![0], scale!.output![0]], ['word']]);
    const expected = quantizePerRow(table(V, H, 1), V, H);
    expect(int8Values(q)).toEqual(expected.q);
    expect(readFloats(s)).toEqual(expected.scales);
  });

  it('runs in ONNX Runtime within half an int8 step of every gathered fp32 row', async () => {
    const source = embeddingModel();
    const q = copy(source);
    quantizeGatherTables(q, { minValues: 1000 });
    const a = (await runOnce(source, feeds, 'Y')).data as Float32Array;
    const b = (await runOnce(q, feeds, 'Y')).data as Float32Array;
    // Each output row is word row + position row (+ the exact fp32 type row): the error is at most half
    // a step of each quantized row.
    const word = quantizePerRow(table(V, H, 1), V, H).scales;
    const pos = quantizePerRow(table(P, H, 2), P, H).scales;
    for (let i = 0; i < ids.length; i++) {
      const id = (ids[i] as number) < 0 ? V + (ids[i] as number) : (ids[i] as number);
      const bound = ((word[id] as number) + (pos[i % 4] as number)) / 2 + 1e-6;
      expect(maxAbsDiff(a.subarray(i * H, (i + 1) * H), b.subarray(i * H, (i + 1) * H))).toBeLessThanOrEqual(bound);
    }
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0); // it did quantize
  });

  it("still runs the same after ONNX Runtime's 'extended' optimizations (the compile's last step)", async () => {
    const q = embeddingModel();
    quantizeGatherTables(q, { minValues: 1000 });
    const path = join(tmp.path, 'embedding-extended.onnx');
    await optimizeWithOrt(encodeModel(q), path, 'extended', 1);
    const optimized = decodeModel(readFileSync(path), 'optimized');
    // The int8 table survives (no fp32 copy folded back in).
    expect(optimized.graph!.initializer!.filter((t) => t.dataType === DataType.INT8).map(dimsOf)).toEqual([[V, H], [P, H]]);
    const before = (await runOnce(q, feeds, 'Y')).data as Float32Array;
    const after = (await runOnce(optimized, feeds, 'Y')).data as Float32Array;
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-6);
  });

  it('by default leaves tables under 65,536 values fp32', () => {
    const model = embeddingModel();
    const report = quantizeGatherTables(model);
    expect(DEFAULT_MIN_TABLE_VALUES).toBe(65_536);
    expect(report.tables).toEqual([]);
    expect(report.kept.map((k) => k.name)).toEqual(['E', 'Pos', 'Type']);
    expect(opTypes(model)).toEqual(opTypes(embeddingModel()));
  });

  it('rewrites every Gather of a shared table against one int8 copy', () => {
    const model = makeModel({
      nodes: [makeNode('Gather', ['E', 'a'], ['x'], 'g1'), makeNode('Gather', ['E', 'b'], ['y'], 'g2'), makeNode('Add', ['x', 'y'], ['Y'], 'add')],
      initializers: [floatTensor('E', [V, H], table(V, H, 4))],
      inputs: [valueInfo('a', DataType.INT64, ['n']), valueInfo('b', DataType.INT64, ['n'])],
      outputs: [valueInfo('Y', DataType.FLOAT, ['n', H])],
    });
    const report = quantizeGatherTables(model, { minValues: 1000 });
    expect(report.tables.map((t) => [t.name, t.gathers])).toEqual([['E', 2]]);
    expect(model.graph!.initializer!.filter((t) => t.dataType === DataType.INT8)).toHaveLength(1);
    expect(opTypes(model)).toEqual(['Gather', 'Cast', 'Gather', 'Mul', 'Gather', 'Cast', 'Gather', 'Mul', 'Add']);
  });

  it('keeps fp32 a table also read by a MatMul (tied embeddings), a Gather on another axis, and a table that is a graph output', () => {
    const tied = makeModel({
      nodes: [makeNode('Gather', ['E', 'ids'], ['x'], 'g'), makeNode('MatMul', ['x', 'Et'], ['h'], 'mm'), makeNode('MatMul', ['h', 'E'], ['Y'], 'lm_head')],
      initializers: [floatTensor('E', [V, H], table(V, H, 5)), floatTensor('Et', [H, V], table(H, V, 6))],
      inputs: [valueInfo('ids', DataType.INT64, ['n'])],
      outputs: [valueInfo('Y', DataType.FLOAT, ['n', H])],
    });
    const t = quantizeGatherTables(tied, { minValues: 1000 });
    expect(t.tables).toEqual([]);
    expect(t.kept).toEqual([{ name: 'E', shape: [V, H], reason: 'also read by MatMul lm_head (not a row lookup)' }]);
    expect(opTypes(tied)).toEqual(['Gather', 'MatMul', 'MatMul']);

    const columns = makeModel({
      nodes: [makeNode('Gather', ['E', 'cols'], ['Y'], 'g', '', [intAttr('axis', 1)])],
      initializers: [floatTensor('E', [V, H], table(V, H, 7))],
      inputs: [valueInfo('cols', DataType.INT64, ['n'])],
      outputs: [valueInfo('Y', DataType.FLOAT, [V, 'n'])],
    });
    expect(quantizeGatherTables(columns, { minValues: 1000 }).kept[0]?.reason).toMatch(/not a row lookup/);

    const exported = embeddingModel();
    exported.graph!.output!.push(valueInfo('E', DataType.FLOAT, [V, H]));
    expect(quantizeGatherTables(exported, { minValues: 1000 }).kept.find((k) => k.name === 'E')?.reason).toBe('also a graph output');
  });
});

describe('quantizeDynamicInt8 with gatherTables', () => {
  it('stores the tables int8 after the MatMul rewrite, reports them, and passes them through perturbScales', async () => {
    // Embedding → MatMul(W 64x48): both kinds of int8 in one graph.
    const source = makeModel({
      nodes: [makeNode('Gather', ['E', 'ids'], ['x'], 'g'), makeNode('MatMul', ['x', 'W'], ['Y'], 'mm')],
      initializers: [floatTensor('E', [V, H], table(V, H, 8)), floatTensor('W', [H, 48], randomFloats(H * 48, 9, 0.3))],
      inputs: [valueInfo('ids', DataType.INT64, ['batch', 'seq'])],
      outputs: [valueInfo('Y', DataType.FLOAT, ['batch', 'seq', 48])],
    });
    const q = copy(source);
    const seen: string[] = [];
    const report = quantizeDynamicInt8(q, { reduceRange: true, gatherTables: { minValues: 1000 }, perturbScales: (_, name) => void seen.push(name) });
    expect(report.quantized).toBe(1);
    expect(report.tables.map((t) => t.name)).toEqual(['E']);
    expect(report.keptTables).toEqual([]);
    expect(report.int8Params).toBe(V * H + H * 48);
    expect(report.fp32Params).toBe(V + 48); // the row scales and the column scales
    expect(seen.sort()).toEqual(['E', 'W']);
    expect(opTypes(q)).toEqual(['Gather', 'Cast', 'Gather', 'Mul', 'DynamicQuantizeMatMul']);
    const a = (await runOnce(source, { ids: feeds.ids }, 'Y')).data as Float32Array;
    const b = (await runOnce(q, { ids: feeds.ids }, 'Y')).data as Float32Array;
    expect(maxAbsDiff(a, b) / Math.max(...Array.from(a, Math.abs))).toBeLessThan(0.03);
  });

  it('without gatherTables leaves the tables fp32', () => {
    const q = embeddingModel();
    const report = quantizeDynamicInt8(q);
    expect([report.tables, report.keptTables]).toEqual([[], []]);
    expect(opTypes(q)).toEqual(opTypes(embeddingModel()));
  });
});

describe('cpu-int8 compile of the tiny trained model', () => {
  it('stores its word-embedding table int8, shrinks the file, and passes the parity gate', async () => {
    const r = await compileModel({
      model: TINY.model, tokenizer: TINY.tokenizer, labels: TINY.labels, evalSet: TINY.eval,
      target: 'cpu-int8', name: 'tiny', out: join(tmp.path, 'compiled-models'), bench: false,
    });
    const m = r.manifest;
    expect(m.parity).toMatchObject({ count: 500, labeled: true, passed: true, forced: false });
    expect(m.parity!.agreement).toBeGreaterThanOrEqual(0.99);
    expect(m.parity!.sourceAccuracy! - m.parity!.compiledAccuracy!).toBeLessThanOrEqual(0.01);
    // The 30522x64 word table is 7.8 of the 8.3 MB: int8, the file is about a quarter of the source.
    expect(m.result.bytes / m.source.bytes).toBeLessThan(0.35);
    expect(m.quantization.details).toMatch(/1 embedding table\(s\) int8, per-row symmetric 8-bit.*encoder\.embeddings\.word_embeddings\.weight, 7\.8 MB → 2\.1 MB/);
    expect(r.report).toMatch(/Stored 1 embedding table\(s\) as 8-bit int8.*word_embeddings\.weight 30522x64, 7\.8 MB → 2\.1 MB/);

    const compiled = decodeModel(readFileSync(join(r.dir, 'model.onnx')), 'compiled');
    const inits = initializerMap(compiled.graph!);
    expect(inits.has('encoder.embeddings.word_embeddings.weight')).toBe(false);
    const word = compiled.graph!.node!.find((n) => n.opType === 'Gather' && n.input?.[1] === 'input_ids' && inits.get(n.input[0] ?? '')?.dataType === DataType.INT8);
    expect(dimsOf(inits.get(word!.input![0]!)!)).toEqual([30522, 64]);
    // The small position and token-type tables stay fp32 (under the threshold).
    expect(inits.get('encoder.embeddings.position_embeddings.weight')?.dataType).toBe(DataType.FLOAT);
  });
});
