// A shadow model on the real broker, as a user runs it: `klassify start --shadow-model DIR` under steady
// load. The shadow is the shipped model with two labels' names swapped (neutral <-> positive), so its
// disagreement is known in advance: it agrees exactly where the live model says negative. Checked: the
// output topic holds one live result per input and nothing from the shadow; every sampled record is
// either compared or shed (counted); the shadow topic's comparisons carry the live answers the output
// has; /metrics' agreement, per-class agreement and confusion match the expected figure; `klassify
// shadow-report` prints them. Then promotion: POST /admin/model with an agreeing shadow's folder swaps it
// in through the gate and the shadow stops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../consumers/messages.js';
import type { ShadowTopicRecord } from '../../consumers/shadow-topic.js';
import { PostGenerator } from '../../src/produce/generator.js';
import { runCli } from '../helpers/cli.js';
import { collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { copyModel } from '../helpers/model-copies.js';
import { pipelineArgs, startPipeline, type PipelineTopics, type RunningPipeline } from '../helpers/pipeline.js';

const TOKEN = 'shadow-test-token';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SWAP: Record<string, string> = { negative: 'negative', neutral: 'positive', positive: 'neutral' };

/** `total` posts at about 60/s: light enough that the live pool is often idle and the shadow gets work. */
async function sendSteadily(producer: Producer, topic: string, total: number, seed: number): Promise<string[]> {
  // Ids prefixed by the seed: two sends in one test never share an id.
  const gen = new PostGenerator(seed, `s${seed}-`);
  const ids: string[] = [];
  while (ids.length < total) {
    const batch = Array.from({ length: 6 }, () => gen.next());
    ids.push(...batch.map((p) => p.id));
    await producer.send({ topic, messages: batch.map((p) => ({ key: p.id, value: JSON.stringify({ id: p.id, text: p.text }) })) });
    await sleep(100);
  }
  return ids;
}

async function metricsOf(p: RunningPipeline): Promise<string> {
  return (await fetch(`${p.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
}

const value = (metrics: string, series: string): number | undefined => {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `) || l.startsWith(`${series}{`) );
  return line === undefined ? undefined : Number(line.split(' ').pop());
};
const sum = (metrics: string, name: string): number =>
  metrics.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);

describe('shadow model (klassify start --shadow-model, real broker)', () => {
  let root: string;
  const dirs = { swapped: '', same: '' };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'klassify-shadow-'));
    dirs.swapped = copyModel(root, 'swapped', (m) => {
      m.version = 'shadow-swapped';
      m.labels = m.labels.map((l) => SWAP[l] ?? l);
    });
    dirs.same = copyModel(root, 'same', (m) => (m.version = 'shadow-same'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a shadow with two labels swapped agrees exactly where live says negative; output untouched; every sampled record compared or shed', async () => {
    const N = 480;
    const t: PipelineTopics = { input: uniqueName('sh-in'), output: uniqueName('sh-out'), dlq: uniqueName('sh-dlq'), group: uniqueName('sh-g') };
    const shadowTopic = uniqueName('sh-cmp');
    const kafka = testKafka();
    await createTopic(kafka, t.input, 3);
    const producer = kafka.producer();
    await producer.connect();
    const p = await startPipeline(pipelineArgs(t, ['--metrics-token', TOKEN, '--shadow-model', dirs.swapped, '--shadow-sample', '1', '--shadow-topic', shadowTopic,
      // The figures are what this test checks, so shed only while live batches queue (CI's load keeps the live workers busy).
      '--shadow-max-live-busy', '1']));
    try {
      expect(p.output()).toMatch(/shadow model \S+ shadow-swapped .* on idle CPU only \(SCHED_IDLE\), 100% of records/);
      const ids = await sendSteadily(producer, t.input, N, 71);
      const out = await collect(kafka, t.output, N, { timeoutMs: 120_000, settleMs: 1_500 });
      const results = out.map((r) => JSON.parse(r.value!.toString()) as ResultRecord);
      // The output is the live model's alone: one result per input, none from the shadow.
      expect(results.map((r) => r.id).sort()).toEqual([...ids].sort());
      expect(new Set(results.map((r) => r.model.version)).size).toBe(1);
      expect(results.some((r) => r.model.version === 'shadow-swapped')).toBe(false);

      // The shadow runs on idle CPU only: on a loaded machine its last call can still be running after the
      // live results are all out, and its records are counted when it ends. Wait for that, within a bound.
      let metrics = '';
      for (const deadline = Date.now() + 30_000; ; await sleep(500)) {
        metrics = await metricsOf(p);
        const settled = (value(metrics, 'klassify_shadow_compared_total') ?? 0) + sum(metrics, 'klassify_shadow_shed_total');
        if (settled >= N || Date.now() > deadline) break;
      }
      const compared = value(metrics, 'klassify_shadow_compared_total') ?? 0;
      const shed = sum(metrics, 'klassify_shadow_shed_total');
      // Sample 1: every record went to the shadow or was shed, and some of each is not required, but all are accounted for.
      expect(compared + shed, metrics).toBe(N);
      expect(compared).toBeGreaterThan(50);

      const cmp = (await collect(kafka, shadowTopic, compared, { timeoutMs: 30_000 })).map((r) => JSON.parse(r.value!.toString()) as ShadowTopicRecord & { shadow: { label?: string } });
      expect(cmp).toHaveLength(compared);
      const liveLabel = new Map(results.map((r) => [r.id, r.label]));
      // The comparison's live answer is the one written to the output (the same call, not a second one).
      for (const c of cmp) expect(c.live.label, c.id).toBe(liveLabel.get(c.id));
      // The shadow's label is the live one renamed; a text on a class boundary may tip apart in another
      // batch (int8 scores move by up to ~0.05 with their batch), so a few are allowed.
      const renamed = cmp.filter((c) => c.shadow.label === SWAP[c.live.label]).length;
      expect(renamed / cmp.length).toBeGreaterThan(0.95);
      const expected = cmp.filter((c) => c.live.label === 'negative').length / cmp.length;
      expect(value(metrics, 'klassify_shadow_window_compared')).toBe(compared);
      const agreement = value(metrics, 'klassify_shadow_agreement')!;
      expect(Math.abs(agreement - expected), `agreement ${agreement} vs expected ${expected}`).toBeLessThan(0.05);
      expect(value(metrics, 'klassify_shadow_class_agreement{label="negative"}')).toBeGreaterThan(0.95);
      expect(value(metrics, 'klassify_shadow_class_agreement{label="neutral"}') ?? 0).toBeLessThan(0.05);
      expect(value(metrics, 'klassify_shadow_class_agreement{label="positive"}') ?? 0).toBeLessThan(0.05);
      expect(value(metrics, 'klassify_shadow_confusion{live="positive",shadow="neutral"}')).toBeGreaterThan(0);

      const report = await runCli(['shadow-report', '--url', p.url, '--metrics-token', TOKEN]);
      expect(report.code, report.stderr).toBe(0);
      expect(report.stdout).toContain('shadow sentiment-minilm shadow-swapped');
      expect(report.stdout).toContain(`label agreement: ${(100 * agreement).toFixed(1)}%`);
      expect(report.stdout).toMatch(/confusion \(rows: live label, columns: shadow label\)/);
      const json = await runCli(['shadow-report', '--url', p.url, '--metrics-token', TOKEN, '--json']);
      expect(JSON.parse(json.stdout)).toMatchObject({ shadow: { version: 'shadow-swapped' }, sample: 1 });

      // The dashboard in a real headless Chromium: the shadow panel shows, with the agreement chart and the confusion matrix.
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
        await page.goto(`${p.url}/?token=${TOKEN}`);
        await page.waitForSelector('#shadow:not([hidden])', { timeout: 15_000 });
        expect(await page.textContent('#shadow-model')).toContain('shadow-swapped');
        expect(await page.textContent('#shadow-summary')).toMatch(/agreement\s*\d+(\.\d)?%/);
        expect(await page.locator('#shadow-confusion tbody tr').count()).toBe(3);
        await page.waitForFunction(() => Number(document.querySelector('#c-shadow')?.getAttribute('data-points')) > 0, undefined, { timeout: 15_000 });
      } finally {
        await browser.close();
      }
    } finally {
      await producer.disconnect();
      expect(await p.stop(), p.output()).toBe(0);
    }
  }, 300_000);

  it('promotion: POST /admin/model with the shadow\'s folder swaps it in through the gate, and the shadow stops', async () => {
    const t: PipelineTopics = { input: uniqueName('shp-in'), output: uniqueName('shp-out'), dlq: uniqueName('shp-dlq'), group: uniqueName('shp-g') };
    const kafka = testKafka();
    await createTopic(kafka, t.input, 3);
    const producer = kafka.producer();
    await producer.connect();
    const p = await startPipeline(pipelineArgs(t, ['--metrics-token', TOKEN, '--shadow-model', dirs.same, '--shadow-sample', '0.5']));
    try {
      const first = await sendSteadily(producer, t.input, 240, 72);
      await collect(kafka, t.output, first.length, { timeoutMs: 90_000 });
      expect(value(await metricsOf(p), 'klassify_shadow_compared_total')).toBeGreaterThan(0);
      const res = await fetch(`${p.url}/admin/model`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ path: dirs.same }) });
      expect(res.status, p.output()).toBe(200);
      expect(await res.json()).toMatchObject({ accepted: true, to: { version: 'shadow-same' } });
      expect(p.output()).toMatch(/shadow model promoted to live; the shadow stopped/);
      const metrics = await metricsOf(p);
      expect(metrics).toMatch(/klassify_model_info\{name="[^"]*",version="shadow-same"/);
      expect(metrics).not.toMatch(/^klassify_shadow_info\{/m);
      const second = await sendSteadily(producer, t.input, 60, 73);
      const out = (await collect(kafka, t.output, first.length + second.length, { timeoutMs: 90_000 })).map((r) => JSON.parse(r.value!.toString()) as ResultRecord);
      const later = new Set(second);
      expect(out.filter((r) => later.has(r.id)).every((r) => r.model.version === 'shadow-same')).toBe(true);
      const report = await runCli(['shadow-report', '--url', p.url, '--metrics-token', TOKEN]);
      expect(report.code).toBe(1);
      expect(report.stderr).toMatch(/KLS_ERR_SHADOW_REPORT/);
    } finally {
      await producer.disconnect();
      expect(await p.stop(), p.output()).toBe(0);
    }
  }, 300_000);
});
