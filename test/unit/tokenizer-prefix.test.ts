// Long texts are tokenized from a prefix cut at whitespace (src/model/tokenizer.ts): the ids kept must be
// exactly those of tokenizing the whole text and truncating, with the shipped model's tokenizer.json (its
// social normalizer included), on texts that mix emoji, URLs, @handles, elongated words and odd spaces.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL } from '../../src/config-knobs.js';
import { TextTokenizer } from '../../src/model/tokenizer.js';
import { packageRoot } from '../../src/paths.js';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { PostGenerator } from '../../src/produce/generator.js';

const json: unknown = JSON.parse(readFileSync(join(packageRoot, DEFAULT_MODEL, 'tokenizer.json'), 'utf8'));
const kept = new TextTokenizer(json, 128);
const whole = new TextTokenizer(json, 1_000_000);

function truncatedWhole(text: string): number[] {
  const ids = whole.encode(text).ids;
  return ids.length > 128 ? [...ids.slice(0, 127), ids[ids.length - 1]!] : ids;
}

describe('tokenizing a long text from its prefix', () => {
  it('keeps exactly the ids of the whole text, truncated', () => {
    const gen = new PostGenerator(7);
    const pieces = [
      ...BUILTIN_EVAL_TEXTS.slice(0, 50),
      'soooooo gooood 😍😍😍 https://example.com/a/very/long/path?with=query&and=more @KestrelTel #kestrel',
      'WORST\tservice\u00a0ever!!!!\n\nnever again\u2003\u2003(╯°□°)╯︵ ┻━┻',
      'x'.repeat(300),
      'Ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ ﬁne ligatures 𝐛𝐨𝐥𝐝',
    ];
    let prefixed = 0;
    for (let i = 0; i < 60; i++) {
      const parts: string[] = [];
      let length = 0;
      // From just over the prefix limit (128 x 16 chars) to 60 KB.
      const target = 2_000 + i * 1_000;
      for (let k = i; length < target; k++) {
        const part = k % 3 === 0 ? gen.next().text : (pieces[k % pieces.length] as string);
        parts.push(part);
        length += part.length + 1;
      }
      const text = parts.join(i % 2 === 0 ? ' ' : '\n');
      const got = kept.encode(text);
      expect(got.ids, `text ${i} (${text.length} chars)`).toEqual(truncatedWhole(text));
      expect(got.truncated).toBe(true);
      if (text.length > 128 * 16) prefixed++;
    }
    expect(prefixed).toBeGreaterThan(50);
  });

  it('a long text without enough tokens in the prefix (one long word) is encoded whole', () => {
    const text = `${'a'.repeat(5_000)} ${'good '.repeat(10)}`;
    expect(kept.encode(text).ids).toEqual(truncatedWhole(text));
  });
});
