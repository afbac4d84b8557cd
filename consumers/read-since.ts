// Reads what a topic holds from a point in time to its current end, once (read_committed): how a service
// rebuilds a recent history it keeps only in memory (the brand dashboard's last hours) after a restart.
// Starts at the offsets the broker gives for the time (ListOffsets by timestamp), so a long-lived topic is
// not read from its beginning.
import type { Kafka } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import { retrying, withAdmin } from './kafka-client.js';

export interface TimedRecord {
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
}

/** Records of `topic` appended at or after `sinceMs`, in offset order per partition; at most `timeoutMs` of reading. */
export async function readSince(kafka: Kafka, topic: string, sinceMs: number, timeoutMs = 15_000): Promise<TimedRecord[]> {
  const { starts, ends } = await withAdmin(kafka, async (admin) => ({
    ends: new Map((await retrying(() => admin.fetchTopicOffsets(topic))).map((p) => [p.partition, Number(p.high)])),
    starts: await retrying(() => admin.fetchTopicOffsetsByTimestamp(topic, sinceMs)),
  }));
  // Per partition: where to start and the end as of now. A time past the last record gives -1 or the end.
  const todo = new Map<number, { from: number; high: number }>();
  for (const s of starts) {
    const range = { from: Number(s.offset), high: ends.get(s.partition) ?? 0 };
    if (range.from >= 0 && range.from < range.high) todo.set(s.partition, range);
  }
  if (todo.size === 0) return [];
  const out: TimedRecord[] = [];
  const reader = kafka.consumer({ groupId: `klassify.read-since.${process.pid}.${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    const left = new Set(todo.keys());
    let resolveDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        const range = todo.get(partition);
        if (!range || Number(message.offset) < range.from) return;
        out.push({ partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value });
        // A transactional log ends with a commit marker, which is never delivered: one short of the end is the end.
        if (Number(message.offset) >= range.high - 2) left.delete(partition);
        if (left.size === 0) resolveDone();
      },
    });
    for (const [partition, r] of todo) reader.seek({ topic, partition, offset: String(r.from) });
    // Aborted records at the end never arrive either: the bound ends the read with what came.
    await Promise.race([done, sleep(timeoutMs)]);
  } finally {
    await reader.disconnect();
  }
  return out;
}
