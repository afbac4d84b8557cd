import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrandsConfig } from '../../brands/config.js';
import { BrandMatcher } from '../../brands/matcher.js';
import { PostGenerator } from '../../src/produce/generator.js';

const root = join(import.meta.dirname, '../..');

describe('brand fixtures', () => {
  it('the labeled set is well-formed, large enough, and uses only configured brands', () => {
    const config = loadBrandsConfig(join(root, 'test/fixtures/brands/brands.json'));
    const names = new Set(config.brands.map((b) => b.name));
    const labels = new Set(['negative', 'neutral', 'positive']);
    const lines = readFileSync(join(root, 'test/fixtures/brands/labeled.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    const posts = lines.map((l) => JSON.parse(l) as { id: string; text: string; brands: Record<string, string>; post: string });
    expect(posts.length).toBeGreaterThanOrEqual(200);
    expect(new Set(posts.map((p) => p.id)).size).toBe(posts.length);
    for (const p of posts) {
      expect(p.text.trim(), p.id).not.toBe('');
      expect(labels.has(p.post), p.id).toBe(true);
      for (const [brand, label] of Object.entries(p.brands)) {
        expect(names.has(brand), `${p.id} ${brand}`).toBe(true);
        expect(labels.has(label), p.id).toBe(true);
      }
    }
    const mixed = posts.filter((p) => Object.values(p.brands).includes('positive') && Object.values(p.brands).includes('negative'));
    expect(mixed.length).toBeGreaterThanOrEqual(50);
    expect(posts.filter((p) => Object.keys(p.brands).length === 1).length).toBeGreaterThan(30);
    // Posts where the brand word is another sense: no gold brand, and the matcher must not find one either.
    const otherSense = posts.filter((p) => Object.keys(p.brands).length === 0);
    expect(otherSense.length).toBeGreaterThan(10);
    const m = new BrandMatcher(config);
    for (const p of otherSense) expect(m.match(p.text).brands, p.id).toEqual([]);
  });

  it('the example brands file finds the brand of every generated post', () => {
    const m = new BrandMatcher(loadBrandsConfig(join(root, 'brands/example-brands.json')));
    const gen = new PostGenerator(9);
    for (let i = 0; i < 2000; i++) {
      const post = gen.next();
      expect(m.match(post.text).brands, post.text).toEqual([post.brand]);
    }
  });
});
