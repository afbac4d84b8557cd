// klassify classify: the offline batch transform. Reads JSONL ({"id","text"}) or plain text lines from a
// file or stdin, classifies them with the inference pool (no Kafka) and writes one JSON line per input
// line, in input order. It streams: a few batches are in flight at a time, enough to keep every worker
// busy, so memory stays bounded whatever the input size.
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { InferencePool, poolOptionsFromConfig } from '../../inference-pool/index.js';
import { brandBatch, loadBrandMatcher, type BrandMatcher } from '../../brands/index.js';
import { classifyPatiently } from '../model/classify-patiently.js';
import { isFailure, type Classifier } from '../model/classifier.js';
import { configFrom, withKnobs } from './options.js';
import { info } from './output.js';

export type InputFormat = 'auto' | 'jsonl' | 'text';

export interface TransformOptions {
  format: InputFormat;
  /** Texts per classify() call. */
  batchSize: number;
  /** Batches classified at once (keep >= workers, so none idles). */
  inFlight: number;
  /** Longer texts get KLS_ERR_OVERSIZED_TEXT instead of being read whole. */
  maxTextBytes: number;
  /** --brands: each result also lists brand mentions and the sentiment towards each (as `start` does). */
  brands?: BrandMatcher | undefined;
}

export interface TransformSummary {
  lines: number;
  classified: number;
  errors: number;
}

type Entry = { id: unknown; text: string } | { id: unknown; error: { code: string; message: string } };

export function classifyCommand(): Command {
  const cmd = new Command('classify')
    .description('classify JSONL ({"id","text"}) or plain text lines without Kafka; one JSON result per line on stdout (offline batch transform)')
    .argument('[file]', 'input file; "-" or nothing reads stdin', '-')
    .addOption(new Option('--format <format>', 'auto: lines starting with { are JSON, others plain text').choices(['auto', 'jsonl', 'text']).default('auto'))
    .option('--batch-size <n>', 'texts per inference batch', '64')
    .addHelpText('after', '\nOutput: {"id","label","scores","tokens","truncated"} per line, or {"id","error":{"code","message"}} for a bad line.\nPlain text lines (and JSON lines without an id) take their line number as id; blank lines are skipped.');
  withKnobs(cmd, ['model.', 'pool.', 'pipeline.maxTextBytes', 'brands.']);
  return cmd.action(async (file: string, opts: Record<string, unknown>) => {
    const batchSize = Number(opts.batchSize);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`--batch-size must be a positive integer, got ${String(opts.batchSize)}`);
    const config = configFrom(opts);
    const started = performance.now();
    const pool = await InferencePool.start(poolOptionsFromConfig(config));
    try {
      const { workers } = pool.health();
      const input = file === '-' ? process.stdin : createReadStream(file);
      const summary = await classifyLines(input, process.stdout, pool, {
        format: opts.format as InputFormat,
        batchSize,
        // Two per worker keep each busy (one running, one prefetched); one more per worker covers the
        // wait for the oldest batch, whose results must be written first.
        inFlight: Math.min(3 * workers, 2 * workers + config.pool.maxQueue),
        maxTextBytes: config.pipeline.maxTextBytes,
        brands: loadBrandMatcher(config.brands.file, pool.model.labels),
      });
      const s = (performance.now() - started) / 1000;
      const m = pool.model;
      info(`klassify classify: ${summary.classified} texts classified, ${summary.errors} errors, in ${s.toFixed(1)} s (${Math.round(summary.classified / s)}/s incl. start), model ${m.name} ${m.version} (${m.target}), ${workers} worker(s)`);
    } finally {
      await pool.close();
    }
  });
}

/** The transform itself, over any text stream and Classifier (tests drive it with fakes). */
export async function classifyLines(input: AsyncIterable<string | Buffer> & { setEncoding?: (e: BufferEncoding) => unknown }, output: Writable, classifier: Classifier, options: TransformOptions): Promise<TransformSummary> {
  input.setEncoding?.('utf8');
  const summary: TransformSummary = { lines: 0, classified: 0, errors: 0 };
  const pending: Promise<string>[] = [];
  let batch: Entry[] = [];

  const flushOne = async (): Promise<void> => {
    const text = await (pending.shift() as Promise<string>);
    if (!output.write(text)) await once(output, 'drain');
  };
  const submit = async (): Promise<void> => {
    if (batch.length === 0) return;
    const done = classifyBatch(classifier, batch, summary, options.brands);
    // Awaited in order by flushOne; until then a rejection must not count as unhandled.
    done.catch(() => undefined);
    pending.push(done);
    batch = [];
    while (pending.length >= options.inFlight) await flushOne();
  };

  for await (const line of splitLines(input, options.maxTextBytes * 2 + 1024)) {
    summary.lines++;
    const entry = parseLine(line, summary.lines, options);
    if (entry === undefined) continue;
    batch.push(entry);
    if (batch.length >= options.batchSize) await submit();
  }
  await submit();
  while (pending.length > 0) await flushOne();
  return summary;
}

async function classifyBatch(classifier: Classifier, entries: Entry[], summary: TransformSummary, brands: BrandMatcher | undefined): Promise<string> {
  const posts = entries.flatMap((e) => ('text' in e ? [{ id: String(e.id), text: e.text, ts: 0 }] : []));
  // The same plan as the pipeline's: with brands, mention spans join the posts in one classify call;
  // and the same call: overload waited out, a text that crashes its worker failed alone.
  const plan = brandBatch(brands, posts);
  const outcomes = plan.texts.length === 0 ? [] : await classifyPatiently(classifier, plan.texts, () => false);
  let k = 0;
  let out = '';
  for (const e of entries) {
    if (!('text' in e)) {
      summary.errors++;
      out += `${JSON.stringify({ id: e.id, error: e.error })}\n`;
      continue;
    }
    const post = k++;
    const o = outcomes[post];
    if (o === undefined || isFailure(o)) {
      summary.errors++;
      out += `${JSON.stringify({ id: e.id, error: o?.error ?? { code: 'KLS_ERR_INFERENCE', message: 'no result' } })}\n`;
    } else {
      summary.classified++;
      out += `${JSON.stringify({ id: e.id, label: o.label, scores: o.scores, tokens: o.tokens, truncated: o.truncated, ...plan.fieldsOf(post, outcomes) })}\n`;
    }
  }
  return out;
}

function parseLine(line: string | undefined, lineNo: number, options: TransformOptions): Entry | undefined {
  if (line === undefined) return { id: lineNo, error: { code: 'KLS_ERR_OVERSIZED_TEXT', message: `line ${lineNo} is longer than the text limit (KLASSIFY_MAX_TEXT_BYTES=${options.maxTextBytes})` } };
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  let text = line;
  let id: unknown = lineNo;
  if (options.format === 'jsonl' || (options.format === 'auto' && trimmed.startsWith('{'))) {
    let data: unknown;
    try {
      data = JSON.parse(trimmed);
    } catch (err) {
      return { id, error: { code: 'KLS_ERR_INVALID_JSON', message: `line ${lineNo}: ${(err as Error).message}` } };
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) return { id, error: { code: 'KLS_ERR_INVALID_JSON', message: `line ${lineNo} is not a JSON object` } };
    const record = data as { id?: unknown; text?: unknown };
    if (record.id !== undefined) id = record.id;
    if (typeof record.text !== 'string' || record.text.trim() === '') return { id, error: { code: 'KLS_ERR_MISSING_TEXT', message: `line ${lineNo} has no "text" string` } };
    text = record.text;
  }
  if (Buffer.byteLength(text) > options.maxTextBytes) {
    return { id, error: { code: 'KLS_ERR_OVERSIZED_TEXT', message: `line ${lineNo}: the text is longer than ${options.maxTextBytes} bytes (KLASSIFY_MAX_TEXT_BYTES)` } };
  }
  return { id, text };
}

/**
 * Lines of a text stream (\n or \r\n). A line longer than maxChars is not kept in memory: it yields
 * undefined once and the rest of it is skipped, so a file without newlines cannot exhaust memory.
 */
export async function* splitLines(input: AsyncIterable<string | Buffer>, maxChars: number): AsyncGenerator<string | undefined> {
  let partial = '';
  let skipping = false;
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      const line = partial + piece;
      partial = '';
      if (line.length > maxChars) yield undefined;
      else yield line.endsWith('\r') ? line.slice(0, -1) : line;
    }
    if (!skipping) {
      partial += text.slice(start);
      if (partial.length > maxChars) {
        partial = '';
        skipping = true;
        yield undefined;
      }
    }
  }
  if (!skipping && partial !== '') yield partial.endsWith('\r') ? partial.slice(0, -1) : partial;
}
