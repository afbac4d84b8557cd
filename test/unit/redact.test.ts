import { describe, expect, it } from 'vitest';
import { redact } from '../../src/cli/config.js';
import { loadConfig } from '../../src/config.js';
import { redactUrl } from '../../src/redact.js';

describe('secrets are never printed', () => {
  it('credentials inside a URL are hidden, the rest of it kept', () => {
    expect(redactUrl('https://alice:s3cret@registry.example:8081/apis/ccompat/v7')).toBe('https://***@registry.example:8081/apis/ccompat/v7');
    expect(redactUrl('http://127.0.0.1:8081')).toBe('http://127.0.0.1:8081');
  });

  it('klassify config masks passwords, tokens, secrets and URL credentials, not knobs named like them', () => {
    const config = loadConfig({
      env: { SCHEMA_REGISTRY_URL: 'https://bob:pw@reg.local/x', KAFKA_SASL_PASSWORD: 'p', KLASSIFY_METRICS_TOKEN: 't', KLASSIFY_BRANDS_WEBHOOK_SECRET: 's' },
    });
    const shown = JSON.stringify(redact(config));
    expect(shown).not.toMatch(/bob|"pw"|:pw@|"p"|"t"|"s"/);
    expect(shown).toContain('https://***@reg.local/x');
    const r = redact(config) as { batch: { maxTokens: number }; pool: { maxBatchTokens: number } };
    expect(r.batch.maxTokens).toBe(config.batch.maxTokens);
    expect(r.pool.maxBatchTokens).toBe(config.pool.maxBatchTokens);
  });
});
