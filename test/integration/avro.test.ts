// The Avro path against a real Confluent-API Schema Registry (Apicurio): Avro input written by
// `klassify produce --avro`, Avro results and dead letters, and a schema-id mismatch dead-lettered.
import { AvroDeserializer, JsonSerializer, SchemaRegistryClient, SerdeType, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import { describe, expect, inject, it } from 'vitest';
import type { DeadLetter, ResultRecord } from '../../consumers/messages.js';
import { runCli } from '../helpers/cli.js';
import { brokers, collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';
import { pipelineArgs, startPipeline } from '../helpers/pipeline.js';
import { steps } from '../helpers/steps.js';

// Budgets: produce (60 s), start-up (up to 90 s to come up and 90 s to be ready on a loaded CI machine) and
// two collects of 45 s each fit the test's own limit; if it is reached anyway, the steps' timings are printed.
describe('Avro through the Schema Registry', () => {
  it('Avro in, Avro out; an unknown schema id is a dead letter with KLS_ERR_SCHEMA', async () => {
    const registryUrl = inject('registryUrl');
    const t = { input: uniqueName('avro-in'), output: uniqueName('avro-out'), dlq: uniqueName('avro-dlq'), group: uniqueName('avro-group') };
    const kafka = testKafka();
    const step = steps();
    await step.run('create the input topic', () => createTopic(kafka, t.input, 2));
    const produced = await step.run('klassify produce --avro (40 events)', () => runCli(['produce', '--generate', '--count', '40', '--avro', '--topic', t.input, '--brokers', brokers().join(','), '--registry-url', registryUrl, '--quiet'], { timeoutMs: 60_000 }));
    expect(produced.code, produced.stderr).toBe(0);
    const producer = kafka.producer();
    await step.run('produce the record with an unknown schema id', async () => {
      await producer.connect();
      // Magic byte 0 and a schema id the registry has never issued.
      await producer.send({ topic: t.input, messages: [{ key: 'bad-schema', value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0x61]) }] });
      await producer.disconnect();
    });

    const pipeline = await step.run('klassify start until ready', () => startPipeline(pipelineArgs(t, ['--registry-url', registryUrl, '--output-format', 'avro'])));
    step.attach(() => `klassify start output:\n${pipeline.output()}`);
    try {
      const out = await step.run('collect 40 results', () => collect(kafka, t.output, 40, { timeoutMs: 45_000 }));
      const dead = await step.run('collect 1 dead letter', () => collect(kafka, t.dlq, 1, { timeoutMs: 45_000 }));
      const client = new SchemaRegistryClient({ baseURLs: [registryUrl], createAxiosDefaults: { timeout: 10_000 } });
      // Subjects by topic name, as klassify names them: the default strategy first asks /associations, which
      // Apicurio does not have, and once in CI that request went unanswered until the 10 s timeout.
      const des = new AvroDeserializer(client, SerdeType.VALUE, { subjectNameStrategyType: SubjectNameStrategyType.TOPIC });
      expect(out).toHaveLength(40);
      await step.run('decode the results through the registry', async () => {
        for (const r of out) {
          expect(r.value![0]).toBe(0);
          const v = (await des.deserialize(t.output, r.value!)) as ResultRecord;
          expect(v.id).toMatch(/^gen-\d+$/);
          expect(['negative', 'neutral', 'positive']).toContain(v.label);
          expect(Object.values(v.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
          expect(v.meta?.brand).toBeTruthy();
        }
      });
      expect(dead).toHaveLength(1);
      const d = (await des.deserialize(t.dlq, dead[0]!.value!)) as DeadLetter;
      expect(d.error.code).toBe('KLS_ERR_SCHEMA');
      expect(d.source.topic).toBe(t.input);
      expect(Buffer.compare(Buffer.from(d.value!), Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 0x61]))).toBe(0);
      const subjects = (await (await fetch(`${registryUrl}/subjects`, { signal: AbortSignal.timeout(10_000) })).json()) as string[];
      expect(subjects).toEqual(expect.arrayContaining([`${t.input}-value`, `${t.output}-value`, `${t.dlq}-value`]));
    } finally {
      expect(await step.run('stop klassify (SIGTERM)', () => pipeline.stop())).toBe(0);
    }
  }, 300_000);

  it('JSON Schema input in the Confluent wire format is decoded through the registry; a record violating it is a dead letter', async () => {
    const registryUrl = inject('registryUrl');
    const t = { input: uniqueName('jsonschema-in'), output: uniqueName('jsonschema-out'), dlq: uniqueName('jsonschema-dlq'), group: uniqueName('jsonschema-group') };
    const kafka = testKafka();
    await createTopic(kafka, t.input, 1);
    const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
    const schema = JSON.stringify({ type: 'object', properties: { id: { type: 'string' }, text: { type: 'string' } }, required: ['text'] });
    const id = await client.register(`${t.input}-value`, { schemaType: 'JSON', schema }, false);
    const ser = new JsonSerializer(client, SerdeType.VALUE, { useSchemaId: id, autoRegisterSchemas: false, subjectNameStrategyType: SubjectNameStrategyType.TOPIC });
    const good = await ser.serialize(t.input, { id: 'js-1', text: 'I love this airline, best flight ever' });
    // Same schema id, a payload without the required text: decoding with validation must refuse it.
    const bad = Buffer.concat([good.subarray(0, 5), Buffer.from(JSON.stringify({ id: 'js-2', body: 'no text here' }))]);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: t.input, messages: [{ key: 'js-1', value: good }, { key: 'js-2', value: bad }] });
    await producer.disconnect();
    const pipeline = await startPipeline(pipelineArgs(t, ['--registry-url', registryUrl]));
    try {
      const out = await collect(kafka, t.output, 1, { timeoutMs: 60_000 });
      const dead = await collect(kafka, t.dlq, 1, { timeoutMs: 60_000 });
      expect((JSON.parse(out[0]!.value!.toString()) as ResultRecord)).toMatchObject({ id: 'js-1', label: 'positive' });
      expect(dead[0]!.key).toBe('js-2');
      expect(['KLS_ERR_SCHEMA', 'KLS_ERR_MISSING_TEXT']).toContain(dead[0]!.headers?.['klassify.error.code']?.toString());
    } finally {
      expect(await pipeline.stop()).toBe(0);
    }
  }, 300_000);
});
