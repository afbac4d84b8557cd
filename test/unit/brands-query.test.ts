import { describe, expect, it } from 'vitest';
import { parseBrandsConfig } from '../../brands/config.js';
import { BrandMatcher } from '../../brands/matcher.js';
import { evaluateQuery, parseQuery, positiveTerms, QuerySyntaxError, type QueryNode } from '../../brands/query.js';

/** A compact rendering of the AST so precedence is visible in the expectations. */
const show = (n: QueryNode): string => {
  switch (n.type) {
    case 'term':
      return n.phrase ? `"${n.value}"` : n.value;
    case 'not':
      return `NOT(${show(n.child)})`;
    default:
      return `${n.type.toUpperCase()}(${n.children.map(show).join(' ')})`;
  }
};

const syntaxError = (q: string): QuerySyntaxError => {
  try {
    parseQuery(q);
  } catch (err) {
    expect(err).toBeInstanceOf(QuerySyntaxError);
    return err as QuerySyntaxError;
  }
  throw new Error(`expected ${q} not to parse`);
};

describe('brand query language', () => {
  it('binds NOT tighter than AND, and AND tighter than OR', () => {
    expect(show(parseQuery('a OR b AND c'))).toBe('OR(a AND(b c))');
    expect(show(parseQuery('a AND b OR c'))).toBe('OR(AND(a b) c)');
    expect(show(parseQuery('NOT a AND b'))).toBe('AND(NOT(a) b)');
    expect(show(parseQuery('NOT NOT a'))).toBe('NOT(NOT(a))');
  });

  it('groups with parentheses, reads quoted phrases, and ANDs adjacent terms', () => {
    expect(show(parseQuery('(a OR b) AND c'))).toBe('AND(OR(a b) c)');
    expect(show(parseQuery('kestrel "bill halved" NOT (falcon OR bird)'))).toBe('AND(kestrel "bill halved" NOT(OR(falcon bird)))');
    expect(show(parseQuery('#kestrel OR @KestrelTel'))).toBe('OR(#kestrel @KestrelTel)');
    // Lower-case "and" is a word, not an operator.
    expect(show(parseQuery('salt and pepper'))).toBe('AND(salt and pepper)');
  });

  it('evaluates against a set of present terms', () => {
    const q = parseQuery('kestrel AND (outage OR "no signal") NOT falcon');
    const has = (words: string[]) => (t: string) => words.includes(t);
    expect(evaluateQuery(q, has(['kestrel', 'outage']))).toBe(true);
    expect(evaluateQuery(q, has(['kestrel', 'no signal']))).toBe(true);
    expect(evaluateQuery(q, has(['kestrel']))).toBe(false);
    expect(evaluateQuery(q, has(['kestrel', 'outage', 'falcon']))).toBe(false);
    expect(positiveTerms(q).sort()).toEqual(['kestrel', 'no signal', 'outage']);
  });

  it('says where parsing failed and what it expected', () => {
    let e = syntaxError('a AND');
    expect([e.position, e.expected, e.found]).toEqual([5, 'a term, a "phrase", "(" or NOT', 'end of query']);
    e = syntaxError('(a OR b');
    expect(e.position).toBe(7);
    expect(e.message).toContain('expected ")" to close the "(" at position 0');
    e = syntaxError('a OR OR b');
    expect([e.position, e.found]).toEqual([5, 'OR']);
    e = syntaxError('a ) b');
    expect(e.message).toBe('at position 2: expected AND, OR or the end of the query, found ")"');
    expect(syntaxError('"open phrase').message).toContain('closing double quote');
    expect(syntaxError('a ""').message).toContain('non-empty phrase');
    expect(syntaxError('').position).toBe(0);
  });
});

describe('queries in the matcher', () => {
  const config = parseBrandsConfig({
    brands: [
      // Query with aliases: the post must satisfy the query, spans come from the aliases.
      { name: 'Kestrel', aliases: ['Kestrel'], caseSensitive: true, query: 'Kestrel NOT (falcon OR "bird watching")' },
      // Query without aliases: spans are occurrences of its positive terms.
      { name: 'Orbit Gym', query: '(orbit OR "orbit gym") AND (membership OR gym OR treadmill) NOT satellite' },
    ],
  });
  const m = new BrandMatcher(config);

  it('requires the query to hold, with the same normalization and word boundaries as aliases', () => {
    expect(m.match('Kestrel outage again').brands).toEqual(['Kestrel']);
    expect(m.match('Kestrel falcon spotted').brands).toEqual([]);
    expect(m.match('Kestrel falcons spotted').brands).toEqual(['Kestrel']); // "falcons" is not the word "falcon"
    // Whitespace runs and full-width letters normalize as in aliases; a case-sensitive brand's terms keep case.
    expect(m.match('Kestrel   bird\nｗａｔｃｈｉｎｇ club').brands).toEqual([]);
    expect(m.match('Kestrel BIRD WATCHING club').brands).toEqual(['Kestrel']);
  });

  it('takes mention spans from positive query terms when a brand has no aliases', () => {
    const text = 'cancelled my Orbit Gym membership, the treadmill was broken';
    const r = m.match(text);
    // "Orbit Gym" wins over the shorter "orbit" and "gym" it overlaps; context terms are spans as well.
    expect(r.mentions.map((x) => [x.brand, x.text, x.via])).toEqual([
      ['Orbit Gym', 'Orbit Gym', 'query'],
      ['Orbit Gym', 'membership', 'query'],
      ['Orbit Gym', 'treadmill', 'query'],
    ]);
    expect(m.match('the orbit of the satellite, gym later').brands).toEqual([]);
    expect(m.match('orbit is nice').brands).toEqual([]);
  });
});
