// Observability as a user meets it: /metrics moves after traffic, /healthz and /readyz answer, the token
// guards the server, and the dashboard renders live charts in a real headless Chromium.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostGenerator } from '../../src/produce/generator.js';
import { packageRoot } from '../../src/paths.js';
import { createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline, type RunningPipeline } from '../helpers/pipeline.js';

const ARTIFACTS = join(packageRoot, 'test-artifacts');
const t = { input: uniqueName('obs-in'), output: uniqueName('obs-out'), dlq: uniqueName('obs-dlq'), group: uniqueName('obs-group') };
let pipeline: RunningPipeline;
let browser: Browser;

/** Parses Prometheus text format into name{labels} → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

function sum(metrics: Map<string, number>, prefix: string): number {
  let total = 0;
  for (const [k, v] of metrics) if (k === prefix || k.startsWith(`${prefix}{`)) total += v;
  return total;
}

async function produce(n: number, bad = 0): Promise<void> {
  const kafka = testKafka();
  const gen = new PostGenerator(5);
  const producer = kafka.producer();
  await producer.connect();
  const messages = Array.from({ length: n }, () => {
    const p = gen.next();
    return { key: p.brand, value: JSON.stringify({ id: p.id, text: p.text }) };
  });
  for (let i = 0; i < bad; i++) messages.push({ key: 'bad', value: '{"not": "text"' });
  await producer.send({ topic: t.input, messages });
  await producer.disconnect();
}

beforeAll(async () => {
  await createTopic(testKafka(), t.input, 2);
  pipeline = await startPipeline(pipelineArgs(t, ['--metrics-token', 's3cret']), process.env);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  expect(await pipeline?.stop()).toBe(0);
});

describe('metrics server', () => {
  it('guards metrics and dashboard with the token; health and readiness answer probes without it', async () => {
    expect((await fetch(`${pipeline.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${pipeline.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${pipeline.url}/`)).status).toBe(401);
    expect((await fetch(`${pipeline.url}/events`)).status).toBe(401);
    expect((await fetch(`${pipeline.url}/metrics`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${pipeline.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${pipeline.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
  });

  it('metrics are present and move after traffic', async () => {
    const auth = { headers: { authorization: 'Bearer s3cret' } };
    const before = parseMetrics(await (await fetch(`${pipeline.url}/metrics`, auth)).text());
    const info = [...before].find(([k]) => k.startsWith('klassify_model_info{'));
    expect(info?.[0]).toMatch(/name="[a-z0-9.-]+",version="[0-9a-f]+",target="cpu-int8"/);
    expect(info?.[1]).toBe(1);
    expect(sum(before, 'klassify_pool_workers')).toBe(2);
    await produce(120, 3);
    let after = before;
    for (let i = 0; i < 100 && sum(after, 'klassify_records_out_total') < 120; i++) {
      await new Promise((r) => setTimeout(r, 200));
      after = parseMetrics(await (await fetch(`${pipeline.url}/metrics`, auth)).text());
    }
    expect(sum(after, 'klassify_records_in_total') - sum(before, 'klassify_records_in_total')).toBe(123);
    expect(sum(after, 'klassify_records_out_total')).toBeGreaterThanOrEqual(120);
    expect(sum(after, 'klassify_dead_letters_total')).toBe(3);
    expect([...after.keys()].some((k) => k.startsWith('klassify_dead_letters_total{') && k.includes('code="KLS_ERR_INVALID_JSON"'))).toBe(true);
    expect(sum(after, 'klassify_batch_size_count')).toBeGreaterThan(0);
    expect(sum(after, 'klassify_end_to_end_seconds_count')).toBeGreaterThanOrEqual(120);
    expect(sum(after, 'klassify_tokenize_seconds_count')).toBeGreaterThan(0);
    expect(sum(after, 'klassify_predictions_total')).toBeGreaterThanOrEqual(120);
    expect(sum(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Lag gauges come from the lag monitor's next poll (every 5 s).
    for (let i = 0; i < 60 && ![...after.keys()].some((k) => k.startsWith('klassify_consumer_lag_records{')); i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = parseMetrics(await (await fetch(`${pipeline.url}/metrics`, auth)).text());
    }
    expect([...after.keys()].filter((k) => k.startsWith('klassify_consumer_lag_seconds{'))).toHaveLength(2);
  }, 60_000);
});

describe('dashboard in headless Chromium', () => {
  it('loads, renders its charts, and the values change after traffic', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${pipeline.url}/?token=s3cret`);
    await page.waitForSelector('#conn.live', { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('.uplot').length >= 7, undefined, { timeout: 15_000 });
    const totalBefore = Number(await page.textContent('#t-total'));
    await produce(200);
    await page.waitForFunction((n) => Number(document.querySelector('#t-total')?.textContent) >= n + 200, totalBefore, { timeout: 60_000 });
    // The throughput chart drew a non-zero "out" rate, and the latency chart has points.
    const last = JSON.parse((await page.getAttribute('#c-throughput', 'data-last')) ?? '[]') as (number | null)[];
    const points = Number(await page.getAttribute('#c-latency', 'data-points'));
    expect(points).toBeGreaterThan(1);
    await page.waitForFunction(() => Number(document.querySelector('#c-lag-records')?.getAttribute('data-points')) > 0, undefined, { timeout: 15_000 });
    expect(last.length).toBe(3);
    expect(await page.locator('.uplot canvas').count()).toBeGreaterThanOrEqual(7);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
