// Background processes (the local Kafka and Schema Registry) that outlive the command starting them.
// State lives in a JSON file beside the service's data, so `down` and `status` work from any shell.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DaemonState {
  pid: number;
  startedAt: string;
  [key: string]: unknown;
}

export function readState<T extends DaemonState>(file: string): T | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function writeState(file: string, state: DaemonState): void {
  writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
}

export function clearState(file: string): void {
  rmSync(file, { force: true });
}

/**
 * True when `pid` runs and its command line contains `marker`. The marker (the instance folder) guards
 * against a recycled pid: we never signal a process that is not ours.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  // pid 0 would address our own process group.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(marker);
  } catch {
    // No /proc (macOS): the pid answers, trust it.
    return true;
  }
}

export interface StartOptions {
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a detached process writing stdout/stderr to `logFile`; returns its pid. */
export function startDaemon(options: StartOptions): number {
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; resolves once the process is gone. */
export async function stopDaemon(pid: number, marker: string, graceMs: number): Promise<'stopped' | 'killed' | 'not-running'> {
  if (!isOurProcess(pid, marker)) return 'not-running';
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, marker)) return 'stopped';
    await sleep(100);
  }
  signal(pid, 'SIGKILL');
  for (let i = 0; i < 50 && isOurProcess(pid, marker); i++) await sleep(100);
  return 'killed';
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    // Negative pid: the whole process group the detached child leads (a JVM may fork helpers).
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Last lines of a log, for error messages that say why a service did not start. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Ports freePort() handed out in this process. The probe releases its port at once, so the OS may give
 * the same one to the next probe before the service that asked binds it: the test setup once got one
 * port for the broker's controller and the Schema Registry, and the registry could not start.
 */
const handedOut = new Set<number>();

/** A TCP port free on 127.0.0.1 right now (the OS picks it), never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const port = await probePort();
    if (!handedOut.has(port) || attempt >= 20) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Polls `check` until it returns true, the process dies, or the deadline passes. */
export async function waitFor(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; alive: () => boolean; intervalMs?: number },
): Promise<'ready' | 'died' | 'timeout'> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (!options.alive()) return 'died';
    if (await check().catch(() => false)) return 'ready';
    await sleep(options.intervalMs ?? 250);
  }
  return 'timeout';
}
