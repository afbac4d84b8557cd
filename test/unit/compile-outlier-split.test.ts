// The outlier-channel split on a feed-forward block built in code (up-projection, bias, GELU in the erf form
// exporters write, down-projection, bias): the rewrite keeps the block's output (ONNX Runtime, fp32), moves
// exactly the largest channels, narrows their ranges, and leaves blocks alone that it must not touch.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { activationRanges } from '../../src/compile/calibrate.js';
import { planInt8, plannedActivations } from '../../src/compile/int8-plan.js';
import { optimizeWithOrt } from '../../src/compile/optimize.js';
import { padBatch } from '../../src/compile/runner.js';
import { inspectModel, readSourceModel } from '../../src/compile/signature.js';
import { prepareTokenizer } from '../../src/compile/tokenizer-file.js';
import { DataType, decodeModel, encodeModel, floatTensor, initializerMap, makeNode, dimsOf, type ModelProto } from '../../src/compile/onnx-graph.js';
import { channelRatio, splitOutlierChannels } from '../../src/compile/outlier-split.js';
import { quantizeDynamicInt8 } from '../../src/compile/quantize-int8.js';
import { TINY, makeModel, maxAbsDiff, randomFloats, runOnce, tempDir, valueInfo } from './compile-fixtures.js';

const H = 16;
const K = 64;
const N = 16;
const X = new ort.Tensor('float32', randomFloats(6 * H, 3, 1), [6, H]);

/** x → MatMul W1 [H,K] → + b1 → gelu (erf form) → MatMul W2 [K,N] → + b2 → Y; `extraReader` also reads the GELU output. */
function ffn(extraReader = false): ModelProto {
  const nodes = [
    makeNode('MatMul', ['X', 'W1'], ['u'], 'up'),
    makeNode('Add', ['u', 'b1'], ['ub'], 'up_bias'),
    makeNode('Div', ['ub', 'sqrt2'], ['d'], 'gelu_div'),
    makeNode('Erf', ['d'], ['e'], 'gelu_erf'),
    makeNode('Add', ['e', 'one'], ['e1'], 'gelu_add'),
    makeNode('Mul', ['ub', 'e1'], ['m'], 'gelu_mul'),
    makeNode('Mul', ['m', 'half'], ['g'], 'gelu_half'),
    makeNode('MatMul', ['g', 'W2'], ['v'], 'down'),
    makeNode('Add', ['v', 'b2'], ['Y'], 'down_bias'),
  ];
  const outputs = [valueInfo('Y', DataType.FLOAT, ['batch', N])];
  if (extraReader) {
    nodes.push(makeNode('Relu', ['g'], ['Z'], 'elsewhere'));
    outputs.push(valueInfo('Z', DataType.FLOAT, ['batch', K]));
  }
  return makeModel({
    nodes,
    initializers: [
      floatTensor('W1', [H, K], randomFloats(H * K, 11, 0.5)),
      floatTensor('b1', [K], randomFloats(K, 12, 0.1)),
      floatTensor('sqrt2', [], Float32Array.of(Math.SQRT2)),
      floatTensor('one', [], Float32Array.of(1)),
      floatTensor('half', [], Float32Array.of(0.5)),
      floatTensor('W2', [K, N], randomFloats(K * N, 13, 0.5)),
      floatTensor('b2', [N], randomFloats(N, 14, 0.1)),
    ],
    inputs: [valueInfo('X', DataType.FLOAT, ['batch', H])],
    outputs,
  });
}

/** Calibrated max |g| per channel: even, except channels 5 and 40. */
function ranges(): Map<string, Float32Array> {
  const amax = new Float32Array(K).fill(1);
  amax[5] = 12;
  amax[40] = 9;
  amax[17] = 1.5;
  return new Map([['g', amax]]);
}

function copy(model: ModelProto): ModelProto {
  return decodeModel(encodeModel(model), 'copy');
}

describe('splitOutlierChannels', () => {
  it('moves the largest channels to an fp32 path and keeps the block output', async () => {
    const source = ffn();
    const split = copy(source);
    const r = ranges();
    const report = splitOutlierChannels(split, r, { channels: 2, minRatio: 6 });
    expect(report.blocks).toHaveLength(1);
    expect(report.blocks[0]?.channels).toEqual([5, 40]);
    expect(report.blocks[0]?.ratioBefore).toBe(12);
    expect(report.blocks[0]?.ratioAfter).toBe(1.5);
    expect(report.fp32Nodes.size).toBe(2);
    // The int8 path reads narrowed weights and bias; the outlier path has its own.
    const inits = initializerMap(split.graph!);
    const up = split.graph!.node!.find((n) => n.name === 'up')!;
    expect(dimsOf(inits.get(up.input![1]!)!)).toEqual([H, K - 2]);
    const down = split.graph!.node!.find((n) => n.name === 'down')!;
    expect(dimsOf(inits.get(down.input![1]!)!)).toEqual([K - 2, N]);
    expect(inits.has('W1') || inits.has('W2') || inits.has('b1')).toBe(false);
    expect(r.get('g')).toHaveLength(K - 2);
    expect(Math.max(...(r.get('g') ?? []))).toBe(1.5);
    // Same output as the original block, in real fp32 arithmetic through ONNX Runtime.
    const a = (await runOnce(source, { X }, 'Y')).data as Float32Array;
    const b = (await runOnce(split, { X }, 'Y')).data as Float32Array;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a, new Float32Array(a.length))).toBeGreaterThan(0.1); // the block does compute something
  });

  it('leaves the fp32 path out of quantization and still folds the int8 GEMMs\' biases', async () => {
    const split = copy(ffn());
    const report = splitOutlierChannels(split, ranges(), { channels: 2, minRatio: 6 });
    const q = quantizeDynamicInt8(split, { skipNode: (name) => report.fp32Nodes.has(name), minDim: 2 });
    expect(q.quantized).toBe(2);
    expect(q.biasesFolded).toBe(2);
    const ops = split.graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'MatMul')).toHaveLength(2);
    expect(ops.filter((o) => o === 'DynamicQuantizeMatMul')).toHaveLength(2);
    const a = (await runOnce(ffn(), { X }, 'Y')).data as Float32Array;
    const b = (await runOnce(split, { X }, 'Y')).data as Float32Array;
    expect(maxAbsDiff(a, b) / Math.max(...Array.from(a, Math.abs))).toBeLessThan(0.05);
  });

  it('leaves a block alone when its channels are even, the split is off, or a narrowed tensor is read elsewhere', () => {
    for (const [model, amax, channels] of [
      [ffn(), new Float32Array(K).fill(1), 2],
      [ffn(), ranges().get('g'), 0],
      [ffn(true), ranges().get('g'), 2],
    ] as const) {
      const before = encodeModel(model);
      const r = new Map([['g', Float32Array.from(amax as Float32Array)]]);
      const report = splitOutlierChannels(model, r, { channels, minRatio: 6 });
      expect(report.blocks).toHaveLength(0);
      expect(encodeModel(model)).toEqual(before);
      expect(r.get('g')).toHaveLength(K);
    }
  });
});

describe('splitOutlierChannels on a real exported encoder (the committed tiny model, constant-folded as the compile does)', () => {
  it('finds every feed-forward block and keeps the logits', async () => {
    const tmp = tempDir();
    try {
      const folded = join(tmp.path, 'folded.onnx');
      await optimizeWithOrt(readFileSync(TINY.model), folded, 'basic', 1);
      const model = decodeModel(readFileSync(folded), 'folded');
      const source = readSourceModel(TINY.model);
      const tok = prepareTokenizer(TINY.tokenizer, 64).tokenizer;
      const sig = await inspectModel(source, 3, tok.encode('hello').ids, TINY.model);
      const texts = BUILTIN_EVAL_TEXTS.slice(0, 40).map((t) => tok.encode(t));
      const ranges = await activationRanges(model, plannedActivations(planInt8(model)), { inputs: sig.inputs, texts, padId: tok.padId, threads: 1 });
      const before = copy(model);
      // The tiny model's hidden channels are even (under the compile's 6x): every block qualifies at 0.
      const report = splitOutlierChannels(model, ranges, { channels: 16, minRatio: 0 });
      expect(report.blocks).toHaveLength(2);
      for (const b of report.blocks) {
        expect(b.channels).toHaveLength(16);
        expect(ranges.get(b.activation)).toHaveLength(256 - 16);
      }
      const batch = padBatch(texts, tok.padId);
      const feeds: Record<string, ort.Tensor> = {
        [sig.inputs.inputIds]: new ort.Tensor('int64', batch.ids, [batch.rows, batch.cols]),
        ...(sig.inputs.attentionMask ? { [sig.inputs.attentionMask]: new ort.Tensor('int64', batch.mask, [batch.rows, batch.cols]) } : {}),
        ...(sig.inputs.tokenTypeIds ? { [sig.inputs.tokenTypeIds]: new ort.Tensor('int64', batch.types, [batch.rows, batch.cols]) } : {}),
      };
      const a = (await runOnce(before, feeds, sig.output)).data as Float32Array;
      const b = (await runOnce(model, feeds, sig.output)).data as Float32Array;
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    } finally {
      tmp.remove();
    }
  });
});

describe('channelRatio', () => {
  it('is the largest value over the median', () => {
    expect(channelRatio(Float32Array.from([1, 2, 2, 8]))).toBe(4);
    expect(channelRatio(new Float32Array(0))).toBe(1);
  });
});
