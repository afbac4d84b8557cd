// The input side on the real broker: pause state across a rebalance.
import { describe, expect, it } from 'vitest';
import { KafkaSource, type SourceRecord } from '../../consumers/source.js';
import type { TopicPartition } from '../../consumers/ledger.js';
import { createTopic, produce, testKafka, uniqueName } from '../helpers/kafka.js';

async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('KafkaSource', () => {
  it('a partition paused for backpressure is fetched again after a rebalance hands it back', async () => {
    const kafka = testKafka();
    const topic = uniqueName('source-pause');
    const groupId = uniqueName('source-pause-group');
    await createTopic(kafka, topic, 1);
    await produce(kafka, topic, Array.from({ length: 50 }, (_, i) => ({ value: `r${i}` })));

    const source = new KafkaSource(kafka, { groupId, topics: [topic], fromBeginning: true, concurrency: 1, sessionTimeoutMs: 10_000 });
    const fetched: SourceRecord[] = [];
    const assignments: TopicPartition[][] = [];
    void source.start({
      onRecords: (tp, records) => {
        fetched.push(...records);
        // Backpressure as the pipeline applies it: nothing is committed, fetching stops.
        source.pause([tp]);
      },
      onAssignment: (assigned) => {
        assignments.push(assigned);
        fetched.length = 0;
      },
      onCrash: (error) => {
        throw error;
      },
    });
    const intruder = kafka.consumer({ groupId, sessionTimeout: 10_000 });
    try {
      await until(() => fetched.length > 0, 'the first fetch');
      expect(source.isPaused({ topic, partition: 0 })).toBe(true);

      // A second member joins (a rebalance) and leaves (another): the partition comes back to the source.
      await intruder.connect();
      await intruder.subscribe({ topic, fromBeginning: true });
      await intruder.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => {} });
      await until(() => assignments.length >= 2, 'the rebalance the intruder causes');
      await intruder.disconnect();
      await until(() => assignments.length >= 3 && (assignments.at(-1)?.length ?? 0) === 1, 'the partition to come back');

      // Nothing was committed, so the new generation starts again at offset 0; a stale pause would stall it.
      await until(() => fetched.length > 0, 'records of the new generation', 30_000);
      expect(fetched[0]!.offset).toBe('0');
      expect(fetched[0]!.generation).toBe(source.generation);
    } finally {
      await intruder.disconnect().catch(() => undefined);
      await source.stop();
    }
  }, 120_000);
});
