// The brand monitor on a real broker, fed synthetic results (the `brands` field the pipeline writes, so
// no model is needed here): per-brand 1-minute stats equal a ground truth computed from the records; an
// injected 8x volume spike is alerted in its own window; after kill -9 mid-stream and a restart, stats and
// alerts (read_committed) equal the uninterrupted truth with no window and no alert written twice; the
// webhook receiver gets every alert with a valid signature. And the whole use end to end: `klassify start
// --brands` with the shipped model writes the brands fields, `klassify brands` counts them.
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import { chromium } from 'playwright-core';
import { packageRoot } from '../../src/paths.js';
import { signature } from '../../brands/webhook.js';
import { spawnCli } from '../helpers/cli.js';
import { brokers, collect, createTopic, produce, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline } from '../helpers/pipeline.js';

const BRANDS = ['Kestrel', 'Northwind', 'Brewly'];
const BASE = [6, 4, 3];
const MINUTES = 16;
const SPIKE_MINUTE = 13;
const SECRET = 'test-secret';
const PARTITIONS = 3;
const ARTIFACTS = join(packageRoot, 'test-artifacts');
const LABELS = ['negative', 'neutral', 'positive'] as const;

interface Post { id: string; ts: number; partition?: number; brands: { brand: string; label: (typeof LABELS)[number] }[] }

/** The sentinels' event time, after t0: late enough to close the 1-hour window t0 is in, whatever the hour. */
const SENTINEL_MINUTE = 65;

/**
 * Deterministic posts over MINUTES minutes starting 96 minutes ago (a replay: windows close by event time,
 * not by the clock); Kestrel x8 (mostly negative) in SPIKE_MINUTE. The last posts, one per partition at
 * SENTINEL_MINUTE, only move event time on so that every window before them closes, the first 1-hour one
 * too; they are not in the truth.
 */
function posts(): Post[] {
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - (SENTINEL_MINUTE + 31) * 60_000;
  const out: Post[] = [];
  for (let m = 0; m < MINUTES; m++) {
    BRANDS.forEach((brand, b) => {
      let n = BASE[b]! + ((m * 7 + b * 3) % 3) - 1;
      if (brand === 'Kestrel' && m === SPIKE_MINUTE) n *= 8;
      for (let i = 0; i < n; i++) {
        const label = brand === 'Kestrel' && m === SPIKE_MINUTE ? (i % 4 === 0 ? 'neutral' : 'negative') : LABELS[(i + m + b) % 3]!;
        const post: Post = { id: `p-${m}-${b}-${i}`, ts: t0 + m * 60_000 + ((i * 977) % 59_000), brands: [{ brand, label }] };
        // Every fifth post names a second brand too (share of voice counts it for both).
        if (i % 5 === 4) post.brands.push({ brand: BRANDS[(b + 1) % 3]!, label: 'neutral' });
        out.push(post);
      }
    });
  }
  out.sort((a, b) => a.ts - b.ts);
  // One per partition: the watermark is the lowest partition's event time.
  for (let p = 0; p < PARTITIONS; p++) out.push({ id: `sentinel-${p}`, partition: p, ts: t0 + SENTINEL_MINUTE * 60_000, brands: [{ brand: 'Brewly', label: 'neutral' }] });
  return out;
}

/** Per brand and window of `size` that the sentinels close: count, labels and share of voice. */
function truth(all: Post[], size: '1m' | '1h' = '1m'): Map<string, { count: number; labels: Record<string, number>; shareOfVoice: number }> {
  const ms = size === '1m' ? 60_000 : 3_600_000;
  const watermark = all.find((p) => p.id.startsWith('sentinel'))!.ts;
  const cells = new Map<string, { count: number; labels: Record<string, number> }>();
  const totals = new Map<number, number>();
  for (const p of all) {
    if (p.id.startsWith('sentinel')) continue;
    const start = Math.floor(p.ts / ms) * ms;
    if (start + ms + 30_000 > watermark) continue;
    for (const m of p.brands) {
      const key = `${m.brand}|${size}|${start}`;
      const c = cells.get(key) ?? { count: 0, labels: { negative: 0, neutral: 0, positive: 0 } };
      c.count++;
      c.labels[m.label]!++;
      cells.set(key, c);
      totals.set(start, (totals.get(start) ?? 0) + 1);
    }
  }
  return new Map([...cells].map(([k, c]) => [k, { ...c, shareOfVoice: c.count / totals.get(Number(k.split('|')[2]))! }]));
}

/** Results from minute SWAP_MINUTE on come from model v2: a hot swap, which the dashboard marks. */
const SWAP_MINUTE = 8;

function resultValue(p: Post): string {
  const version = Number(p.id.split('-')[1]) >= SWAP_MINUTE ? 'v2' : 'v1';
  return JSON.stringify({ id: p.id, label: 'neutral', ts: p.ts, model: { name: 'm', version, target: 'cpu' }, brands: p.brands.map((m) => ({ ...m, alias: m.brand, start: 0, end: 1, scores: {}, context: contextOf(p.id, m.brand) })) });
}

/** The words each synthetic result carries for a brand (the pipeline writes the mention's clause). */
function contextOf(id: string, brand: string): string {
  return `post ${id} says this about ${brand}`;
}

let receiver: Server;
let receiverUrl = '';
/** Deliveries by webhook path: each test posts to its own (alert ids repeat across tests in one minute). */
const received: { path: string; key: string; valid: boolean }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ path: req.url ?? '', key: String(req.headers['idempotency-key']), valid: req.headers['x-klassify-signature'] === signature(body, SECRET) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const a = receiver.address() as { port: number };
  receiverUrl = `http://127.0.0.1:${a.port}/hook`;
});
afterAll(() => new Promise<void>((r) => receiver.close(() => r())));

function brandsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'klassify-brands-'));
  const file = join(dir, 'brands.json');
  writeFileSync(file, JSON.stringify({ brands: BRANDS.map((name) => ({ name, aliases: [name] })) }));
  return file;
}

async function produceResults(kafka: Kafka, topic: string, list: Post[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < list.length; i += 200) await producer.send({ topic, messages: list.slice(i, i + 200).map((p) => ({ key: p.id, value: resultValue(p), ...(p.partition === undefined ? {} : { partition: p.partition }) })) });
  await producer.disconnect();
}

function startMonitor(args: string[]): { stop: (signal?: NodeJS.Signals) => Promise<number | null>; output: () => string; url: () => Promise<string> } {
  const child = spawnCli(['brands', '--brokers', brokers().join(','), '--metrics-port', '0', '--session-timeout-ms', '6000', ...args]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  return {
    output: () => out,
    /** Its server's base URL, once it says it is running (state restored). */
    url: async () => {
      for (let i = 0; ; i++) {
        const m = /dashboard\s+(http:\/\/\S+?)\/brands\s/.exec(out);
        if (m?.[1]) return m[1];
        if (i > 1200 || child.exitCode !== null) throw new Error(`klassify brands never said it was running:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The monitor creates its topics (the stats and state ones compacted); readers wait for them. */
async function topicsExist(kafka: Kafka, names: string[], output: () => string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (let i = 0; ; i++) {
      const have = new Set(await admin.listTopics());
      if (names.every((n) => have.has(n))) return;
      if (i > 600) throw new Error(`topics ${names.join(', ')} never appeared; monitor said:\n${output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

async function check(kafka: Kafka, t: { stats: string; alerts: string; group: string }, all: Post[], output: () => string, deliveries: 'once' | 'at least once'): Promise<void> {
  await topicsExist(kafka, [t.stats, t.alerts], output);
  const expected = truth(all);
  const hourly = truth(all, '1h');
  expect(hourly.size, 'the sentinels close at least one 1-hour window').toBeGreaterThan(0);
  for (const [k, v] of hourly) expected.set(k, v);
  const stats = await collect(kafka, t.stats, expected.size, {
    timeoutMs: 120_000,
    readCommitted: true,
    settleMs: 3_000,
    done: (out) => new Set(out.map((r) => r.key).filter((k) => k !== null && expected.has(k))).size >= expected.size,
  });
  const keys = stats.map((r) => r.key!);
  // Exactly once: no window written twice (a restart replays from the committed state, not from scratch).
  expect(keys.length, `duplicate windows; monitor said:\n${output().slice(-3000)}`).toBe(new Set(keys).size);
  for (const [key, want] of expected) {
    const rec = stats.find((r) => r.key === key);
    expect(rec, `${key} missing; monitor said:\n${output().slice(-3000)}`).toBeDefined();
    const got = JSON.parse(rec!.value!.toString()) as { count: number; labels: Record<string, number>; shareOfVoice: number };
    expect(got.count, key).toBe(want.count);
    expect(got.labels, key).toEqual(want.labels);
    expect(got.shareOfVoice, key).toBeCloseTo(want.shareOfVoice, 10);
  }
  const alerts = await collect(kafka, t.alerts, 1, { timeoutMs: 30_000, readCommitted: true, settleMs: 2_000 });
  const parsed = alerts.map((a) => JSON.parse(a.value!.toString()) as { id: string; brand: string; kind: string; window: { start: number }; samplePostIds: string[]; samplePosts: { id: string; text: string | null }[] });
  expect(new Set(parsed.map((a) => a.id)).size).toBe(parsed.length);
  // Each alert quotes its sample posts: the words the results carried for that brand, across a restart too.
  for (const a of parsed) {
    expect(a.samplePosts.map((x) => x.id), a.id).toEqual(a.samplePostIds);
    expect(a.samplePosts.length, a.id).toBeGreaterThan(0);
    for (const x of a.samplePosts) expect(x.text, `${a.id} ${x.id}`).toBe(contextOf(x.id, a.brand));
  }
  const spikeStart = Math.floor(all.find((p) => p.id === `p-${SPIKE_MINUTE}-0-0`)!.ts / 60_000) * 60_000;
  const volume = parsed.filter((a) => a.kind === 'volume' && a.brand === 'Kestrel');
  expect(volume.map((a) => a.window.start)).toEqual([spikeStart]);
  // The steady brands never alert.
  expect(parsed.filter((a) => a.brand !== 'Kestrel')).toEqual([]);
  // Webhook: every alert arrives, signed; without a crash exactly once, after a kill -9 a redelivery (an
  // alert written but not yet acknowledged by the webhook) carries the same idempotency key.
  const mine = (): { key: string; valid: boolean }[] => received.filter((r) => r.path === `/hook/${t.group}`);
  const deadline = Date.now() + 20_000;
  while (parsed.some((a) => !mine().some((r) => r.key === a.id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1_000));
  for (const a of parsed) expect(mine().filter((r) => r.key === a.id).every((r) => r.valid), a.id).toBe(true);
  for (const a of parsed) expect(mine().some((r) => r.key === a.id), `webhook never got ${a.id}`).toBe(true);
  if (deliveries === 'once') for (const a of parsed) expect(mine().filter((r) => r.key === a.id).length, `webhook deliveries of ${a.id}`).toBe(1);
  expect(mine().filter((r) => !parsed.some((a) => a.id === r.key)), 'deliveries of alerts not in the alerts topic').toEqual([]);
}

function topics(prefix: string): { results: string; stats: string; alerts: string; state: string; group: string } {
  return { results: uniqueName(`${prefix}-res`), stats: uniqueName(`${prefix}-stats`), alerts: uniqueName(`${prefix}-alerts`), state: uniqueName(`${prefix}-state`), group: uniqueName(`${prefix}-g`) };
}

function args(t: ReturnType<typeof topics>, file: string): string[] {
  return ['--brands', file, '--results', t.results, '--brands-stats-topic', t.stats, '--brands-alerts-topic', t.alerts,
    '--brands-state-topic', t.state, '--brands-group', t.group, '--brands-webhook-url', `${receiverUrl}/${t.group}`, '--brands-webhook-secret', SECRET];
}

describe('klassify brands', () => {
  it('windows and share of voice equal the ground truth; the injected spike is alerted in its window, once, and signed to the webhook', async () => {
    const kafka = testKafka();
    const t = topics('bm');
    await createTopic(kafka, t.results, PARTITIONS);
    const all = posts();
    await produceResults(kafka, t.results, all);
    const m = startMonitor(args(t, brandsFile()));
    try {
      await check(kafka, t, all, m.output, 'once');
      // The topics as the monitor created them: stats compacted but bounded in time, state compacted.
      const admin = kafka.admin();
      await admin.connect();
      try {
        const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [t.stats, t.state].map((name) => ({ type: ConfigResourceTypes.TOPIC, name })) });
        const conf = (name: string, key: string): string | undefined => resources.find((r) => r.resourceName === name)?.configEntries.find((e) => e.configName === key)?.configValue;
        expect(conf(t.stats, 'cleanup.policy')).toBe('compact,delete');
        expect(Number(conf(t.stats, 'retention.ms'))).toBe(30 * 86_400_000);
        expect(conf(t.state, 'cleanup.policy')).toBe('compact');
      } finally {
        await admin.disconnect();
      }
      // The brand dashboard in a real headless Chromium: both charts drawn, the alert listed with its samples.
      const url = /dashboard\s+(http:\/\/\S+)\/brands/.exec(m.output())?.[1];
      expect(url, m.output()).toBeDefined();
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await page.goto(`${url}/brands`);
        await page.waitForSelector('#conn.ok', { timeout: 15_000 });
        await page.waitForFunction(() => document.querySelectorAll('.uplot').length >= 2, undefined, { timeout: 15_000 });
        const row = await page.textContent('#alerts-table tbody tr');
        expect(row).toContain('Kestrel');
        expect(row).toContain('volume spike');
        // Its sample posts by their words, each with the label towards the brand.
        expect(row).toMatch(/(negative|neutral)post p-13-0-\d+ says this about Kestrel/);
        expect(await page.locator('#sov-table tbody tr').count()).toBe(BRANDS.length);
        // The swap to v2 as one marker, at its first minute.
        const swapAt = new Date(Math.floor(all.find((p) => p.id.startsWith(`p-${SWAP_MINUTE}-`))!.ts / 60_000) * 60_000).toISOString().slice(11, 16);
        expect(await page.locator('#markers li').allTextContents()).toEqual([`${swapAt} UTC: v1 → v2`]);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: join(ARTIFACTS, 'brands.png'), fullPage: true });
        // The 1-hour view: the same charts over the closed hours, share of voice of the last one.
        const [hour] = [...truth(all, '1h').keys()].map((k) => Number(k.split('|')[2])).sort((a, b) => b - a);
        await page.click('#view-1h');
        expect(await page.getAttribute('#view-1h', 'aria-pressed')).toBe('true');
        await page.waitForFunction(() => document.querySelector('.unit')?.textContent === 'hour' && document.querySelectorAll('.uplot').length >= 2, undefined, { timeout: 15_000 });
        const sovHour = await page.locator('#sov-table tbody tr').allTextContents();
        const want = [...truth(all, '1h')].filter(([k]) => k.endsWith(`|${hour}`)).map(([k, v]) => `${k.split('|')[0]!} ${v.count}`).sort();
        expect(sovHour.map((r) => `${/^(.+?)\d/.exec(r)?.[1]} ${/(\d+) mentions/.exec(r)?.[1]}`).sort()).toEqual(want);
        await page.screenshot({ path: join(ARTIFACTS, 'brands-1h.png'), fullPage: true });
      } finally {
        await browser.close();
      }
    } finally {
      expect(await m.stop()).toBe(0);
    }
  }, 240_000);

  it('end to end: klassify start --brands classifies real posts with the shipped model, klassify brands counts what it wrote', async () => {
    const kafka = testKafka();
    const t = topics('bme');
    const pipe = { input: uniqueName('bme-in'), output: t.results, dlq: uniqueName('bme-dlq'), group: uniqueName('bme-pg') };
    await createTopic(kafka, pipe.input, 1);
    await createTopic(kafka, t.results, 1);
    // Issue #12's brands file, and the competitor of its example.
    const file = join(packageRoot, 'test/fixtures/brands/issue-12.json');
    // All in one minute ten minutes ago, and a last post three minutes later that moves event time on so
    // that minute's window closes (its own window stays open, so it is not counted below).
    const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
    const texts = [
      'Switched from Northwind to Kestrel and my bill halved',
      'Kestrel Telecom support fixed my line in ten minutes, brilliant',
      'Lunch at the Copper Kettle was awful, cold soup and rude staff',
      'Watched a Kestrel hover over the field, the bird was amazing',
      '@KestrelTel down again, third time this week. Useless.',
      'what a lovely morning',
      'Northwind raised prices again, cancelling',
    ];
    const inputs = [...texts.map((text, i) => ({ id: `e-${i}`, text, ts: t0 + i * 1_000 })), { id: 'e-last', text: 'Northwind is fine I guess', ts: t0 + 3 * 60_000 }];
    await produce(kafka, pipe.input, inputs.map((p) => ({ key: p.id, value: JSON.stringify(p) })));
    const p = await startPipeline(pipelineArgs(pipe, ['--brands', file]));
    const m = startMonitor(args(t, file));
    try {
      type Result = { id: string; brands: { brand: string; alias: string; label: string; start: number }[]; excludedBrands: { brand: string; phrase: string }[] };
      const results = (await collect(kafka, t.results, inputs.length, { timeoutMs: 90_000 })).map((r) => JSON.parse(r.value!.toString()) as Result);
      const byId = new Map(results.map((r) => [r.id, r]));
      expect(byId.size, p.output()).toBe(inputs.length);
      // The example, towards each brand.
      expect(byId.get('e-0')!.brands.map((b) => [b.brand, b.label, b.start])).toEqual([['Northwind', 'negative', 14], ['Kestrel', 'positive', 27]]);
      expect(byId.get('e-3')).toMatchObject({ brands: [], excludedBrands: [{ brand: 'Kestrel', phrase: 'the bird' }] });
      expect(byId.get('e-5')).toMatchObject({ brands: [], excludedBrands: [] });
      // The monitor's closed 1-minute window equals a tally of the brands fields the pipeline wrote.
      const want = new Map<string, { count: number; labels: Record<string, number> }>();
      for (const r of results.filter((x) => x.id !== 'e-last')) {
        for (const b of r.brands) {
          const cell = want.get(b.brand) ?? { count: 0, labels: { negative: 0, neutral: 0, positive: 0 } };
          cell.count++;
          cell.labels[b.label] = (cell.labels[b.label] ?? 0) + 1;
          want.set(b.brand, cell);
        }
      }
      expect([...want.keys()].sort()).toEqual(['Copper Kettle', 'Kestrel', 'Northwind']);
      await topicsExist(kafka, [t.stats], m.output);
      const key = (brand: string): string => `${brand}|1m|${t0}`;
      const stats = await collect(kafka, t.stats, want.size, {
        timeoutMs: 90_000,
        readCommitted: true,
        done: (out) => [...want.keys()].every((b) => out.some((r) => r.key === key(b))),
      });
      for (const [brand, cell] of want) {
        const rec = stats.find((r) => r.key === key(brand));
        expect(rec, `${key(brand)} missing; monitor said:\n${m.output().slice(-3000)}`).toBeDefined();
        expect(JSON.parse(rec!.value!.toString()), brand).toMatchObject(cell);
      }
    } finally {
      expect(await m.stop()).toBe(0);
      expect(await p.stop(), p.output()).toBe(0);
    }
  }, 300_000);

  it('kill -9 mid-stream: after a restart, stats and alerts equal the uninterrupted truth, nothing twice', async () => {
    const kafka = testKafka();
    const t = topics('bmk');
    await createTopic(kafka, t.results, PARTITIONS);
    const all = posts();
    const file = brandsFile();
    const half = all.filter((p) => p.ts < all[0]!.ts + 9 * 60_000);
    await produceResults(kafka, t.results, half);
    const first = startMonitor(args(t, file));
    // Kill once some windows are out: mid-stream, with open windows and baselines in its state.
    await topicsExist(kafka, [t.stats], first.output);
    const before = await collect(kafka, t.stats, 6, { timeoutMs: 90_000, readCommitted: true });
    expect(await first.stop('SIGKILL')).toBe(-1);
    await produceResults(kafka, t.results, all.slice(half.length));
    const second = startMonitor(args(t, file));
    try {
      // The dashboard's history is back: windows the first run closed (and the second, restored from its
      // state, never closes again) are on the page from the stats topic.
      const url = await second.url();
      const page = (await (await fetch(`${url}/brands/data`)).json()) as { stats: { brand: string; size: string; start: number }[] };
      const shown = new Set(page.stats.map((x) => `${x.brand}|${x.size}|${x.start}`));
      const closedBefore = before.map((r) => r.key!).filter((k) => k.includes('|1m|'));
      expect(closedBefore.length).toBeGreaterThan(0);
      expect(closedBefore.filter((k) => !shown.has(k)), 'windows of the first run missing from the page after the restart').toEqual([]);
      await check(kafka, t, all, () => `${first.output()}\n--- restart ---\n${second.output()}`, 'at least once');
    } finally {
      await second.stop();
    }
  }, 300_000);
});
