// Exactly-once after a broker skipped transaction markers.
//
// Kafka brokers (every version served up to 4.4.0; KAFKA-20734) complete a transaction without writing its
// markers to the partitions whose leader is offline at that moment: the coordinator logs "Couldn't find
// leader endpoint ... likely deleted already and hence can be skipped". A lone broker restarted after a
// crash goes through such a moment (fenced while its previous incarnation's session lapses), and the
// transactions that were committing when it died may be completed right then. Their records stay open in
// the output partitions and their offsets pending in the group. The next commit of the same transactional
// id commits those records, but the committed offset read before that does not include the pending one, so
// the partition resumed from the run before and wrote it a second time (CI: 168 results twice).
//
// settle() runs before a partition's producer opens. It initialises the partition's transactional id, which
// completes whatever an older producer left, as the producer's own init would. Then, if a partition that id
// writes to still has a transaction open, it commits an empty transaction over those partitions and the
// group. Its markers complete the open records and the pending offsets together, so the offset read next
// is where the output really is. The empty commit runs only when something is open: a transaction that
// was aborted and lost only its group marker (records aborted, offsets pending) must not have its offsets
// committed, and its output partitions show nothing open.
//
// kafkajs has no API for a transaction without records, so this speaks the protocol through kafkajs's
// internal cluster and broker objects (kafkajs 2.2): rawCluster() says so clearly if they are missing.
import type { Kafka } from 'kafkajs';
import { retrying } from './kafka-client.js';
import { tpKey, type TopicPartition } from './ledger.js';

interface TxnIds {
  transactionalId: string;
  producerId: number | string;
  producerEpoch: number;
}

/** The part of kafkajs's internal Broker used here. */
interface RawBroker {
  initProducerId(a: { transactionalId: string; transactionTimeout: number }): Promise<{ producerId: number | string; producerEpoch: number }>;
  addPartitionsToTxn(a: TxnIds & { topics: { topic: string; partitions: number[] }[] }): Promise<unknown>;
  addOffsetsToTxn(a: TxnIds & { groupId: string }): Promise<unknown>;
  endTxn(a: TxnIds & { transactionResult: boolean }): Promise<unknown>;
  listOffsets(a: { replicaId: number; isolationLevel: number; topics: { topic: string; partitions: { partition: number; timestamp: number }[] }[] }): Promise<{
    responses: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }>;
}

/** The part of kafkajs's internal Cluster used here. */
interface RawCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findGroupCoordinator(a: { groupId: string; coordinatorType: number }): Promise<RawBroker>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(a: { nodeId: string }): Promise<RawBroker>;
}

const TRANSACTION_COORDINATOR = 1;
const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;
const LATEST = -1;

/** A cluster connection of kafkajs's own making (the one its producers use), from a Kafka client; the
 *  txn-settle test builds the broken state through it too. */
export function rawCluster(kafka: Kafka): RawCluster {
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = key === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') throw new Error('this kafkajs version has no internal cluster factory (klassify is built against kafkajs 2.2)');
  return (create as (o: object) => RawCluster)({ allowAutoTopicCreation: false });
}

export interface SettleItem {
  transactionalId: string;
  /** The partitions this transactional id writes records to. */
  writesTo: readonly TopicPartition[];
}

export interface SettleOptions {
  groupId: string;
  /** The producers' transaction timeout (ms), as their own init would send it. */
  transactionTimeoutMs: number;
}

/**
 * Initialises each item's transactional id, then commits an empty transaction (its partitions and the
 * group) for each item that writes to a partition with a transaction still open. Returns the ids it
 * committed for. Throws when the brokers cannot be reached: the caller's open fails and is retried.
 */
export async function settle(kafka: Kafka, items: readonly SettleItem[], options: SettleOptions): Promise<string[]> {
  if (items.length === 0) return [];
  const cluster = rawCluster(kafka);
  await cluster.connect();
  try {
    const topics = [...new Set(items.flatMap((i) => i.writesTo.map((tp) => tp.topic)))];
    await retrying(() => cluster.addMultipleTargetTopics(topics));
    // Every init first: it ends (or waits out) the id's own earlier transaction, whose healthy markers
    // would otherwise still show as open below.
    const ids = await Promise.all(items.map((item) => initId(cluster, item.transactionalId, options.transactionTimeoutMs)));
    const open = await openPartitions(cluster, items.flatMap((i) => i.writesTo));
    const settled: string[] = [];
    await Promise.all(items.map(async (item, i) => {
      const writes = item.writesTo.filter((tp) => open.has(tpKey(tp)));
      if (writes.length === 0) return;
      await commitEmpty(cluster, ids[i] as TxnIds, writes, options.groupId);
      // EndTxn returns once the commit is decided; its markers follow. Another init waits until they are
      // written (the coordinator answers CONCURRENT_TRANSACTIONS until then), so the offsets read next
      // include the settled ones.
      await initId(cluster, item.transactionalId, options.transactionTimeoutMs);
      settled.push(item.transactionalId);
    }));
    return settled;
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

async function initId(cluster: RawCluster, transactionalId: string, transactionTimeout: number): Promise<TxnIds> {
  // CONCURRENT_TRANSACTIONS (markers still being written) and coordinator moves are retriable; ~20 s.
  return retrying(async () => {
    const coordinator = await cluster.findGroupCoordinator({ groupId: transactionalId, coordinatorType: TRANSACTION_COORDINATOR });
    const { producerId, producerEpoch } = await coordinator.initProducerId({ transactionalId, transactionTimeout });
    return { transactionalId, producerId, producerEpoch };
  }, 80, 250);
}

/** The partitions (tpKey) whose last stable offset is below their log end: a transaction is open there. */
async function openPartitions(cluster: RawCluster, tps: readonly TopicPartition[]): Promise<Set<string>> {
  const byTopic = new Map<string, Set<number>>();
  for (const tp of tps) byTopic.set(tp.topic, (byTopic.get(tp.topic) ?? new Set()).add(tp.partition));
  const open = new Set<string>();
  for (const [topic, partitions] of byTopic) {
    const leaders = cluster.findLeaderForPartitions(topic, [...partitions]);
    for (const [nodeId, ps] of Object.entries(leaders)) {
      const request = { replicaId: -1, topics: [{ topic, partitions: ps.map((partition) => ({ partition, timestamp: LATEST })) }] };
      const [end, stable] = await retrying(async () => {
        const broker = await cluster.findBroker({ nodeId });
        return Promise.all([broker.listOffsets({ ...request, isolationLevel: READ_UNCOMMITTED }), broker.listOffsets({ ...request, isolationLevel: READ_COMMITTED })]);
      });
      const stableAt = new Map(stable.responses.flatMap((r) => r.partitions.map((p) => [p.partition, Number(p.offset)] as const)));
      for (const r of end.responses) {
        for (const p of r.partitions) if ((stableAt.get(p.partition) ?? Number(p.offset)) < Number(p.offset)) open.add(tpKey({ topic, partition: p.partition }));
      }
    }
  }
  return open;
}

async function commitEmpty(cluster: RawCluster, ids: TxnIds, writes: readonly TopicPartition[], groupId: string): Promise<void> {
  const byTopic = new Map<string, number[]>();
  for (const tp of writes) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  await retrying(async () => {
    const coordinator = await cluster.findGroupCoordinator({ groupId: ids.transactionalId, coordinatorType: TRANSACTION_COORDINATOR });
    await coordinator.addPartitionsToTxn({ ...ids, topics });
    await coordinator.addOffsetsToTxn({ ...ids, groupId });
    await coordinator.endTxn({ ...ids, transactionResult: true });
  }, 80, 250);
}
