// settle() on a real broker, given the state a broker leaves when it skips a transaction's markers
// (KAFKA-20734): records of a transactional id open in an output partition and its offsets pending in the
// group, while the coordinator has nothing in progress for the id. The state is built by writing the
// records and the offsets under the id's producer id and epoch without registering them with the
// coordinator (which partition verification would refuse, so it is switched off for that moment), and
// then initialising the id again: exactly what a restarted broker leaves behind after skipping markers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { transactionalIdFor } from '../../consumers/exactly-once-sink.js';
import { retrying } from '../../consumers/kafka-client.js';
import { rawCluster, settle } from '../../consumers/txn-settle.js';
import { collect, createTopic, testKafka, uniqueName } from '../helpers/kafka.js';

interface Raw {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findGroupCoordinator(a: { groupId: string; coordinatorType?: number }): Promise<RawBroker>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  findBroker(a: { nodeId: string }): Promise<RawBroker>;
}
interface RawBroker {
  initProducerId(a: { transactionalId: string; transactionTimeout: number }): Promise<{ producerId: string; producerEpoch: number }>;
  produce(a: object): Promise<unknown>;
  txnOffsetCommit(a: object): Promise<unknown>;
}

/** kafkajs's internal cluster, as the product reaches it, with the requests only this test sends. */
const raw = (kafka: Kafka): Raw => rawCluster(kafka) as unknown as Raw;

const VERIFY = 'transaction.partition.verification.enable';
let kafka: Kafka;
let admin: Admin;

/** Partition verification on every broker (a per-broker dynamic config; kafkajs cannot name the cluster default). */
async function verification(on: boolean): Promise<void> {
  const { brokers } = await admin.describeCluster();
  await admin.alterConfigs({
    validateOnly: false,
    resources: brokers.map((b) => ({ type: ConfigResourceTypes.BROKER, name: String(b.nodeId), configEntries: [{ name: VERIFY, value: String(on) }] })),
  });
}

/** Leaves `count` records of `transactionalId` open in out[0] (unless 0) and offset `offset` pending for in[0]. */
async function leaveOpen(t: { input: string; output: string; group: string }, transactionalId: string, count: number, offset: number): Promise<void> {
  const cluster = raw(kafka);
  await cluster.connect();
  try {
    await cluster.addMultipleTargetTopics([t.output]);
    // A fresh broker's coordinators answer "loading" for a moment: retried, as the product does.
    const init = (): Promise<{ producerId: string; producerEpoch: number }> => retrying(async () => {
      const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: 1 });
      return coordinator.initProducerId({ transactionalId, transactionTimeout: 60_000 });
    });
    const { producerId, producerEpoch } = await init();
    await verification(false);
    try {
      if (count > 0) {
        const leader = cluster.findTopicPartitionMetadata(t.output).find((p) => p.partitionId === 0)?.leader;
        const broker = await cluster.findBroker({ nodeId: String(leader) });
        const messages = Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `open-${i}` }));
        await whileUnverified(() => broker.produce({ transactionalId, producerId, producerEpoch, acks: -1, topicData: [{ topic: t.output, partitions: [{ partition: 0, firstSequence: 0, messages }] }] }));
      }
      await whileUnverified(async () => {
        const group = await cluster.findGroupCoordinator({ groupId: t.group });
        await group.txnOffsetCommit({ transactionalId, groupId: t.group, producerId, producerEpoch, topics: [{ topic: t.input, partitions: [{ partition: 0, offset: String(offset) }] }] });
      });
    } finally {
      await verification(true);
    }
    // The coordinator has no transaction in progress for the id, so a new init leaves the records open.
    await init();
  } finally {
    await cluster.disconnect();
  }
}

/** Retries `step` while the brokers still verify partitions (a dynamic config reaches them in a moment). */
async function whileUnverified(step: () => Promise<unknown>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await retrying(step);
      return;
    } catch (err) {
      if ((err as { type?: string }).type !== 'INVALID_TXN_STATE' || i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function committedOffset(group: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Number(t?.partitions.find((p) => p.partition === 0)?.offset ?? -1);
}

async function stableAndEnd(topic: string): Promise<{ stable: number; end: number }> {
  const cluster = raw(kafka);
  await cluster.connect();
  try {
    await cluster.addMultipleTargetTopics([topic]);
    const leader = cluster.findTopicPartitionMetadata(topic).find((p) => p.partitionId === 0)?.leader;
    const broker = (await cluster.findBroker({ nodeId: String(leader) })) as unknown as { listOffsets(a: object): Promise<{ responses: { partitions: { offset: string }[] }[] }> };
    const at = async (isolationLevel: number): Promise<number> =>
      Number((await broker.listOffsets({ replicaId: -1, isolationLevel, topics: [{ topic, partitions: [{ partition: 0, timestamp: -1 }] }] })).responses[0]?.partitions[0]?.offset);
    return { end: await at(0), stable: await at(1) };
  } finally {
    await cluster.disconnect();
  }
}

async function topics(): Promise<{ input: string; output: string; dlq: string; group: string }> {
  const t = { input: uniqueName('settle-in'), output: uniqueName('settle-out'), dlq: uniqueName('settle-dlq'), group: uniqueName('settle-g') };
  for (const topic of [t.input, t.output, t.dlq]) await createTopic(kafka, topic, 1);
  return t;
}

beforeAll(async () => {
  kafka = testKafka(uniqueName('settle'));
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin.disconnect();
});

describe('settle: a transaction whose markers a broker skipped', () => {
  it('commits the open records and the pending offsets together, once', async () => {
    const t = await topics();
    const tp = { topic: t.input, partition: 0 };
    const id = transactionalIdFor(t.group, tp);
    await leaveOpen(t, id, 5, 5);
    // The state the pipeline met after the restart: nothing committed, the records invisible.
    expect(await committedOffset(t.group, t.input)).toBe(-1);
    expect(await stableAndEnd(t.output)).toEqual({ stable: 0, end: 5 });

    const writesTo = [{ topic: t.output, partition: 0 }, { topic: t.dlq, partition: 0 }];
    expect(await settle(kafka, [{ transactionalId: id, writesTo }], { groupId: t.group, transactionTimeoutMs: 60_000 })).toEqual([id]);
    expect(await committedOffset(t.group, t.input)).toBe(5);
    const out = await collect(kafka, t.output, 5, { readCommitted: true, timeoutMs: 20_000 });
    expect(out.map((r) => r.value?.toString())).toEqual(['open-0', 'open-1', 'open-2', 'open-3', 'open-4']);
    const after = await stableAndEnd(t.output);
    expect(after.stable).toBe(after.end);
    // Nothing open any more: a second settle does nothing.
    expect(await settle(kafka, [{ transactionalId: id, writesTo }], { groupId: t.group, transactionTimeoutMs: 60_000 })).toEqual([]);
    expect(await committedOffset(t.group, t.input)).toBe(5);
  }, 90_000);

  it('leaves pending offsets alone when no records are open (an abort that lost only its group marker)', async () => {
    const t = await topics();
    const id = transactionalIdFor(t.group, { topic: t.input, partition: 0 });
    await leaveOpen(t, id, 0, 7);
    const writesTo = [{ topic: t.output, partition: 0 }, { topic: t.dlq, partition: 0 }];
    expect(await settle(kafka, [{ transactionalId: id, writesTo }], { groupId: t.group, transactionTimeoutMs: 60_000 })).toEqual([]);
    // Committing 7 here would skip records whose results were aborted: it stays uncommitted.
    expect(await committedOffset(t.group, t.input)).toBe(-1);
  }, 90_000);

  it('does nothing to a healthy partition or to another producer\'s transaction in progress', async () => {
    const t = await topics();
    const id = transactionalIdFor(t.group, { topic: t.input, partition: 0 });
    const other = kafka.producer({ transactionalId: uniqueName('other-txn'), idempotent: true, maxInFlightRequests: 1 });
    await other.connect();
    try {
      const open = await other.transaction();
      await open.send({ topic: t.output, messages: [{ partition: 0, value: 'theirs' }] });
      const writesTo = [{ topic: t.output, partition: 0 }, { topic: t.dlq, partition: 0 }];
      // Their open transaction shows as open; the empty commit of ours leaves it open and theirs to end.
      await settle(kafka, [{ transactionalId: id, writesTo }], { groupId: t.group, transactionTimeoutMs: 60_000 });
      const during = await stableAndEnd(t.output);
      expect(during.stable).toBe(0);
      expect(await committedOffset(t.group, t.input)).toBe(-1);
      await open.commit();
      const out = await collect(kafka, t.output, 1, { readCommitted: true, timeoutMs: 20_000 });
      expect(out.map((r) => r.value?.toString())).toEqual(['theirs']);
    } finally {
      await other.disconnect();
    }
  }, 90_000);
});
