// `klassify compile` as a user runs it: the built CLI (node dist/src/cli/main.js), exit codes, stdout, stderr.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfusion } from '../../src/compile/eval-report.js';
import { runCli } from '../helpers/cli.js';
import { TINY, tempDir } from '../unit/compile-fixtures.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const env = { ...process.env, KLASSIFY_DEBUG: '' };
const args = (out: string, ...more: string[]): string[] =>
  ['compile', '--model', TINY.model, '--tokenizer', TINY.tokenizer, '--labels', 'negative,neutral,positive', '--name', 'tiny', '--out', out, ...more];

describe('klassify compile (CLI)', () => {
  it('compiles cpu-int8 with a labeled eval set: prints the folder, steps on stderr, exit 0', async () => {
    const out = join(tmp.path, 'ok');
    const r = await runCli(args(out, '--target', 'cpu-int8', '--eval', TINY.eval, '--version', '2.0.0'), { env });
    expect(r.code, r.stderr).toBe(0);
    const dir = join(out, 'tiny', 'cpu-int8');
    expect(r.stdout.trim()).toBe(dir);
    // stderr is not a TTY here: plain step lines, no progress-bar escape codes.
    expect(r.stderr).toMatch(/^\[1\/8\] check model and tokenizer$/m);
    expect(r.stderr).toMatch(/^\[8\/8\] write /m);
    expect(r.stderr).toMatch(/parity: \d+\.\d+% agreement on 500 texts/);
    expect(r.stderr).not.toContain('\u001b[');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { version: string; parity: { passed: boolean }; benchmark: { rows: unknown[] } };
    expect(manifest.version).toBe('2.0.0');
    expect(manifest.parity.passed).toBe(true);
    expect(manifest.benchmark.rows).toHaveLength(9);
    expect(existsSync(join(dir, 'report.md'))).toBe(true);
  });

  it('--json prints the manifest; --no-bench skips the benchmark', async () => {
    const r = await runCli(args(join(tmp.path, 'json'), '--target', 'cpu', '--no-bench', '--json'), { env });
    expect(r.code, r.stderr).toBe(0);
    const manifest = JSON.parse(r.stdout) as { target: string; benchmark?: unknown; parity: { count: number } };
    expect(manifest.target).toBe('cpu');
    expect(manifest.benchmark).toBeUndefined();
    expect(manifest.parity.count).toBe(200);
  });

  it('--eval-report prints both confusion matrices; the compiled one matches what `klassify classify` predicts', async () => {
    const labels = ['negative', 'neutral', 'positive'];
    const out = join(tmp.path, 'report');
    const r = await runCli(args(out, '--target', 'cpu', '--eval', TINY.eval, '--eval-report', '--no-bench'), { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    const at = (title: string): string[] => lines.slice(lines.findIndex((l) => l.startsWith(`${title}: 500 labeled texts`)));
    const source = parseConfusion(at('source'), labels);
    const compiled = parseConfusion(at('compiled (cpu)'), labels);

    // Known counts 1: each row sums to that label's gold count in eval.jsonl.
    const rows = readFileSync(TINY.eval, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { text: string; label: string });
    const goldCounts = labels.map((l) => rows.filter((row) => row.label === l).length);
    for (const m of [source, compiled]) expect(m.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(goldCounts);

    // Known counts 2: the diagonal is the accuracy the parity gate recorded in the manifest.
    const manifest = JSON.parse(readFileSync(join(out, 'tiny', 'cpu', 'manifest.json'), 'utf8')) as { parity: { sourceAccuracy: number; compiledAccuracy: number } };
    const diag = (m: number[][]): number => m.reduce((a, row, i) => a + (row[i] as number), 0);
    expect(diag(source) / 500).toBeCloseTo(manifest.parity.sourceAccuracy, 12);
    expect(diag(compiled) / 500).toBeCloseTo(manifest.parity.compiledAccuracy, 12);

    // Known counts 3: the served model's labels (`klassify classify` on the compiled folder) give the same matrix.
    const input = join(tmp.path, 'report-input.jsonl');
    writeFileSync(input, rows.map((row, i) => JSON.stringify({ id: String(i), text: row.text })).join('\n') + '\n');
    const c = await runCli(['classify', '--model', join(out, 'tiny', 'cpu'), '--workers', '1', input], { env });
    expect(c.code, c.stderr).toBe(0);
    const served = labels.map(() => labels.map(() => 0));
    for (const line of c.stdout.split('\n').filter((l) => l.trim() !== '')) {
      const res = JSON.parse(line) as { id: string; label: string };
      const row = rows[Number(res.id)] as { label: string };
      const counts = served[labels.indexOf(row.label)] as number[];
      counts[labels.indexOf(res.label)] = (counts[labels.indexOf(res.label)] as number) + 1;
    }
    expect(compiled).toEqual(served);

    const report = readFileSync(join(out, 'tiny', 'cpu', 'report.md'), 'utf8');
    expect(report).toContain('## Evaluation report');
    expect(parseConfusion(report.split('\n').slice(report.split('\n').findIndex((l) => l.startsWith('**compiled**'))), labels)).toEqual(compiled);
  });

  it('--eval-report without a labeled --eval set is refused', async () => {
    const out = join(tmp.path, 'noeval');
    const r = await runCli(args(out, '--target', 'cpu', '--eval-report', '--no-bench'), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/klassify: KLS_ERR_CONFIG: --eval-report needs a labeled evaluation set/);
    expect(existsSync(out)).toBe(false);
  });

  it('a damaged quantization fails the parity gate: exit 1, one coded line, nothing written', async () => {
    const out = join(tmp.path, 'refused');
    const r = await runCli(args(out, '--target', 'cpu-int8', '--eval', TINY.eval, '--no-bench', '--x-damage-int8-scales'), { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^klassify: KLS_ERR_PARITY_GATE: the cpu-int8 model disagrees with its source/m);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user error
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['--target', 'tpu'], 'KLS_ERR_CONFIG', /unknown target "tpu"/],
    [['--target', 'cpu', '--labels', 'a,b'], 'KLS_ERR_MODEL_SIGNATURE', /3 logits per text but 2 labels/],
    [['--target', 'cpu', '--tokenizer', TINY.eval], 'KLS_ERR_TOKENIZER', /cannot read tokenizer/],
    [['--target', 'cpu', '--model', TINY.eval], 'KLS_ERR_MODEL_LOAD', /not an ONNX model/],
  ])('%j fails with %s', async (extra, code, message) => {
    const out = join(tmp.path, 'bad');
    const r = await runCli([...args(out), ...extra], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`klassify: ${code}: `);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
