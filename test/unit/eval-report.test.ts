// The evaluation figures of `klassify compile --eval-report` (src/compile/eval-report.ts) and of the Python
// recipe (training/evalmetrics.py), both checked against one hand-counted fixture.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { evalReport, parseConfusion, renderEvalReport } from '../../src/compile/eval-report.js';
import { packageRoot } from '../../src/paths.js';

const run = promisify(execFile);

interface Fixture {
  labels: string[];
  items: { gold: string; logits: number[] }[];
  expected: {
    n: number;
    confusion: number[][];
    accuracy: number;
    precision: number[];
    recall: number[];
    binary: { n: number; confusion: number[][]; accuracy: number };
  };
}

const fx = JSON.parse(readFileSync(join(packageRoot, 'test', 'fixtures', 'eval-report', 'confusion-fixture.json'), 'utf8')) as Fixture;
const gold = fx.items.map((it) => fx.labels.indexOf(it.gold));
const logits = Float32Array.from(fx.items.flatMap((it) => it.logits));

describe('evalReport', () => {
  const r = evalReport(logits, gold, fx.labels);

  it('counts the confusion matrix and accuracy of the fixture', () => {
    expect(r.count).toBe(fx.expected.n);
    expect(r.confusion).toEqual(fx.expected.confusion);
    expect(r.accuracy).toBeCloseTo(fx.expected.accuracy, 12);
  });

  it('gives per-class precision and recall', () => {
    expect(r.perClass.map((c) => c.precision)).toEqual(fx.expected.precision.map((p) => expect.closeTo(p, 12) as unknown));
    expect(r.perClass.map((c) => c.recall)).toEqual(fx.expected.recall.map((p) => expect.closeTo(p, 12) as unknown));
    expect(r.perClass.map((c) => c.support)).toEqual(fx.expected.confusion.map((row) => row.reduce((a, b) => a + b, 0)));
  });

  it('binary accuracy ignores the neutral logit and the neutral gold items', () => {
    expect(r.binary).toMatchObject({ count: fx.expected.binary.n, confusion: fx.expected.binary.confusion });
    expect(r.binary?.accuracy).toBeCloseTo(fx.expected.binary.accuracy, 12);
  });

  it('leaves binary figures out when the labels have no negative/positive pair', () => {
    const other = evalReport([1, 0, 0, 1], [0, 1], ['spam', 'ham']);
    expect(other.binary).toBeUndefined();
    expect(other.accuracy).toBe(1);
  });

  it('macro-F1 skips classes without gold items (a binary review set has no neutral gold)', () => {
    const b = evalReport([1, 2, 0, 0, 0, 1], [0, 2], fx.labels);
    expect(b.confusion).toEqual([[0, 1, 0], [0, 0, 0], [0, 0, 1]]);
    expect(b.macroF1).toBeCloseTo(0.5, 12);
    expect(b.binary?.accuracy).toBe(1);
  });

  it('refuses mismatched shapes and out-of-range gold labels', () => {
    expect(() => evalReport([1, 2, 3], [0, 1], fx.labels)).toThrow(RangeError);
    expect(() => evalReport([1, 2, 3], [3], fx.labels)).toThrow(/not in 0..2/);
  });

  it('renders a matrix that parses back to the same counts', () => {
    const lines = renderEvalReport(r, 'fixture');
    expect(lines[0]).toBe('fixture: 12 labeled texts, accuracy 58.3% (7/12), macro-F1 0.579, binary negative/positive 87.5% (7/8)');
    expect(lines).toContain('| negative | 75.0% | 60.0% | 0.667 | 5 | 4 |');
    expect(parseConfusion(lines, fx.labels)).toEqual(fx.expected.confusion);
  });
});

describe('training/evalmetrics.py (the Python twin)', () => {
  it('passes its own test on the same fixture', async () => {
    const r = await run('python3', [join(packageRoot, 'training', 'test_evalmetrics.py')], { cwd: packageRoot });
    expect(r.stderr).toMatch(/Ran \d+ tests[\s\S]*\nOK\s*$/);
  });

  it('the out-of-domain sets\' preparation passes its test on a tiny fixture (training/test_prepare_ood.py)', async () => {
    const r = await run('python3', [join(packageRoot, 'training', 'test_prepare_ood.py')], { cwd: packageRoot });
    expect(r.stderr).toMatch(/Ran \d+ tests[\s\S]*\nOK\s*$/);
  });

  it('the distillation transfer set (prepare_mix.py --transfer-out) passes its test on a tiny fixture (training/test_prepare_mix.py)', async () => {
    const r = await run('python3', [join(packageRoot, 'training', 'test_prepare_mix.py')], { cwd: packageRoot });
    expect(r.stderr).toMatch(/Ran \d+ tests?[\s\S]*\nOK\s*$/);
  });
});
