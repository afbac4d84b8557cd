// The shipped default model (compiled-models/sentiment-minilm/cpu-int8) in the pool: what users get from
// `klassify start` and `klassify classify` with no --model. The other pool tests run any compiled model
// (KLASSIFY_TEST_MODEL); these are about this one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferencePool } from '../../inference-pool/index.js';
import { isFailure } from '../../src/model/classifier.js';
import { defaultModelDir } from '../helpers/pool-model.js';

describe('the default model in the pool', () => {
  let pool: InferencePool;
  beforeAll(async () => {
    pool = await InferencePool.start({ modelDir: defaultModelDir(), workers: 2 });
  });
  afterAll(async () => {
    await pool?.close();
  });

  it('is the int8 MiniLM sentiment classifier', () => {
    expect(pool.model).toMatchObject({ name: 'sentiment-minilm', target: 'cpu-int8', labels: ['negative', 'neutral', 'positive'] });
    expect(pool.options.model.manifest.quantization.kind).toBe('dynamic-int8');
  });

  it('gets clear-cut texts right', async () => {
    const cases: [string, string][] = [
      ['I absolutely love this, best purchase I have made all year!', 'positive'],
      ['Thank you so much, the support team was amazing and fixed it in minutes.', 'positive'],
      ['This is the worst service I have ever had. Never again.', 'negative'],
      ['My flight was cancelled and nobody will answer the phone. Furious.', 'negative'],
      ['The store opens at 9am on weekdays.', 'neutral'],
      ['The meeting has been moved to Thursday.', 'neutral'],
    ];
    const out = await pool.classify(cases.map(([t]) => t));
    const got = out.map((o) => (isFailure(o) ? o.error.code : o.label));
    expect(got).toEqual(cases.map(([, label]) => label));
  });

  it('costs a bounded amount of memory per worker (MiniLM int8: ~215-275 MB at the 8192-token budget, measured here)', () => {
    expect(pool.memory().perWorkerBytes).toBeLessThan(400 * 2 ** 20);
  });
});
