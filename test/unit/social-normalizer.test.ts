// training/normalize.py writes the social-media normalization (URLs, @handles, elongation, emoji) into
// tokenizer.json, so that training (Rust `tokenizers`) and serving (TextTokenizer, `@huggingface/tokenizers`)
// apply the same rules. The recipe checks the Rust side against the fixture (normalize.py --check); this test
// checks the service side against the same expected tokens.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/model/tokenizer.js';
import { packageRoot } from '../../src/paths.js';

const run = promisify(execFile);
const tmp = mkdtempSync(join(tmpdir(), 'klassify-normalizer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Cases {
  cases: { text: string; tokens: string[] }[];
}
const fixture = JSON.parse(readFileSync(join(packageRoot, 'test', 'fixtures', 'tokenizer', 'social-normalizer-cases.json'), 'utf8')) as Cases;
const base = join(packageRoot, 'test', 'fixtures', 'models', 'tiny-sentiment', 'tokenizer.json');

describe('the social normalizer in tokenizer.json', () => {
  it('gives the service the tokens the training recipe expects', async () => {
    const out = join(tmp, 'tokenizer.json');
    await run('python3', [join(packageRoot, 'training', 'normalize.py'), base, out]);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { model: { vocab: Record<string, number> } };
    const tok = new TextTokenizer(json, 128);
    for (const c of fixture.cases) {
      expect(tok.encode(c.text).ids, c.text).toEqual(c.tokens.map((t) => json.model.vocab[t]));
    }
  });

  it('is idempotent and leaves the base tokenizer untouched when not applied', async () => {
    const once = join(tmp, 'once.json');
    const twice = join(tmp, 'twice.json');
    await run('python3', [join(packageRoot, 'training', 'normalize.py'), base, once]);
    await run('python3', [join(packageRoot, 'training', 'normalize.py'), once, twice]);
    expect(readFileSync(twice, 'utf8')).toBe(readFileSync(once, 'utf8'));
    const plain = new TextTokenizer(JSON.parse(readFileSync(base, 'utf8')), 128);
    expect(plain.encode('Soooo happy @united').ids).not.toEqual(new TextTokenizer(JSON.parse(readFileSync(once, 'utf8')), 128).encode('Soooo happy @united').ids);
  });
});
