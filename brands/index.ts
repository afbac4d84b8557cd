// Brand-mention monitoring: the public surface (see brands/README.md).
export { planPost, resolvePost, type BrandSentiment, type PostBrands, type PostInput, type PostPlan } from './analyze.js';
export { loadBrandsConfig, parseBrandsConfig, parseBrandsText, type BrandsConfig, type BrandSpec, type Sensitivity } from './config.js';
export { BrandMatcher, type Exclusion, type MatchResult, type Mention } from './matcher.js';
export { argmax, brandSentiments, sentimentSpans, type ComparisonPattern, type Label, type MentionRef, type ResolveOptions, type Scores, type SentimentSpan, type SpanOptions } from './mentions.js';
export { evaluateQuery, parseQuery, positiveTerms, queryTerms, QuerySyntaxError, type QueryNode } from './query.js';
export { kSensitivityPresets, SpikeDetector, type AlertKind, type SpikeAlert, type SpikeOptions, type SpikePreset, type SpikeState } from './spikes.js';
export { kWindowSizes, WindowAggregator, type AddResult, type BrandRecord, type BrandWindowStats, type ClosedWindow, type WindowOptions, type WindowSize, type WindowState } from './windows.js';
export { brandBatch, brandFields, CONTEXT_MAX_CHARS, loadBrandMatcher, mentionContext, planBatch, supportsBrandSentiment, type BrandBatch, type BrandExclusionResult, type BrandFields, type BrandMentionResult, type PlannedBatch } from './batch.js';
