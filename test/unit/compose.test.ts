// docker-compose.yml is checked against the Compose specification's schema (dclint), since no Docker
// engine is available to `docker compose config` it here.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/paths.js';

const run = promisify(execFile);
const dclint = join(packageRoot, 'node_modules', '.bin', 'dclint');

async function lint(file: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(dclint, ['-c', join(packageRoot, '.dclintrc'), file]);
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('docker-compose.yml', () => {
  it('is a valid compose file with kafka, schema-registry, klassify, prometheus and grafana', async () => {
    const file = join(packageRoot, 'docker-compose.yml');
    const r = await lint(file);
    expect(r.out).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    for (const svc of ['kafka', 'schema-registry', 'klassify', 'prometheus', 'grafana']) expect(text).toMatch(new RegExp(`^  ${svc}:$`, 'm'));
  });

  it('the check catches a schema violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kls-compose-'));
    const file = join(dir, 'docker-compose.yml');
    copyFileSync(join(packageRoot, 'docker-compose.yml'), file);
    writeFileSync(file, readFileSync(file, 'utf8').replace('  kafka:\n', '  kafka:\n    restartt: always\n'));
    const r = await lint(file);
    expect(r.code).not.toBe(0);
  });
});
