// The per-post glue the pipeline calls: match brands, plan the spans to classify, and, once the model has
// scored those spans, turn them into per-brand labels and window records. Split in two steps so the
// pipeline can put the span texts of many posts into one inference batch (and dedupe them) in between.
import type { BrandMatcher, Exclusion, Mention } from './matcher.js';
import { brandSentiments, sentimentSpans, type Label, type ResolveOptions, type Scores, type SentimentSpan, type SpanOptions } from './mentions.js';
import type { BrandRecord } from './windows.js';

export interface PostInput {
  readonly id: string;
  readonly text: string;
  /** Event time, epoch ms. */
  readonly ts: number;
}

export interface PostPlan {
  readonly post: PostInput;
  readonly mentions: readonly Mention[];
  readonly excluded: readonly Exclusion[];
  /** One per mention; classify `spans[i].text` and pass the scores, in order, to resolvePost. */
  readonly spans: readonly SentimentSpan[];
}

export interface BrandSentiment {
  readonly brand: string;
  readonly label: Label;
  readonly mentions: readonly Mention[];
}

export interface PostBrands {
  readonly id: string;
  readonly brands: readonly BrandSentiment[];
  readonly excluded: readonly Exclusion[];
  /** One per brand, for WindowAggregator.add. */
  readonly records: readonly BrandRecord[];
}

export function planPost(matcher: BrandMatcher, post: PostInput, options: SpanOptions = {}): PostPlan {
  const match = matcher.match(post.text);
  return { post, mentions: match.mentions, excluded: match.excluded, spans: sentimentSpans(post.text, match.mentions, options) };
}

/** `scores[i]` is the model's output for `plan.spans[i].text`. */
export function resolvePost(plan: PostPlan, scores: readonly Scores[], options: ResolveOptions = {}): PostBrands {
  if (scores.length !== plan.spans.length) throw new RangeError(`resolvePost: ${plan.spans.length} spans but ${scores.length} scores`);
  const labels = brandSentiments(plan.spans, scores, options);
  const brands = [...labels].map(([brand, label]) => ({ brand, label, mentions: plan.mentions.filter((m) => m.brand === brand) }));
  return {
    id: plan.post.id,
    brands,
    excluded: plan.excluded,
    records: brands.map((b) => ({ postId: plan.post.id, brand: b.brand, label: b.label, eventTime: plan.post.ts })),
  };
}
