// TLS settings reach the broker: a Kafka of its own with a TLS listener whose certificate a private CA
// signed (made here with openssl). `klassify produce` and `klassify start` connect with KAFKA_SSL and
// KAFKA_SSL_CA; kcat (librdkafka, not our client) reads the results over TLS; without the CA the
// connection is refused with a clear error, not a hang.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../consumers/messages.js';
import { defaultHome } from '../../src/paths.js';
import { freePort } from '../../src/services/daemon.js';
import { kafkaDown, kafkaUp } from '../../src/services/kafka.js';
import { runCli } from '../helpers/cli.js';
import { uniqueName } from '../helpers/kafka.js';
import { startPipeline } from '../helpers/pipeline.js';

const run = promisify(execFile);
const instance = uniqueName('tls');
const dir = mkdtempSync(join(tmpdir(), 'klassify-tls-'));
const caFile = join(dir, 'ca.pem');
let tlsBootstrap = '';

/** A CA, and a broker certificate it signed for 127.0.0.1; the broker's PEM keystore is key + chain. */
async function makeCertificates(): Promise<string> {
  const at = (f: string): string => join(dir, f);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', caFile, '-days', '2', '-subj', '/CN=klassify test CA']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('broker.key'), '-out', at('broker.csr'), '-subj', '/CN=127.0.0.1']);
  writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', at('broker.csr'), '-CA', caFile, '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('broker.pem'), '-days', '2', '-extfile', at('ext.cnf')]);
  // Kafka's PEM keystore wants a PKCS#8 key ("BEGIN PRIVATE KEY").
  await run('openssl', ['pkcs8', '-topk8', '-nocrypt', '-in', at('broker.key'), '-out', at('broker.p8')]);
  const keystore = at('keystore.pem');
  writeFileSync(keystore, [at('broker.p8'), at('broker.pem'), caFile].map((f) => readFileSync(f, 'utf8')).join(''));
  return keystore;
}

beforeAll(async () => {
  const keystorePem = await makeCertificates();
  const tlsPort = await freePort();
  await kafkaUp({ home: defaultHome(), instance, port: 0, controllerPort: 0, tls: { port: tlsPort, keystorePem } });
  tlsBootstrap = `127.0.0.1:${tlsPort}`;
}, 180_000);

afterAll(async () => {
  await kafkaDown({ home: defaultHome(), instance, purge: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('produce and start connect with KAFKA_SSL and KAFKA_SSL_CA; kcat reads the results over TLS', async () => {
    const env = { ...process.env, KAFKA_BROKERS: tlsBootstrap, KAFKA_SSL: 'true', KAFKA_SSL_CA: caFile };
    const t = { input: uniqueName('tls-in'), output: uniqueName('tls-out'), dlq: uniqueName('tls-dlq'), group: uniqueName('tls-group') };
    const produced = await runCli(['produce', '--generate', '--count', '25', '--topic', t.input, '--partitions', '2', '--quiet'], { env });
    expect(produced.code, produced.stderr).toBe(0);
    const p = await startPipeline(['start', '--input', t.input, '--output', t.output, '--dlq', t.dlq, '--group', t.group, '--metrics-port', '0', '--workers', '1'], env);
    try {
      const ids = new Set<string>();
      let kcatError = '';
      const deadline = Date.now() + 60_000;
      while (ids.size < 25 && Date.now() < deadline) {
        // Each read is bounded: one kcat stuck on a slow handshake must not eat the test's whole budget.
        const read = await run('kcat', ['-C', '-b', tlsBootstrap, '-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${caFile}`, '-t', t.output, '-e', '-q'], { maxBuffer: 16 * 1024 * 1024, timeout: 20_000 })
          .catch((err: unknown) => ((kcatError = String(err)), { stdout: '' }));
        for (const line of read.stdout.split('\n').filter((l) => l !== '')) ids.add((JSON.parse(line) as ResultRecord).id);
        if (ids.size < 25) await new Promise((r) => setTimeout(r, 500));
      }
      expect(ids.size, `kcat: ${kcatError}\npipeline:\n${p.output()}`).toBe(25);
    } finally {
      expect(await p.stop()).toBe(0);
    }
  }, 300_000);

  it('without the CA the broker certificate is not trusted: a clear error, not a hang', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: tlsBootstrap, KAFKA_SSL: 'true' };
    delete env.KAFKA_SSL_CA;
    const r = await runCli(['produce', '--generate', '--count', '1', '--topic', uniqueName('tls-untrusted'), '--quiet'], { env, timeoutMs: 120_000 });
    expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^klassify: .*self-signed certificate.*set KAFKA_SSL_CA/m);
  }, 150_000);
});
