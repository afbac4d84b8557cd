// Each bad input to `compile` fails early with its stable code and a message a user can act on, and
// leaves nothing in the output folder.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModel, type CompileOptions } from '../../src/compile/index.js';
import { DataType, encodeModel, intAttr, makeNode } from '../../src/compile/onnx-graph.js';
import { TINY, makeModel, tempDir, valueInfo } from './compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const out = join(tmp.path, 'out');

function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp.path, name);
  writeFileSync(path, content);
  return path;
}

const good: CompileOptions = { model: TINY.model, tokenizer: TINY.tokenizer, labels: TINY.labels, target: 'cpu', name: 'tiny', out, bench: false };

async function expectFailure(options: Partial<CompileOptions>, code: string, message: RegExp): Promise<void> {
  await expect(compileModel({ ...good, ...options })).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
}

describe('compile refuses bad inputs', () => {
  it('a file that is not ONNX', async () => {
    await expectFailure({ model: file('notes.onnx', 'this is a text file, not a model\n') }, 'KLS_ERR_MODEL_LOAD', /is not an ONNX model/);
    await expectFailure({ model: file('random.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)) }, 'KLS_ERR_MODEL_LOAD', /not an ONNX model/);
  });

  it('a model file that does not exist', async () => {
    await expectFailure({ model: join(tmp.path, 'missing.onnx') }, 'KLS_ERR_MODEL_LOAD', /cannot read model .*ENOENT/);
  });

  it('a model whose inputs are not token ids', async () => {
    const imageModel = makeModel({
      nodes: [makeNode('Identity', ['pixels'], ['logits'], 'id')],
      inputs: [valueInfo('pixels', DataType.FLOAT, ['batch', 3])],
      outputs: [valueInfo('logits', DataType.FLOAT, ['batch', 3])],
    });
    await expectFailure({ model: file('image.onnx', encodeModel(imageModel)) }, 'KLS_ERR_MODEL_SIGNATURE', /input "pixels" must be an int64 \[batch, sequence\] tensor/);
  });

  it('a model with an input it cannot feed', async () => {
    const extra = makeModel({
      nodes: [makeNode('Add', ['input_ids', 'lang_id'], ['s'], 'add'), makeNode('Cast', ['s'], ['logits'], 'cast', '', [intAttr('to', DataType.FLOAT)])],
      inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'seq']), valueInfo('lang_id', DataType.INT64, ['batch', 'seq'])],
      outputs: [valueInfo('logits', DataType.FLOAT, ['batch', 'seq'])],
    });
    await expectFailure({ model: file('extra.onnx', encodeModel(extra)) }, 'KLS_ERR_MODEL_SIGNATURE', /"lang_id" are neither token ids/);
  });

  it('a model whose output is not float logits', async () => {
    const ids = makeModel({
      nodes: [makeNode('Identity', ['input_ids'], ['logits'], 'id')],
      inputs: [valueInfo('input_ids', DataType.INT64, ['batch', 'seq'])],
      outputs: [valueInfo('logits', DataType.INT64, ['batch', 'seq'])],
    });
    await expectFailure({ model: file('ids.onnx', encodeModel(ids)) }, 'KLS_ERR_MODEL_SIGNATURE', /must be float32 logits \(got int64\)/);
  });

  it('a label list that does not match the model', async () => {
    await expectFailure({ labels: 'negative,positive' }, 'KLS_ERR_MODEL_SIGNATURE', /returns 3 logits per text but 2 labels were given/);
  });

  it('a tokenizer that is not a tokenizer.json', async () => {
    await expectFailure({ tokenizer: file('tok.json', '{"hello": "world"}') }, 'KLS_ERR_TOKENIZER', /not a Hugging Face tokenizer.json/);
    await expectFailure({ tokenizer: file('tok.txt', 'vocab.txt contents') }, 'KLS_ERR_TOKENIZER', /cannot read tokenizer/);
    await expectFailure({ tokenizer: join(tmp.path, 'missing.json') }, 'KLS_ERR_TOKENIZER', /cannot read tokenizer/);
  });

  it('a tokenizer whose ids do not fit the model', async () => {
    const json = JSON.parse(readFileSync(TINY.tokenizer, 'utf8')) as { added_tokens: { id: number; content: string }[] };
    json.added_tokens.push({ ...json.added_tokens[0]!, id: 40000, content: '[EXTRA]' });
    await expectFailure({ tokenizer: file('big.json', JSON.stringify(json)) }, 'KLS_ERR_TOKENIZER', /token id 40000, but the model's embedding table has 30522 rows/);
  });

  it('an unknown target', async () => {
    await expectFailure({ target: 'tpu' }, 'KLS_ERR_CONFIG', /unknown target "tpu"/);
  });

  it('an outlier-channel count that is not a count', async () => {
    await expectFailure({ target: 'cpu-int8', int8OutlierChannels: Number('sixteen') }, 'KLS_ERR_CONFIG', /--int8-outlier-channels: expected auto or an integer from 0 \(off\) to 256, got NaN/);
    await expectFailure({ target: 'cpu-int8', int8OutlierChannels: -1 }, 'KLS_ERR_CONFIG', /--int8-outlier-channels: .* got -1/);
  });

  it('a max length beyond the position embeddings', async () => {
    await expectFailure({ maxLength: 256 }, 'KLS_ERR_CONFIG', /--max-length 256 exceeds the model's 128 position embeddings/);
  });

  it('a bad evaluation set', async () => {
    await expectFailure({ evalSet: file('eval.jsonl', '{"text":"fine","label":"great"}\n') }, 'KLS_ERR_EVAL_SET', /label "great" is not one of/);
  });
});
