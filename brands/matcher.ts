// Finds brand mentions in a post: aliases as whole words/phrases, exclude phrases, and the terms of brand
// queries, all in one Aho–Corasick pass per normalization (folded, and exact for case-sensitive brands),
// so the cost is linear in the text whatever the number of brands. Offsets are UTF-16 code units into the
// original text.
import { AhoCorasick } from './aho-corasick.js';
import type { BrandsConfig, BrandSpec } from './config.js';
import { charAt, charBefore, isWordChar, normalize, normalizePattern, type NormalizedText } from './normalize.js';
import { evaluateQuery, positiveTerms, queryTerms } from './query.js';

export interface Mention {
  readonly brand: string;
  /** The alias (or query term) as configured. */
  readonly alias: string;
  /** UTF-16 code-unit offsets into the original text; `text` is `original.slice(start, end)`. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** 'query' when the brand has no aliases and the span is an occurrence of one of its query's positive terms. */
  readonly via: 'alias' | 'query';
}

export interface Exclusion {
  readonly brand: string;
  /** The exclude phrase as configured, and where it occurred (original offsets). */
  readonly phrase: string;
  readonly start: number;
  readonly end: number;
}

export interface MatchResult {
  /** Non-overlapping mentions, in text order. */
  readonly mentions: readonly Mention[];
  /** Brands whose mentions were suppressed, with the phrase that did it (one entry per brand). */
  readonly excluded: readonly Exclusion[];
  /** Brands mentioned, in order of first mention. */
  readonly brands: readonly string[];
}

type Kind = 'alias' | 'exclude' | 'term';

interface Pattern {
  readonly brand: number;
  readonly kind: Kind;
  readonly raw: string;
  /** Hashtags and @handles: an underscore continues them ("@initech" must not match "@initech_help"). */
  readonly handle: boolean;
}

interface Hit {
  readonly pattern: Pattern;
  readonly start: number;
  readonly end: number;
}

class Side {
  readonly patterns: Pattern[] = [];
  readonly #texts: string[] = [];
  #automaton: AhoCorasick | undefined;

  constructor(readonly fold: boolean) {}

  add(p: Pattern): void {
    const norm = normalizePattern(p.raw, this.fold);
    if (norm === '') return; // e.g. an alias of only combining marks; config already rejects blank ones
    this.patterns.push(p);
    this.#texts.push(norm);
  }

  build(): void {
    this.#automaton = new AhoCorasick(this.#texts);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  hits(norm: NormalizedText, out: Hit[]): void {
    const t = norm.text;
    for (const h of (this.#automaton as AhoCorasick).search(t)) {
      const pattern = this.patterns[h.pattern] as Pattern;
      if (!onBoundaries(t, h.start, h.end, pattern.handle)) continue;
      out.push({ pattern, start: norm.startOf(h.start), end: norm.endOf(h.end - 1) });
    }
  }
}

/** Whole-word test in the normalized text: no letter, digit or mark may touch the match from outside. */
function onBoundaries(t: string, start: number, end: number, handle: boolean): boolean {
  const before = charBefore(t, start);
  if (before !== '' && isWordChar(before)) return false;
  const after = charAt(t, end);
  if (after === '') return true;
  const last = charBefore(t, end);
  // A pattern ending in punctuation ("Yahoo!") has no word to continue, so nothing after it can break it.
  if (!isWordChar(last) && !handle) return true;
  return !(isWordChar(after) || (handle && after === '_'));
}

export class BrandMatcher {
  readonly #brands: readonly BrandSpec[];
  readonly #folded = new Side(true);
  readonly #exact = new Side(false);

  constructor(config: BrandsConfig) {
    this.#brands = config.brands;
    config.brands.forEach((b, brand) => {
      const side = b.caseSensitive ? this.#exact : this.#folded;
      for (const raw of b.aliases) side.add({ brand, kind: 'alias', raw, handle: /^[#@]/u.test(raw.trim()) });
      // Excludes name another sense of the brand word ("the bird"); folding them too catches "The bird"
      // even for a case-sensitive brand, and a missed exclude costs more than an over-eager one.
      for (const raw of b.exclude) this.#folded.add({ brand, kind: 'exclude', raw, handle: /^[#@]/u.test(raw.trim()) });
      if (b.queryAst !== undefined) for (const raw of queryTerms(b.queryAst)) side.add({ brand, kind: 'term', raw, handle: /^[#@]/u.test(raw) });
    });
    this.#folded.build();
    this.#exact.build();
  }

  /** The configured brands' names, in file order. */
  get brands(): string[] {
    return this.#brands.map((b) => b.name);
  }

  match(text: string): MatchResult {
    const hits: Hit[] = [];
    if (!this.#folded.empty) this.#folded.hits(normalize(text, true), hits);
    if (!this.#exact.empty) this.#exact.hits(normalize(text, false), hits);

    const perBrand = new Map<number, { alias: Hit[]; exclude: Hit[]; terms: Map<string, Hit[]> }>();
    for (const h of hits) {
      let entry = perBrand.get(h.pattern.brand);
      if (entry === undefined) perBrand.set(h.pattern.brand, (entry = { alias: [], exclude: [], terms: new Map() }));
      if (h.pattern.kind === 'alias') entry.alias.push(h);
      else if (h.pattern.kind === 'exclude') entry.exclude.push(h);
      else {
        const list = entry.terms.get(h.pattern.raw);
        if (list === undefined) entry.terms.set(h.pattern.raw, [h]);
        else list.push(h);
      }
    }

    const candidates: Mention[] = [];
    const excluded: Exclusion[] = [];
    for (const [index, entry] of perBrand) {
      const spec = this.#brands[index] as BrandSpec;
      let found: Hit[] = entry.alias;
      let via: Mention['via'] = 'alias';
      if (spec.queryAst !== undefined) {
        if (!evaluateQuery(spec.queryAst, (v) => entry.terms.has(v))) continue;
        if (spec.aliases.length === 0) {
          found = positiveTerms(spec.queryAst).flatMap((v) => entry.terms.get(v) ?? []);
          via = 'query';
        }
      }
      if (found.length === 0) continue;
      const ex = entry.exclude.sort((a, b) => a.start - b.start)[0];
      if (ex !== undefined) {
        excluded.push({ brand: spec.name, phrase: ex.pattern.raw, start: ex.start, end: ex.end });
        continue;
      }
      for (const h of found) candidates.push({ brand: spec.name, alias: h.pattern.raw, start: h.start, end: h.end, text: text.slice(h.start, h.end), via });
    }

    const mentions = leftmostLongest(candidates);
    const brands = [...new Set(mentions.map((m) => m.brand))];
    excluded.sort((a, b) => a.start - b.start);
    return { mentions, excluded, brands };
  }
}

/**
 * Overlapping candidates ("Kestrel" inside "Kestrel Telecom", or one brand's alias inside another's): keep the
 * leftmost, and of those the longest, once. Two brands sharing the very same span both keep it (an alias
 * configured for both is ambiguous, and dropping one silently would hide that).
 */
function leftmostLongest(candidates: Mention[]): Mention[] {
  candidates.sort((a, b) => a.start - b.start || b.end - a.end || a.brand.localeCompare(b.brand));
  const out: Mention[] = [];
  let lastEnd = -1;
  for (const c of candidates) {
    const prev = out[out.length - 1];
    if (c.start >= lastEnd) {
      out.push(c);
      lastEnd = c.end;
    } else if (prev !== undefined && prev.start === c.start && prev.end === c.end && prev.brand !== c.brand && !out.some((m) => m.start === c.start && m.brand === c.brand)) {
      out.push(c);
    }
  }
  return out;
}
