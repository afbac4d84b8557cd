// Delivery guarantees under crashes: the pipeline process is killed with SIGKILL mid-stream, again and
// again, and restarted. At-least-once: no input is missing from the output. Exactly-once: every input
// appears exactly once in the read_committed output. The same two guarantees through rebalances under
// load (an instance joins, then one leaves). Graceful stop: what was consumed is committed.
import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { reportFault } from '../helpers/fault-report.js';
import type { ResultRecord } from '../../consumers/messages.js';
import { retrying } from '../../consumers/kafka-client.js';
import { PostGenerator } from '../../src/produce/generator.js';
import { collect, logEndTotal, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline, type PipelineTopics } from '../helpers/pipeline.js';

const N = 6000;
const KILLS = 5;

function topics(prefix: string): PipelineTopics {
  return { input: uniqueName(`${prefix}-in`), output: uniqueName(`${prefix}-out`), dlq: uniqueName(`${prefix}-dlq`), group: uniqueName(`${prefix}-group`) };
}

async function fill(t: PipelineTopics, partitions: number, n = N): Promise<string[]> {
  const kafka = testKafka();
  await createTopic(kafka, t.input, partitions);
  await createTopic(kafka, t.output, partitions);
  const gen = new PostGenerator(3);
  const ids: string[] = [];
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, () => gen.next());
    ids.push(...batch.map((p) => p.id));
    await retrying(() => producer.send({ topic: t.input, messages: batch.map((p) => ({ key: p.id, value: JSON.stringify({ id: p.id, text: p.text }) })) }), 40, 250, true);
  }
  await producer.disconnect();
  return ids;
}


/** The group's committed input offsets: per partition, and their sum (records consumed for good). */
async function committedInput(admin: Admin, t: PipelineTopics): Promise<{ total: number; partitions: { partition: number; offset: string }[] }> {
  const [committed] = await admin.fetchOffsets({ groupId: t.group, topics: [t.input] });
  const partitions = committed?.partitions ?? [];
  return { total: partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0), partitions };
}

/** Starts the pipeline, lets it work a little, kills it with SIGKILL; KILLS times; then runs it to the end. */
async function crashLoop(t: PipelineTopics, extra: string[], readCommitted: boolean): Promise<ResultRecord[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  for (let k = 0; k < KILLS; k++) {
    const p = await startPipeline(pipelineArgs(t, [...extra, '--session-timeout-ms', '6000']));
    // Kill once this run has written something, at a different moment each time: mid-batch,
    // mid-produce, mid-commit, mid-transaction.
    const before = await logEndTotal(admin, t.output);
    for (let i = 0; i < 300 && (await logEndTotal(admin, t.output)) <= before; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 50 + k * 120));
    await p.stop('SIGKILL');
  }
  // The kills must have landed mid-stream: some input was committed, and some was left for the last run.
  const { total: done } = await committedInput(admin, t);
  await admin.disconnect();
  expect(done).toBeGreaterThan(0);
  expect(done).toBeLessThan(N);
  const final = await startPipeline(pipelineArgs(t, [...extra, '--session-timeout-ms', '6000']));
  try {
    return await collectResults(t, N, readCommitted, 180_000);
  } finally {
    expect(await final.stop()).toBe(0);
  }
}

/**
 * The output's results until `n` distinct inputs have one: in at-least-once mode redone copies count
 * too, so `n` records can be there well before the last inputs are.
 */
async function collectResults(t: PipelineTopics, n: number, readCommitted: boolean, timeoutMs: number): Promise<ResultRecord[]> {
  const ids = new Set<string>();
  const out = await collect(testKafka(), t.output, n, {
    timeoutMs,
    readCommitted,
    settleMs: 2_000,
    // Called once per record received: the newest is the last.
    done: (got) => ids.add((JSON.parse(got[got.length - 1]!.value!.toString()) as ResultRecord).id).size >= n,
  });
  return out.map((r) => JSON.parse(r.value!.toString()) as ResultRecord);
}

/** Sum of a counter over its label sets in a /metrics page. */
function counterTotal(metrics: string, name: string): number {
  let total = 0;
  for (const m of metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1]);
  return total;
}

/**
 * Two rebalances under load: instance A runs alone, B joins mid-stream (A gives up partitions), then A
 * stops gracefully (B takes them all). One worker each and a small in-flight bound make the backlog
 * outlast both rebalances.
 */
async function scaleOutAndIn(t: PipelineTopics, extra: string[], readCommitted: boolean): Promise<ResultRecord[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  // A stopping instance drains what it fetched: a small in-flight bound leaves most of the backlog for B.
  const args = pipelineArgs(t, [...extra, '--workers', '1', '--max-in-flight', '300', '--session-timeout-ms', '6000']);
  const a = await startPipeline(args);
  let b: Awaited<ReturnType<typeof startPipeline>> | undefined;
  try {
    for (let i = 0; i < 600 && (await logEndTotal(admin, t.output)) < 300; i++) await new Promise((r) => setTimeout(r, 50));
    b = await startPipeline(args);
    // B has its share when it has taken records in; only then does A leave.
    let bIn = 0;
    for (let i = 0; i < 600 && bIn === 0; i++) {
      bIn = counterTotal(await (await fetch(`${b.url}/metrics`)).text(), 'klassify_records_in_total');
      if (bIn === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(bIn).toBeGreaterThan(0);
    const aJoins = counterTotal(await (await fetch(`${a.url}/metrics`)).text(), 'klassify_group_joins_total');
    expect(aJoins).toBeGreaterThanOrEqual(2);
    expect(await a.stop('SIGTERM')).toBe(0);
    // Both rebalances happened before the end of the backlog (log-end offsets would count transaction
    // markers too: the group's committed input offsets say how far it got).
    expect((await committedInput(admin, t)).total).toBeLessThan(N);
    return await collectResults(t, N, readCommitted, 180_000);
  } finally {
    await admin.disconnect();
    await a.stop();
    if (b) expect(await b.stop()).toBe(0);
  }
}

const STORM_N = 12_000;

/**
 * A rebalance storm: one instance runs, two more join at once, then one leaves while a fourth joins, then
 * two leave together; the last one drains the rest. Every step is a group rebalance with transactions and
 * fetches in flight on every member.
 */
async function storm(t: PipelineTopics, extra: string[], readCommitted: boolean): Promise<ResultRecord[]> {
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const args = pipelineArgs(t, [...extra, '--workers', '1', '--max-in-flight', '300', '--session-timeout-ms', '6000']);
  const running: Awaited<ReturnType<typeof startPipeline>>[] = [];
  const codes: (number | null)[] = [];
  const leave = async (n: number): Promise<void> => {
    codes.push(...(await Promise.all(running.splice(0, n).map((p) => p.stop('SIGTERM')))));
  };
  try {
    running.push(await startPipeline(args));
    for (let i = 0; i < 600 && (await logEndTotal(admin, t.output)) < 300; i++) await new Promise((r) => setTimeout(r, 50));
    running.push(...(await Promise.all([startPipeline(args), startPipeline(args)])));
    await new Promise((r) => setTimeout(r, 2_000));
    const [, joined] = await Promise.all([leave(1), startPipeline(args)]);
    running.push(joined);
    await new Promise((r) => setTimeout(r, 2_000));
    await leave(2);
    // The storm happened mid-stream: the group had not consumed the whole backlog before the last leave.
    expect((await committedInput(admin, t)).total).toBeLessThan(STORM_N);
    return await collectResults(t, STORM_N, readCommitted, 240_000);
  } finally {
    await admin.disconnect();
    await leave(running.length);
    expect(codes, 'every instance stops cleanly').toEqual(codes.map(() => 0));
  }
}

describe('delivery under crashes', () => {
  it(`at-least-once: ${KILLS} SIGKILLs mid-stream, no input missing from the output`, async () => {
    const t = topics('alo');
    const ids = await fill(t, 3);
    const results = await crashLoop(t, ['--delivery', 'at-least-once'], false);
    reportFault(`${KILLS} SIGKILLs mid-stream`, 'at-least-once', ids, results.map((r) => r.id));
    const seen = new Set(results.map((r) => r.id));
    const missing = ids.filter((id) => !seen.has(id));
    expect(missing).toEqual([]);
    // Duplicates are allowed here, but each is a real redo of a record, never a made-up one.
    expect(results.every((r) => ids.includes(r.id))).toBe(true);
  }, 600_000);

  it(`exactly-once: ${KILLS} SIGKILLs mid-stream, every input exactly once in the read_committed output`, async () => {
    const t = topics('eos');
    const ids = await fill(t, 3);
    const results = await crashLoop(t, ['--delivery', 'exactly-once'], true);
    reportFault(`${KILLS} SIGKILLs mid-stream`, 'exactly-once', ids, results.map((r) => r.id));
    const counts = new Map<string, number>();
    for (const r of results) counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
    expect(ids.filter((id) => counts.get(id) !== 1)).toEqual([]);
    expect(results).toHaveLength(N);
  }, 600_000);

  it('heartbeats keep flowing while one worker drains a backlog far longer than the session timeout: no rebalance', async () => {
    const t = topics('heartbeat');
    // Three times the usual backlog: one worker drained 6,000 in 11 s on a fast CI machine, under the
    // two session timeouts this test needs the drain to span.
    const n = 3 * N;
    await fill(t, 3, n);
    const kafka = testKafka();
    // One worker and 64-record batches: the drain takes many session timeouts (6 s). A consumer whose
    // handler blocked for the inference would miss heartbeats and be thrown out of the group.
    const p = await startPipeline(pipelineArgs(t, ['--session-timeout-ms', '6000', '--workers', '1', '--batch-max-size', '64']));
    const started = Date.now();
    try {
      const out = await collect(kafka, t.output, n, { timeoutMs: 240_000 });
      expect(out).toHaveLength(n);
      expect(Date.now() - started).toBeGreaterThan(2 * 6000);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      expect(/^klassify_group_joins_total (\d+)/m.exec(metrics)?.[1]).toBe('1');
      expect(metrics).not.toMatch(/klassify_records_redone_total\{reason="rebalance"\}/);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  }, 300_000);

  it('backpressure: past --max-in-flight fetching pauses, in-flight stays bounded, and it resumes to the end', async () => {
    const t = topics('backpressure');
    await fill(t, 3);
    const kafka = testKafka();
    const p = await startPipeline(pipelineArgs(t, ['--max-in-flight', '20']));
    let maxInFlight = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await (await fetch(`${p.url}/metrics`)).text();
        maxInFlight = Math.max(maxInFlight, Number(/^klassify_in_flight_records (\d+)/m.exec(m)?.[1] ?? 0));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const out = await collect(kafka, t.output, N, { timeoutMs: 240_000 });
      sampling = false;
      await sampler;
      // On a short count, say what the pipeline said and where its counters stood.
      const diagnosis = out.length === N ? '' : `pipeline output:\n${p.output()}\nmetrics:\n${(await (await fetch(`${p.url}/metrics`)).text()).split('\n').filter((l) => l.startsWith('klassify_')).join('\n')}`;
      expect(out, diagnosis).toHaveLength(N);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      expect(Number(/^klassify_fetch_pauses_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      // The bound plus at most one fetch (128 KB a partition) of ~100-byte posts.
      expect(maxInFlight).toBeGreaterThan(0);
      expect(maxInFlight).toBeLessThan(20 + 3 * 1400);
    } finally {
      sampling = false;
      expect(await p.stop()).toBe(0);
    }
  }, 300_000);

  it('backpressure by bytes: 50 KB posts past --max-in-flight-bytes pause fetching, bytes in flight stay bounded, it resumes to the end', async () => {
    const t = topics('bp-bytes');
    const kafka = testKafka();
    await createTopic(kafka, t.input, 3);
    await createTopic(kafka, t.output, 3);
    const gen = new PostGenerator(5);
    const COUNT = 240;
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < COUNT; i += 10) {
      const posts = Array.from({ length: 10 }, () => gen.next());
      // ~50 KB each, under --max-text-bytes (64 KB): 12 MB in all, twelve times the bound below.
      await producer.send({ topic: t.input, messages: posts.map((p) => ({ key: p.id, value: JSON.stringify({ id: p.id, text: `${p.text} `.repeat(Math.ceil(50_000 / (p.text.length + 1))).slice(0, 50_000) }) })) });
    }
    await producer.disconnect();
    const BOUND = 1024 * 1024;
    const p = await startPipeline(pipelineArgs(t, ['--max-in-flight-bytes', String(BOUND)]));
    let maxBytes = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const m = await (await fetch(`${p.url}/metrics`)).text();
        maxBytes = Math.max(maxBytes, Number(/^klassify_in_flight_bytes (\d+)/m.exec(m)?.[1] ?? 0));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      const out = await collect(kafka, t.output, COUNT, { timeoutMs: 240_000 });
      sampling = false;
      await sampler;
      expect(out).toHaveLength(COUNT);
      const metrics = await (await fetch(`${p.url}/metrics`)).text();
      expect(Number(/^klassify_fetch_pauses_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      // The bound plus at most one fetch (1 MB in all) that was under way when it was reached.
      expect(maxBytes).toBeGreaterThan(0);
      expect(maxBytes).toBeLessThan(BOUND + 1.2 * 1024 * 1024);
    } finally {
      sampling = false;
      expect(await p.stop()).toBe(0);
    }
  }, 300_000);

  it('rebalances under load (an instance joins, then one leaves): at-least-once, no input missing', async () => {
    const t = topics('rebalance-alo');
    const ids = await fill(t, 4);
    const results = await scaleOutAndIn(t, [], false);
    reportFault('rebalances: an instance joins, one leaves', 'at-least-once', ids, results.map((r) => r.id));
    expect(new Set(results.map((r) => r.id))).toEqual(new Set(ids));
  }, 300_000);

  it.each([
    ['at-least-once', false],
    ['exactly-once', true],
  ] as const)('rebalance storm (%s): 3 instances join and leave mid-stream, nothing lost, nothing twice in exactly-once', async (delivery, eos) => {
    const t = topics(`storm-${eos ? 'eos' : 'alo'}`);
    const ids = await fill(t, 6, STORM_N);
    const results = await storm(t, ['--delivery', delivery], eos);
    reportFault('rebalance storm: 3 instances joining and leaving', delivery, ids, results.map((r) => r.id));
    const seen = new Set(results.map((r) => r.id));
    expect(ids.filter((id) => !seen.has(id)), 'inputs missing from the output').toEqual([]);
    if (eos) expect(results.length, 'results written twice').toBe(ids.length);
  }, 400_000);

  it('rebalances under load in exactly-once mode: every input exactly once in the read_committed output', async () => {
    const t = topics('rebalance-eos');
    const ids = await fill(t, 4);
    const results = await scaleOutAndIn(t, ['--delivery', 'exactly-once'], true);
    reportFault('rebalances: an instance joins, one leaves', 'exactly-once', ids, results.map((r) => r.id));
    expect(results.map((r) => r.id).sort()).toEqual([...ids].sort());
  }, 300_000);

  it('graceful stop mid-stream: every consumed record is written and committed, nothing twice', async () => {
    const t = topics('graceful');
    await fill(t, 3);
    const kafka = testKafka();
    const p = await startPipeline(pipelineArgs(t));
    await collect(kafka, t.output, 200, { timeoutMs: 60_000 });
    const code = await p.stop('SIGTERM');
    expect(code, `exit code ${code}; klassify said:\n${p.output().slice(-4000)}`).toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    const { total: committedTotal, partitions } = await committedInput(admin, t);
    await admin.disconnect();
    const out = await collect(kafka, t.output, N, { timeoutMs: 5_000 });
    const results = out.map((r) => JSON.parse(r.value!.toString()) as ResultRecord);
    expect(committedTotal).toBeGreaterThan(0);
    expect(results).toHaveLength(committedTotal);
    for (const part of partitions) {
      const offsets = results.filter((r) => r.source.partition === part.partition).map((r) => r.source.offset).sort((a, b) => a - b);
      expect(offsets).toEqual(Array.from({ length: Number(part.offset) }, (_, i) => i));
    }
  }, 180_000);
});
