// Loads and validates the brands file (JSON, or YAML for .yaml/.yml) once, at the edge: the matcher and
// everything after it get a frozen BrandsConfig and never re-check it. Every error names the brand and the
// field (`brands[1] "Copper Kettle": aliases[0] must be a non-empty string`), because a brands file with
// 1,000 entries is edited by hand and "invalid input" would send its author hunting.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BrandsConfigError } from '../src/errors.js';
import { normalizePattern } from './normalize.js';
import { parseQuery, positiveTerms, QuerySyntaxError, type QueryNode } from './query.js';

export type Sensitivity = 'low' | 'medium' | 'high';

export interface BrandSpec {
  readonly name: string;
  /** Whole-word aliases; may be empty when `query` is given. */
  readonly aliases: readonly string[];
  /** Match aliases and query terms without case folding (NFKC still applies). Excludes always fold. */
  readonly caseSensitive: boolean;
  /** Phrases that, when present in a post, mark the brand word as another sense: the brand's mentions are dropped. */
  readonly exclude: readonly string[];
  /** The query as written, and parsed. */
  readonly query?: string;
  readonly queryAst?: QueryNode;
  /** Spike-detection preset (spikes.ts). */
  readonly sensitivity: Sensitivity;
}

export interface BrandsConfig {
  readonly brands: readonly BrandSpec[];
}

const nonEmpty = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must be a non-empty string' });
const stringList = z.array(nonEmpty, { error: 'must be a list of strings' });

const brandSchema = z.strictObject(
  {
    name: nonEmpty,
    aliases: stringList.default([]),
    caseSensitive: z.boolean({ error: 'must be true or false' }).default(false),
    exclude: stringList.default([]),
    query: nonEmpty.optional(),
    sensitivity: z.enum(['low', 'medium', 'high'], { error: 'must be "low", "medium" or "high"' }).default('medium'),
  },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'must be an object with at least "name" and "aliases"') },
);

const fileSchema = z.strictObject(
  { brands: z.array(brandSchema, { error: 'must be a list of brands' }).min(1, { error: 'must list at least one brand' }) },
  { error: (iss) => (iss.code === 'unrecognized_keys' ? undefined : 'the brands file must be an object like {"brands": [...]}') },
);

/** `brands[1] "Copper Kettle"` for a path into the raw input: the index alone is hard to find in a big file. */
function brandLabel(raw: unknown, index: number): string {
  const entry = (raw as { brands?: unknown[] } | null)?.brands?.[index];
  const name = (entry as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.trim() !== '' ? `brands[${index}] "${name.trim()}"` : `brands[${index}]`;
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function describeIssue(raw: unknown, issue: z.core.$ZodIssue): string {
  const path = issue.path;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (path[0] === 'brands' && typeof path[1] === 'number') {
    const rest = path.slice(2);
    return rest.length === 0 ? `${brandLabel(raw, path[1])}: ${message}` : `${brandLabel(raw, path[1])}: ${fieldPath(rest)} ${message}`;
  }
  return path.length === 0 ? message : `${fieldPath(path)} ${message}`;
}

/** Validates an already-parsed brands file. `source` (a file name) prefixes error messages. */
export function parseBrandsConfig(raw: unknown, source = 'brands file'): BrandsConfig {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 5).map((i) => describeIssue(raw, i));
    const more = parsed.error.issues.length > 5 ? ` (and ${parsed.error.issues.length - 5} more)` : '';
    throw new BrandsConfigError(`${source}: ${lines.join('; ')}${more}`);
  }
  const seen = new Map<string, number>();
  const brands = parsed.data.brands.map((b, i): BrandSpec => {
    const label = `${source}: brands[${i}] "${b.name}"`;
    const key = b.name.normalize('NFKC').toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) throw new BrandsConfigError(`${label}: name duplicates brands[${first}] (names are compared ignoring case)`);
    seen.set(key, i);
    if (b.aliases.length === 0 && b.query === undefined) throw new BrandsConfigError(`${label}: aliases must list at least one alias (or give a "query")`);
    let queryAst: QueryNode | undefined;
    if (b.query !== undefined) {
      try {
        queryAst = parseQuery(b.query);
      } catch (err) {
        if (err instanceof QuerySyntaxError) throw new BrandsConfigError(`${label}: query ${err.message} in ${JSON.stringify(b.query)}`, { cause: err });
        throw err;
      }
    }
    if (queryAst !== undefined && b.aliases.length === 0 && positiveTerms(queryAst).length === 0) {
      throw new BrandsConfigError(`${label}: query has no term outside a NOT, so without aliases no post could mention the brand`);
    }
    // An exclude that is one of the aliases would suppress every mention: certainly a mistake.
    const aliasForms = new Set(b.aliases.map((a) => normalizePattern(a, true)));
    b.exclude.forEach((e, j) => {
      if (aliasForms.has(normalizePattern(e, true))) throw new BrandsConfigError(`${label}: exclude[${j}] "${e}" is also an alias, so it would suppress every mention`);
    });
    return Object.freeze({
      name: b.name,
      aliases: Object.freeze([...new Set(b.aliases)]),
      caseSensitive: b.caseSensitive,
      exclude: Object.freeze([...new Set(b.exclude)]),
      sensitivity: b.sensitivity,
      ...(b.query !== undefined ? { query: b.query, queryAst } : {}),
    });
  });
  return Object.freeze({ brands: Object.freeze(brands) });
}

/** Parses the text of a brands file: YAML when `format` is 'yaml', else JSON. */
export function parseBrandsText(text: string, format: 'json' | 'yaml', source = 'brands file'): BrandsConfig {
  let raw: unknown;
  try {
    raw = format === 'yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new BrandsConfigError(`${source}: not valid ${format.toUpperCase()}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseBrandsConfig(raw, source);
}

/** Reads and validates a brands file; `.yaml`/`.yml` files are YAML, anything else JSON. */
export function loadBrandsConfig(path: string): BrandsConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BrandsConfigError(`${path}: cannot read the brands file: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return parseBrandsText(text, /\.ya?ml$/i.test(path) ? 'yaml' : 'json', path);
}
