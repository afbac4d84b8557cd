// A zombie in exactly-once mode: two instances share a group under steady load; one is frozen with
// SIGSTOP while its transactions are in flight, the group moves its partitions to the other (session
// timeout), and the frozen one is resumed with SIGCONT. It wakes up believing it still owns its
// partitions, with an open transaction and results for records the other instance has since redone.
// Fencing (a new owner inits every partition's transactional id before reading offsets) must make
// every write of the zombie fail: the read_committed output holds each input exactly once. Several
// freezes in one run, alternating between the two instances.
import type { Admin, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../consumers/messages.js';
import { reportFault } from '../helpers/fault-report.js';
import { collect, logEndTotal, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { steadyLoad } from '../helpers/load.js';
import { pipelineArgs, startPipeline, type PipelineTopics, type RunningPipeline } from '../helpers/pipeline.js';

const PARTITIONS = 4;
const FREEZES = 4;
const SESSION_TIMEOUT_MS = 6_000;
/** Steady input, well below what two instances drain, so both always have transactions in flight. */
const RATE_PER_S = 150;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));



async function grows(admin: Admin, topic: string, by: number, timeoutMs: number, what: string, logs: () => string): Promise<void> {
  const start = await logEndTotal(admin, topic);
  const deadline = Date.now() + timeoutMs;
  while ((await logEndTotal(admin, topic)) < start + by) {
    if (Date.now() > deadline) throw new Error(`${what}: the output did not grow by ${by} in ${timeoutMs} ms\n${logs().slice(-4000)}`);
    await sleep(200);
  }
}

describe('exactly-once with a zombie instance (SIGSTOP / SIGCONT)', () => {
  it(`${FREEZES} or more freezes mid-stream: every input exactly once in the read_committed output`, async () => {
    const t: PipelineTopics = { input: uniqueName('zb-in'), output: uniqueName('zb-out'), dlq: uniqueName('zb-dlq'), group: uniqueName('zb-g') };
    const kafka: Kafka = testKafka();
    await createTopic(kafka, t.input, PARTITIONS);
    await createTopic(kafka, t.output, PARTITIONS);
    const admin = kafka.admin();
    await admin.connect();
    // Idempotent, so a retried send cannot put one post into the input twice (that would be the input's
    // duplicate, not klassify's); the check below counts input records by offset anyway.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const args = pipelineArgs(t, ['--delivery', 'exactly-once', '--workers', '1', '--session-timeout-ms', String(SESSION_TIMEOUT_MS)]);
    const instances: RunningPipeline[] = [];
    const logs = (): string => instances.map((p, i) => `--- instance ${i}:\n${p.output().slice(-3000)}`).join('\n');
    const load = steadyLoad(producer, t.input, { ratePerSec: RATE_PER_S, seed: 21 });
    let ids: string[] = [];
    try {
      instances.push(await startPipeline(args), await startPipeline(args));
      await grows(admin, t.output, 300, 60_000, 'both instances running', logs);
      const startedAt = instances.map((p) => p.output().length);
      // A zombie write refused as fenced needs a transaction in flight at the freeze; on a loaded machine
      // a frozen instance may be classifying instead. Freeze again (alternating) until one was, up to twice
      // the count.
      const fenced = (): boolean => /old epoch|newer producer|fenced/i.test(instances.map((p, i) => p.output().slice(startedAt[i])).join('\n'));
      for (let k = 0; k < FREEZES || (k < 2 * FREEZES && !fenced()); k++) {
        const zombie = instances[k % 2]!;
        // Transactions are in flight most of the time under this load; the delay varies the moment.
        await sleep(150 + 170 * k);
        zombie.child.kill('SIGSTOP');
        try {
          // The group notices after the session timeout and gives every partition to the live instance,
          // which fences the zombie's transactional ids and goes on from the committed offsets.
          await sleep(SESSION_TIMEOUT_MS);
          await grows(admin, t.output, 300, 90_000, `freeze ${k + 1}: the live instance took over`, logs);
        } finally {
          zombie.child.kill('SIGCONT');
        }
        // The zombie wakes with its old transaction and ledger; it must be refused, rejoin and share again.
        await grows(admin, t.output, 300, 90_000, `freeze ${k + 1}: after the zombie resumed`, logs);
        await sleep(2_000);
      }
      ids = await load.stop();
      // A zombie tried to write after it was fenced and the broker refused it: the scenario really
      // happened. (Logs are rate-limited per stage, so this looks at the whole run, not each freeze.)
      expect(fenced(), `no write of a zombie was refused as fenced\n${logs()}`).toBe(true);
      // Exactly once per input *record*: every input offset has one result, judged by the result's
      // source partition and offset (not by post id, which a client retry could have written twice).
      const inputs = (await admin.fetchTopicOffsets(t.input)).map((p) => ({ partition: p.partition, high: Number(p.high) }));
      const total = inputs.reduce((n, p) => n + p.high, 0);
      expect(total).toBe(ids.length);
      const out = await collect(kafka, t.output, total, {
        timeoutMs: 180_000,
        readCommitted: true,
        settleMs: 3_000,
        done: (got) => got.length >= total,
      });
      const copies = new Map<string, { partition: number; offset: string }[]>();
      for (const r of out) {
        const { source } = JSON.parse(r.value!.toString()) as ResultRecord;
        const key = `${source.partition}@${source.offset}`;
        copies.set(key, [...(copies.get(key) ?? []), { partition: r.partition, offset: r.offset }]);
      }
      const keys = inputs.flatMap((p) => Array.from({ length: p.high }, (_, o) => `${p.partition}@${o}`));
      reportFault(`zombie: ${FREEZES} SIGSTOP/SIGCONT freezes mid-transaction`, 'exactly-once', keys, [...copies].flatMap(([k, c]) => c.map(() => k)));
      const missing = inputs.flatMap((p) => Array.from({ length: p.high }, (_, o) => `${p.partition}@${o}`)).filter((k) => !copies.has(k));
      const twice = [...copies].filter(([, c]) => c.length > 1);
      // On failure: which input records, and where each copy landed in the output (which transaction).
      const detail = `${logs()}\nmissing: ${missing.slice(0, 20).join(' ')}\ntwice: ${twice.slice(0, 20).map(([k, c]) => `${k} -> ${c.map((x) => `out[${x.partition}]@${x.offset}`).join(', ')}`).join('; ')}`;
      expect({ inputs: total, missing: missing.length, duplicated: twice.length }, detail).toEqual({ inputs: total, missing: 0, duplicated: 0 });
      expect(out.length).toBe(total);
    } finally {
      if (ids.length === 0) await load.stop();
      for (const p of instances) p.child.kill('SIGCONT');
      const codes = await Promise.all(instances.map((p) => p.stop()));
      await producer.disconnect();
      await admin.disconnect();
      expect(codes, logs()).toEqual(instances.map(() => 0));
    }
  }, 600_000);
});
