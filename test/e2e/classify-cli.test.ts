// `klassify classify` as a user runs it (the built CLI): JSONL and plain text in, one JSON line out per
// input line, in order, with an error object for a bad line. No Kafka.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';
import { runCli } from '../helpers/cli.js';
import { testModelDir } from '../helpers/pool-model.js';

const modelDir = testModelDir();
const scratch = mkdtempSync(join(tmpdir(), 'klassify-classify-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Line {
  id: unknown;
  label?: string;
  scores?: Record<string, number>;
  tokens?: number;
  truncated?: boolean;
  error?: { code: string; message: string };
}

function parse(stdout: string): Line[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
}

describe('klassify classify', () => {
  it('classifies JSONL and plain text from stdin, in order, with an error object per bad line', async () => {
    const input = [
      '{"id":"a1","text":"I absolutely love this phone"}',
      'the worst support I have ever had',
      '',
      '{"id":42,"text":""}',
      '{"id":"broken", text}',
      `{"id":"long","text":"${'word '.repeat(2000)}"}`,
      '{"text":"no id here"}',
    ].join('\n');
    const r = await runCli(['classify', '--model', modelDir, '--workers', '2', '--batch-size', '2'], { input });
    expect(r.code, r.stderr).toBe(0);
    const lines = parse(r.stdout);
    expect(lines.map((l) => l.id)).toEqual(['a1', 2, 42, 5, 'long', 7]);
    const [a1, plain, empty, broken, long, noId] = lines;
    for (const ok of [a1, plain, long, noId]) {
      expect(Object.keys(ok ?? {}).sort()).toEqual(['id', 'label', 'scores', 'tokens', 'truncated']);
      expect(Object.values(ok?.scores ?? {}).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
      expect(Object.keys(ok?.scores ?? {})).toContain(ok?.label);
    }
    expect(long?.truncated).toBe(true);
    expect(a1?.truncated).toBe(false);
    expect(empty?.error?.code).toBe('KLS_ERR_MISSING_TEXT');
    expect(broken?.error?.code).toBe('KLS_ERR_INVALID_JSON');
    expect(r.stderr).toMatch(/4 texts classified, 2 errors/);
  });

  it('streams a file larger than its batches, keeping every line in order', async () => {
    const file = join(scratch, 'many.txt');
    const n = 1500;
    writeFileSync(file, Array.from({ length: n }, (_, i) => `line ${i} ${i % 3 === 0 ? 'great, thanks!' : i % 3 === 1 ? 'terrible, never again' : 'arrives on monday'}`).join('\r\n'));
    const r = await runCli(['classify', '--model', modelDir, '--workers', '2', file]);
    expect(r.code, r.stderr).toBe(0);
    const lines = parse(r.stdout);
    expect(lines).toHaveLength(n);
    expect(lines.map((l) => l.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(lines.every((l) => l.label !== undefined)).toBe(true);
  });

  it('--brands: the issue\'s brands file; each line lists its mentions with UTF-16 offsets and the sentiment towards each brand', async () => {
    // The exact shape of issue #12, plus the competitor of its example.
    const brandsFile = join(packageRoot, 'test/fixtures/brands/issue-12.json');
    const posts = [
      { id: 'switch', text: 'Switched from Northwind to Kestrel and my bill halved' },
      { id: 'alias', text: 'Kestrel Telecom support fixed my line in ten minutes, brilliant' },
      { id: 'bird', text: 'Watched a Kestrel hover over the field, the bird was amazing' },
      { id: 'case', text: 'my kestrel bill went up again' },
      { id: 'emoji', text: '😡 #kestrel down again, third time this week' },
      { id: 'kettle', text: 'Lunch at the Copper Kettle was awful, cold soup and rude staff' },
      { id: 'none', text: 'what a lovely morning' },
    ];
    const r = await runCli(['classify', '--model', modelDir, '--workers', '1', '--brands', brandsFile], { input: posts.map((p) => JSON.stringify(p)).join('\n') });
    expect(r.code, r.stderr).toBe(0);
    type Mention = { brand: string; alias: string; start: number; end: number; label: string; scores: Record<string, number>; context: string };
    const lines = new Map(parse(r.stdout).map((l) => [l.id, l as Line & { brands: Mention[]; excludedBrands: { brand: string; phrase: string }[] }]));
    const brief = (id: string): [string, string, string][] => lines.get(id)!.brands.map((m) => [m.brand, m.alias, m.label]);
    // Offsets point at the alias in the text (as written: Copper Kettle matches its alias without case),
    // in UTF-16 code units (the emoji before #kestrel is two).
    for (const p of posts) for (const m of lines.get(p.id)!.brands) expect(p.text.slice(m.start, m.end).toLowerCase()).toBe(m.alias.toLowerCase());
    // Each mention's context: words of the post as written, holding the mention (these posts are short).
    for (const p of posts) {
      for (const m of lines.get(p.id)!.brands) {
        expect(p.text, m.context).toContain(m.context);
        expect(m.context).toContain(p.text.slice(m.start, m.end));
      }
    }
    expect(lines.get('emoji')!.brands[0]).toMatchObject({ start: 3, end: 11 });
    expect(brief('switch')).toEqual([['Northwind', 'Northwind', 'negative'], ['Kestrel', 'Kestrel', 'positive']]);
    expect(brief('alias')).toEqual([['Kestrel', 'Kestrel Telecom', 'positive']]);
    expect(brief('kettle')).toEqual([['Copper Kettle', 'copper kettle', 'negative']]);
    // One brand: the mention takes the post's own label and scores. Which label that is stays the model's
    // call: the default model reads this post as neutral (about 0.44, negative 0.36), where v2 read it as negative;
    // a known miss of the model (training/README.md), not of the brand logic, so only the mechanism is asserted.
    const emoji = lines.get('emoji')!;
    expect(brief('emoji')).toEqual([['Kestrel', '#kestrel', emoji.label]]);
    for (const [k, v] of Object.entries(emoji.scores!)) expect(emoji.brands[0]!.scores[k]).toBeCloseTo(v, 9);
    // "the bird" suppresses Kestrel and the result says so; case-sensitive Kestrel is not "kestrel".
    expect(lines.get('bird')).toMatchObject({ brands: [], excludedBrands: [{ brand: 'Kestrel', phrase: 'the bird' }] });
    expect(lines.get('case')).toMatchObject({ brands: [], excludedBrands: [] });
    expect(lines.get('none')).toMatchObject({ brands: [], excludedBrands: [] });
  });

  it('reports a missing model folder as a coded error and exits 1', async () => {
    const r = await runCli(['classify', '--model', join(scratch, 'nope'), '-'], { input: 'hello\n' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KLS_ERR_MANIFEST/);
  });
});
