// How the deployment files take the knob table (src/config-knobs.ts): the Helm chart's `config.<knob key>`
// values, its `secretRefs.<knob key>` Secret references, the env template that turns both into environment
// variables, and docker-compose.yml's klassify environment. scripts/deploy-gen.mjs writes them and
// test/unit/deploy-gen.test.ts fails when a committed file differs, so the chart, compose and README never drift.
import { knobs, type Knob } from '../config-knobs.js';

/** Knobs that only ever come from a Secret (`secretRefs.<key>`), never from a ConfigMap: credentials. */
export const SECRET_ONLY_KNOBS: readonly string[] = ['kafka.saslUsername', 'kafka.saslPassword', 'metrics.token'];

/** Knobs whose value is a file path: a `secretRefs.<key>` Secret is mounted and the variable names the file. */
export const FILE_KNOBS: Readonly<Record<string, string>> = { 'kafka.sslCa': '/etc/klassify/kafka-ca' };

/**
 * Chart defaults that differ from klassify's own, because in a pod the machine-derived default is wrong:
 * the home must be writable under a read-only root file system; the probes and the Service need the
 * metrics server on every interface; availableParallelism() sees the node's cores, not the pod's CPU
 * limit, so the worker count is explicit (and sets the CPU request); the embedded Kafka is never run in a pod.
 */
export const CHART_DEFAULTS: Readonly<Record<string, unknown>> = {
  home: '/tmp/klassify',
  'kafka.brokers': ['kafka:9092'],
  'model.dir': null,
  'pool.workers': 2,
  'metrics.host': '0.0.0.0',
  // Probes and the Service reach the pod IP; without secretRefs.metrics.token the chart says so in NOTES.txt.
  'metrics.insecure': true,
};

/** docker-compose.yml's klassify service: the knobs it sets, by knob key (the variable names come from the table). */
export const COMPOSE_SETTINGS: Readonly<Record<string, unknown>> = {
  'kafka.brokers': ['kafka:29092'],
  'registry.url': 'http://schema-registry:8080/apis/ccompat/v7',
  'metrics.host': '0.0.0.0',
  'metrics.port': 9464,
  // A local development stack: the port is published on the host only.
  'metrics.insecure': true,
};

export function knob(key: string): Knob {
  const found = knobs.find((k) => k.key === key);
  if (found === undefined) throw new Error(`no knob ${key} in src/config-knobs.ts`);
  return found;
}

/** Knobs settable under `config.` in values.yaml: all but the credentials. */
export function configKnobs(): Knob[] {
  return knobs.filter((k) => !SECRET_ONLY_KNOBS.includes(k.key));
}

/** The chart's default for a knob: CHART_DEFAULTS, else klassify's own (null when it has none). */
export function chartDefault(k: Knob): unknown {
  if (Object.hasOwn(CHART_DEFAULTS, k.key)) return CHART_DEFAULTS[k.key];
  return k.default() ?? null;
}

/** A knob value as its environment variable spells it (lists comma-separated, as src/config.ts parses them). */
export function envString(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}

/** JSON schema of one knob's value in values.yaml. Types only: klassify itself checks ranges and enums at start. */
export function knobValueSchema(k: Knob): Record<string, unknown> {
  const base: Record<string, unknown> = { description: `${k.help} (${k.env}, --${k.flag})` };
  switch (k.type) {
    case 'string':
      return { ...base, type: ['string', 'null'] };
    case 'int':
      return { ...base, type: ['integer', 'null'] };
    case 'number':
      return { ...base, type: ['number', 'null'] };
    case 'bool':
      return { ...base, type: ['boolean', 'null'] };
    case 'list':
    case 'cpu-sets':
      return { ...base, type: ['array', 'null'], items: { type: 'string', minLength: 1 } };
    case 'int-list':
      return { ...base, type: ['array', 'null'], items: { type: 'integer', minimum: 0 } };
  }
}

/** Groups knob keys by their first segment ("kafka.brokers" → kafka), keeping the table's order. */
export function tree<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, { leaf?: T; children: Map<string, T> }> {
  const out = new Map<string, { leaf?: T; children: Map<string, T> }>();
  for (const item of items) {
    const [head, ...rest] = keyOf(item).split('.');
    if (head === undefined) continue;
    const node = out.get(head) ?? { children: new Map<string, T>() };
    if (rest.length === 0) node.leaf = item;
    else node.children.set(rest.join('.'), item);
    out.set(head, node);
  }
  return out;
}
