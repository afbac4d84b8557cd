import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brandFields, CONTEXT_MAX_CHARS, loadBrandMatcher, mentionContext, planBatch, supportsBrandSentiment } from '../../brands/index.js';
import { packageRoot } from '../../src/paths.js';

const file = join(packageRoot, 'test', 'fixtures', 'brands', 'brands.json');
const matcher = loadBrandMatcher(file, ['negative', 'neutral', 'positive'])!;

// A stand-in for the model: negative when the text says "dropped" or "awful", positive for "great" or "halved".
function fakeScores(text: string): Record<string, number> {
  if (/dropped|awful/.test(text)) return { negative: 0.9, neutral: 0.05, positive: 0.05 };
  if (/great|halved/.test(text)) return { negative: 0.05, neutral: 0.05, positive: 0.9 };
  return { negative: 0.1, neutral: 0.8, positive: 0.1 };
}

describe('brands in one micro-batch', () => {
  it('posts keep their places; spans of multi-brand posts are appended once; single-brand posts add nothing', () => {
    const posts = [
      { id: 'a', text: 'Kestrel is great but Northwind dropped my call three times today', ts: 1 },
      { id: 'b', text: 'Brewly is great', ts: 2 },
      { id: 'c', text: 'no brands here', ts: 3 },
      { id: 'd', text: 'Kestrel is great but Northwind dropped my call three times today', ts: 4 },
    ];
    const { plans, batch } = planBatch(matcher, posts);
    expect(batch.texts.slice(0, 4)).toEqual(posts.map((p) => p.text));
    // Two spans for the two-brand post, shared by its duplicate; the single-brand post reuses its own text.
    expect(batch.texts).toHaveLength(6);
    expect(batch.spanIndex[1]).toEqual([1]);
    expect(batch.spanIndex[2]).toEqual([]);
    expect(batch.spanIndex[3]).toEqual(batch.spanIndex[0]);

    const scoresAt = (i: number): Record<string, number> => fakeScores(batch.texts[i]!);
    const a = brandFields(plans[0]!, batch.spanIndex[0]!, scoresAt(0), scoresAt);
    expect(a.brands.map((b) => [b.brand, b.label])).toEqual([['Kestrel', 'positive'], ['Northwind', 'negative']]);
    const k = a.brands[0]!;
    expect(posts[0]!.text.slice(k.start, k.end)).toBe('Kestrel');
    expect(k.scores.positive + k.scores.neutral + k.scores.negative).toBeCloseTo(1);
    // Each mention's context is the clause its label was judged on, as written.
    expect(a.brands.map((b) => b.context)).toEqual(['Kestrel is great', 'but Northwind dropped my call three times today']);
    const b = brandFields(plans[1]!, batch.spanIndex[1]!, scoresAt(1), scoresAt);
    expect(b.brands[0]!.context).toBe('Brewly is great');
    expect(brandFields(plans[2]!, batch.spanIndex[2]!, scoresAt(2), scoresAt)).toEqual({ brands: [], excludedBrands: [] });
  });

  it('a failed span falls back to the post\'s scores; exclusions are reported', () => {
    const { plans, batch } = planBatch(matcher, [{ id: 'x', text: 'watched the bird, a Kestrel, while Northwind dropped my call', ts: 0 }]);
    const fields = brandFields(plans[0]!, batch.spanIndex[0]!, { negative: 0.2, neutral: 0.7, positive: 0.1 }, () => undefined);
    expect(fields.brands.map((b) => [b.brand, b.label])).toEqual([['Northwind', 'neutral']]);
    expect(fields.excludedBrands).toEqual([expect.objectContaining({ brand: 'Kestrel', phrase: 'the bird' })]);
  });

  it('a long span is cut around its mention, with … where cut, never inside a surrogate pair', () => {
    const before = '😀'.repeat(200);
    const text = `${before} Kestrel ${'x'.repeat(300)}`;
    const at = text.indexOf('Kestrel');
    const c = mentionContext(text, { start: 0, end: text.length }, { start: at, end: at + 7 });
    expect(c.length).toBeLessThanOrEqual(CONTEXT_MAX_CHARS);
    expect(c).toMatch(/^….*Kestrel.*…$/u);
    expect(() => encodeURIComponent(c), 'a lone surrogate').not.toThrow();
    // Short spans come whole, trimmed; a mention at the very start keeps the start.
    expect(mentionContext('  Kestrel rocks  ', { start: 0, end: 17 }, { start: 2, end: 9 })).toBe('Kestrel rocks');
    const head = mentionContext(`Kestrel ${'y'.repeat(400)}`, { start: 0, end: 408 }, { start: 0, end: 7 });
    expect(head.startsWith('Kestrel')).toBe(true);
    expect(head.endsWith('…')).toBe(true);
  });

  it('only a negative/neutral/positive model can judge sentiment towards a brand', () => {
    expect(supportsBrandSentiment(['negative', 'neutral', 'positive'])).toBe(true);
    expect(supportsBrandSentiment(['billing', 'tech'])).toBe(false);
    expect(() => loadBrandMatcher(file, ['billing', 'tech'])).toThrow(/sentiment model/);
    expect(loadBrandMatcher(undefined, ['billing'])).toBeUndefined();
  });
});
