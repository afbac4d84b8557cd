// The streaming transform behind `klassify classify`, with a fake classifier: order, bounded in-flight
// batches, backpressure retries, line splitting.
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { classifyLines, splitLines } from '../../src/cli/classify.js';
import { PoolOverloadedError } from '../../src/errors.js';
import type { Classifier, ClassifyOutcome } from '../../src/model/classifier.js';

async function lines(chunks: string[], max = 100): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for await (const l of splitLines(Readable.from(chunks), max)) out.push(l);
  return out;
}

/** Answers in random order, refuses the first call as overloaded, and records the largest concurrency. */
function fakeClassifier(): Classifier & { calls: number; maxConcurrent: number } {
  let concurrent = 0;
  const fake = {
    calls: 0,
    maxConcurrent: 0,
    model: { name: 'fake', version: '1', target: 'cpu', labels: ['a', 'b'], maxLength: 8 },
    async classify(texts: readonly string[]): Promise<ClassifyOutcome[]> {
      if (fake.calls++ === 0) throw new PoolOverloadedError('busy');
      concurrent++;
      fake.maxConcurrent = Math.max(fake.maxConcurrent, concurrent);
      await new Promise((r) => setTimeout(r, Math.random() * 5));
      concurrent--;
      return texts.map((t) => ({ label: t.length % 2 === 0 ? 'a' : 'b', scores: { a: 0.5, b: 0.5 }, tokens: t.length, truncated: false }));
    },
    health: () => ({ ready: true, workers: 2, queued: 0, busyRatio: 0 }),
    close: async () => undefined,
  };
  return fake;
}

function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk: Buffer, _enc, done) {
      w.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('splitLines', () => {
  it('splits across chunk boundaries, drops \\r, keeps a last line without newline', async () => {
    expect(await lines(['ab', 'c\r\nde', 'f\n\ng'])).toEqual(['abc', 'def', '', 'g']);
  });

  it('yields undefined once for an over-long line and skips the rest of it', async () => {
    expect(await lines(['short\n', 'x'.repeat(60), 'x'.repeat(60), 'y'.repeat(60), '\nnext\n'], 100)).toEqual(['short', undefined, 'next']);
  });
});

describe('classifyLines', () => {
  it('writes one line per input line in order, batches within the in-flight bound, retries overload', async () => {
    const input = Readable.from([Array.from({ length: 250 }, (_, i) => (i % 50 === 7 ? '{bad' : `text number ${i}`)).join('\n')]);
    const out = sink();
    const fake = fakeClassifier();
    const summary = await classifyLines(input, out, fake, { format: 'auto', batchSize: 8, inFlight: 3, maxTextBytes: 1000 });
    const rows = out.text.trim().split('\n').map((l) => JSON.parse(l) as { id: number; label?: string; error?: { code: string } });
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(rows.filter((r) => r.error?.code === 'KLS_ERR_INVALID_JSON')).toHaveLength(5);
    expect(summary).toEqual({ lines: 250, classified: 245, errors: 5 });
    expect(fake.maxConcurrent).toBeLessThanOrEqual(3);
  });

  it('flags texts over the byte limit instead of sending them', async () => {
    const out = sink();
    await classifyLines(Readable.from(['ok\n', `${'é'.repeat(30)}\n`]), out, fakeClassifier(), { format: 'text', batchSize: 4, inFlight: 2, maxTextBytes: 40 });
    expect(out.text).toContain('KLS_ERR_OVERSIZED_TEXT');
  });
});
