// Finds the Java and Maven the local Kafka and Schema Registry need, with one-line actionable errors.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { envValue } from '../config.js';
import { JavaMissingError, MavenMissingError } from '../errors.js';

const run = promisify(execFile);

export interface JavaInfo {
  path: string;
  major: number;
}

/** Major version from `java -version` output ("17.0.15", "1.8.0_392", "25"). */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m?.[1]) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] !== undefined ? Number(m[2]) : first;
}

async function probe(path: string): Promise<JavaInfo | undefined> {
  try {
    const { stderr, stdout } = await run(path, ['-version'], { timeout: 20_000 });
    const major = parseJavaMajor(stderr + stdout);
    return major === undefined ? undefined : { path, major };
  } catch {
    return undefined;
  }
}

function candidates(): string[] {
  const list: string[] = [];
  const javaHome = envValue('JAVA_HOME');
  if (javaHome) list.push(join(javaHome, 'bin', 'java'));
  list.push('java');
  // Debian/Ubuntu and Temurin packages install side by side here; a newer one may not be the default.
  const jvm = '/usr/lib/jvm';
  if (existsSync(jvm)) {
    for (const name of readdirSync(jvm).sort().reverse()) {
      const bin = join(jvm, name, 'bin', 'java');
      if (existsSync(bin)) list.push(bin);
    }
  }
  return list;
}

/** The first Java at least `minMajor` found via JAVA_HOME, PATH, then /usr/lib/jvm; the newest wins among equals. */
export async function findJava(minMajor: number, purpose: string): Promise<JavaInfo> {
  const found: JavaInfo[] = [];
  for (const path of candidates()) {
    const info = await probe(path);
    if (info) found.push(info);
  }
  const ok = found.filter((j) => j.major >= minMajor).sort((a, b) => b.major - a.major);
  // Prefer the user's choice (JAVA_HOME/PATH come first) when it is new enough.
  const preferred = found.find((j) => j.major >= minMajor);
  const best = preferred ?? ok[0];
  if (best) return best;
  const seen = found.length ? ` (found: ${found.map((j) => `${j.path} = ${j.major}`).join(', ')})` : '';
  throw new JavaMissingError(
    `${purpose} needs Java ${minMajor} or newer, none found${seen}: install one (e.g. apt-get install openjdk-${Math.max(minMajor, 17)}-jre-headless) or set JAVA_HOME`,
  );
}

export async function findMaven(): Promise<string> {
  try {
    await run('mvn', ['-v'], { timeout: 30_000 });
    return 'mvn';
  } catch {
    throw new MavenMissingError(
      'mvn not found on PATH: klassify downloads Kafka and the Schema Registry from Maven Central with it; install Maven (apt-get install maven) or set KAFKA_BROKERS to use an existing cluster',
    );
  }
}
