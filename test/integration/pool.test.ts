// The inference pool through its public API, on a real compiled model (the default one, or
// KLASSIFY_TEST_MODEL): results against a plain in-thread ONNX Runtime session, truncation, edge cases,
// backpressure, events and closing. No broker needed.
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferencePool, planBatches, type BatchEvent } from '../../inference-pool/index.js';
import { BUILTIN_EVAL_TEXTS } from '../../src/compile/builtin-texts.js';
import { PoolClosedError, PoolOverloadedError, type KlassifyError } from '../../src/errors.js';
import { isFailure, type Classification, type ClassifyOutcome } from '../../src/model/classifier.js';
import { loadManifest, type LoadedModel } from '../../src/model/manifest.js';
import { TextTokenizer } from '../../src/model/tokenizer.js';
import { testModelDir } from '../helpers/pool-model.js';

const model: LoadedModel = loadManifest(testModelDir());
const { manifest } = model;
const LONG = `${'This sentence keeps going with more words about the product and the service. '.repeat(60)}The end.`;
const TEXTS = [...BUILTIN_EVAL_TEXTS.slice(0, 120), LONG, '', 'ok', LONG.slice(0, 700)];

/**
 * Batched results against texts run alone. Dynamic int8 quantization picks its activation scale per call
 * from every row in it (padding included), so a text's probabilities move with the rows it shares a call
 * with: up to 0.05 on the tiny int8 fixture, 0.16 on the MiniLM sentiment int8 of an earlier recipe.
 * fp32 and fp16 agree to rounding. The exact checks of the batched path are the two tests before.
 */
const TOLERANCE = manifest.quantization.kind === 'dynamic-int8' ? 0.25 : 1e-4;
const TASK_TEXTS = 48;
const BUDGET = 1024;

type Reference = { probs: number[]; tokens: number; truncated: boolean }[];

/**
 * The reference: one plain onnxruntime-node session in this thread. By default each text runs alone (a
 * batch of one, no padding); with `groups`, each group of texts runs as one batch padded to its longest.
 */
async function reference(texts: readonly string[], groups: readonly (readonly number[])[] = texts.map((_, i) => [i])): Promise<Reference> {
  const tokenizer = TextTokenizer.fromFile(model.tokenizerPath, manifest.maxLength);
  const session = await ort.InferenceSession.create(model.modelPath, { intraOpNumThreads: 1, logSeverityLevel: 3 });
  const encs = texts.map((t) => tokenizer.encode(t));
  const out: Reference = new Array(texts.length);
  for (const group of groups) {
    const seq = Math.max(...group.map((i) => (encs[i] as (typeof encs)[number]).ids.length));
    const ids: bigint[] = [];
    const mask: bigint[] = [];
    const types: bigint[] = [];
    for (const i of group) {
      const enc = encs[i] as (typeof encs)[number];
      for (let t = 0; t < seq; t++) {
        ids.push(BigInt(t < enc.ids.length ? (enc.ids[t] as number) : tokenizer.padId));
        mask.push(t < enc.ids.length ? 1n : 0n);
        types.push(BigInt(t < enc.ids.length ? (enc.typeIds[t] as number) : 0));
      }
    }
    const dims = [group.length, seq];
    const feeds: Record<string, ort.Tensor> = { [manifest.inputs.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids), dims) };
    if (manifest.inputs.attentionMask) feeds[manifest.inputs.attentionMask] = new ort.Tensor('int64', BigInt64Array.from(mask), dims);
    if (manifest.inputs.tokenTypeIds) feeds[manifest.inputs.tokenTypeIds] = new ort.Tensor('int64', BigInt64Array.from(types), dims);
    const logits = (await session.run(feeds))[manifest.output]?.data as Float32Array;
    group.forEach((i, row) => {
      const z = Array.from(logits.subarray(row * manifest.labels.length, (row + 1) * manifest.labels.length));
      const max = Math.max(...z);
      const exp = z.map((x) => Math.exp(x - max));
      const sum = exp.reduce((a, b) => a + b, 0);
      const enc = encs[i] as (typeof encs)[number];
      out[i] = { probs: exp.map((e) => e / sum), tokens: enc.ids.length, truncated: enc.truncated };
    });
  }
  await session.release();
  return out;
}

/** The calls the pool makes for `texts`: tasks of TASK_TEXTS, each cut by planBatches with the budget. */
function poolGroups(texts: readonly string[]): number[][] {
  const tokenizer = TextTokenizer.fromFile(model.tokenizerPath, manifest.maxLength);
  const groups: number[][] = [];
  for (let at = 0; at < texts.length; at += TASK_TEXTS) {
    const lengths = texts.slice(at, at + TASK_TEXTS).map((t) => tokenizer.encode(t).ids.length);
    for (const call of planBatches(lengths, { maxBatchTokens: BUDGET })) groups.push(call.rows.map((r) => at + r));
  }
  return groups;
}

/**
 * Checks tokens and flags per text; returns the largest probability difference, and how many texts the
 * reference labels clearly (top two probabilities further apart than `margin`) got another label.
 */
function worstDifference(got: ClassifyOutcome[], want: Reference, margin = 0): { worst: number; clearFlips: number } {
  expect(got).toHaveLength(want.length);
  let worst = 0;
  let clearFlips = 0;
  got.forEach((o, i) => {
    const c = classified(o);
    const r = want[i] as (typeof want)[number];
    expect(c.tokens, `tokens of text ${i}`).toBe(r.tokens);
    expect(c.truncated, `truncated flag of text ${i}`).toBe(r.truncated);
    const probs = manifest.labels.map((l) => c.scores[l] as number);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    probs.forEach((p, j) => (worst = Math.max(worst, Math.abs(p - (r.probs[j] as number)))));
    const sorted = [...r.probs].sort((a, b) => b - a);
    const clear = (sorted[0] as number) - (sorted[1] as number) > margin;
    if (clear && manifest.labels[r.probs.indexOf(sorted[0] as number)] !== c.label) clearFlips++;
  });
  return { worst, clearFlips };
}

function classified(o: ClassifyOutcome | undefined): Classification {
  if (o === undefined || isFailure(o)) throw new Error(`expected a classification, got ${JSON.stringify(o)}`);
  return o;
}

describe('inference pool', () => {
  let pool: InferencePool;
  beforeAll(async () => {
    // A small budget and small tasks, so the texts are split over tasks, workers and several calls.
    pool = await InferencePool.start({ modelDir: model.dir, workers: 2, maxBatchTokens: BUDGET, maxTaskTexts: TASK_TEXTS });
  });
  afterAll(async () => {
    await pool.close();
  });

  it('reports its model, and each worker ready with memory and warm-up figures', () => {
    expect(pool.model).toMatchObject({ name: manifest.name, version: manifest.version, target: manifest.target, labels: manifest.labels, maxLength: manifest.maxLength });
    expect(pool.health()).toMatchObject({ ready: true, workers: 2, queued: 0 });
    for (const w of pool.workers()) {
      expect(w.state).toBe('ready');
      expect(w.ready?.memory.rssBytes).toBeGreaterThan(0);
      expect(w.ready?.warmup.rows).toBe(Math.floor(BUDGET / Math.min(manifest.maxLength, BUDGET)));
      expect(w.ready?.warmup.seqLen).toBe(Math.min(manifest.maxLength, 1024));
    }
  });

  it('matches a single in-thread session exactly when each call holds one text', async () => {
    // One row per call: no padding and no batch-dependent quantization, so any model must agree to float
    // rounding. This checks tokenization, tensors, truncation, softmax and ordering end to end.
    const single = await InferencePool.start({ modelDir: model.dir, workers: 1, maxRowsPerCall: 1 });
    try {
      const texts = TEXTS.slice(0, 40).concat(TEXTS.slice(-4));
      const [got, want] = await Promise.all([single.classify(texts), reference(texts)]);
      expect(worstDifference(got, want).worst).toBeLessThan(1e-6);
    } finally {
      await single.close();
    }
  });

  it('matches the same session fed the same padded calls, exactly (sort, cut, pad, mask, order)', async () => {
    const [got, want] = await Promise.all([pool.classify(TEXTS), reference(TEXTS, poolGroups(TEXTS))]);
    expect(worstDifference(got, want).worst).toBeLessThan(1e-5);
  });

  it('matches texts run alone, to float tolerance (or int8 quantization noise)', async () => {
    const [got, want] = await Promise.all([pool.classify(TEXTS), reference(TEXTS)]);
    // Within the tolerance only near-ties may change label; a clear winner must stay the winner.
    const { worst, clearFlips } = worstDifference(got, want, 2 * TOLERANCE);
    expect(worst, 'largest probability difference').toBeLessThan(TOLERANCE);
    expect(clearFlips, 'texts with a clear reference label that changed label').toBe(0);
  });

  it("truncates long texts to the model's max length and flags them", async () => {
    const [long, short] = (await pool.classify([LONG, 'short and sweet'])).map(classified);
    expect(long).toMatchObject({ tokens: manifest.maxLength, truncated: true });
    expect(short?.truncated).toBe(false);
    expect(short?.tokens).toBeLessThan(10);
  });

  it('answers an empty input array with an empty array, without a worker', async () => {
    const batches: BatchEvent[] = [];
    const stop = pool.onBatch((t) => batches.push(t as BatchEvent));
    await expect(pool.classify([])).resolves.toEqual([]);
    stop();
    expect(batches).toEqual([]);
  });

  it('classifies an empty string like any text (only the special tokens)', async () => {
    const [c] = (await pool.classify([''])).map(classified);
    const tokenizer = TextTokenizer.fromFile(model.tokenizerPath, manifest.maxLength);
    expect(c?.tokens).toBe(tokenizer.encode('').ids.length);
    expect(manifest.labels).toContain(c?.label);
  });

  it('reports per-batch timings to subscribers, within the token budget', async () => {
    const events: BatchEvent[] = [];
    const listener = (e: BatchEvent): void => void events.push(e);
    pool.on('batch', listener);
    await pool.classify(TEXTS.slice(0, 100));
    pool.off('batch', listener);
    expect(events).toHaveLength(3); // 100 texts in tasks of 48
    for (const e of events) {
      expect(e.queueMs).toBeGreaterThanOrEqual(0);
      expect(e.tokenizeMs).toBeGreaterThan(0);
      expect(e.inferenceMs).toBeGreaterThan(0);
      expect(e.roundTripMs).toBeGreaterThanOrEqual(e.workerMs);
      expect(e.rows).toBe(e.texts);
      expect(e.paddedTokens).toBeGreaterThanOrEqual(e.tokens);
      expect(e.paddedTokens).toBeLessThanOrEqual(BUDGET * e.runs);
      expect([0, 1]).toContain(e.slot);
    }
    const h = pool.health();
    expect(h.busyRatio).toBeGreaterThanOrEqual(0);
    expect(h.busyRatio).toBeLessThanOrEqual(1);
  });

  it('returns results in input order when a call is split over tasks and workers', async () => {
    const texts = TEXTS.slice(0, 100);
    const whole = await pool.classify(texts);
    const oneByOne: ClassifyOutcome[] = [];
    for (const t of texts) oneByOne.push(...(await pool.classify([t])));
    whole.forEach((o, i) => expect(classified(o).tokens).toBe(classified(oneByOne[i]).tokens));
  });

  it('refuses bad input with a TypeError', async () => {
    await expect(pool.classify('text' as unknown as string[])).rejects.toThrow(TypeError);
    await expect(pool.classify(['ok', 3 as unknown as string])).rejects.toThrow(/texts\[1\] must be a string/);
  });

  it('round-trips a no-op task quickly (dispatch overhead)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) times.push(await pool.ping());
    times.sort((a, b) => a - b);
    expect(times[25]).toBeLessThan(5); // generous: a shared, busy CI machine; the bench measures it properly
  });
});

describe('backpressure and closing', () => {
  it('refuses with PoolOverloadedError when the queue is full, and takes work again once it drains', async () => {
    const pool = await InferencePool.start({ modelDir: model.dir, workers: 1, maxQueue: 2 });
    try {
      const overloaded: unknown[] = [];
      pool.on('overloaded', (e) => overloaded.push(e));
      // The worker takes two tasks at once (one running, one prefetched); the next two wait in the queue.
      const inWorker = [pool.classify([LONG]), pool.classify([LONG])];
      const queued = [pool.classify([LONG]), pool.classify([LONG])];
      const refused = await pool.classify(['one too many']).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(PoolOverloadedError);
      expect((refused as KlassifyError).code).toBe('KLS_ERR_POOL_OVERLOADED');
      expect((refused as KlassifyError).retriable).toBe(true);
      expect(overloaded).toEqual([{ queued: 2, maxQueue: 2 }]);
      expect(pool.health().queued).toBe(3); // the queue plus the prefetched task
      for (const r of await Promise.all([...inWorker, ...queued])) expect(classified(r[0]).truncated).toBe(true);
      expect((await pool.classify(['accepted again'])).map(classified)).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  it('finishes work in flight on close, then refuses with PoolClosedError; close is idempotent', async () => {
    const pool = await InferencePool.start({ modelDir: model.dir, workers: 1 });
    const inFlight = pool.classify(TEXTS.slice(0, 20));
    const closing = pool.close();
    await expect(pool.classify(['late'])).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.ping()).rejects.toBeInstanceOf(PoolClosedError);
    expect((await inFlight).every((o) => !isFailure(o))).toBe(true);
    await closing;
    await pool.close();
    expect(pool.health()).toMatchObject({ ready: false, workers: 0 });
  });
});
