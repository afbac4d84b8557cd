// Scale-out on the real broker, as KEDA would drive it (issue #15): 12 input partitions under steady load,
// one instance, then three (two join at once), then back to one (a SIGTERM at each step down). In both
// delivery modes: no input lost, none written twice in exactly-once (read_committed). Printed per step:
// the longest any record sent around it waited for its result, and the p99 of those waits. kafkajs
// rebalances are eager (every member stops, rejoins, gets a new assignment), so each step is a pause.
import { describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../consumers/messages.js';
import { reportFault } from '../helpers/fault-report.js';
import { steadyLoad } from '../helpers/load.js';
import { collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { kcatSecondOpinion } from '../helpers/kcat.js';
import { pipelineArgs, startPipeline, type PipelineTopics, type RunningPipeline } from '../helpers/pipeline.js';

const PARTITIONS = 12;
const RATE_PER_S = 60;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


interface Step {
  name: string;
  at: number;
}

async function scale(delivery: 'at-least-once' | 'exactly-once'): Promise<void> {
  const eos = delivery === 'exactly-once';
  const t: PipelineTopics = { input: uniqueName('scale-in'), output: uniqueName('scale-out'), dlq: uniqueName('scale-dlq'), group: uniqueName('scale-g') };
  const kafka = testKafka();
  await createTopic(kafka, t.input, PARTITIONS);
  await createTopic(kafka, t.output, PARTITIONS);
  const producer = kafka.producer();
  await producer.connect();
  const args = pipelineArgs(t, ['--delivery', delivery, '--workers', '1', '--session-timeout-ms', '6000']);
  const running: RunningPipeline[] = [];
  const codes: (number | null)[] = [];
  const steps: Step[] = [];
  const load = steadyLoad(producer, t.input, { ratePerSec: RATE_PER_S, seed: 91, prefix: `scale-${eos ? 'e' : 'a'}-` });
  let ids: string[] = [];
  try {
    running.push(await startPipeline(args));
    await sleep(6_000);
    steps.push({ name: '1 -> 3', at: Date.now() });
    running.push(...(await Promise.all([startPipeline(args), startPipeline(args)])));
    await sleep(10_000);
    steps.push({ name: '3 -> 2', at: Date.now() });
    codes.push(await running.shift()!.stop('SIGTERM'));
    await sleep(8_000);
    steps.push({ name: '2 -> 1', at: Date.now() });
    codes.push(await running.shift()!.stop('SIGTERM'));
    await sleep(8_000);
    ids = await load.stop();
    const out = await collect(kafka, t.output, ids.length, {
      timeoutMs: 120_000,
      readCommitted: eos,
      settleMs: 2_000,
      done: (got) => new Set(got.map((r) => (JSON.parse(r.value!.toString()) as ResultRecord).id)).size >= ids.length,
    });
    const results = out.map((r) => ({ r: JSON.parse(r.value!.toString()) as ResultRecord, at: Number(r.timestamp) }));
    reportFault('scale-out 1 -> 3 -> 1 instances, 12 partitions, steady load', delivery, ids, results.map((x) => x.r.id));
    const seen = new Set(results.map((x) => x.r.id));
    expect(ids.filter((id) => !seen.has(id)), 'inputs missing from the output').toEqual([]);
    // A count over can be the reader's: ask a second client where the copies are.
    if (eos) expect(results.length, `results written twice? ${results.length === ids.length ? '' : await kcatSecondOpinion(t.output)}`).toBe(ids.length);
    // Per step: the records sent from 1 s before it to 8 s after, and how long each waited for its result.
    const figures = steps.map((s) => {
      const waits = results.filter((x) => x.r.ts! >= s.at - 1_000 && x.r.ts! < s.at + 8_000).map((x) => x.at - x.r.ts!).sort((a, b) => a - b);
      return { step: s.name, records: waits.length, longestWaitMs: waits[waits.length - 1] ?? 0, p99Ms: waits[Math.ceil(0.99 * waits.length) - 1] ?? 0 };
    });
    process.stdout.write(`scale-out (${delivery}): ${figures.map((f) => `${f.step}: longest wait ${f.longestWaitMs} ms, p99 ${f.p99Ms} ms over ${f.records} records`).join('; ')}\n`);
    // Only a stall fails here: the figures themselves are a report.
    for (const f of figures) expect(f.longestWaitMs, `${f.step}`).toBeLessThan(60_000);
  } finally {
    if (ids.length === 0) await load.stop();
    await producer.disconnect();
    codes.push(...(await Promise.all(running.splice(0).map((p) => p.stop('SIGTERM')))));
    expect(codes, 'every instance stops cleanly').toEqual(codes.map(() => 0));
  }
}

describe('scale-out 1 -> 3 -> 1 on 12 partitions under steady load', () => {
  it('at-least-once: nothing lost', async () => {
    await scale('at-least-once');
  }, 400_000);

  it('exactly-once: nothing lost, nothing twice', async () => {
    await scale('exactly-once');
  }, 400_000);
});
