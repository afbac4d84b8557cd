import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { knobs } from '../../src/config-knobs.js';

describe('loadConfig', () => {
  it('defaults are valid, and the result is frozen', () => {
    const config = loadConfig({ env: {} });
    expect(config.kafka.brokers).toEqual([]);
    expect(config.pipeline.inputTopics).toEqual(['klassify.input']);
    expect(config.pipeline.delivery).toBe('at-least-once');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.batch)).toBe(true);
  });

  it('layers defaults < file < env < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kls-config-'));
    const file = join(dir, 'klassify.json');
    writeFileSync(file, JSON.stringify({ batch: { maxSize: 16, maxWaitMs: 3 }, pipeline: { outputTopic: 'from-file' } }));
    const config = loadConfig({
      file,
      env: { KLASSIFY_BATCH_MAX_SIZE: '32', KAFKA_BROKERS: 'a:9092, b:9092' },
      flags: { 'batch.maxSize': '48' },
    });
    expect(config.batch.maxSize).toBe(48);
    expect(config.batch.maxWaitMs).toBe(3);
    expect(config.pipeline.outputTopic).toBe('from-file');
    expect(config.kafka.brokers).toEqual(['a:9092', 'b:9092']);
  });

  it('fetch settings: Kafka\'s fetch.min.bytes / fetch.max.wait.ms defaults, set from env or flags, a zero refused', () => {
    const d = loadConfig({ env: {} }).pipeline;
    expect([d.fetchMinBytes, d.fetchMaxWaitMs]).toEqual([1, 100]);
    const c = loadConfig({ env: { KLASSIFY_FETCH_MIN_BYTES: '16384' }, flags: { 'pipeline.fetchMaxWaitMs': '5' } }).pipeline;
    expect([c.fetchMinBytes, c.fetchMaxWaitMs]).toEqual([16384, 5]);
    expect(() => loadConfig({ env: { KLASSIFY_FETCH_MAX_WAIT_MS: '0' } })).toThrow(/pipeline.fetchMaxWaitMs.*--fetch-max-wait-ms/);
    expect(() => loadConfig({ env: { KLASSIFY_FETCH_MIN_BYTES: '0' } })).toThrow(/pipeline.fetchMinBytes/);
  });

  it('rejects bad values naming the knob, its env var and flag', () => {
    expect(() => loadConfig({ env: { KLASSIFY_BATCH_MAX_SIZE: 'many' } })).toThrow(/KLASSIFY_BATCH_MAX_SIZE: expected an integer/);
    expect(() => loadConfig({ env: { KLASSIFY_BATCH_MAX_SIZE: '0' } })).toThrow(/batch.maxSize.*--batch-max-size/);
    expect(() => loadConfig({ env: { KLASSIFY_DELIVERY: 'twice' } })).toThrow(/pipeline.delivery/);
    expect(() => loadConfig({ env: { KAFKA_SSL: 'maybe' } })).toThrow(/expected true or false/);
    expect(() => loadConfig({ env: {}, flags: { 'no.such': 1 } })).toThrow(/unknown option/);
    expect(() => loadConfig({ env: { KLASSIFY_CONFIG: '/nonexistent/k.json' } })).toThrow(/cannot read config file/);
  });

  it('every knob has a distinct env var and flag, and help text', () => {
    expect(new Set(knobs.map((k) => k.env)).size).toBe(knobs.length);
    expect(new Set(knobs.map((k) => k.flag)).size).toBe(knobs.length);
    for (const knob of knobs) expect(knob.help.length).toBeGreaterThan(5);
  });
});

describe('README configuration table', () => {
  it('matches `klassify config --markdown` (regenerate with: npm run docs)', async () => {
    const { readFileSync } = await import('node:fs');
    const { packageRoot } = await import('../../src/paths.js');
    const { knobTable } = await import('../../src/cli/config.js');
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const section = /<!-- knobs:start -->\n([\s\S]*?)\n<!-- knobs:end -->/.exec(readme)?.[1];
    expect(section).toBe(knobTable());
  });
});
