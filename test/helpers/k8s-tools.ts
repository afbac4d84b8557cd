// Finds the deployment checks' tools and schemas where scripts/fetch-k8s-tools.sh puts them, by the versions
// pinned in deploy/tools/versions.env. Absent tools fail the test with the one command that fetches them:
// a skipped check would pass CI without checking anything.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/paths.js';

export interface K8sTools {
  helm: string;
  kubeconform: string;
  hadolint: string;
  /** kubeconform -schema-location template for the generated per-kind JSON schemas. */
  schemaLocation: string;
  /** The Kubernetes version the schemas come from, without the v (helm --kube-version wants it so). */
  kubeVersion: string;
}

export function pinnedVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(packageRoot, 'deploy', 'tools', 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(\S+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export function k8sTools(): K8sTools {
  const v = pinnedVersions();
  const dir = join(process.env.KLASSIFY_HOME ?? join(homedir(), '.cache', 'klassify'), 'tools');
  const schemas = join(dir, 'schemas', `k8s-${v.K8S_VERSION}-keda-${v.KEDA_VERSION}-promop-${v.PROMETHEUS_OPERATOR_VERSION}`);
  const tools = {
    helm: join(dir, 'bin', `helm-${v.HELM_VERSION}`),
    kubeconform: join(dir, 'bin', `kubeconform-${v.KUBECONFORM_VERSION}`),
    hadolint: join(dir, 'bin', `hadolint-${v.HADOLINT_VERSION}`),
  };
  for (const path of [...Object.values(tools), join(schemas, '.complete')]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run scripts/fetch-k8s-tools.sh`);
  }
  return {
    ...tools,
    schemaLocation: join(schemas, '{{ .ResourceKind }}{{ .KindSuffix }}.json'),
    kubeVersion: (v.K8S_VERSION ?? '').replace(/^v/, ''),
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileP = promisify(execFile);

/** Runs a tool and returns its exit code and output instead of throwing on a non-zero exit. */
export async function run(file: string, args: string[]): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileP(file, args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}
