// The cpu-int8 attention fusion on the tiny trained model's real int8 graph: QAttention gives the logits of
// the separate nodes it replaces, and a block that differs from the pattern is left alone with its reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../../src/compile/index.js';
import { fuseInt8Attention } from '../../src/compile/fuse-attention.js';
import { decodeModel, encodeModel, getAttr, type ModelProto } from '../../src/compile/onnx-graph.js';
import { TINY, tempDir } from '../unit/compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
let unfused: Uint8Array;

beforeAll(async () => {
  const r = await compileModel({ model: TINY.model, tokenizer: TINY.tokenizer, labels: TINY.labels, target: 'cpu-int8', name: 'unfused', out: tmp.path, evalSet: TINY.eval, bench: false });
  unfused = readFileSync(join(r.dir, 'model.onnx'));
}, 120_000);

const fresh = (): ModelProto => decodeModel(unfused, 'unfused tiny int8');

// Right-padded rows of different lengths, as the pool feeds them: padding must not change a row's logits.
function feeds(): Record<string, ort.Tensor> {
  const lengths = [5, 12, 3, 12];
  const cols = 12;
  const ids = new BigInt64Array(lengths.length * cols);
  const mask = new BigInt64Array(lengths.length * cols);
  lengths.forEach((len, r) => {
    for (let c = 0; c < len; c++) {
      ids[r * cols + c] = c === 0 ? 101n : c === len - 1 ? 102n : BigInt(2000 + ((r * 131 + c * 17) % 5000));
      mask[r * cols + c] = 1n;
    }
  });
  const dims = [lengths.length, cols];
  return { input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims), token_type_ids: new ort.Tensor('int64', new BigInt64Array(ids.length), dims) };
}

async function logits(model: Uint8Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    return (await session.run(feeds())).logits!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('fuseInt8Attention', () => {
  it('replaces each block by one QAttention with the same logits, and drops the mask arithmetic', async () => {
    const model = fresh();
    const r = fuseInt8Attention(model, 'attention_mask');
    expect(r).toEqual({ fused: 2, heads: [2, 2], skipped: [] });
    const ops = model.graph!.node!.map((n) => n.opType);
    expect(ops.filter((op) => op === 'QAttention')).toHaveLength(2);
    for (const gone of ['MatMulIntegerToFloat', 'Softmax', 'Transpose', 'FusedMatMul', 'Where', 'Expand']) expect(ops).not.toContain(gone);
    const [before, after] = [await logits(unfused), await logits(encodeModel(model))];
    expect(after).toHaveLength(before.length);
    // Same int8 products and scales; only the float summation order differs.
    for (let i = 0; i < before.length; i++) expect(Math.abs((after[i] as number) - (before[i] as number))).toBeLessThan(1e-3);
  });

  it('leaves a block whose score scale is not 1/sqrt(head size) alone, and says why', () => {
    const model = fresh();
    const scores = model.graph!.node!.find((n) => n.opType === 'FusedMatMul')!;
    getAttr(scores, 'alpha')!.f = 0.5;
    const r = fuseInt8Attention(model, 'attention_mask');
    expect(r.fused).toBe(1);
    expect(r.skipped).toEqual([expect.stringMatching(/score scale 0\.5 is not 1\/sqrt\(32\)/)]);
  });

  it('fuses nothing when the mask does not come from the named input, or there is none', () => {
    expect(fuseInt8Attention(fresh(), 'token_type_ids')).toMatchObject({ fused: 0, skipped: [expect.stringMatching(/mask does not come from token_type_ids alone/), expect.anything()] });
    expect(fuseInt8Attention(fresh(), undefined)).toEqual({ fused: 0, heads: [], skipped: ['the model has no attention_mask input'] });
  });
});
