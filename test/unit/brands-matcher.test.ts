import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { parseBrandsConfig } from '../../brands/config.js';
import { BrandMatcher } from '../../brands/matcher.js';
import { normalize } from '../../brands/normalize.js';
import { prng } from '../../src/produce/generator.js';

const spec = {
  brands: [
    { name: 'Kestrel', aliases: ['Kestrel', 'Kestrel Telecom', '@KestrelTel', '#kestrel'], caseSensitive: true, exclude: ['kestrel falcon', 'the bird'] },
    { name: 'Copper Kettle', aliases: ['copper kettle', '@copperkettle'], exclude: [] },
    { name: 'Initech', aliases: ['Initech', '@initech'] },
    { name: 'Ελαία', aliases: ['Ελαία'] },
    { name: 'Москва Мобайл', aliases: ['Москва Мобайл'] },
    { name: 'Fizz', aliases: ['fizz'] },
  ],
};
const matcher = new BrandMatcher(parseBrandsConfig(spec));
const spans = (text: string): [string, string][] => matcher.match(text).mentions.map((m) => [m.brand, text.slice(m.start, m.end)]);

describe('brand matcher: aliases and word boundaries', () => {
  it('finds aliases as whole words, with offsets into the text', () => {
    const text = 'Switched to Kestrel and tried the copper kettle latte';
    const r = matcher.match(text);
    expect(r.mentions.map((m) => [m.brand, m.start, m.end, m.text])).toEqual([
      ['Kestrel', 12, 19, 'Kestrel'],
      ['Copper Kettle', 34, 47, 'copper kettle'],
    ]);
    expect(r.brands).toEqual(['Kestrel', 'Copper Kettle']);
  });

  it('keeps possessives and punctuation but not longer words, in any script', () => {
    expect(spans("Kestrel's bill, (Kestrel). Kestrel!")).toEqual([['Kestrel', 'Kestrel'], ['Kestrel', 'Kestrel'], ['Kestrel', 'Kestrel']]);
    expect(spans('Kestrelé Kestrels KestrelX xKestrel Kestrel2 Kestrel\u0301')).toEqual([]);
    expect(spans('Η Ελαία είναι τέλεια, όχι Ελαίας')).toEqual([['Ελαία', 'Ελαία']]);
    expect(spans('Москва Мобайл — лучшая! но не Москва Мобайлу')).toEqual([['Москва Мобайл', 'Москва Мобайл']]);
    expect(spans('Kestrel😍and🔥Kestrel')).toEqual([['Kestrel', 'Kestrel'], ['Kestrel', 'Kestrel']]);
    // Letters of another script count as word characters too.
    expect(spans('Kestrelα αKestrel')).toEqual([]);
  });

  it('honours case sensitivity per brand and folds otherwise', () => {
    expect(spans('kestrel KESTREL Kestrel')).toEqual([['Kestrel', 'Kestrel']]);
    expect(spans('COPPER KETTLE and Copper Kettle')).toEqual([['Copper Kettle', 'COPPER KETTLE'], ['Copper Kettle', 'Copper Kettle']]);
    // Full case folding, not just toLowerCase: "FIZZ" with a long s / sharp s style expansions still fold.
    expect(spans('FIZZ Fizz fiZZ')).toHaveLength(3);
  });

  it('matches phrases across any whitespace run', () => {
    expect(spans('copper\n   kettle')).toEqual([['Copper Kettle', 'copper\n   kettle']]);
  });

  it('matches hashtags and @handles as written', () => {
    expect(spans('#kestrel rocks')).toEqual([['Kestrel', '#kestrel']]);
    expect(spans('#kestrels #kestrel_fans')).toEqual([]);
    expect(spans('hi @KestrelTel!')).toEqual([['Kestrel', '@KestrelTel']]);
    expect(spans('@KestrelTelecom')).toEqual([]);
    // The handle alias stops at "_", but the plain alias still finds the brand name inside a longer handle.
    expect(matcher.match('@initech_help is slow, @initech too').mentions.map((m) => [m.alias, m.text])).toEqual([
      ['Initech', 'initech'],
      ['@initech', '@initech'],
    ]);
  });

  it('reports the longest, leftmost of overlapping aliases once', () => {
    const text = 'Kestrel Telecom is Kestrel';
    const r = matcher.match(text);
    expect(r.mentions.map((m) => [m.alias, m.start, m.end])).toEqual([
      ['Kestrel Telecom', 0, 15],
      ['Kestrel', 19, 26],
    ]);
  });
});

describe('brand matcher: exclusions', () => {
  it('suppresses a brand whose exclude phrase occurs and says which phrase did it', () => {
    const text = 'Saw a Kestrel today, the bird not the phone company';
    const r = matcher.match(text);
    expect(r.mentions).toEqual([]);
    expect(r.excluded).toEqual([{ brand: 'Kestrel', phrase: 'the bird', start: 21, end: 29 }]);
  });

  it('folds exclude phrases even for a case-sensitive brand, and leaves other brands alone', () => {
    const r = matcher.match('Kestrel Falcon spotted near the Copper Kettle');
    expect(r.excluded.map((e) => [e.brand, e.phrase])).toEqual([['Kestrel', 'kestrel falcon']]);
    expect(r.brands).toEqual(['Copper Kettle']);
  });

  it('reports no exclusion when the brand was not mentioned anyway', () => {
    expect(matcher.match('the bird sang').excluded).toEqual([]);
  });
});

describe('brand matcher: NFKC', () => {
  it('matches full-width letters and reports offsets into the original text', () => {
    const text = 'wow Ｋｅｓｔｒｅｌ and ｃｏｐｐｅｒ ｋｅｔｔｌｅ ＫＥＳＴＲＥＬ';
    const r = matcher.match(text);
    expect(r.mentions.map((m) => [m.brand, m.text])).toEqual([
      ['Kestrel', 'Ｋｅｓｔｒｅｌ'],
      ['Copper Kettle', 'ｃｏｐｐｅｒ ｋｅｔｔｌｅ'],
    ]);
    expect(r.mentions[0]?.start).toBe(4);
    expect(r.mentions[0]?.end).toBe(11);
    expect(r.mentions[1]?.start).toBe(16); // the case-sensitive brand skips the upper-case one at the end
  });

  it('maps ligatures and composed characters back to their original offsets', () => {
    // "ﬁ" (1 code unit) becomes "fi" (2); the alias starts after it, so a shift would show.
    const text = 'ﬁne ﬁzz, and 𝐅𝐢𝐳𝐳 too';
    const r = matcher.match(text);
    expect(r.mentions.map((m) => m.text)).toEqual(['ﬁzz', '𝐅𝐢𝐳𝐳']);
    expect(r.mentions[0]?.start).toBe(4);
    expect(r.mentions[1]?.start).toBe(13);
    expect(r.mentions[1]?.end).toBe(21); // mathematical bold letters are surrogate pairs
    const decomposed = 'Ela\u0301 Ελαι\u0301α!';
    expect(new BrandMatcher(parseBrandsConfig({ brands: [{ name: 'Ελαία', aliases: ['Ελαία'] }] })).match(decomposed).mentions.map((m) => m.text)).toEqual(['Ελαι\u0301α']);
  });

  it('keeps a normalized-to-original map for every code unit', () => {
    const n = normalize('Aﬃ Ｂ  c', true);
    expect(n.text).toBe('affi b c');
    expect(map(n, 'startOf')).toEqual([0, 1, 1, 1, 2, 3, 4, 6]);
    expect(map(n, 'endOf')).toEqual([1, 2, 2, 2, 3, 4, 6, 7]);
  });

  it('maps plain ASCII code unit for code unit, and still collapses a run of spaces', () => {
    const plain = normalize('Hi @Acme!', true);
    expect(plain.text).toBe('hi @acme!');
    expect(map(plain, 'startOf')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(map(plain, 'endOf')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(normalize('Hi @Acme!', false).text).toBe('Hi @Acme!');
    const spaced = normalize('Ab  c', true);
    expect(spaced.text).toBe('ab c');
    expect(map(spaced, 'startOf')).toEqual([0, 1, 2, 4]);
    expect(map(spaced, 'endOf')).toEqual([1, 2, 4, 5]);
  });
});

function map(n: ReturnType<typeof normalize>, which: 'startOf' | 'endOf'): number[] {
  return Array.from({ length: n.text.length }, (_, i) => n[which](i));
}

describe('brand matcher: scale', () => {
  it('matches 1,000 brands × 10 aliases in time linear in the text length', () => {
    const rand = prng(7);
    const syllables = ['ka', 'ro', 'mi', 'zu', 'te', 'lo', 'ne', 'ba', 'shi', 'vo', 'qua', 'den'];
    const word = (n: number): string => Array.from({ length: n }, () => syllables[Math.floor(rand() * syllables.length)]).join('');
    const brands = Array.from({ length: 1000 }, (_, i) => ({
      name: `Brand ${i}`,
      aliases: Array.from({ length: 10 }, (_, j) => (j % 3 === 0 ? `${word(2)} ${word(2)} ${i}` : `${word(3)}${i}x${j}`)),
    }));
    const m = new BrandMatcher(parseBrandsConfig({ brands }));
    const pieces = Array.from({ length: 2000 }, () => (rand() < 0.05 ? (brands[Math.floor(rand() * 1000)]?.aliases[Math.floor(rand() * 10)] as string) : word(1 + Math.floor(rand() * 3))));
    const chunk = pieces.join(' ') + ' ';
    const small = chunk.repeat(5);
    const large = chunk.repeat(20);
    const time = (t: string): { ms: number; n: number } => {
      const t0 = performance.now();
      const n = m.match(t).mentions.length;
      return { ms: performance.now() - t0, n };
    };
    time(small); // warm up the JIT
    const best = (t: string): { ms: number; n: number } => [time(t), time(t), time(t)].reduce((a, b) => (a.ms <= b.ms ? a : b));
    const s = best(small);
    const l = best(large);
    expect(s.n).toBeGreaterThan(100);
    expect(l.n).toBe(s.n * 4);
    // 4× the text should take ~4× the time; a per-alias loop or quadratic step would be far above 12×.
    expect(l.ms / Math.max(s.ms, 0.5)).toBeLessThan(12);
  });
});
