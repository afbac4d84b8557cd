// Changing the model without a restart, on the real broker, as a user would: `klassify start` under
// steady load, then POST /admin/model with a copy of the model under another version. Every input record
// is classified once (read_committed in exactly-once mode; at least once otherwise), the versions in the
// output switch once per partition and never back, and the output never pauses for long. A copy with
// damaged weights is refused and the live model keeps serving. Then the folder triggers: --model-watch
// takes a new manifest written into the model folder, and SIGHUP reloads it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../consumers/messages.js';
import { collect, logEndTotal, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { steadyLoad } from '../helpers/load.js';
import { copyModel, damageWeights, editManifest } from '../helpers/model-copies.js';
import { pipelineArgs, startPipeline, type PipelineTopics, type RunningPipeline } from '../helpers/pipeline.js';

const TOKEN = 'swap-test-token';
const RATE_PER_S = 100;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


async function postModel(url: string, path: string, token = TOKEN): Promise<{ status: number; body: { accepted: boolean; code?: string; to?: { version: string }; from?: { version: string } } }> {
  const res = await fetch(`${url}/admin/model`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ path }) });
  return { status: res.status, body: (await res.json()) as { accepted: boolean } };
}


async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms\n${logs().slice(-4000)}`);
    await sleep(200);
  }
}

describe('hot swap of the model under load (klassify start, real broker)', () => {
  let root: string;
  const dirs = { v2: '', damaged: '' };
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'klassify-model-swap-'));
    dirs.v2 = copyModel(root, 'v2', (m) => (m.version = 'swap-v2'));
    dirs.damaged = copyModel(root, 'damaged', (m, dir) => {
      m.version = 'swap-damaged';
      damageWeights(dir);
    });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    ['at-least-once', false],
    ['exactly-once', true],
  ] as const)('%s: POST /admin/model swaps once, each input classified once, versions switch once, a damaged model is refused', async (delivery, eos) => {
    const t: PipelineTopics = { input: uniqueName('swap-in'), output: uniqueName('swap-out'), dlq: uniqueName('swap-dlq'), group: uniqueName('swap-g') };
    const kafka = testKafka();
    await createTopic(kafka, t.input, 3);
    await createTopic(kafka, t.output, 3);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    let p: RunningPipeline | undefined;
    const logs = (): string => p?.output() ?? '';
    const load = steadyLoad(producer, t.input, { ratePerSec: RATE_PER_S, seed: 33 });
    let sent = 0;
    try {
      p = await startPipeline(pipelineArgs(t, ['--delivery', delivery, '--metrics-token', TOKEN]));
      await until('results flowing', async () => (await logEndTotal(kafka, t.output)) > 300, 60_000, logs);
      const flowingAt = Date.now();
      const before = (await fetch(`${p.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text()));
      const oldVersion = /klassify_model_info\{name="[^"]*",version="([^"]*)"/.exec(before)?.[1];
      expect(oldVersion).toBeDefined();

      // Without the token, nothing happens.
      expect((await postModel(p.url, dirs.v2, 'wrong')).status).toBe(401);
      const askedAt = Date.now();
      const swapped = await postModel(p.url, dirs.v2);
      expect(swapped, logs()).toMatchObject({ status: 200, body: { accepted: true, from: { version: oldVersion }, to: { version: 'swap-v2' } } });
      await sleep(2_000);
      const damaged = await postModel(p.url, dirs.damaged);
      expect(damaged.status).toBe(422);
      expect(damaged.body).toMatchObject({ accepted: false, code: 'KLS_ERR_SWAP_LOAD' });
      await sleep(2_000);
      sent = (await load.stop()).length;
      const metrics = await (await fetch(`${p.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(metrics).toMatch(/klassify_model_info\{name="[^"]*",version="swap-v2"/);
      expect(metrics).toMatch(/klassify_model_swaps_total\{result="accepted",code=""\} 1/);
      expect(metrics).toMatch(/klassify_model_swaps_total\{result="refused",code="KLS_ERR_SWAP_LOAD"\} 1/);

      const out = await collect(kafka, t.output, sent, { timeoutMs: 120_000, readCommitted: eos, settleMs: 2_000, done: (got) => got.length >= sent });
      const copies = new Map<string, number>();
      const byPartition = new Map<number, { version: string; at: number }[]>();
      for (const r of out) {
        const result = JSON.parse(r.value!.toString()) as ResultRecord;
        const key = `${result.source.partition}@${result.source.offset}`;
        copies.set(key, (copies.get(key) ?? 0) + 1);
        byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), { version: result.model.version, at: Number(r.timestamp) }]);
      }
      expect(copies.size, 'input records without a result').toBe(sent);
      if (eos) expect([...copies.values()].filter((n) => n > 1).length, 'input records written twice').toBe(0);
      let longestGapMs = 0;
      // End to end, each record's wait from its send to its result: unlike the gap between results, it
      // does not grow when the test's own producer is starved of CPU (CI runs many suites at once).
      // Records sent while klassify was starting are left out: they waited for the start, not the swap.
      const waits = out.map((r) => [Number(r.timestamp), (JSON.parse(r.value!.toString()) as ResultRecord).ts!] as const).filter(([, sentAt]) => sentAt >= flowingAt);
      const longestWaitMs = Math.max(...waits.map(([at, sentAt]) => at - sentAt));
      for (const [partition, seq] of byPartition) {
        const versions = seq.map((s) => s.version).filter((v, i, a) => i === 0 || a[i - 1] !== v);
        expect(versions, `versions in output partition ${partition}`).toEqual([oldVersion, 'swap-v2']);
        for (let i = 1; i < seq.length; i++) longestGapMs = Math.max(longestGapMs, seq[i]!.at - seq[i - 1]!.at);
      }
      // The old model serves while the candidate loads and is checked: results of the old version keep
      // being written after the swap was asked for and before the first result of the new one.
      const firstNew = Math.min(...out.filter((r) => (JSON.parse(r.value!.toString()) as ResultRecord).model.version === 'swap-v2').map((r) => Number(r.timestamp)));
      const servedMeanwhile = out.filter((r) => Number(r.timestamp) > askedAt && Number(r.timestamp) < firstNew && (JSON.parse(r.value!.toString()) as ResultRecord).model.version === oldVersion).length;
      expect(servedMeanwhile, 'results of the old model while the swap loaded and checked the new one').toBeGreaterThan(0);
      // Steady input at 100/s over 3 partitions. The timings are printed, not asserted (2 cores, alone:
      // longest wait 0.4-0.6 s, about a batch; CI runs many suites on the same broker and cores at once and
      // saw up to 12.6 s in exactly-once mode). The bound only catches a stop of the world.
      process.stdout.write(`model swap (${delivery}): longest pause between results of one partition ${longestGapMs} ms, longest wait of a record ${longestWaitMs} ms, ${servedMeanwhile} results of the old model while the swap ran (${firstNew - askedAt} ms from asking to the first new result)\n`);
      expect(longestWaitMs).toBeLessThan(60_000);
    } finally {
      if (sent === 0) await load.stop();
      await producer.disconnect();
      if (p) expect(await p.stop(), logs()).toBe(0);
    }
  }, 300_000);

  it('--model-watch takes a new manifest written into the model folder, and SIGHUP reloads the folder', async () => {
    const t: PipelineTopics = { input: uniqueName('watch-in'), output: uniqueName('watch-out'), dlq: uniqueName('watch-dlq'), group: uniqueName('watch-g') };
    const kafka = testKafka();
    await createTopic(kafka, t.input, 2);
    const dir = copyModel(root, 'watched', (m) => (m.version = 'watch-v1'));
    const producer = kafka.producer();
    await producer.connect();
    const load = steadyLoad(producer, t.input, { ratePerSec: RATE_PER_S, seed: 33 });
    let p: RunningPipeline | undefined;
    try {
      p = await startPipeline(pipelineArgs(t, ['--model', dir, '--model-watch']));
      const running = p;
      await until('results flowing', async () => (await logEndTotal(kafka, t.output)) > 200, 60_000, running.output);
      // What a new compile into the same folder does last: a new manifest.
      editManifest(dir, (m) => (m.version = 'watch-v2'));
      await until('the watch swapped to watch-v2', () => /model swap \(watch\): watch-v1 -> watch-v2/.test(running.output()), 60_000, running.output);
      editManifest(dir, (m) => (m.version = 'watch-v3'));
      running.child.kill('SIGHUP');
      await until('SIGHUP swapped to watch-v3', () => /model swap \(sighup\): watch-v2 -> watch-v3/.test(running.output()), 60_000, running.output);
      // The load goes on until watch-v3 has written results: records in flight at the swap finish on v2,
      // and a caught-up pipeline may have nothing else in flight when the swap lands (CI once stopped the
      // load right there and got no v3 result at all).
      const isV3 = (r: { value: Buffer | null }): boolean => (JSON.parse(r.value!.toString()) as ResultRecord).model.version === 'watch-v3';
      await collect(kafka, t.output, Number.MAX_SAFE_INTEGER, { timeoutMs: 60_000, done: (out) => isV3(out[out.length - 1]!) });
      const sent = (await load.stop()).length;
      const out = await collect(kafka, t.output, sent, { timeoutMs: 60_000 });
      const versions = new Set(out.map((r) => (JSON.parse(r.value!.toString()) as ResultRecord).model.version));
      expect(versions).toEqual(new Set(['watch-v1', 'watch-v2', 'watch-v3']));
      // The process was not stopped by SIGHUP (its default action) and still stops cleanly.
      expect(running.child.exitCode).toBeNull();
    } finally {
      await load.stop().catch(() => undefined);
      await producer.disconnect();
      if (p) expect(await p.stop(), p.output()).toBe(0);
    }
  }, 300_000);
});
