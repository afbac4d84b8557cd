// The Avro path against a real Confluent-API Schema Registry (Apicurio): Avro input written by
// `klassify produce --avro`, Avro results and dead letters, and a schema-id mismatch dead-lettered.
import { AvroDeserializer, SchemaRegistryClient, SerdeType } from '@confluentinc/schemaregistry';
import { describe, expect, inject, it } from 'vitest';
import type { DeadLetter, ResultRecord } from '../../consumers/messages.js';
import { runCli } from '../helpers/cli.js';
import { brokers, collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline } from '../helpers/pipeline.js';

describe('Avro through the Schema Registry', () => {
  it('Avro in, Avro out; an unknown schema id is a dead letter with KLS_ERR_SCHEMA', async () => {
    const registryUrl = inject('registryUrl');
    const t = { input: uniqueName('avro-in'), output: uniqueName('avro-out'), dlq: uniqueName('avro-dlq'), group: uniqueName('avro-group') };
    const kafka = testKafka();
    await createTopic(kafka, t.input, 2);
    const produced = await runCli(['produce', '--generate', '--count', '40', '--avro', '--topic', t.input, '--brokers', brokers().join(','), '--registry-url', registryUrl, '--quiet']);
    expect(produced.code, produced.stderr).toBe(0);
    const producer = kafka.producer();
    await producer.connect();
    // Magic byte 0 and a schema id the registry has never issued.
    await producer.send({ topic: t.input, messages: [{ key: 'bad-schema', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0x61]) }] });
    await producer.disconnect();

    const pipeline = await startPipeline(pipelineArgs(t, ['--registry-url', registryUrl, '--output-format', 'avro']));
    try {
      const out = await collect(kafka, t.output, 40, { timeoutMs: 60_000 });
      const dead = await collect(kafka, t.dlq, 1, { timeoutMs: 60_000 });
      const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
      const des = new AvroDeserializer(client, SerdeType.VALUE, {});
      expect(out).toHaveLength(40);
      for (const r of out) {
        expect(r.value![0]).toBe(0);
        const v = (await des.deserialize(t.output, r.value!)) as ResultRecord;
        expect(v.id).toMatch(/^gen-\d+$/);
        expect(['negative', 'neutral', 'positive']).toContain(v.label);
        expect(Object.values(v.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
        expect(v.meta?.brand).toBeTruthy();
      }
      expect(dead).toHaveLength(1);
      const d = (await des.deserialize(t.dlq, dead[0]!.value!)) as DeadLetter;
      expect(d.error.code).toBe('KLS_ERR_SCHEMA');
      expect(d.source.topic).toBe(t.input);
      expect(Buffer.compare(Buffer.from(d.value!), Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0x61]))).toBe(0);
      const subjects = (await (await fetch(`${registryUrl}/subjects`)).json()) as string[];
      expect(subjects).toEqual(expect.arrayContaining([`${t.input}-value`, `${t.output}-value`, `${t.dlq}-value`]));
    } finally {
      expect(await pipeline.stop()).toBe(0);
    }
  }, 180_000);
});
