// klassify produce as a user runs it, checked with kcat (a client this project did not write).
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { brokers, uniqueName } from '../helpers/kafka.js';

const run = promisify(execFile);

async function kcatAll(topic: string): Promise<string[]> {
  const { stdout } = await run('kcat', ['-C', '-b', brokers().join(','), '-t', topic, '-e', '-q', '-f', '%k\t%s\n'], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trimEnd().split('\n').filter((l) => l !== '');
}

describe('klassify produce', () => {
  it('--generate writes realistic posts with ids, brands as keys, at a paced rate', async () => {
    const topic = uniqueName('produce-gen');
    const started = Date.now();
    const r = await runCli(['produce', '--generate', '--count', '200', '--rate', '400', '--topic', topic, '--brokers', brokers().join(','), '--partitions', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - started).toBeGreaterThan(400); // 200 at 400/s cannot take less than half a second
    const lines = await kcatAll(topic);
    expect(lines).toHaveLength(200);
    const values = lines.map((l) => JSON.parse(l.split('\t')[1] as string) as { id: string; text: string; meta: { brand: string } });
    expect(new Set(values.map((v) => v.id)).size).toBe(200);
    for (const [i, line] of lines.entries()) expect(line.split('\t')[0]).toBe(values[i]!.meta.brand);
    expect(values.every((v) => v.text.length > 10)).toBe(true);
  });

  it('JSONL lines go byte for byte (bad ones too), CSV rows become events, stdin works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kls-produce-'));
    const jsonl = join(dir, 'in.jsonl');
    writeFileSync(jsonl, '{"id":"a","text":"hello"}\n{not json\n\n{"id":"c","text":"bye","user":"u1"}\n');
    const csv = join(dir, 'in.csv');
    writeFileSync(csv, 'id,text,user\n1,"great, really",u1\n2,meh,u2\n');
    const t1 = uniqueName('produce-jsonl');
    const b = ['--brokers', brokers().join(','), '--partitions', '1'];
    expect((await runCli(['produce', jsonl, '--topic', t1, '--key-field', 'user', ...b])).code).toBe(0);
    expect(await kcatAll(t1)).toEqual(['\t{"id":"a","text":"hello"}', '\t{not json', 'u1\t{"id":"c","text":"bye","user":"u1"}']);
    const t2 = uniqueName('produce-csv');
    expect((await runCli(['produce', csv, '--topic', t2, '--key-field', 'user', ...b])).code).toBe(0);
    expect(await kcatAll(t2)).toEqual(['u1\t{"id":"1","text":"great, really"}', 'u2\t{"id":"2","text":"meh"}']);
    const t3 = uniqueName('produce-stdin');
    const r = await runCli(['produce', '-', '--format', 'text', '--topic', t3, ...b], { input: 'first post\nsecond post\n' });
    expect(r.code, r.stderr).toBe(0);
    expect(await kcatAll(t3)).toEqual(['\t{"id":"line-1","text":"first post"}', '\t{"id":"line-2","text":"second post"}']);
  });

  it('without a file or --generate it says what to give', async () => {
    const r = await runCli(['produce', '--brokers', brokers().join(',')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KLS_ERR_CONFIG: give a FILE/);
  });
});
