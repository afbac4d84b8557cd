// Entity-level sentiment inside one micro-batch: the spans each brand mention is judged on join the posts
// in the same inference call (deduplicated: a single-brand post's span is the post itself), and their
// scores come back as the `brands` field of each result. Pure: the caller owns the classifier.
import { ConfigError } from '../src/errors.js';
import { isFailure, type ClassifyOutcome } from '../src/model/classifier.js';
import { planPost, type PostPlan } from './analyze.js';
import { loadBrandsConfig } from './config.js';
import { BrandMatcher } from './matcher.js';
import { argmax, brandScores, type Label, type Scores } from './mentions.js';

/** One mention in a result: where it is (UTF-16 offsets into the text) and the sentiment towards its brand. */
export interface BrandMentionResult {
  brand: string;
  alias: string;
  start: number;
  end: number;
  label: Label;
  scores: Scores;
  /**
   * The text the label towards this brand was judged on (the post, or its clause holding the mention), as
   * written, cut to CONTEXT_MAX_CHARS around the mention. Results carry no post text otherwise, and an
   * analyst reading an alert wants the words, not an id.
   */
  context: string;
}

/** Longest `context` in a result (a tweet's worth; longer spans are cut around the mention, marked with …). */
export const CONTEXT_MAX_CHARS = 160;

/** The span's text trimmed, or, when longer than `max`, a window of it around the mention with … where cut. */
export function mentionContext(text: string, span: { start: number; end: number }, mention: { start: number; end: number }, max = CONTEXT_MAX_CHARS): string {
  let from = span.start;
  let to = span.end;
  while (from < to && /\s/u.test(text[from] as string)) from++;
  while (to > from && /\s/u.test(text[to - 1] as string)) to--;
  if (to - from <= max) return text.slice(from, to);
  // Centre the window on the mention, inside the span, then keep whole surrogate pairs at its edges.
  const room = Math.max(0, max - 2 - (mention.end - mention.start));
  let a = Math.max(from, Math.min(mention.start - Math.floor(room / 2), to - (max - 2)));
  let b = Math.min(to, a + max - 2);
  if (a > from && /[\uDC00-\uDFFF]/u.test(text[a] as string)) a++;
  if (b < to && /[\uD800-\uDBFF]/u.test(text[b - 1] as string)) b--;
  return `${a > from ? '…' : ''}${text.slice(a, b)}${b < to ? '…' : ''}`;
}

/** A brand whose mentions an exclude phrase suppressed, and where that phrase occurred. */
export interface BrandExclusionResult {
  brand: string;
  phrase: string;
  start: number;
  end: number;
}

export interface BrandFields {
  brands: BrandMentionResult[];
  excludedBrands: BrandExclusionResult[];
}

export const SENTIMENT_LABELS: readonly Label[] = ['negative', 'neutral', 'positive'];

/** Entity-level sentiment needs a negative/neutral/positive model; anything else cannot say what a post feels about a brand. */
export function supportsBrandSentiment(labels: readonly string[]): boolean {
  return SENTIMENT_LABELS.every((l) => labels.includes(l));
}

/** The matcher for `--brands FILE` (undefined without one), refused up front for a model that cannot judge sentiment. */
export function loadBrandMatcher(file: string | undefined, labels: readonly string[]): BrandMatcher | undefined {
  if (!file) return undefined;
  if (!supportsBrandSentiment(labels)) {
    throw new ConfigError(`--brands needs a sentiment model with the labels negative, neutral and positive; this model has ${labels.join(', ')}`);
  }
  return new BrandMatcher(loadBrandsConfig(file));
}

export interface PlannedBatch {
  /** The posts' texts first (index i is post i), then the distinct span texts. */
  texts: string[];
  /** Per post: the index in `texts` of each of its plan's spans. */
  spanIndex: number[][];
}

export function planBatch(matcher: BrandMatcher, posts: readonly { id: string; text: string; ts: number }[]): { plans: PostPlan[]; batch: PlannedBatch } {
  const plans = posts.map((p) => planPost(matcher, p));
  const texts = posts.map((p) => p.text);
  const seen = new Map<string, number>();
  texts.forEach((t, i) => {
    if (!seen.has(t)) seen.set(t, i);
  });
  const spanIndex = plans.map((plan) =>
    plan.spans.map((span) => {
      let i = seen.get(span.text);
      if (i === undefined) {
        i = texts.push(span.text) - 1;
        seen.set(span.text, i);
      }
      return i;
    }),
  );
  return { plans, batch: { texts, spanIndex } };
}

function asScores(s: Readonly<Record<string, number>>): Scores {
  return { negative: s.negative ?? 0, neutral: s.neutral ?? 0, positive: s.positive ?? 0 };
}

/**
 * The `brands` and `excludedBrands` fields of one post's result. `scoresAt(i)` gives the scores of
 * `texts[i]`, or undefined when that text failed; a failed span falls back to the post's own scores.
 */
export function brandFields(plan: PostPlan, spanIndex: readonly number[], postScores: Readonly<Record<string, number>>, scoresAt: (i: number) => Readonly<Record<string, number>> | undefined): BrandFields {
  const post = asScores(postScores);
  const spanScores = spanIndex.map((i) => {
    const s = scoresAt(i);
    return s ? asScores(s) : post;
  });
  const perBrand = brandScores(plan.spans, spanScores);
  return {
    brands: plan.mentions.map((m) => {
      const scores = perBrand.get(m.brand) ?? post;
      const span = plan.spans.find((x) => x.mention.start === m.start && x.mention.brand === m.brand) ?? { start: 0, end: plan.post.text.length };
      return { brand: m.brand, alias: m.alias, start: m.start, end: m.end, label: argmax(scores), scores, context: mentionContext(plan.post.text, span, m) };
    }),
    excludedBrands: plan.excluded.map((e) => ({ brand: e.brand, phrase: e.phrase, start: e.start, end: e.end })),
  };
}

export interface BrandBatch {
  /** What the model classifies: each post's text, then (with brands) the distinct mention spans. */
  texts: string[];
  /** Post i's brand fields from the outcomes of `texts`, post i's own a success (undefined without
   *  brand monitoring). A failed span falls back to the post's scores. */
  fieldsOf(i: number, outcomes: readonly ClassifyOutcome[]): BrandFields | undefined;
}

const scoresOf = (outcomes: readonly ClassifyOutcome[], k: number): Readonly<Record<string, number>> | undefined => {
  const o = outcomes[k];
  return o && !isFailure(o) ? o.scores : undefined;
};

/**
 * A micro-batch's inference plan: with brands, each mention's span joins its post in the one inference
 * call (a single-brand post's span is the post itself and costs nothing); without, just the posts.
 */
export function brandBatch(matcher: BrandMatcher | undefined, posts: readonly { id: string; text: string; ts: number }[]): BrandBatch {
  if (matcher === undefined) return { texts: posts.map((p) => p.text), fieldsOf: () => undefined };
  const { plans, batch } = planBatch(matcher, posts);
  return {
    texts: batch.texts,
    fieldsOf: (i, outcomes) => {
      const post = scoresOf(outcomes, i);
      if (post === undefined) throw new RangeError(`post ${i} has no scores: its outcome failed`);
      return brandFields(plans[i] as PostPlan, batch.spanIndex[i] as number[], post, (k) => scoresOf(outcomes, k));
    },
  };
}
