// The Helm chart, checked without a cluster: helm lint and helm template (pinned helm), every rendered object
// validated by kubeconform against JSON schemas generated from Kubernetes' own OpenAPI spec and from KEDA's and
// prometheus-operator's CRDs (strict: unknown fields fail), and the rendered environment parsed by klassify's
// own loadConfig. Tools come from scripts/fetch-k8s-tools.sh; without them these tests fail, never skip.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { configKnobs } from '../../src/deploy/knob-env.js';
import { packageRoot } from '../../src/paths.js';
import { k8sTools, run, type K8sTools, type RunResult } from '../helpers/k8s-tools.js';

const chart = join(packageRoot, 'deploy', 'helm', 'klassify');
const fixture = (name: string): string => join(packageRoot, 'test', 'fixtures', 'helm', name);
const scratch = mkdtempSync(join(tmpdir(), 'kls-helm-'));
// Looked up by each test, so that missing tools fail every test by name rather than skip them.
let cached: K8sTools | undefined;
const tools = (): K8sTools => (cached ??= k8sTools());

async function template(values: string[], extra: string[] = []): Promise<RunResult> {
  return run(tools().helm, ['template', 'rel', chart, '--kube-version', tools().kubeVersion, ...values.flatMap((v) => ['-f', v]), ...extra]);
}

async function render(values: string[], extra: string[] = []): Promise<string> {
  const r = await template(values, extra);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout;
}

function documents(yaml: string): string[] {
  return yaml.split(/^---$/m).filter((d) => /^kind: /m.test(d));
}

function kinds(yaml: string): string[] {
  return documents(yaml).map((d) => /^kind: (\S+)$/m.exec(d)?.[1] ?? '?').sort();
}

interface Validation {
  resources: { kind: string; name: string; status: string; msg: string }[];
}

async function validate(yaml: string): Promise<{ code: number; result: Validation }> {
  const file = join(scratch, `rendered-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const r = await run(tools().kubeconform, ['-strict', '-output', 'json', '-verbose', '-schema-location', tools().schemaLocation, file]);
  return { code: r.code, result: JSON.parse(r.stdout) as Validation };
}

/** Every object rendered is validated, none skipped for want of a schema. */
async function expectAllValid(yaml: string): Promise<void> {
  const { code, result } = await validate(yaml);
  const bad = result.resources.filter((r) => r.status !== 'statusValid');
  expect(bad).toEqual([]);
  expect(result.resources.map((r) => r.kind).sort()).toEqual(kinds(yaml));
  expect(code).toBe(0);
}

function configMapEnv(yaml: string): Record<string, string> {
  const doc = documents(yaml).find((d) => /^kind: ConfigMap$/m.test(d));
  if (doc === undefined) throw new Error('no ConfigMap rendered');
  const env: Record<string, string> = {};
  for (const m of doc.matchAll(/^ {2}([A-Z0-9_]+): (".*")$/gm)) env[m[1] as string] = JSON.parse(m[2] as string) as string;
  return env;
}

function deployment(yaml: string, component: string): string {
  const doc = documents(yaml).find((d) => /^kind: Deployment$/m.test(d) && d.includes(`app.kubernetes.io/component: ${component}`));
  if (doc === undefined) throw new Error(`no ${component} Deployment rendered`);
  return doc;
}

describe('helm chart deploy/helm/klassify', () => {
  it('with default values: lints, renders a Deployment, ConfigMap, Service and PDB, all valid against the Kubernetes schemas', async () => {
    const lint = await run(tools().helm, ['lint', '--strict', chart, '--kube-version', tools().kubeVersion]);
    expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(lint.code).toBe(0);
    const yaml = await render([]);
    expect(kinds(yaml)).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']);
    await expectAllValid(yaml);
  });

  it('with SASL, TLS, KEDA, a metrics token, a ServiceMonitor and the brand monitor: lints, and every object is valid, CRDs included', async () => {
    const lint = await run(tools().helm, ['lint', '--strict', chart, '--kube-version', tools().kubeVersion, '-f', fixture('sasl-tls-keda.yaml')]);
    expect(lint.code).toBe(0);
    const yaml = await render([fixture('sasl-tls-keda.yaml')]);
    expect(kinds(yaml)).toEqual(['ConfigMap', 'Deployment', 'Deployment', 'PodDisruptionBudget', 'ScaledObject', 'Service', 'ServiceMonitor', 'TriggerAuthentication']);
    await expectAllValid(yaml);

    const scaled = documents(yaml).find((d) => /^kind: ScaledObject$/m.test(d)) ?? '';
    expect(scaled).toMatch(/^ {4}- type: kafka$/m);
    for (const line of [
      'bootstrapServers: "b-1.kafka.example.com:9096,b-2.kafka.example.com:9096"',
      'consumerGroup: "klassify-posts"',
      'topic: "posts"',
      'lagThreshold: "7500"',
      'activationLagThreshold: "100"',
      'limitToPartitionsWithLag: "true"',
      'sasl: "scram_sha512"',
      'tls: enable',
    ]) {
      expect(scaled).toContain(line);
    }
    expect(scaled).toMatch(/maxReplicaCount: 24\n/);
    expect(scaled).toMatch(/pollingInterval: 15\n/);
    expect(scaled).toMatch(/cooldownPeriod: 300\n/);
    const auth = documents(yaml).find((d) => /^kind: TriggerAuthentication$/m.test(d)) ?? '';
    for (const p of ['username', 'password', 'ca']) expect(auth).toContain(`- parameter: ${p}\n`);
    // With KEDA on, the ScaledObject owns the replica count.
    expect(deployment(yaml, 'classifier')).not.toMatch(/^ {2}replicas:/m);
    // The brands file from its ConfigMap reaches both Deployments; the monitor runs in its own group.
    for (const component of ['classifier', 'brands']) {
      const d = deployment(yaml, component);
      expect(d).toMatch(/- name: KLASSIFY_BRANDS\n\s+value: "\/etc\/klassify\/brands\/brands.json"/);
      expect(d).toContain('mountPath: /etc/klassify/brands, readOnly: true');
      expect(d).toMatch(/configMap:\n\s+name: "brand-list"/);
    }
    expect(deployment(yaml, 'brands')).toMatch(/- name: KLASSIFY_BRANDS_GROUP\n\s+value: "klassify-brands"/);
  });

  it('renders an environment that klassify itself accepts (loadConfig), credentials coming from Secrets', async () => {
    const yaml = await render([fixture('sasl-tls-keda.yaml')]);
    const env = configMapEnv(yaml);
    for (const name of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KLASSIFY_METRICS_TOKEN', 'KAFKA_SSL_CA']) expect(env).not.toHaveProperty(name);
    const classifier = deployment(yaml, 'classifier');
    expect(classifier).toMatch(/- name: KAFKA_SASL_PASSWORD\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: "kafka-user"\n\s+key: "password"/);
    expect(classifier).toContain('- name: KAFKA_SSL_CA\n              value: "/etc/klassify/kafka-ca/ca.crt"');
    expect(classifier).toMatch(/secretName: "kafka-ca"/);
    const config = loadConfig({ env: { ...env, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KLASSIFY_METRICS_TOKEN: 't', KAFKA_SSL_CA: '/etc/klassify/kafka-ca/ca.crt' } });
    expect(config.kafka.brokers).toEqual(['b-1.kafka.example.com:9096', 'b-2.kafka.example.com:9096']);
    expect(config.kafka.saslMechanism).toBe('scram-sha-512');
    expect(config.pipeline.delivery).toBe('exactly-once');
    expect(config.pool.workers).toBe(4);
    expect(config.batch.maxWaitMs).toBe(2.5);
    expect(config.metrics.host).toBe('0.0.0.0');
    expect(config.home).toBe('/tmp/klassify');
    // The defaults' environment parses too.
    const defaults = loadConfig({ env: configMapEnv(await render([])) });
    expect(defaults.pool.workers).toBe(2);
    expect(defaults.kafka.brokers).toEqual(['kafka:9092']);
  });

  it('every knob is settable as config.<knob key>, and any knob can come from secretRefs.<knob key>', async () => {
    const values: Record<string, Record<string, unknown>> = {};
    const expected: Record<string, string> = {};
    configKnobs().forEach((k, i) => {
      const v = { string: `v${i}`, int: 1000 + i, number: i + 0.5, bool: i % 2 === 0, list: [`a${i}`, `b${i}`], 'cpu-sets': [`${i}`], 'int-list': [i, i + 1] }[k.type];
      const [head, name] = k.key.includes('.') ? (k.key.split('.') as [string, string]) : ['', k.key];
      (values[head] ??= {})[name] = v;
      expected[k.env] = Array.isArray(v) ? v.join(',') : String(v);
    });
    // Two the chart's own checks constrain: SASL needs Secrets, and the probes need the metrics server.
    for (const [head, name, v, env] of [['kafka', 'saslMechanism', 'none', 'KAFKA_SASL_MECHANISM'], ['metrics', 'enabled', true, 'KLASSIFY_METRICS']] as const) {
      (values[head] ??= {})[name] = v;
      expected[env] = String(v);
    }
    const { '': top, ...nested } = values;
    const file = join(scratch, 'every-knob.json');
    writeFileSync(file, JSON.stringify({ config: { ...top, ...nested, kafka: { ...nested.kafka, brokers: ['x:9092'] } }, secretRefs: { pipeline: { outputTopic: { name: 'topics', key: 'out' } } } }));
    expected.KAFKA_BROKERS = 'x:9092';
    delete expected.KLASSIFY_OUTPUT_TOPIC;
    const yaml = await render([file]);
    expect(configMapEnv(yaml)).toEqual(expected);
    expect(deployment(yaml, 'classifier')).toMatch(/- name: KLASSIFY_OUTPUT_TOPIC\n\s+valueFrom:\n\s+secretKeyRef:\n\s+name: "topics"\n\s+key: "out"/);
  });

  it('requests one core per worker thread, and gives the drain its whole budget before SIGKILL', async () => {
    const yaml = deployment(await render([fixture('sasl-tls-keda.yaml')]), 'classifier');
    // 4 workers x 1 thread; memory 256 + 4 x 320 MiB.
    expect(yaml).toMatch(/requests:\n\s+cpu: "4"\n\s+memory: "1536Mi"\n\s+limits:\n\s+cpu: "4"\n\s+memory: "1536Mi"/);
    const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(yaml)?.[1]);
    expect(grace).toBeGreaterThan(45); // shutdownTimeoutMs 45000
    expect(grace).toBe(60);
    expect(yaml).toMatch(/livenessProbe:\n\s+httpGet: \{ path: \/healthz, port: metrics \}/);
    expect(yaml).toMatch(/readinessProbe:\n\s+httpGet: \{ path: \/readyz, port: metrics \}/);
    const threads = deployment(await render([fixture('sasl-tls-keda.yaml')], ['--set', 'config.pool.threadsPerWorker=2']), 'classifier');
    expect(threads).toMatch(/cpu: "8"/);
  });

  it.each([
    ['bad-max-replicas.yaml', /keda\.maxReplicas \(12\) is above inputPartitions \(6\)/],
    ['bad-type.yaml', /\/config\/batch\/maxSize': got string, want null or integer/],
    ['bad-knob-name.yaml', /additional properties 'groupID' not allowed/],
  ])('refuses to render %s', async (file, message) => {
    const r = await template([fixture(file)]);
    expect(r.stderr).toMatch(message);
    expect(r.code).not.toBe(0);
  });

  it('refuses no brokers, SASL without a password Secret, and more fixed replicas than partitions', async () => {
    for (const [set, message] of [
      ['config.kafka.brokers=null', /config\.kafka\.brokers is empty/],
      ['config.kafka.saslMechanism=plain', /secretRefs\.kafka\.saslPassword/],
      ['replicaCount=7', /replicaCount \(7\) is above inputPartitions \(6\)/],
    ] as const) {
      const r = await template([], ['--set', set]);
      expect(r.stderr).toMatch(message);
      expect(r.code).not.toBe(0);
    }
  });

  it('the schema check fails on what the API server or KEDA would reject', async () => {
    const yaml = await render([fixture('sasl-tls-keda.yaml')]);
    for (const [from, to, kind] of [
      ['  maxReplicaCount: 24', '  maxReplicaCount: "24"', 'ScaledObject'],
      ['  pollingInterval: 15', '  pollingIntervall: 15', 'ScaledObject'],
      ['    - parameter: ca', '    - parameter: ca\n      optional: maybe', 'TriggerAuthentication'],
      ['      terminationGracePeriodSeconds: 60', '      terminationGracePeriodSecond: 60', 'Deployment'],
    ] as const) {
      expect(yaml).toContain(from);
      const { code, result } = await validate(yaml.replace(from, to));
      expect(result.resources.filter((r) => r.status === 'statusInvalid').map((r) => r.kind)).toEqual([kind]);
      expect(code).not.toBe(0);
    }
  });
});

describe('README, "Kubernetes"', () => {
  it("the KEDA example's values render and validate", async () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### KEDA'));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toMatch(/^keda:\n {2}enabled: true$/m);
    const file = join(scratch, 'readme-keda.yaml');
    writeFileSync(file, block ?? '');
    const yaml = await render([file]);
    expect(yaml).toMatch(/minReplicaCount: 14\n\s+maxReplicaCount: 28\n/);
    await expectAllValid(yaml);
  });
});

describe('chart files', () => {
  it('Chart.yaml appVersion is the package version (the default image tag)', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    expect(readFileSync(join(chart, 'Chart.yaml'), 'utf8')).toContain(`appVersion: "${pkg.version}"`);
  });
});
