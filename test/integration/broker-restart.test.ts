// A broker restart under load, as a user saw it: the (only) broker is killed with SIGKILL mid-stream,
// stays away for 20 s and is started again. klassify must resume by itself: nothing lost (both modes),
// nothing written twice in exactly-once mode, and /readyz false while the broker is gone, true after.
// This test runs its own broker (the shared one serves the other test files), on ports of its own.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { ResultRecord } from '../../consumers/messages.js';
import { defaultHome } from '../../src/paths.js';
import { freePort } from '../../src/services/daemon.js';
import { kafkaDown, kafkaStatus, kafkaUp } from '../../src/services/kafka.js';
import { PostGenerator } from '../../src/produce/generator.js';
import { collect, logEndTotal, testKafka, uniqueName, type Collected } from '../helpers/kafka.js';
import { reportFault } from '../helpers/fault-report.js';
import { startPipeline, type RunningPipeline } from '../helpers/pipeline.js';

const N = 6000;
const OUTAGE_MS = 20_000;
const home = defaultHome();
const instance = `restart-${process.pid}`;
let ports: { port: number; controllerPort: number };
let bootstrap = '';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  ports = { port: await freePort(), controllerPort: await freePort() };
  bootstrap = (await kafkaUp({ home, instance, ...ports })).bootstrap ?? '';
}, 180_000);

afterAll(async () => {
  await kafkaDown({ home, instance, purge: true });
}, 60_000);

async function fill(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 6, replicationFactor: 1 }] });
  await admin.disconnect();
  const gen = new PostGenerator(11);
  const ids: string[] = [];
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < N; i += 500) {
    const batch = Array.from({ length: 500 }, () => gen.next());
    ids.push(...batch.map((p) => p.id));
    await producer.send({ topic, messages: batch.map((p) => ({ key: p.id, value: JSON.stringify({ id: p.id, text: p.text }) })) });
  }
  await producer.disconnect();
  return ids;
}

async function readyz(p: RunningPipeline): Promise<boolean> {
  const r = await fetch(`${p.url}/readyz`).catch(() => undefined);
  return r?.ok === true;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, p: RunningPipeline): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in ${timeoutMs} ms; pipeline said:\n${p.output().slice(-4000)}`);
    await sleep(250);
  }
}


async function outage(delivery: 'at-least-once' | 'exactly-once'): Promise<void> {
  const kafka = testKafka(uniqueName('restart'), [bootstrap]);
  const t = { input: uniqueName('rs-in'), output: uniqueName('rs-out'), dlq: uniqueName('rs-dlq'), group: uniqueName('rs-g') };
  const ids = await fill(kafka, t.input);
  const p = await startPipeline(['start', '--brokers', bootstrap, '--input', t.input, '--output', t.output, '--dlq', t.dlq,
    '--group', t.group, '--metrics-port', '0', '--workers', '2', '--delivery', delivery, '--session-timeout-ms', '6000']);
  let code: number | null;
  try {
    await until('a quarter of the results', async () => (await logEndTotal(kafka, t.output)) >= N / 4, 120_000, p);
    const status = await kafkaStatus({ home, instance });
    expect(status.pid).toBeGreaterThan(0);
    process.kill(status.pid as number, 'SIGKILL');
    const killedAt = Date.now();
    await until('/readyz false while the broker is gone', async () => !(await readyz(p)), OUTAGE_MS, p);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - killedAt)));
    await kafkaUp({ home, instance, ...ports });
    // At-least-once may write some twice: read until every input is there, not until N records came.
    const distinct = new Set<string>();
    const got: string[] = [];
    const where = new Map<string, string[]>();
    const idOf = (r: Collected): string => (JSON.parse(r.value!.toString()) as ResultRecord).id;
    const out = await collect(kafka, t.output, N, {
      timeoutMs: 180_000,
      readCommitted: delivery === 'exactly-once',
      settleMs: 2_000,
      done: (out) => {
        for (let i = got.length; i < out.length; i++) {
          got.push(idOf(out[i]!));
          distinct.add(got[i]!);
        }
        return distinct.size >= N;
      },
    });
    // `done` sees every record, those of the settle time too: a duplicate arriving late is counted.
    if (distinct.size < N) throw new Error(`${delivery}: ${distinct.size} of ${N} results after the restart; pipeline said:\n${p.output().slice(-4000)}`);
    reportFault(`broker killed (SIGKILL) for ${OUTAGE_MS / 1000} s mid-stream, restarted`, delivery, ids, got);
    expect([...distinct].sort()).toEqual([...ids].sort());
    if (delivery === 'exactly-once' && got.length !== N) {
      // Where each copy of a twice-written input sits in the output: the evidence a fix starts from.
      for (const r of out) where.set(idOf(r), [...(where.get(idOf(r)) ?? []), `${r.partition}@${r.offset}`]);
      const twice = [...where].filter(([, at]) => at.length > 1).slice(0, 10);
      // And the broker's word on skipped transaction markers (KAFKA-20734), which consumers/txn-settle.ts
      // exists for: its folder is purged after the run.
      const logFile = (await kafkaStatus({ home, instance })).logFile;
      const skipped = logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter((l) => /likely deleted|transaction markers/i.test(l)).slice(-10) : [];
      throw new Error(`exactly-once wrote ${got.length - N} result(s) twice, e.g. ${JSON.stringify(twice)}; broker log on markers:\n${skipped.join('\n') || '(none)'}\npipeline said:\n${p.output().slice(-6000)}`);
    }
    await until('/readyz true after the restart', () => readyz(p), 60_000, p);
  } finally {
    // Stopped either way; a failure above is the one reported.
    code = await p.stop();
  }
  expect(code, `exit code; pipeline said:\n${p.output().slice(-3000)}`).toBe(0);
}

describe('broker killed for 20 s mid-stream and started again', () => {
  it('at-least-once resumes by itself and loses nothing', async () => {
    await outage('at-least-once');
  }, 420_000);

  it('exactly-once resumes by itself, loses nothing and writes nothing twice', async () => {
    await outage('exactly-once');
  }, 420_000);
});
