// Downloads jars and archives from Maven Central into klassify's cache, once.
// Each fetch goes to a temporary folder that is renamed into place when complete, so an interrupted
// download never leaves a half-filled cache behind and two processes can race safely.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ProvisionError } from '../errors.js';
import { findMaven } from './java.js';

const run = promisify(execFile);
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const COMPLETE = '.complete';

export interface Dependency {
  groupId: string;
  artifactId: string;
  version: string;
}

export function pomFor(deps: readonly Dependency[]): string {
  const items = deps
    .map((d) => `    <dependency><groupId>${d.groupId}</groupId><artifactId>${d.artifactId}</artifactId><version>${d.version}</version></dependency>`)
    .join('\n');
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.klassify</groupId><artifactId>runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
${items}
  </dependencies>
</project>
`;
}

/** True when `dir` holds a finished download. */
export function isFetched(dir: string): boolean {
  return existsSync(join(dir, COMPLETE));
}

async function intoPlace(dir: string, fill: (tmp: string) => Promise<void>): Promise<string> {
  if (isFetched(dir)) return dir;
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = mkdtempSync(`${dir}.tmp-`);
  try {
    await fill(tmp);
    writeFileSync(join(tmp, COMPLETE), new Date().toISOString());
    if (isFetched(dir)) return dir; // another process finished first
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return dir;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function mvn(args: string[], cwd: string, what: string): Promise<void> {
  const bin = await findMaven();
  try {
    await run(bin, ['-q', '-B', ...args], { cwd, timeout: 15 * 60_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    const detail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
    throw new ProvisionError(`downloading ${what} from Maven Central failed: ${detail || String(err)}`, { cause: err });
  }
}

/** Copies `deps` and their runtime dependencies as jars into `dir` (once). */
export async function fetchJars(dir: string, deps: readonly Dependency[], what: string): Promise<string> {
  return intoPlace(dir, async (tmp) => {
    writeFileSync(join(tmp, 'pom.xml'), pomFor(deps));
    await mvn([`${DEPENDENCY_PLUGIN}:copy-dependencies`, '-DincludeScope=runtime', '-DoutputDirectory=libs'], tmp, what);
  });
}

/** Downloads one artifact (e.g. a tar.gz) and unpacks it with tar into `dir` (once). */
export async function fetchArchive(dir: string, coords: string, fileName: string, what: string): Promise<string> {
  return intoPlace(dir, async (tmp) => {
    await mvn([`${DEPENDENCY_PLUGIN}:copy`, `-Dartifact=${coords}`, '-DoutputDirectory=.'], tmp, what);
    try {
      await run('tar', ['-xzf', fileName], { cwd: tmp, timeout: 10 * 60_000 });
    } catch (err) {
      throw new ProvisionError(`unpacking ${fileName} failed`, { cause: err });
    }
    rmSync(join(tmp, fileName), { force: true });
  });
}
