// Lag against a ground truth: N records produced, the group committed k of them and stopped; the lag is
// N - k records, and the seconds figure is the age of record k, whose timestamp the test chose.
import { describe, expect, it } from 'vitest';
import { LagMonitor } from '../../src/observe/lag.js';
import { runCli } from '../helpers/cli.js';
import { brokers, createTopic, produce, testKafka, uniqueName } from '../helpers/kafka.js';

describe('lag', () => {
  it('records and seconds equal the ground truth; status STOPPED with no members, OK once caught up', async () => {
    const kafka = testKafka();
    const topic = uniqueName('lag');
    const group = uniqueName('lag-group');
    await createTopic(kafka, topic, 2);
    const now = Date.now();
    const producer = kafka.producer();
    await producer.connect();
    // Partition 0: 10 records, aged 600 s down to 510 s. Partition 1: 4 records, aged 30 s.
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `p0-${i}`, timestamp: String(now - 600_000 + i * 10_000) })) });
    await producer.send({ topic, messages: Array.from({ length: 4 }, (_, i) => ({ partition: 1, value: `p1-${i}`, timestamp: String(now - 30_000) })) });
    // The group consumed and committed 3 records of partition 0 and nothing of partition 1, then stopped.
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '3' }] });
    await admin.disconnect();

    const monitor = new LagMonitor(kafka);
    try {
      const g = await monitor.poll(group, [topic]);
      const [p0, p1] = g.partitions;
      expect(p0).toMatchObject({ partition: 0, committed: 3, logEnd: 10, lag: 7, oldestUnconsumedTs: now - 600_000 + 30_000 });
      expect(p1).toMatchObject({ partition: 1, committed: null, logEnd: 4, lag: 4, oldestUnconsumedTs: now - 30_000 });
      // The seconds figure is exact up to the time between building the ground truth and polling.
      const elapsed = (Date.now() - now) / 1000;
      expect(p0!.lagSeconds).toBeGreaterThanOrEqual(570);
      expect(p0!.lagSeconds).toBeLessThanOrEqual(570 + elapsed);
      expect(p1!.lagSeconds).toBeGreaterThanOrEqual(30);
      expect(p1!.lagSeconds).toBeLessThanOrEqual(30 + elapsed);
      expect(g.totalLag).toBe(11);
      expect(g.members).toBe(0);
      expect(g.status).toBe('STOPPED');

      const admin2 = kafka.admin();
      await admin2.connect();
      await admin2.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '10' }, { partition: 1, offset: '4' }] });
      await admin2.disconnect();
      const caughtUp = await monitor.poll(group, [topic]);
      expect(caughtUp.totalLag).toBe(0);
      expect(caughtUp.maxLagSeconds).toBe(0);
      expect(caughtUp.status).toBe('OK');
    } finally {
      await monitor.close();
    }
  });

  it('klassify lag --json prints the same figures', async () => {
    const kafka = testKafka();
    const topic = uniqueName('lag-cli');
    const group = uniqueName('lag-cli-group');
    await createTopic(kafka, topic, 1);
    await produce(kafka, topic, Array.from({ length: 5 }, (_, i) => ({ value: `m${i}` })));
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '2' }] });
    await admin.disconnect();
    const r = await runCli(['lag', '--group', group, '--json', '--brokers', brokers().join(',')]);
    expect(r.code, r.stderr).toBe(0);
    const g = JSON.parse(r.stdout) as { totalLag: number; partitions: { lag: number; committed: number }[]; status: string };
    expect(g.totalLag).toBe(3);
    expect(g.partitions[0]).toMatchObject({ committed: 2, lag: 3 });
    expect(g.status).toBe('STOPPED');
    const text = await runCli(['lag', '--group', group, '--brokers', brokers().join(',')]);
    expect(text.stdout).toMatch(new RegExp(`${topic}\\[0\\]\\s+2\\s+5\\s+3`));
  });
});
