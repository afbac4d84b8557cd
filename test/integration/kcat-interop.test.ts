// The broker is real: a client this project did not write (kcat, librdkafka) reads what kafkajs wrote,
// and kafkajs reads what kcat wrote.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { brokers, collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';

const run = promisify(execFile);
const N = 1000;

describe('interop with kcat', () => {
  it('kcat reads 1,000 records kafkajs produced, keys and values intact', async () => {
    const kafka = testKafka();
    const topic = uniqueName('interop-js-to-kcat');
    await createTopic(kafka, topic, 3);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: N }, (_, i) => ({ key: `k${i}`, value: JSON.stringify({ id: i, text: `message ${i} é🙂` }) })),
    });
    await producer.disconnect();

    const { stdout } = await run('kcat', ['-C', '-b', brokers().join(','), '-t', topic, '-e', '-q', '-f', '%k\t%s\n'], { maxBuffer: 64 * 1024 * 1024 });
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(N);
    const seen = new Map(lines.map((l) => l.split('\t') as [string, string]));
    for (let i = 0; i < N; i++) expect(JSON.parse(seen.get(`k${i}`) ?? 'null')).toEqual({ id: i, text: `message ${i} é🙂` });
  });

  it('kafkajs reads 1,000 records kcat produced', async () => {
    const kafka = testKafka();
    const topic = uniqueName('interop-kcat-to-js');
    await createTopic(kafka, topic, 2);
    const input = Array.from({ length: N }, (_, i) => `key-${i}:value ${i}`).join('\n') + '\n';
    await new Promise<void>((resolve, reject) => {
      const child = spawn('kcat', ['-P', '-b', brokers().join(','), '-t', topic, '-K', ':', '-X', 'acks=all'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}: ${err}`))));
      child.stdin.end(input);
    });
    const records = await collect(kafka, topic, N);
    expect(records).toHaveLength(N);
    const byKey = new Map(records.map((r) => [r.key, r.value?.toString()]));
    for (let i = 0; i < N; i++) expect(byKey.get(`key-${i}`)).toBe(`value ${i}`);
  });
});
