// Entity-level vs post-level sentiment on the labeled multi-brand set (test/fixtures/brands/labeled.jsonl),
// with the real shipped model through `klassify classify` (no Kafka). For each gold (post, brand) pair:
//   post-level   the brand gets the model's label for the whole post (what klassify writes today);
//   entity-level brands/mentions.ts picks a span per mention, masks other brands, applies the comparison
//                rule, and the brand gets that label; a brand the matcher missed falls back to post-level.
// Also: entity-level without the comparison rule (ablation), and the matcher's brand detection.
// The set is split by id: odd ids are the dev half (the rules were tuned on it), even ids the test half
// (reported). Usage: npm run build && node dist/bench/brands-eval.js [--workers N] [--show dev|test] [--placeholder TEXT]
// [--prior-weight W] (how strongly a comparison's form speaks for its winner; default brands/mentions.ts')
// (--show lists that half's entity-level errors with the span the model saw).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBrandsConfig } from '../brands/config.js';
import { BrandMatcher } from '../brands/matcher.js';
import { brandSentiments, sentimentSpans, type Label, type Scores, type SentimentSpan } from '../brands/mentions.js';
import { packageRoot } from '../src/paths.js';

interface LabeledPost {
  id: string;
  text: string;
  brands: Record<string, Label>;
  post: Label;
}

interface Row {
  split: 'dev' | 'test';
  mixed: boolean;
  gold: Label;
  post: Label;
  entity: Label;
  entityNoRule: Label;
}

const args = process.argv.slice(2);
const workers = args.includes('--workers') ? String(args[args.indexOf('--workers') + 1]) : '1';
const show = args.includes('--show') ? args[args.indexOf('--show') + 1] : undefined;
const shown: string[] = [];
const priorWeight = args.includes('--prior-weight') ? Number(args[args.indexOf('--prior-weight') + 1]) : undefined;
const placeholder = args.includes('--placeholder') ? String(args[args.indexOf('--placeholder') + 1]) : undefined;
const fixtures = join(packageRoot, 'test/fixtures/brands');
const posts = readFileSync(join(fixtures, 'labeled.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as LabeledPost);
const matcher = new BrandMatcher(loadBrandsConfig(join(fixtures, 'brands.json')));

// Plan every span first, so the model runs once over the deduplicated texts.
const texts = new Map<string, number>();
const idOf = (t: string): number => {
  let id = texts.get(t);
  if (id === undefined) texts.set(t, (id = texts.size));
  return id;
};
const plans = posts.map((p) => {
  const match = matcher.match(p.text);
  const spans = sentimentSpans(p.text, match.mentions, placeholder !== undefined ? { placeholder } : {});
  return { p, match, spans, postText: idOf(p.text), spanTexts: spans.map((s) => idOf(s.text)) };
});

const dir = mkdtempSync(join(tmpdir(), 'brands-eval-'));
const scores = new Map<number, Scores>();
try {
  const input = join(dir, 'texts.jsonl');
  writeFileSync(input, [...texts].map(([text, id]) => JSON.stringify({ id: String(id), text })).join('\n') + '\n');
  // One text per batch: the int8 model's scores shift with the batch a text lands in (up to ~0.05 here,
  // enough to flip a borderline label), and the set of span texts differs between variants; batches of one
  // make every text's label independent of the others, so the columns compare methods, not batch luck.
  const run = spawnSync(process.execPath, [join(packageRoot, 'dist/src/cli/main.js'), 'classify', '--workers', workers, '--batch-size', '1', input], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`klassify classify failed (${run.status}): ${run.stderr}`);
  for (const line of run.stdout.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { id: string; scores?: Scores; error?: { message: string } };
    if (r.scores === undefined) throw new Error(`text ${r.id} not classified: ${r.error?.message ?? 'no scores'}`);
    scores.set(Number(r.id), r.scores);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const scoresOf = (id: number): Scores => {
  const s = scores.get(id);
  if (s === undefined) throw new Error(`no result for text ${id}`);
  return s;
};
const argmax = (s: Scores): Label => (s.positive >= s.negative && s.positive >= s.neutral ? 'positive' : s.negative >= s.neutral ? 'negative' : 'neutral');

const rows: Row[] = [];
let goldMentions = 0;
let found = 0;
let spurious = 0;
let excludedPostsFlagged = 0;
const ruleFired: SentimentSpan[] = [];
for (const { p, match, spans, postText, spanTexts } of plans) {
  const postLabel = argmax(scoresOf(postText));
  const spanScores = spanTexts.map(scoresOf);
  const entity = brandSentiments(spans, spanScores, priorWeight === undefined ? {} : { priorWeight });
  const entityNoRule = brandSentiments(spans, spanScores, { comparisons: false });
  ruleFired.push(...spans.filter((s) => s.invertOf !== undefined));
  const gold = Object.entries(p.brands);
  const values = new Set(gold.map(([, l]) => l));
  const mixed = values.has('positive') && values.has('negative');
  const split = Number(p.id.replace(/\D/g, '')) % 2 === 1 ? 'dev' : 'test';
  goldMentions += gold.length;
  found += gold.filter(([b]) => match.brands.includes(b)).length;
  spurious += match.brands.filter((b) => !(b in p.brands)).length;
  if (gold.length === 0 && match.excluded.length > 0) excludedPostsFlagged++;
  for (const [brand, label] of gold) {
    rows.push({ split, mixed, gold: label, post: postLabel, entity: entity.get(brand) ?? postLabel, entityNoRule: entityNoRule.get(brand) ?? postLabel });
    if (show === split && (entity.get(brand) ?? postLabel) !== label) {
      const mine = spans.filter((s) => s.mention.brand === brand).map((s) => `[${s.rule}${s.pattern !== undefined ? ' ' + s.pattern : ''}] ${s.text}`);
      shown.push(`${p.id} ${brand}: gold ${label}, got ${entity.get(brand) ?? `${postLabel} (not found)`} | ${mine.join(' || ') || p.text}`);
    }
  }
}

const pct = (sel: Row[], key: 'post' | 'entity' | 'entityNoRule'): string => (sel.length === 0 ? '-' : `${((100 * sel.filter((r) => r[key] === r.gold).length) / sel.length).toFixed(1)} %`);
const lines = ['| subset | pairs | post-level | entity-level | entity-level, no comparison rule |', '|---|---|---|---|---|'];
for (const split of ['test', 'dev'] as const) {
  for (const [name, sel] of [
    ['all', rows.filter((r) => r.split === split)],
    ['mixed posts', rows.filter((r) => r.split === split && r.mixed)],
    ['other multi/single-brand posts', rows.filter((r) => r.split === split && !r.mixed)],
  ] as const) {
    lines.push(`| ${split}: ${name} | ${sel.length} | ${pct(sel, 'post')} | ${pct(sel, 'entity')} | ${pct(sel, 'entityNoRule')} |`);
  }
}
// Paired comparison on the test half (McNemar's exact test): pairs only one of the two methods gets right.
const testRows = rows.filter((r) => r.split === 'test');
const onlyEntity = testRows.filter((r) => r.entity === r.gold && r.post !== r.gold).length;
const onlyPost = testRows.filter((r) => r.post === r.gold && r.entity !== r.gold).length;
const binomTail = (k: number, n: number): number => {
  let p = 0;
  let c = 1;
  for (let i = 0; i <= k; i++) {
    p += c / 2 ** n;
    c = (c * (n - i)) / (i + 1);
  }
  return p;
};
const mcnemarP = Math.min(1, 2 * binomTail(Math.min(onlyEntity, onlyPost), onlyEntity + onlyPost));
const out = [
  `labeled posts: ${posts.length} (${rows.filter((r) => r.mixed).length} brand pairs in mixed posts), texts classified: ${texts.size}, model via klassify classify --workers ${workers} --batch-size 1`,
  '',
  ...lines,
  '',
  `brand detection: ${found}/${goldMentions} gold brands found (recall ${((100 * found) / goldMentions).toFixed(1)} %), ${spurious} spurious brands; ${excludedPostsFlagged} excluded-sense posts reported an exclusion`,
  `test half, paired: entity-level alone right on ${onlyEntity} pairs, post-level alone right on ${onlyPost} (McNemar exact p = ${mcnemarP.toExponential(1)})`,
  `comparison rule fired on ${ruleFired.length} spans (${[...new Set(ruleFired.map((s) => s.pattern))].join(', ')})`,
];
process.stdout.write([...out, ...(shown.length > 0 ? ['', ...shown] : [])].join('\n') + '\n');
