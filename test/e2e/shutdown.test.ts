// A graceful stop is bounded even when the broker is gone: `klassify start` exits non-zero with
// KLS_ERR_SHUTDOWN_TIMEOUT after --shutdown-timeout-ms instead of retrying forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultHome } from '../../src/paths.js';
import { kafkaDown, kafkaUp } from '../../src/services/kafka.js';
import { uniqueName } from '../helpers/kafka.js';
import { startPipeline } from '../helpers/pipeline.js';

const instance = uniqueName('shutdown');
let bootstrap = '';

beforeAll(async () => {
  bootstrap = (await kafkaUp({ home: defaultHome(), instance, port: 0, controllerPort: 0 })).bootstrap as string;
}, 180_000);

afterAll(async () => {
  await kafkaDown({ home: defaultHome(), instance, purge: true });
});

describe('klassify start, stopping', () => {
  it('with the broker gone, SIGTERM ends the process within the shutdown timeout, exit 1 and a coded error', async () => {
    const t = { input: uniqueName('shut-in'), output: uniqueName('shut-out'), dlq: uniqueName('shut-dlq'), group: uniqueName('shut-group') };
    const p = await startPipeline(['start', '--brokers', bootstrap, '--input', t.input, '--output', t.output, '--dlq', t.dlq, '--group', t.group,
      '--metrics-port', '0', '--workers', '1', '--shutdown-timeout-ms', '3000']);
    await kafkaDown({ home: defaultHome(), instance });
    const code = await Promise.race([p.stop(), new Promise<string>((r) => setTimeout(() => r('still running after 20 s'), 20_000))]);
    if (typeof code === 'string') p.child.kill('SIGKILL');
    expect(code).toBe(1);
    expect(p.output()).toMatch(/klassify: KLS_ERR_SHUTDOWN_TIMEOUT: graceful stop took longer than 3000 ms/);
  }, 120_000);
});
