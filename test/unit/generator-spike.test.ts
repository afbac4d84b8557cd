import { describe, expect, it } from 'vitest';
import { parseSpike, PostGenerator } from '../../src/produce/generator.js';

describe('generator --spike', () => {
  it('parses BRAND:AT:FACTORx[:SENTIMENT[:DURATION]] and refuses what it cannot honour', () => {
    expect(parseSpike('acme air:60s:8x:negative')).toEqual({ brand: 'Acme Air', atMs: 60_000, durationMs: 60_000, factor: 8, sentiment: 'negative' });
    expect(parseSpike('Globex:2m:5x::30s')).toEqual({ brand: 'Globex', atMs: 120_000, durationMs: 30_000, factor: 5, sentiment: undefined });
    expect(() => parseSpike('Nobody:60s:8x')).toThrow(/unknown brand/);
    expect(() => parseSpike('Globex:soon:8x')).toThrow(/duration/);
    expect(() => parseSpike('Globex:60s:eight')).toThrow(/factor/);
    expect(() => parseSpike('Globex:60s:8x:angry')).toThrow(/sentiment/);
  });

  it('during the spike the brand is about FACTOR times as frequent and has the given sentiment; not before', () => {
    let now = 0;
    const gen = new PostGenerator(7, 'g', { spike: parseSpike('Hooli:60s:8x:negative'), clock: () => now });
    const share = (n: number): number => Array.from({ length: n }, () => gen.next()).filter((p) => p.brand === 'Hooli').length / n;
    const before = share(4000);
    now = 61_000;
    const posts = Array.from({ length: 4000 }, () => gen.next());
    const during = posts.filter((p) => p.brand === 'Hooli');
    now = 125_000;
    const after = share(4000);
    // 10 brands: 1/10 normally, 8/17 during an 8x spike.
    expect(before).toBeGreaterThan(0.07);
    expect(before).toBeLessThan(0.13);
    expect(during.length / posts.length).toBeGreaterThan(0.42);
    expect(during.length / posts.length).toBeLessThan(0.52);
    expect(after).toBeLessThan(0.13);
    // Every Hooli post in the spike comes from the negative templates.
    expect(during.every((p) => /late|worst|cancelled|hold|broke|charged|terrible|slow|lost/i.test(p.text))).toBe(true);
    expect(posts.every((p) => p.ts === 61_000)).toBe(true);
  });
});
