// The Kafka phases of the benchmark: the pipeline (and the naive baseline) run as their own processes
// against a real broker; this process feeds them and reads the results.
//
// Time is read from the broker: input records carry their scheduled send time as CreateTime, and the
// output topic is created with message.timestamp.type=LogAppendTime, so each result's timestamp is the
// moment the broker appended it. Latency = output append time - input time, per record.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { PostGenerator } from '../src/produce/generator.js';
import { packageRoot } from '../src/paths.js';

export interface Topics {
  input: string;
  output: string;
  dlq: string;
  group: string;
}

/** What every Kafka bench phase is given by bench/run.ts. */
export interface PhaseOptions {
  kafka: Kafka;
  admin: Admin;
  brokers: string[];
  modelDir: string;
  quick: boolean;
  outDir: string;
  log: (line: string) => void;
}

export function benchTopics(tag: string): Topics {
  const id = `${tag}-${Date.now().toString(36)}`;
  return { input: `bench-${id}-in`, output: `bench-${id}-out`, dlq: `bench-${id}-dlq`, group: `bench-${id}` };
}

export function benchKafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'klassify-bench', brokers, logLevel: logLevel.NOTHING });
}

export async function createTopics(admin: Admin, t: Topics, partitions: number): Promise<void> {
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: t.input, numPartitions: partitions, replicationFactor: 1 },
      { topic: t.output, numPartitions: partitions, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
      { topic: t.dlq, numPartitions: 1, replicationFactor: 1 },
    ],
  });
}

/** Writes n generated posts as fast as possible (the backlog a drain test consumes). */
export async function fillBacklog(kafka: Kafka, topic: string, n: number, seed = 1): Promise<void> {
  const gen = new PostGenerator(seed, 'b');
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < n; i += 1000) {
    const messages = Array.from({ length: Math.min(1000, n - i) }, () => {
      const p = gen.next();
      return { key: p.brand, value: JSON.stringify({ id: p.id, text: p.text }) };
    });
    await producer.send({ topic, messages, acks: -1 });
  }
  await producer.disconnect();
}

export interface ProcessHandle {
  child: ChildProcess;
  /** Its metrics and dashboard server. */
  url: string;
  output: () => string;
  peakRssBytes: () => number;
  stop: () => Promise<number | null>;
}

function peakRssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Starts `klassify start` as a user would (built CLI, own process) and waits until /readyz says ready. */
export async function startPipelineProcess(brokers: string[], t: Topics, extra: string[] = []): Promise<ProcessHandle> {
  const cli = join(packageRoot, 'dist', 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [cli, 'start', '--brokers', brokers.join(','), '--input', t.input, '--output', t.output, '--dlq', t.dlq, '--group', t.group, '--metrics-port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 120_000;
  let url = '';
  while (!url) {
    const m = /dashboard\s+(http:\/\/\S+?)\/\s/.exec(out);
    if (m?.[1]) url = m[1];
    else if (child.exitCode !== null || Date.now() > deadline) throw new Error(`klassify start did not come up:\n${out}`);
    else await new Promise((r) => setTimeout(r, 100));
  }
  while (!(await fetch(`${url}/readyz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`klassify start never became ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url,
    output: () => out,
    peakRssBytes: () => peakRssOf(child.pid),
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Observed {
  /** Broker append time of each output record (ms). */
  appendTimes: number[];
  /** Append time minus the input record's time, per output record (ms), in input-time order. */
  latenciesMs: number[];
  /** Each output record: the input's id, its time (ms, null if it had none), its append time, and the
   *  pipeline's own timings of it (fetched at, queued for a batch, its batch's pool round trip). */
  records: { id: string; ts: number | null; appended: number; timings?: { receivedAt: number; queueMs: number; inferenceMs: number } }[];
}

/** Reads the output topic until `count` results arrived (or the timeout), collecting broker times. */
export async function observeOutput(kafka: Kafka, t: Topics, count: number, timeoutMs: number, onProgress?: (n: number) => void): Promise<Observed> {
  const consumer = kafka.consumer({ groupId: `${t.group}-observer`, maxWaitTimeInMs: 50, minBytes: 1 });
  const appendTimes: number[] = [];
  const pairs: { appended: number; ts: number }[] = [];
  const records: Observed['records'] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: t.output, fromBeginning: true });
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const appended = Number(m.timestamp);
        const r = JSON.parse(m.value?.toString() ?? '{}') as { id?: string; ts?: number | null; timings?: { receivedAt: number; queueMs: number; inferenceMs: number } };
        appendTimes.push(appended);
        records.push({ id: r.id ?? '', ts: typeof r.ts === 'number' ? r.ts : null, appended, timings: r.timings });
        if (typeof r.ts === 'number') pairs.push({ appended, ts: r.ts });
      }
      onProgress?.(appendTimes.length);
      if (appendTimes.length >= count) resolveDone();
    },
  });
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  await consumer.disconnect();
  const latenciesMs = pairs.sort((a, b) => a.ts - b.ts).map((p) => p.appended - p.ts);
  return { appendTimes, latenciesMs, records };
}

/**
 * Open-loop load: record i is due at start + i/rate and carries that due time as its timestamp, whether
 * or not the producer kept up (no coordinated omission: a slow system shows up as latency).
 */
export async function openLoopLoad(kafka: Kafka, topic: string, ratePerSec: number, seconds: number, seed = 2): Promise<{ sent: number; behindMs: number }> {
  const gen = new PostGenerator(seed, 'l');
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const total = Math.round(ratePerSec * seconds);
  const start = Date.now() + 50;
  let sent = 0;
  let behindMs = 0;
  const inFlight = new Set<Promise<unknown>>();
  while (sent < total) {
    const now = Date.now();
    const dueCount = Math.min(total, Math.floor(((now - start) / 1000) * ratePerSec) + 1);
    // Up to five produce requests out at once, as Kafka's own producer sends with linger.ms=0 (its
    // max.in.flight.requests.per.connection): a record due while five are out joins the next request.
    // No wait while the broker keeps up; fewer, fuller requests when it does not.
    if (dueCount > sent && inFlight.size < 5) {
      const messages = [];
      for (let i = sent; i < dueCount; i++) {
        const p = gen.next();
        const due = Math.round(start + (i / ratePerSec) * 1000);
        behindMs = Math.max(behindMs, now - due);
        messages.push({ key: p.brand, value: JSON.stringify({ id: p.id, text: p.text }), timestamp: String(due) });
      }
      sent = dueCount;
      const send = producer.send({ topic, messages, acks: 1 }).finally(() => inFlight.delete(send));
      inFlight.add(send);
    }
    // Wake when the next record is due (timers tick at 1 ms at best) or the request out returns: a coarse
    // tick would add its own wait to every measured latency. Records keep their due time, so any lag of
    // this process still counts as latency.
    const nextDue = start + (sent / ratePerSec) * 1000;
    await Promise.race([...inFlight, new Promise((r) => setTimeout(r, Math.max(1, nextDue - Date.now())))]);
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return { sent, behindMs };
}

/** Polls the topic's log-end offsets until `count` records were written (cheap: no reading). */
export async function waitForOutput(admin: Admin, topic: string, count: number, timeoutMs: number, onProgress?: (n: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const written = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    onProgress?.(written);
    if (written >= count) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function percentiles(values: readonly number[]): { p50: number; p95: number; p99: number; max: number; count: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => (s.length ? (s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number) : 0);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? 0, count: s.length };
}

/** The median; with an even count, the mean of the two middle values. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** A klassify process's Prometheus text, from its /metrics. */
export async function scrapeMetrics(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** The sum of every sample of `name` (all label sets) in Prometheus text. */
export function metricSum(metrics: string, name: string): number {
  return metrics.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}
