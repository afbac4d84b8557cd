// The embedded Schema Registry: Apicurio Registry from Maven Central, serving the Confluent API at
// /apis/ccompat/v7 with in-memory storage (schemas live as long as the process; klassify registers its
// own on start, so nothing is lost that a restart does not recreate).
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceStartError } from '../errors.js';
import {
  clearState, freePort, isOurProcess, isPortFree, readState, startDaemon, stopDaemon, tail, waitFor, writeState,
  type DaemonState,
} from './daemon.js';
import { findJava } from './java.js';
import { fetchArchive } from './maven.js';

export const APICURIO_VERSION = '3.3.3';
const CCOMPAT_PATH = '/apis/ccompat/v7';

export interface LocalRegistryOptions {
  home: string;
  instance?: string;
  port: number;
  managementPort: number;
  startTimeoutMs?: number;
}

export interface RegistryState extends DaemonState {
  url: string;
  port: number;
  managementPort: number;
}

export interface RegistryStatus {
  running: boolean;
  url?: string;
  pid?: number;
  dir: string;
  logFile: string;
  version: string;
}

function paths(home: string, instance: string) {
  const dir = join(home, 'instances', `registry-${instance}`);
  return { dir, state: join(dir, 'state.json'), log: join(dir, 'registry.log') };
}

/** Apicurio's runnable Quarkus app, downloading it on first use. */
async function quarkusJar(home: string): Promise<string> {
  const dir = await fetchArchive(
    join(home, `apicurio-registry-${APICURIO_VERSION}`),
    `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
    `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`,
    `Apicurio Registry ${APICURIO_VERSION}`,
  );
  // 3.3.x puts quarkus-run.jar at the top of the archive; older layouts nest it one folder down.
  const top = join(dir, 'quarkus-run.jar');
  if (existsSync(top)) return top;
  for (const entry of readdirSync(dir)) {
    const nested = join(dir, entry, 'quarkus-run.jar');
    if (existsSync(nested)) return nested;
  }
  throw new ServiceStartError(`quarkus-run.jar not found in ${dir}; delete that folder to download again`);
}

export async function probeRegistry(url: string, managementPort: number): Promise<boolean> {
  const ready = await fetch(`http://127.0.0.1:${managementPort}/health/ready`, { signal: AbortSignal.timeout(2000) });
  if (!ready.ok) return false;
  const subjects = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
  return subjects.ok;
}

export async function registryStatus(options: Pick<LocalRegistryOptions, 'home' | 'instance'>): Promise<RegistryStatus> {
  const p = paths(options.home, options.instance ?? 'default');
  const state = readState<RegistryState>(p.state);
  const base = { dir: p.dir, logFile: p.log, version: APICURIO_VERSION };
  if (!state || !isOurProcess(state.pid, p.dir)) return { running: false, ...base };
  return { running: true, url: state.url, pid: state.pid, ...base };
}

/** Starts the local registry (downloading it first if needed); idempotent. */
export async function registryUp(options: LocalRegistryOptions): Promise<RegistryStatus> {
  const instance = options.instance ?? 'default';
  const p = paths(options.home, instance);
  const previous = readState<RegistryState>(p.state);
  const current = await registryStatus(options);
  if (current.running && current.url && previous && (await probeRegistry(current.url, previous.managementPort).catch(() => false))) {
    return current;
  }
  if (current.running && current.pid) await stopDaemon(current.pid, p.dir, 10_000);

  const java = await findJava(21, `Apicurio Registry ${APICURIO_VERSION}`);
  const jar = await quarkusJar(options.home);
  mkdirSync(p.dir, { recursive: true });
  const port = options.port || previous?.port || (await freePort());
  const managementPort = options.managementPort || previous?.managementPort || (await freePort());
  for (const [name, value] of [['port', port], ['management port', managementPort]] as const) {
    if (!(await isPortFree(value))) {
      throw new ServiceStartError(`cannot start local Schema Registry: ${name} ${value} is in use (KLASSIFY_REGISTRY_PORT / KLASSIFY_REGISTRY_MANAGEMENT_PORT, 0 = any free port)`);
    }
  }
  const pid = startDaemon({
    command: java.path,
    args: [
      '-Xmx512m',
      `-Dklassify.instance=${p.dir}`,
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${port}`,
      // The management interface binds 0.0.0.0:9000 unless told otherwise; keep it private and out of the way.
      '-Dquarkus.management.host=127.0.0.1',
      `-Dquarkus.management.port=${managementPort}`,
      '-jar',
      jar,
    ],
    cwd: p.dir,
    logFile: p.log,
  });
  const url = `http://127.0.0.1:${port}${CCOMPAT_PATH}`;
  writeState(p.state, { pid, startedAt: new Date().toISOString(), url, port, managementPort } satisfies RegistryState);
  const outcome = await waitFor(() => probeRegistry(url, managementPort), {
    timeoutMs: options.startTimeoutMs ?? 120_000,
    alive: () => isOurProcess(pid, p.dir),
    intervalMs: 300,
  });
  if (outcome !== 'ready') {
    await stopDaemon(pid, p.dir, 5_000);
    clearState(p.state);
    throw new ServiceStartError(`local Schema Registry ${outcome === 'died' ? 'exited' : 'did not answer in time'}; last lines of ${p.log}:\n${tail(p.log)}`);
  }
  return { running: true, url, pid, dir: p.dir, logFile: p.log, version: APICURIO_VERSION };
}

export async function registryDown(options: Pick<LocalRegistryOptions, 'home' | 'instance'> & { purge?: boolean }): Promise<'stopped' | 'killed' | 'not-running'> {
  const p = paths(options.home, options.instance ?? 'default');
  const state = readState<RegistryState>(p.state);
  const result = state ? await stopDaemon(state.pid, p.dir, 20_000) : 'not-running';
  if (options.purge) rmSync(p.dir, { recursive: true, force: true });
  else if (state) writeState(p.state, { ...state, pid: 0 });
  return result;
}
