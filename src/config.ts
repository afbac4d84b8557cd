// One typed, validated configuration: defaults < config file < environment < command-line flags.
// This is the only module that reads process.env; everything else takes a ResolvedConfig.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { knobs, type Knob } from './config-knobs.js';

const list = z.array(z.string().min(1));
const port = z.number().int().min(0).max(65535);

const schema = z.object({
  home: z.string().min(1),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']),
  kafka: z.object({
    brokers: list,
    clientId: z.string().min(1),
    ssl: z.boolean(),
    sslCa: z.string().optional(),
    saslMechanism: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']),
    saslUsername: z.string().optional(),
    saslPassword: z.string().optional(),
    localPort: port,
    localControllerPort: port,
  }),
  registry: z.object({
    url: z.string().url().optional(),
    localPort: port,
    localManagementPort: port,
  }),
  pipeline: z.object({
    inputTopics: list.min(1),
    outputTopic: z.string().min(1),
    deadLetterTopic: z.string().min(1),
    groupId: z.string().min(1),
    partitions: z.number().int().min(1).max(10_000),
    inputFormat: z.enum(['auto', 'json', 'text', 'avro', 'json-schema']),
    outputFormat: z.enum(['json', 'avro']),
    delivery: z.enum(['at-least-once', 'exactly-once']),
    maxTextBytes: z.number().int().min(1),
    maxInFlight: z.number().int().min(1),
    maxInFlightBytes: z.number().int().min(64 * 1024),
    shutdownTimeoutMs: z.number().int().min(100),
    sessionTimeoutMs: z.number().int().min(1000),
    commitIntervalMs: z.number().int().min(0),
    fetchMinBytes: z.number().int().min(1),
    fetchMaxWaitMs: z.number().int().min(1),
    fromBeginning: z.boolean(),
  }),
  batch: z.object({
    maxSize: z.number().int().min(1).max(4096),
    maxWaitMs: z.number().min(0),
    maxTokens: z.number().int().min(1),
    adaptive: z.boolean(),
    targetP99Ms: z.number().min(1),
  }),
  model: z.object({
    dir: z.string().min(1),
    watch: z.boolean(),
    swapMinAgreement: z.number().min(0).max(1),
    shadow: z.string().min(1).optional(),
    shadowSample: z.number().gt(0).max(1),
    shadowTopic: z.string().min(1).optional(),
    shadowWorkers: z.number().int().min(1),
    shadowMaxLiveBusy: z.number().min(0).max(1),
  }),
  brands: z.object({
    file: z.string().min(1).optional(),
    groupId: z.string().min(1),
    statsTopic: z.string().min(1),
    alertsTopic: z.string().min(1),
    stateTopic: z.string().min(1),
    webhookUrl: z.string().url().optional(),
    webhookSecret: z.string().optional(),
  }),
  pool: z.object({
    workers: z.number().int().min(1).max(256),
    threadsPerWorker: z.number().int().min(1).max(256),
    cpuSets: z.array(z.string()),
    gpus: z.array(z.number().int().min(0)),
    maxQueue: z.number().int().min(1),
    maxBatchTokens: z.number().int().min(1),
  }),
  metrics: z.object({
    enabled: z.boolean(),
    host: z.string().min(1),
    port: port,
    token: z.string().optional(),
    insecure: z.boolean(),
  }),
});

export type ResolvedConfig = z.infer<typeof schema>;

/** A partial configuration, as a config file or a caller gives it. */
export type ConfigInput = { [K in keyof ResolvedConfig]?: Partial<ResolvedConfig[K]> | ResolvedConfig[K] };

export interface LoadOptions {
  /** Path of a JSON config file; KLASSIFY_CONFIG names one too. */
  file?: string | undefined;
  /** Values from command-line flags, keyed by knob key (e.g. 'batch.maxSize'). */
  flags?: Record<string, unknown>;
  /** Defaults to process.env; tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides applied last (tests, embedding). */
  overrides?: ConfigInput;
}

export function loadConfig(options: LoadOptions = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const tree: Record<string, unknown> = {};
  for (const knob of knobs) setPath(tree, knob.key, knob.default());

  const file = options.file ?? env.KLASSIFY_CONFIG;
  if (file !== undefined && file !== '') mergeInto(tree, readConfigFile(file));

  for (const knob of knobs) {
    const raw = env[knob.env];
    if (raw !== undefined && raw !== '') setPath(tree, knob.key, parseKnob(knob, raw, `environment variable ${knob.env}`));
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const knob = knobs.find((k) => k.key === key);
    if (knob === undefined) throw new ConfigError(`unknown option ${key}`);
    setPath(tree, key, typeof value === 'string' ? parseKnob(knob, value, `--${knob.flag}`) : value);
  }
  if (options.overrides !== undefined) mergeInto(tree, options.overrides);

  const parsed = schema.safeParse(tree);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    const knob = knobs.find((k) => k.key === where);
    const hint = knob ? ` (env ${knob.env}, flag --${knob.flag})` : '';
    throw new ConfigError(`invalid configuration: ${where}: ${issue?.message ?? 'invalid'}${hint}`);
  }
  const config = parsed.data;
  config.home = resolve(config.home);
  return deepFreeze(config);
}

/** True when the user pointed klassify at their own cluster rather than the embedded one. */
export function usesExternalKafka(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.KAFKA_BROKERS ?? '') !== '';
}

/** Environment lookups other modules need but that are not configuration knobs. */
export function envValue(name: 'JAVA_HOME' | 'PATH' | 'KLASSIFY_DEBUG' | 'DOCKER_HOST' | 'CI'): string | undefined {
  return process.env[name];
}

function parseKnob(knob: Knob, raw: string, source: string): unknown {
  const value = raw.trim();
  switch (knob.type) {
    case 'string':
      return value;
    case 'list':
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'int-list':
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => toNumber(s, source, true));
    case 'cpu-sets':
      return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    case 'int':
      return toNumber(value, source, true);
    case 'number':
      return toNumber(value, source, false);
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      throw new ConfigError(`${source}: expected true or false, got "${raw}"`);
  }
}

function toNumber(value: string, source: string, integer: boolean): number {
  const n = Number(value);
  if (value === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new ConfigError(`${source}: expected ${integer ? 'an integer' : 'a number'}, got "${value}"`);
  }
  return n;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}`, { cause: err });
  }
  try {
    const data: unknown = JSON.parse(text);
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('not an object');
    return data as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${file} is not a JSON object`, { cause: err });
  }
}

function setPath(tree: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === undefined || next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function mergeInto(target: Record<string, unknown>, source: object): void {
  for (const [key, value] of Object.entries(source)) {
    const current = target[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && current !== null && typeof current === 'object' && !Array.isArray(current)) {
      mergeInto(current as Record<string, unknown>, value as object);
    } else if (value !== undefined) {
      target[key] = value;
    }
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
