// One place that turns configuration into a kafkajs client (brokers, TLS, SASL, logging).
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaConfig, type logCreator, type Producer, type SASLOptions } from 'kafkajs';
import type { ResolvedConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const levels = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.WARN, debug: logLevel.DEBUG } as const;

// kafkajs logs, at ERROR, every protocol error it is about to retry ("coordinator is loading", "not the
// leader") and warns about partitioner defaults on every producer. Those are expected while a broker
// starts or a group rebalances: they go to debug. What remains is printed as one readable line.
// Connection refusals repeat many times a second while a broker is away; klassify's own rate-limited
// log line and /readyz say so once.
const RETRIED = /Connection error|Failed to connect to seed broker|coordinator is (loading|not available)|not the leader|leadership election|rebalance|not.*coordinator|There is no leader|switched default partitioner|Limiting retries for the idempotent|concurrent operation on the same transaction/i;

const quietLogCreator: logCreator = (level) => ({ namespace, level: entryLevel, log }) => {
  const text = `${log.message}${typeof log.error === 'string' ? `: ${log.error}` : ''}`;
  const effective = RETRIED.test(text) ? logLevel.DEBUG : entryLevel;
  if (effective > level || effective === logLevel.NOTHING) return;
  const name = effective === logLevel.ERROR ? 'ERROR' : effective === logLevel.WARN ? 'WARN' : effective === logLevel.INFO ? 'INFO' : 'DEBUG';
  process.stderr.write(`kafkajs ${name} [${namespace}] ${text}\n`);
};

export function kafkaConfig(config: ResolvedConfig, brokers: readonly string[], clientId = config.kafka.clientId): KafkaConfig {
  const k = config.kafka;
  const out: KafkaConfig = {
    clientId,
    brokers: [...brokers],
    // kafkajs's INFO level narrates every group join; klassify reports what matters itself.
    logLevel: levels[config.logLevel],
    logCreator: quietLogCreator,
    retry: { initialRetryTime: 100, retries: 10 },
  };
  if (k.ssl) out.ssl = k.sslCa ? { ca: [readFileSync(k.sslCa, 'utf8')] } : true;
  if (k.saslMechanism !== 'none') {
    if (!k.saslUsername || !k.saslPassword) {
      throw new ConfigError(`KAFKA_SASL_MECHANISM=${k.saslMechanism} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
    }
    out.sasl = { mechanism: k.saslMechanism, username: k.saslUsername, password: k.saslPassword } as SASLOptions;
  }
  return out;
}

export function createKafka(config: ResolvedConfig, brokers: readonly string[], clientId?: string): Kafka {
  return new Kafka(kafkaConfig(config, brokers, clientId));
}

/**
 * Returns each topic's partition count, creating missing topics first when `create` (existing topics are
 * left as they are).
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  partitions: number,
  create = true,
  /** Per topic: partitions and topic configs when klassify creates it (e.g. cleanup.policy=compact). */
  special: Readonly<Record<string, { partitions?: number; configs?: Record<string, string> }>> = {},
): Promise<Map<string, number>> {
  return withAdmin(kafka, async (admin) => {
    // Metadata of a loaded broker right after topics were created may answer "does not host this
    // topic-partition" for a moment (retriable), as below.
    const existing = new Set(await retrying(() => admin.listTopics()));
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length > 0 && create) {
      await admin.createTopics({
        topics: missing.map((topic) => ({
          topic,
          numPartitions: special[topic]?.partitions ?? partitions,
          replicationFactor: -1,
          configEntries: Object.entries(special[topic]?.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        waitForLeaders: true,
      });
    }
    // Right after createTopics a loaded broker may still answer "does not host this topic-partition" or
    // "not the leader": those are retriable, and kafkajs' admin gives up on them too soon.
    const meta = await retrying(() => admin.fetchTopicMetadata({ topics: [...new Set(topics)] }));
    return new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  });
}

/**
 * Runs `step` again (up to ~10 s) while it fails with an error kafkajs marks retriable; with
 * `onlyLeaderless`, only while a partition has no leader yet (a fresh topic on a loaded broker). For a
 * send that failed in its metadata step nothing was written; one that failed on one partition may have
 * written the others, so repeating it is at-least-once for them.
 */
export async function retrying<T>(step: () => Promise<T>, attempts = 40, waitMs = 250, onlyLeaderless = false): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (err) {
      const leaderless = /does not host this topic-partition|not the leader|leadership election/i.test(String((err as Error).message));
      const retriable = leaderless || (!onlyLeaderless && (err as { retriable?: unknown }).retriable === true);
      if (!retriable || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

/** Runs `fn` with a connected admin client, disconnected afterwards whatever happens. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A producer for writing input records (klassify produce, the demo): idempotent, so a retried send
 * never puts a record into the topic twice; one request in flight keeps the order kafkajs needs for that.
 */
export function recordProducer(kafka: Kafka): Producer {
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

/**
 * A consumer in a throwaway group of its own (`prefix-<random>`): it never commits for a real group and
 * never takes partitions from one. Reads committed records only (exactly-once output stays whole).
 */
export function throwawayConsumer(kafka: Kafka, prefix: string, options: { maxWaitTimeInMs?: number; maxBytesPerPartition?: number } = {}): Consumer {
  return kafka.consumer({ groupId: `${prefix}-${randomBytes(6).toString('hex')}`, readUncommitted: false, maxWaitTimeInMs: options.maxWaitTimeInMs ?? 200, ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }) });
}

/** Asks a broker for metadata and a group coordinator: true when a consumer group can join it now. */
export async function probeBroker(bootstrap: string, timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'klassify-probe',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.listTopics();
    // The group coordinator answers "loading" for a moment after start; describeGroups waits through it.
    await admin.describeGroups(['klassify-probe']);
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
