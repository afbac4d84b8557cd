// Memory stays bounded under a long run of mixed lengths: the ORT arena reaches its peak in the warm-up
// (a call at the token budget) and the memory pattern, which would cache a plan per input shape, is off
// (inference-pool/session-options.ts has the measurements).
import { describe, expect, it } from 'vitest';
import { InferencePool } from '../../inference-pool/index.js';
import { isFailure } from '../../src/model/classifier.js';
import { testModelDir } from '../helpers/pool-model.js';

const WORDS = 'the service was slow but the staff were friendly and the food arrived warm enough to enjoy honestly'.split(' ');

/** A deterministic text of 1..160 words: short tweets up to texts past the model's max length. */
function text(seed: number): string {
  let s = seed * 2654435761;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648);
  const n = 1 + (next() % 160);
  return Array.from({ length: n }, () => WORDS[next() % WORDS.length]).join(' ');
}

describe('pool memory', () => {
  it('plateaus: RSS late in a long mixed-length run stays within a bound of RSS early in it', async () => {
    const pool = await InferencePool.start({ modelDir: testModelDir(), workers: 2 });
    const rss: number[] = [];
    let texts = 0;
    try {
      const perWorker = Math.round(pool.memory().perWorkerBytes / 2 ** 20);
      const started = Date.now();
      // 160 rounds (~8,000 texts), or 45 s on a slow or busy machine; at least 24 rounds either way.
      for (let round = 0; round < 160 && (round < 24 || Date.now() - started < 45_000); round++) {
        const batch = (k: number): string[] => Array.from({ length: 4 + ((round * 7 + k) % 44) }, (_, i) => text(round * 1000 + k * 100 + i));
        const out = (await Promise.all([pool.classify(batch(0)), pool.classify(batch(1))])).flat();
        expect(out.every((o) => !isFailure(o))).toBe(true);
        texts += out.length;
        rss.push(process.memoryUsage.rss());
      }
      const quarter = Math.max(1, Math.floor(rss.length / 4));
      const early = Math.max(...rss.slice(0, quarter));
      const late = Math.max(...rss.slice(-quarter));
      const mb = (b: number): number => Math.round(b / 2 ** 20);
      const growth = late - early;
      // Reported for the record (vitest prints it with --reporter=verbose on failure).
      const summary = `${texts} texts in ${rss.length} rounds; RSS early ${mb(early)} MB, late ${mb(late)} MB; start cost per worker ${perWorker} MB`;
      process.stderr.write(`pool memory: ${summary}\n`);
      expect(growth, summary).toBeLessThan(Math.max(48 * 2 ** 20, early * 0.1));
    } finally {
      await pool.close();
    }
  }, 180_000);
});
