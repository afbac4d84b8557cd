// `klassify kafka up|status|down` as a user runs them: a broker of its own, stopped with no process left.
import { mkdtempSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultHome } from '../../src/paths.js';
import { isOurProcess } from '../../src/services/daemon.js';
import { probeKafka } from '../../src/services/kafka.js';
import { runCli } from '../helpers/cli.js';
import { uniqueName } from '../helpers/kafka.js';

describe('klassify kafka', () => {
  it('up is idempotent, status reports it, down leaves no process behind', async () => {
    const instance = uniqueName('e2e');
    const common = ['--instance', instance, '--home', defaultHome()];
    const up = await runCli(['kafka', 'up', ...common, '--kafka-port', '0', '--kafka-controller-port', '0', '--json'], { timeoutMs: 300_000 });
    expect(up.code, up.stderr).toBe(0);
    const status = JSON.parse(up.stdout) as { running: boolean; bootstrap: string; pid: number; dir: string };
    expect(status.running).toBe(true);
    expect(await probeKafka(status.bootstrap)).toBe(true);

    const again = await runCli(['kafka', 'up', ...common, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ bootstrap: status.bootstrap, pid: status.pid });

    const st = await runCli(['kafka', 'status', ...common, '--json']);
    expect(JSON.parse(st.stdout)).toMatchObject({ running: true, bootstrap: status.bootstrap });

    const down = await runCli(['kafka', 'down', ...common, '--purge']);
    expect(down.code, down.stderr).toBe(0);
    expect(isOurProcess(status.pid, status.dir)).toBe(false);
    expect(await probeKafka(status.bootstrap, 1000)).toBe(false);
    const after = await runCli(['kafka', 'status', ...common]);
    expect(after.code).toBe(3);
    expect(after.stdout).toMatch(/not running/);
  }, 300_000);

  it('without mvn and nothing cached, up fails with one actionable line', async () => {
    // A PATH that has node but no mvn, and an empty cache folder, as on a machine without Maven.
    const dir = mkdtempSync(join(tmpdir(), 'kls-nomvn-'));
    mkdirSync(join(dir, 'bin'));
    symlinkSync(process.execPath, join(dir, 'bin', 'node'));
    const r = await runCli(['kafka', 'up', '--home', join(dir, 'home'), '--kafka-port', '0', '--kafka-controller-port', '0'], {
      env: { PATH: join(dir, 'bin'), HOME: dir },
    });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('klassify:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^klassify: KLS_ERR_MAVEN_MISSING: mvn not found on PATH: .*install Maven/);
  });
});
