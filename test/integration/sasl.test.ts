// SASL settings reach the broker: a Kafka of its own with a SASL listener (PLAIN, SCRAM-SHA-256/512);
// `klassify produce` and `klassify start` authenticate with KAFKA_SASL_*; a wrong password fails with a
// clear error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { ResultRecord } from '../../consumers/messages.js';
import { defaultHome } from '../../src/paths.js';
import { freePort } from '../../src/services/daemon.js';
import { kafkaDown, kafkaUp } from '../../src/services/kafka.js';
import { runCli } from '../helpers/cli.js';
import { uniqueName } from '../helpers/kafka.js';
import { startPipeline } from '../helpers/pipeline.js';

const instance = uniqueName('sasl');
let saslBootstrap = '';

beforeAll(async () => {
  const saslPort = await freePort();
  await kafkaUp({ home: defaultHome(), instance, port: 0, controllerPort: 0, saslPlain: { port: saslPort, users: { klassify: 'k-secret' }, scram: true } });
  saslBootstrap = `127.0.0.1:${saslPort}`;
}, 180_000);

afterAll(async () => {
  await kafkaDown({ home: defaultHome(), instance, purge: true });
});

describe('SASL/PLAIN', () => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'])('%s: produce and start authenticate with KAFKA_SASL_*; results arrive', async (mechanism) => {
    const env = { ...process.env, KAFKA_BROKERS: saslBootstrap, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'klassify', KAFKA_SASL_PASSWORD: 'k-secret' };
    const t = { input: uniqueName('sasl-in'), output: uniqueName('sasl-out'), dlq: uniqueName('sasl-dlq'), group: uniqueName('sasl-group') };
    const produced = await runCli(['produce', '--generate', '--count', '25', '--topic', t.input, '--partitions', '2', '--quiet'], { env });
    expect(produced.code, produced.stderr).toBe(0);
    const p = await startPipeline(['start', '--input', t.input, '--output', t.output, '--dlq', t.dlq, '--group', t.group, '--metrics-port', '0', '--workers', '1'], env);
    try {
      const kafka = new Kafka({ clientId: 'sasl-test', brokers: [saslBootstrap], sasl: { mechanism: 'plain', username: 'klassify', password: 'k-secret' }, logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({ groupId: uniqueName('sasl-read') });
      await consumer.connect();
      await consumer.subscribe({ topic: t.output, fromBeginning: true });
      const ids = new Set<string>();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${ids.size} results`)), 60_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            ids.add((JSON.parse(message.value!.toString()) as ResultRecord).id);
            if (ids.size >= 25) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      expect(ids.size).toBe(25);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  }, 180_000);

  it.each(['plain', 'scram-sha-256'])('%s: a wrong password is refused with a clear error, not a hang', async (mechanism) => {
    const env = { ...process.env, KAFKA_BROKERS: saslBootstrap, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'klassify', KAFKA_SASL_PASSWORD: 'wrong' };
    const r = await runCli(['produce', '--generate', '--count', '1', '--topic', uniqueName('sasl-denied'), '--quiet'], { env, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^klassify: .*SASL (PLAIN|SCRAM)[A-Z0-9 -]* authentication failed|^klassify: .*Authentication failed/im);
  }, 150_000);

  it('SASL settings without a password are a configuration error', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: saslBootstrap, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'klassify' };
    delete env.KAFKA_SASL_PASSWORD;
    const r = await runCli(['produce', '--generate', '--count', '1', '--quiet'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KLS_ERR_CONFIG: KAFKA_SASL_MECHANISM=plain needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
  });
});
