// Option validation, labels and evaluation-set parsing: every bad input is a coded error that names it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinEvalSet, loadEvalSet } from '../../src/compile/eval-set.js';
import { parseLabels, resolveCompileOptions } from '../../src/compile/options.js';
import { tempDir } from './compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const LABELS = ['negative', 'neutral', 'positive'];
const base = { model: 'm.onnx', tokenizer: 't.json', labels: 'a,b', target: 'cpu', name: 'tiny' };

function file(name: string, content: string): string {
  const path = join(tmp.path, name);
  writeFileSync(path, content);
  return path;
}

describe('resolveCompileOptions', () => {
  it('fills the defaults', () => {
    const o = resolveCompileOptions(base);
    expect(o).toMatchObject({ out: 'compiled-models', maxLength: 128, force: false, bench: true, threads: 1, optimizationLevel: 'extended', int8Weights: 'auto', labels: ['a', 'b'] });
    expect(o.gate).toEqual({ minAgreement: 0.99, maxAccuracyDrop: 0.01 });
  });

  it.each([
    [{ target: 'gpu' }, /--target: unknown target "gpu"; use one of cpu, cpu-int8, cuda-fp16/],
    [{ name: '../evil' }, /--name/],
    [{ maxLength: 1 }, /--max-length/],
    [{ maxLength: 12.5 }, /--max-length/],
    [{ threads: 0 }, /--threads/],
    [{ version: ' ' }, /--version/],
    [{ int8Weights: '9' as '7' }, /--int8-weights: expected auto, 7 or 8/],
    [{ gate: { minAgreement: 2 } }, /minAgreement/],
  ])('%o is refused with KLS_ERR_CONFIG', (override, message) => {
    expect(() => resolveCompileOptions({ ...base, ...override })).toThrow(expect.objectContaining({ code: 'KLS_ERR_CONFIG', message: expect.stringMatching(message) }));
  });
});

describe('parseLabels', () => {
  it('reads "a,b,c", an array, or a labels.json file', () => {
    expect(parseLabels(' negative, neutral ,positive')).toEqual(LABELS);
    expect(parseLabels(LABELS)).toEqual(LABELS);
    expect(parseLabels(file('labels.json', JSON.stringify(LABELS)))).toEqual(LABELS);
  });

  it.each([['one'], ['a,,b'], ['a,b,a'], [join('/nonexistent', 'labels.json')]])('refuses %s', (value) => {
    expect(() => parseLabels(value)).toThrow(expect.objectContaining({ code: 'KLS_ERR_CONFIG', message: expect.stringContaining('--labels') }));
  });
});

describe('loadEvalSet', () => {
  it('reads a labeled set (gold label indices) and an unlabeled one', () => {
    const labeled = loadEvalSet(file('l.jsonl', '{"text":"good","label":"positive"}\n\n{"text":"bad","label":"negative"}\n'), LABELS);
    expect(labeled.texts).toEqual(['good', 'bad']);
    expect(labeled.gold).toEqual([2, 0]);
    const plain = loadEvalSet(file('u.jsonl', '{"text":"good"}\r\n{"text":"bad","label":null}\r\n'), LABELS);
    expect(plain.gold).toBeUndefined();
    expect(plain.description).toMatch(/2 unlabeled texts/);
  });

  it.each([
    ['missing.jsonl', null, /cannot read evaluation set/],
    ['empty.jsonl', '\n\n', /has no texts/],
    ['notjson.jsonl', '{"text":"ok"}\nnot json\n', /:2: not a JSON object/],
    ['notext.jsonl', '{"label":"positive"}\n', /:1: "text" must be a non-empty string/],
    ['badlabel.jsonl', '{"text":"x","label":"happy"}\n', /label "happy" is not one of the model's labels/],
    ['mixed.jsonl', '{"text":"x","label":"positive"}\n{"text":"y"}\n', /1 of 2 lines have a label/],
  ])('%s is refused with KLS_ERR_EVAL_SET', (name, content, message) => {
    const path = content === null ? join(tmp.path, name) : file(name, content);
    expect(() => loadEvalSet(path, LABELS)).toThrow(expect.objectContaining({ code: 'KLS_ERR_EVAL_SET', message: expect.stringMatching(message) }));
  });

  it('the built-in set is 200 distinct unlabeled English texts', () => {
    const set = builtinEvalSet();
    expect(set.texts).toHaveLength(200);
    expect(new Set(set.texts).size).toBe(200);
    expect(set.gold).toBeUndefined();
  });
});
