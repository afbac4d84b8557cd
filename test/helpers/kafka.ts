// Kafka helpers for integration tests: unique names, fast-retry clients, produce and collect.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { Kafka, logLevel, type Admin, type Consumer, type IHeaders, type KafkaMessage, type Message } from 'kafkajs';
import { retrying, withAdmin } from '../../consumers/kafka-client.js';

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function brokers(): string[] {
  return inject('kafkaBrokers').split(',');
}

export function testKafka(clientId = uniqueName('test'), brokerList: string[] = brokers()): Kafka {
  return new Kafka({
    clientId,
    brokers: brokerList,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 },
  });
}

/**
 * Records in `topic` so far: the sum of its partitions' log-end offsets (in exactly-once mode these count
 * transaction markers too). Asked again while a partition has no settled leader: right after the pipeline
 * creates its output topic, a broker can answer ListOffsets with "not the leader for that topic-partition".
 */
export async function logEndTotal(client: Admin | Kafka, topic: string): Promise<number> {
  const count = async (admin: Admin): Promise<number> =>
    (await retrying(() => admin.fetchTopicOffsets(topic), 40, 250, true)).reduce((n, p) => n + Number(p.high), 0);
  return client instanceof Kafka ? withAdmin(client, count) : count(client);
}

export async function createTopic(kafka: Kafka, topic: string, numPartitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // A loaded broker can answer the wait for leaders with "does not host this topic-partition" for a
    // topic it just created; creating again is a no-op, so the step is repeated like the product's.
    await retrying(() => admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true }));
  } finally {
    await admin.disconnect();
  }
}

/** Writes `messages` to `topic` with a short-lived producer. */
export async function produce(kafka: Kafka, topic: string, messages: Message[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await retrying(() => producer.send({ topic, messages }), 40, 250, true);
  } finally {
    await producer.disconnect();
  }
}

export interface Collected {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
  timestamp: string;
}

/**
 * Reads `topic` from the beginning until `count` records arrived or `timeoutMs` passed; returns what came.
 * readCommitted: see only committed transactional records.
 */
export async function collect(
  kafka: Kafka,
  topic: string,
  count: number,
  options: { timeoutMs?: number; readCommitted?: boolean; settleMs?: number; done?: (out: Collected[]) => boolean } = {},
): Promise<Collected[]> {
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('collect'), readUncommitted: !options.readCommitted, maxWaitTimeInMs: 200 });
  const out: Collected[] = [];
  // A record read again is not a record written twice: after an error kafkajs restarts this consumer
  // from its group's last auto-commit and hands the same offsets out again (seen right after a broker
  // restart). A duplicate write has an offset of its own, so records are kept once per offset.
  const seen = new Set<string>();
  let reread = 0;
  consumer.on(consumer.events.CRASH, (e) => process.stdout.write(`collect(${topic}): consumer crashed (${String(e.payload.error)}), restart: ${String(e.payload.restart)}\n`));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        const at = `${partition}@${message.offset}`;
        if (seen.has(at)) {
          reread++;
          return;
        }
        seen.add(at);
        out.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value,
          headers: message.headers,
          timestamp: message.timestamp,
        });
        if (options.done ? options.done(out) : out.length >= count) resolve();
      },
    });
  });
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, options.timeoutMs ?? 30_000));
  await Promise.race([done, timeout]);
  // Keep listening briefly: a duplicate arriving after the expected count must be seen to be caught.
  if (options.settleMs) await new Promise((r) => setTimeout(r, options.settleMs));
  await consumer.disconnect();
  if (reread > 0) process.stdout.write(`collect(${topic}): ${reread} record(s) read again after a consumer restart, kept once\n`);
  return out;
}
