// klassify compile, end to end through the library, on the committed tiny trained model: each target,
// the parity gate refusing a damaged quantization (and --force), atomic replacement of the output.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModel, quantizeDynamicInt8, type CompileDeps, type CompileOptions } from '../../src/compile/index.js';
import { DataType, decodeModel } from '../../src/compile/onnx-graph.js';
import { loadManifest, parseManifest } from '../../src/model/manifest.js';
import { TINY, tempDir } from '../unit/compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const out = join(tmp.path, 'compiled-models');
const base: CompileOptions = { model: TINY.model, tokenizer: TINY.tokenizer, labels: TINY.labels, target: 'cpu-int8', name: 'tiny', out, evalSet: TINY.eval };
// A short benchmark: the figures are not under test here, their presence is.
const quick: CompileDeps = { bench: { budgetMs: 10, minRuns: 2 } };

const damaged: CompileDeps['quantize'] = (model, options) =>
  quantizeDynamicInt8(model, { ...options, perturbScales: (s) => s.forEach((v, i) => (s[i] = v * (i % 2 === 0 ? 4 : 0.25))) });

describe('compile the tiny trained model', () => {
  it('cpu-int8: int8 graph, parity on the labeled set, benchmark, valid manifest and report', async () => {
    const r = await compileModel(base, quick);
    expect(r.dir).toBe(join(out, 'tiny', 'cpu-int8'));
    expect(readdirSync(r.dir).sort()).toEqual(['manifest.json', 'model.onnx', 'report.md', 'tokenizer.json']);
    const loaded = loadManifest(r.dir);
    expect(loaded.manifest).toEqual(parseManifest(JSON.parse(readFileSync(join(r.dir, 'manifest.json'), 'utf8'))));
    const m = loaded.manifest;
    expect(m).toMatchObject({ target: 'cpu-int8', labels: ['negative', 'neutral', 'positive'], executionProvider: 'cpu', verifiedOnTarget: true, maxLength: 128, opset: 17 });
    expect(m.inputs).toEqual({ inputIds: 'input_ids', attentionMask: 'attention_mask', tokenTypeIds: 'token_type_ids' });
    expect(m.quantization.kind).toBe('dynamic-int8');
    expect(m.optimization).toMatchObject({ level: 'extended', portable: true });
    expect(m.parity).toMatchObject({ count: 500, labeled: true, passed: true, forced: false });
    expect(m.parity!.agreement).toBeGreaterThanOrEqual(0.99);
    expect(m.parity!.sourceAccuracy).toBeGreaterThan(0.7); // a really trained model, well above chance (0.43)
    expect(m.parity!.sourceAccuracy! - m.parity!.compiledAccuracy!).toBeLessThanOrEqual(0.01);
    expect(m.benchmark!.rows.map((row) => [row.batchSize, row.seqLen])).toEqual([[1, 16], [8, 16], [32, 16], [1, 32], [8, 32], [32, 32], [1, 64], [8, 64], [32, 64]]);
    expect(m.benchmark!.sizeRatio).toBeLessThan(1);
    expect(m.version).toBe(m.result.sha256.slice(0, 12));

    const compiled = decodeModel(readFileSync(join(r.dir, 'model.onnx')), 'compiled');
    // 12 Linear layers: per layer Q, K and V share one quantized activation (MatMulIntegerToFloat once fused),
    // the other three are DynamicQuantizeMatMul.
    const ops = compiled.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'DynamicQuantizeMatMul')).toHaveLength(6);
    expect(ops.filter((op) => op === 'MatMulIntegerToFloat')).toHaveLength(6);
    expect(r.report).toMatch(/Self-attention kept as separate nodes/);
    expect(compiled.graph!.initializer!.some((t) => t.dataType === DataType.INT8)).toBe(true);
    // The word-embedding table is int8 too (per-row scales), so the file is about a quarter of the source.
    expect(compiled.graph!.initializer!.some((t) => t.name === 'encoder.embeddings.word_embeddings.weight')).toBe(false);
    expect(m.quantization.details).toMatch(/1 embedding table\(s\) int8/);
    expect(m.benchmark!.sizeRatio).toBeLessThan(0.35);
    const tokenizer = JSON.parse(readFileSync(join(r.dir, 'tokenizer.json'), 'utf8')) as { padding: unknown; truncation: unknown };
    expect([tokenizer.padding, tokenizer.truncation]).toEqual([null, null]);

    expect(r.report).toMatch(/## Accuracy parity[\s\S]*\*\*Passed\*\*/);
    expect(r.report).toMatch(/\| batch \| tokens \| source ms \| compiled ms/);
    expect(readFileSync(join(r.dir, 'report.md'), 'utf8')).toBe(r.report);
  });

  it('cpu without --eval: the built-in texts, label agreement only', async () => {
    const r = await compileModel({ ...base, target: 'cpu', evalSet: undefined, version: '1.0.0' }, quick);
    expect(r.manifest.parity).toMatchObject({ labeled: false, count: 200, agreement: 1, passed: true });
    expect(r.manifest.parity!.sourceAccuracy).toBeUndefined();
    expect(r.manifest.quantization.kind).toBe('none');
    expect(r.manifest.version).toBe('1.0.0');
  });

  it('cuda-fp16: fp16 weights, int64 in / float32 out, runs on the CPU provider, marked unverified, no benchmark', async () => {
    const r = await compileModel({ ...base, target: 'cuda-fp16' });
    const m = r.manifest;
    expect(m).toMatchObject({ executionProvider: 'cuda', verifiedOnTarget: false, quantization: { kind: 'fp16' } });
    expect(m.parity).toMatchObject({ measuredOn: 'cpu', passed: true });
    expect(m.benchmark).toBeUndefined();
    expect(m.notes.join(' ')).toMatch(/NOT VERIFIED ON A GPU/);
    expect(r.report).toMatch(/Not verified on the target hardware/);
    const session = await ort.InferenceSession.create(join(r.dir, 'model.onnx'));
    expect(session.inputMetadata.map((i) => (i.isTensor ? i.type : '?'))).toEqual(['int64', 'int64', 'int64']);
    expect(session.outputMetadata.map((o) => (o.isTensor ? o.type : '?'))).toEqual(['float32']);
    await session.release();
    const compiled = decodeModel(readFileSync(join(r.dir, 'model.onnx')), 'compiled');
    const word = compiled.graph!.initializer!.find((t) => t.name === 'encoder.embeddings.word_embeddings.weight');
    expect(word?.dataType).toBe(DataType.FLOAT16);
  });

  // The bench's ablation (bench/int8-bench.ts) builds these on the shipped model; here each must give a
  // valid model that passes the gate, and the report must say which steps ran.
  it.each([
    [{ int8PerToken: 'none', int8Smoothing: 0 }, /No activation smoothed.*no per-token scaling/s],
    [{ int8PerToken: 'all', int8Smoothing: 0.5, int8Weights: '7' }, /smoothed \d+ activation tensor\(s\) \(SmoothQuant, α 0.5.*per token, every quantized activation/s],
    [{ int8PerToken: 'down', int8Embeddings: false }, /smoothed \d+ activation tensor\(s\), the LayerNorm outputs.*No embedding table .*was stored as int8/s],
    // The tiny model's hidden channels are even: the split finds nothing to move, and says so.
    [{ int8OutlierChannels: 16 }, /no feed-forward block uneven enough for the outlier-channel split/],
    [{ int8OutlierChannels: 0, int8PerToken: 'down' }, /no outlier-channel split; /],
    [{ int8FuseAttention: true }, /Fused 2 self-attention block\(s\) into com\.microsoft QAttention \(2 heads\)/],
    // Per-token scaling of the Q/K/V input leaves no MatMulIntegerToFloat to pack: the report says why.
    [{ int8FuseAttention: true, int8PerToken: 'all', int8Weights: '8' }, /No self-attention block fused \(query: projection is not an int8 MatMulIntegerToFloat\)/],
  ] as const)('cpu-int8 ablation %j: passes the gate, report says what ran', async (options, said) => {
    const r = await compileModel({ ...base, name: `ablation-${Object.values(options).join('-')}`, bench: false, ...options });
    expect(r.manifest.parity).toMatchObject({ passed: true, forced: false });
    expect(r.report).toMatch(said);
    const session = await ort.InferenceSession.create(join(r.dir, 'model.onnx'));
    await session.release();
  });

  it('the parity gate refuses a damaged quantization and writes nothing', async () => {
    const target = join(tmp.path, 'refused');
    await expect(compileModel({ ...base, out: target, bench: false }, { quantize: damaged })).rejects.toMatchObject({
      code: 'KLS_ERR_PARITY_GATE',
      message: expect.stringMatching(/label agreement .* is below 99\.00%.*Nothing was written/s),
    });
    expect(existsSync(target)).toBe(false);
  });

  it('--force writes the damaged model, and the manifest says so', async () => {
    const r = await compileModel({ ...base, name: 'forced', force: true, bench: false }, { quantize: damaged });
    expect(r.manifest.parity).toMatchObject({ passed: false, forced: true });
    expect(r.manifest.notes).toContain('PARITY GATE FAILED and was overridden with --force.');
    expect(r.report).toMatch(/\*\*Failed\*\*.*--force/);
    expect(loadManifest(r.dir).manifest.parity?.forced).toBe(true);
  });

  it('compiling again replaces the folder as a whole', async () => {
    const first = await compileModel({ ...base, target: 'cpu', name: 'again', bench: false, version: 'v1' });
    const second = await compileModel({ ...base, target: 'cpu', name: 'again', bench: false, version: 'v2' });
    expect(second.dir).toBe(first.dir);
    expect(loadManifest(second.dir).manifest.version).toBe('v2');
    expect(readdirSync(join(out, 'again'))).toEqual(['cpu']); // no staging or retired folders left
  });
});
