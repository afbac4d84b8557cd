import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBrandsConfig, parseBrandsConfig, parseBrandsText } from '../../brands/config.js';
import { BrandMatcher } from '../../brands/matcher.js';
import { BrandsConfigError, type KlassifyError } from '../../src/errors.js';

const example = {
  brands: [
    { name: 'Kestrel', aliases: ['Kestrel', 'Kestrel Telecom', '@KestrelTel', '#kestrel'], caseSensitive: true, exclude: ['kestrel falcon', 'the bird'] },
    { name: 'Copper Kettle', aliases: ['copper kettle', '@copperkettle'], exclude: [] },
  ],
};

const errorOf = (raw: unknown): KlassifyError => {
  try {
    parseBrandsConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(BrandsConfigError);
    return err as KlassifyError;
  }
  throw new Error('expected a BrandsConfigError');
};

describe('brands config', () => {
  it('accepts the documented shape and fills defaults', () => {
    const c = parseBrandsConfig(example);
    expect(c.brands.map((b) => [b.name, b.caseSensitive, b.sensitivity, b.aliases.length, b.exclude.length])).toEqual([
      ['Kestrel', true, 'medium', 4, 2],
      ['Copper Kettle', false, 'medium', 2, 0],
    ]);
    expect(Object.isFrozen(c.brands)).toBe(true);
  });

  it('names the brand and the field in errors', () => {
    const bad = structuredClone(example) as { brands: { aliases: unknown[] }[] };
    (bad.brands[1] as { aliases: unknown[] }).aliases[0] = '  ';
    const err = errorOf(bad);
    expect(err.code).toBe('KLS_ERR_BRANDS_CONFIG');
    expect(err.message).toContain('brands[1] "Copper Kettle": aliases[0] must be a non-empty string');
    expect(errorOf({ brands: [{ name: 'X', aliases: 'X' }] }).message).toContain('brands[0] "X": aliases must be a list of strings');
    expect(errorOf({ brands: [{ name: 'X', aliases: ['X'], caseSensitive: 'yes' }] }).message).toContain('brands[0] "X": caseSensitive must be true or false');
    expect(errorOf({ brands: [{ name: 'X', aliases: ['X'], sensitivity: 'max' }] }).message).toContain('sensitivity must be "low", "medium" or "high"');
    expect(errorOf({ brands: [{ aliases: ['X'] }] }).message).toContain('brands[0]: name must be a string');
  });

  it('rejects duplicate names, empty alias lists without a query, and unknown fields', () => {
    expect(errorOf({ brands: [{ name: 'Acme', aliases: ['a'] }, { name: 'ACME', aliases: ['b'] }] }).message).toContain('brands[1] "ACME": name duplicates brands[0]');
    expect(errorOf({ brands: [{ name: 'Acme', aliases: [] }] }).message).toContain('brands[0] "Acme": aliases must list at least one alias (or give a "query")');
    expect(errorOf({ brands: [], extra: 1 }).message).toContain('unknown field "extra"');
    expect(errorOf({ brand: [] }).message).toContain('unknown field "brand"');
    expect(errorOf({ brands: [{ name: 'Acme', alias: ['a'] }] }).message).toContain('brands[0] "Acme": unknown field "alias"');
    expect(errorOf({ brands: [] }).message).toContain('brands must list at least one brand');
    expect(errorOf([1, 2]).message).toContain('must be an object like {"brands": [...]}');
  });

  it('accepts a query in place of aliases, and reports unparseable queries with brand and position', () => {
    const c = parseBrandsConfig({ brands: [{ name: 'Orbit', query: 'orbit AND (gym OR membership)' }] });
    expect(c.brands[0]?.queryAst?.type).toBe('and');
    const err = errorOf({ brands: [{ name: 'Orbit', query: 'orbit AND (gym OR' }] });
    expect(err.message).toContain('brands[0] "Orbit": query at position 17: expected a term, a "phrase", "(" or NOT, found end of query');
    expect(err.cause).toBeDefined();
  });

  it('rejects brands that could never match or would always be suppressed', () => {
    expect(errorOf({ brands: [{ name: 'Orbit', query: 'NOT satellite' }] }).message).toContain('brands[0] "Orbit": query has no term outside a NOT');
    expect(errorOf({ brands: [{ name: 'Orbit', aliases: ['Orbit Gym'], exclude: ['ORBIT  gym'] }] }).message).toContain('brands[0] "Orbit": exclude[0] "ORBIT  gym" is also an alias');
  });

  it('reads JSON and YAML files, and says which file is broken', () => {
    const dir = mkdtempSync(join(tmpdir(), 'brands-'));
    const yaml = join(dir, 'b.yaml');
    writeFileSync(yaml, 'brands:\n  - name: Kestrel\n    aliases: [Kestrel, "#kestrel"]\n    caseSensitive: true\n');
    const c = loadBrandsConfig(yaml);
    expect(new BrandMatcher(c).match('Kestrel and #kestrel').mentions).toHaveLength(2);
    const json = join(dir, 'b.json');
    writeFileSync(json, '{"brands": [');
    expect(() => loadBrandsConfig(json)).toThrow(/b\.json: not valid JSON/);
    expect(() => loadBrandsConfig(join(dir, 'missing.json'))).toThrow(/cannot read the brands file/);
    expect(() => parseBrandsText('brands: [ {', 'yaml')).toThrow(BrandsConfigError);
  });

  it('loads the shipped example file for the generator brands', () => {
    const c = loadBrandsConfig(join(import.meta.dirname, '../../brands/example-brands.json'));
    expect(c.brands).toHaveLength(10);
    const m = new BrandMatcher(c);
    expect(m.match('shoutout to @initech_help for the amazing service today').brands).toEqual(['Initech']);
    expect(m.match('wow Vandelay Coffee really nailed it this time').brands).toEqual(['Vandelay Coffee']);
  });
});
