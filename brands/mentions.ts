// Entity-level sentiment: for each brand mention, which text the sentiment model should classify so its
// label is the sentiment *towards that brand* rather than the post's overall mood. The post-level label
// of "Switched from Northwind to Kestrel and my bill halved" is positive, which is right for Kestrel and
// wrong for Northwind. The method (ABSA practice of "target-dependent context + masking", kept rule-based
// so it needs no second model):
//   1. one brand in the post: classify the whole post (nothing to separate);
//   2. else split into sentences, then clauses at contrast markers (but, although, though, while, whereas,
//      unlike, however, yet, ";") and at emoji followed by a space (emoji end a thought in social posts);
//   3. a clause holding two brands with a comparison pattern between them ("from X to Y", "left X for Y",
//      "Y over X", "Y instead of X", "X is better than Y", "unlike X, Y", "compared to X, Y") keeps both;
//      the brand on the losing side of the comparison gets the opposite of the other's label (`invertOf`);
//   4. a clause holding two brands without such a pattern is split at ", " / " and " / " & " / " - "
//      between them when each side keeps at least two words of its own ("X is great and Y is awful");
//   5. a clause without a brand attaches to the nearest brand clause before it (or the first one);
//   6. other brands' mentions inside a span are replaced by a neutral placeholder, so the model judges
//      one brand at a time.
// bench/brands-eval.ts measures this against the post-level label on test/fixtures/brands/labeled.jsonl.

export type Label = 'negative' | 'neutral' | 'positive';
export type Scores = Readonly<Record<Label, number>>;

export interface MentionRef {
  readonly brand: string;
  /** UTF-16 offsets into the original text (as matcher.ts reports them). */
  readonly start: number;
  readonly end: number;
}

export type ComparisonPattern = 'switched-from' | 'preferred-over' | 'comparative' | 'unlike';

export interface SentimentSpan {
  readonly mention: MentionRef;
  /** The range of the original text this span covers. */
  readonly start: number;
  readonly end: number;
  /** What to classify: original.slice(start, end), with other brands' mentions replaced by the placeholder. */
  readonly text: string;
  readonly rule: 'whole-post' | 'clause' | 'comparison';
  /** When set, the label towards this brand is the opposite of the label of spans[invertOf]. */
  readonly invertOf?: number;
  readonly pattern?: ComparisonPattern;
  /** The comparison's winner: the label its form implies ("switched to Y" → positive), used if the model says neutral. */
  readonly prior?: Label;
}

export interface SpanOptions {
  /** Stands in for other brands' mentions. A plain noun phrase keeps the sentence grammatical for the model. */
  readonly placeholder?: string;
}

const kPlaceholder = 'another company';

// Boundaries *before* which a new clause starts (the marker belongs to the clause it introduces).
const kSentenceEnd = /[.!?…]+(?=\s|$)|\n+|;/gu;
const kContrast = /(?<![\p{L}\p{N}])(?:but|although|though|while|whereas|unlike|however|yet|except|tho)(?![\p{L}\p{N}])/giu;
const kEmojiThenSpace = /\p{Extended_Pictographic}(?:\p{Extended_Pictographic}|\p{M}|\u200d)*(?=\s)/gu; // \p{M} covers U+FE0F
const kSecondary = /,\s+|\s+(?:and|&|plus|\/|-+|–|—)\s+/giu;

const kBeforeFrom = /(?:^|[^\p{L}\p{N}])(?:from|left|ditched|dumped|quit|quitting|leaving|replaced|replacing|dropped|switching from|moved from)\s+$/iu;
const kBetweenTo = /^\s+(?:to|for|with)\s+/iu;
const kBetweenOver = /^\s+(?:over|instead of|rather than)\s+/iu;
const kBetweenComparative = /^(?:'s|’s)?\s+(?:\S+\s+){0,4}?(?:than|beats?|destroys|outperforms?|>)\s+$|^\s*>+\s*$/iu;
const kBeforeUnlike = /(?:^|[^\p{L}\p{N}])(?:unlike|compared to|compared with|vs\.?)\s+$/iu;
// A sentence that opens with a concessive ("While X was down all day, Y kept me online") sets X against Y
// just as "unlike" does; mid-sentence ("X is great, while Y ...") it is an ordinary contrast split.
const kOpeningConcessive = /^\s*(?:while|whereas|although|though)\s+$/iu;
const kWorse = /\b(?:worse|slower|pricier|dearer|weaker|less)\b/iu;

interface Clause {
  start: number;
  end: number;
  mentions: number[];
}

function cutPoints(text: string, mentions: readonly MentionRef[]): number[] {
  const cuts = new Set<number>();
  for (const m of text.matchAll(kSentenceEnd)) cuts.add(m.index + m[0].length);
  for (const m of text.matchAll(kContrast)) cuts.add(m.index);
  for (const m of text.matchAll(kEmojiThenSpace)) cuts.add(m.index + m[0].length);
  // Never inside a mention: an alias may itself contain "yet" or "!" ("Yet Another Bank", "Yahoo!").
  return [...cuts].filter((c) => c > 0 && c < text.length && !mentions.some((m) => c > m.start && c < m.end)).sort((a, b) => a - b);
}

/** Words of a range that are not part of a brand mention. */
function ownWords(text: string, start: number, end: number, mentions: readonly MentionRef[]): number {
  let s = '';
  let pos = start;
  for (const m of mentions) {
    if (m.end <= start || m.start >= end) continue;
    s += text.slice(pos, Math.max(pos, m.start)) + ' ';
    pos = Math.max(pos, m.end);
  }
  s += text.slice(pos, end);
  return (s.match(/[\p{L}\p{N}]+/gu) ?? []).length;
}

interface Comparison {
  loser: 'a' | 'b';
  pattern: ComparisonPattern;
  /** What the construction itself says about the winner, used when the model finds the span neutral. */
  prior?: Label;
}

/** True when `pos` starts a sentence (only whitespace since the text start or the last sentence end). */
function sentenceStart(text: string, pos: number): boolean {
  return /(?:^|[.!?…\n;])\s*$/u.test(text.slice(Math.max(0, pos - 40), pos));
}

/** A comparison between mention a (first) and b (second) in one clause: who inverts whom. */
function comparison(text: string, clauseStart: number, a: MentionRef, b: MentionRef): Comparison | undefined {
  const before = text.slice(clauseStart, a.start);
  const between = text.slice(a.end, b.start);
  // "switched from X to Y", "Y over X" and "X is better than Y" state a preference by their form.
  if (kBeforeFrom.test(before) && kBetweenTo.test(between)) return { loser: 'a', pattern: 'switched-from', prior: 'positive' };
  if (kBeforeUnlike.test(before)) return { loser: 'a', pattern: 'unlike' };
  if (kOpeningConcessive.test(before) && sentenceStart(text, clauseStart)) return { loser: 'a', pattern: 'unlike' };
  if (kBetweenOver.test(between)) return { loser: 'b', pattern: 'preferred-over', prior: 'positive' };
  if (kBetweenComparative.test(between)) return { loser: 'b', pattern: 'comparative', prior: kWorse.test(between) ? 'negative' : 'positive' };
  return undefined;
}

/** Plans one span per mention (see the file comment). Mentions must not overlap (matcher.ts guarantees it). */
export function sentimentSpans(text: string, mentions: readonly MentionRef[], options: SpanOptions = {}): SentimentSpan[] {
  const placeholder = options.placeholder ?? kPlaceholder;
  const sorted = [...mentions].sort((x, y) => x.start - y.start);
  if (new Set(sorted.map((m) => m.brand)).size <= 1) {
    return sorted.map((mention) => ({ mention, start: 0, end: text.length, text, rule: 'whole-post' }));
  }

  // 2. primary clauses
  const bounds = [0, ...cutPoints(text, sorted), text.length];
  let clauses: Clause[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) clauses.push({ start: bounds[i] as number, end: bounds[i + 1] as number, mentions: [] });
  const assign = (): void => {
    for (const c of clauses) c.mentions = [];
    sorted.forEach((m, idx) => clauses.find((c) => m.start >= c.start && m.start < c.end)?.mentions.push(idx));
  };
  assign();

  // 3./4. comparisons, else secondary splits, between adjacent mentions of different brands
  const inverted = new Map<number, { of: number; pattern: ComparisonPattern }>();
  const priors = new Map<number, Label>();
  const split: Clause[] = [];
  for (const c of clauses) {
    let start = c.start;
    for (let k = 0; k + 1 < c.mentions.length; k++) {
      const ia = c.mentions[k] as number;
      const ib = c.mentions[k + 1] as number;
      const a = sorted[ia] as MentionRef;
      const b = sorted[ib] as MentionRef;
      if (a.brand === b.brand) continue;
      const cmp = comparison(text, start, a, b);
      if (cmp !== undefined) {
        const [loser, winner] = cmp.loser === 'a' ? [ia, ib] : [ib, ia];
        inverted.set(loser, { of: winner, pattern: cmp.pattern });
        if (cmp.prior !== undefined) priors.set(winner, cmp.prior);
        continue;
      }
      let cut = -1;
      // After a comma (it ends the first clause), before a conjunction (it starts the second).
      for (const m of text.slice(a.end, b.start).matchAll(kSecondary)) cut = a.end + m.index + (m[0].startsWith(',') ? m[0].length : 0);
      if (cut > 0 && ownWords(text, start, cut, sorted) >= 2 && ownWords(text, cut, c.end, sorted) >= 2) {
        split.push({ start, end: cut, mentions: [] });
        start = cut;
      }
    }
    split.push({ start, end: c.end, mentions: [] });
  }
  clauses = split;
  assign();

  // 5. groups: each brand clause plus the brandless clauses after it; leading brandless ones join the first
  const groups: Clause[] = [];
  let leadStart: number | undefined;
  for (const c of clauses) {
    const last = groups[groups.length - 1];
    if (c.mentions.length === 0) {
      if (last !== undefined) last.end = c.end;
      else leadStart ??= c.start;
      continue;
    }
    groups.push({ start: leadStart ?? c.start, end: c.end, mentions: [...c.mentions] });
    leadStart = undefined;
  }

  // 6. spans with other brands masked
  const spans: SentimentSpan[] = sorted.map((mention, idx) => {
    const g = groups.find((x) => x.mentions.includes(idx)) as Clause;
    let out = '';
    let pos = g.start;
    for (const other of sorted) {
      if (other.brand === mention.brand || other.start < g.start || other.end > g.end) continue;
      out += text.slice(pos, other.start) + placeholder;
      pos = other.end;
    }
    out += text.slice(pos, g.end);
    const inv = inverted.get(idx);
    const compared = inv !== undefined || [...inverted.values()].some((v) => v.of === idx);
    return {
      mention,
      start: g.start,
      end: g.end,
      text: out.trim(),
      rule: compared ? 'comparison' : 'clause',
      ...(inv !== undefined ? { invertOf: inv.of, pattern: inv.pattern } : {}),
      ...(priors.has(idx) ? { prior: priors.get(idx) } : {}),
    };
  });
  return spans;
}

/** The label with the highest score. */
export function argmax(scores: Scores): Label {
  return scores.positive >= scores.negative && scores.positive >= scores.neutral ? 'positive' : scores.negative >= scores.neutral ? 'negative' : 'neutral';
}

export interface ResolveOptions {
  /** Apply the comparison rule (`invertOf`, `prior`). Off: every span keeps its own model label. */
  readonly comparisons?: boolean;
  /** How strongly a comparison's form speaks for its winner (see kPriorWeight). */
  readonly priorWeight?: number;
}

/**
 * "Switched from X to Y" says by its form that the writer prefers Y; the model, reading the words around
 * it, often does not ("...to Kestrel and my bill halved" reads negative to it: "halved"). The winner's
 * scores for the label the form implies are multiplied by this before normalizing, so the model still
 * overrules the form when it is sure ("...and regret it already"). Chosen on the dev half of the labeled
 * set (bench/brands-eval.ts --prior-weight): entity-level accuracy 80.3% at 1, 81.6% at 5, 83.0% from 8
 * on, flat to 1000; 8 is the smallest weight at the top.
 */
const kPriorWeight = 8;

/**
 * A comparison winner's scores with its form's label weighted up (`weight`, renormalized); still neutral
 * after that, the form's label and neutral swap scores, keeping the model's confidence for the runner-up.
 */
function withPrior(raw: Scores, prior: Label, weight: number): Scores {
  const w = { ...raw, [prior]: raw[prior] * weight } as Record<Label, number>;
  const n = w.negative + w.neutral + w.positive || 1;
  const s: Scores = { negative: w.negative / n, neutral: w.neutral / n, positive: w.positive / n };
  if (argmax(s) !== 'neutral') return s;
  return { ...s, [prior]: s.neutral, neutral: s[prior] } as Scores;
}

/**
 * Per-brand labels from the model's scores for each span (`scores[i]` for `spans[i]`): inverted spans take
 * the opposite of their reference's label, and a brand with several mentions averages its spans' scores.
 */
export function brandSentiments(spans: readonly SentimentSpan[], scores: readonly Scores[], options: ResolveOptions = {}): Map<string, Label> {
  return new Map([...brandScores(spans, scores, options)].map(([brand, s]) => [brand, argmax(s)]));
}

/** The scores behind brandSentiments: per brand, the mean of its spans' effective scores (they sum to 1). */
export function brandScores(spans: readonly SentimentSpan[], scores: readonly Scores[], options: ResolveOptions = {}): Map<string, Scores> {
  const useComparisons = options.comparisons ?? true;
  const sums = new Map<string, Record<Label, number>>();
  const effective = (i: number): Scores => {
    const span = spans[i] as SentimentSpan;
    const s = scores[i] as Scores;
    return useComparisons && span.prior !== undefined ? withPrior(s, span.prior, options.priorWeight ?? kPriorWeight) : s;
  };
  spans.forEach((span, i) => {
    let s = effective(i);
    if (useComparisons && span.invertOf !== undefined) {
      const ref = effective(span.invertOf);
      // The label is the opposite of the reference's; swapping its scores keeps the confidence.
      s = argmax(ref) === 'neutral' ? ref : { negative: ref.positive, neutral: ref.neutral, positive: ref.negative };
    }
    const acc = sums.get(span.mention.brand) ?? { negative: 0, neutral: 0, positive: 0 };
    acc.negative += s.negative;
    acc.neutral += s.neutral;
    acc.positive += s.positive;
    sums.set(span.mention.brand, acc);
  });
  return new Map([...sums].map(([brand, s]) => {
    const n = s.negative + s.neutral + s.positive || 1;
    return [brand, { negative: s.negative / n, neutral: s.neutral / n, positive: s.positive / n }];
  }));
}
