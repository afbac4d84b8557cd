// Consumer lag, measured rather than estimated: per partition the committed offset, the log-end offset,
// the lag in records, and the lag in seconds as now minus the timestamp of the oldest unconsumed record,
// which is read from the broker. (Interpolating time from offset rates, as kafka-lag-exporter does, makes
// the seconds figure bounce when traffic is bursty: its issues 121 and 353.)
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { throwawayConsumer } from '../../consumers/kafka-client.js';
import { evaluatePartition, LagWindows, worst, type LagStatus } from './lag-status.js';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Next offset the group will read; null when it never committed on this partition. */
  committed: number | null;
  logStart: number;
  logEnd: number;
  lag: number;
  /** Age of the oldest unconsumed record (0 when nothing is pending); null when it could not be read. */
  lagSeconds: number | null;
  oldestUnconsumedTs: number | null;
  status: LagStatus;
}

export interface GroupLag {
  group: string;
  state: string;
  members: number;
  at: number;
  partitions: PartitionLag[];
  totalLag: number;
  maxLagSeconds: number;
  status: LagStatus;
}

/**
 * Reads the timestamp of the record at a given offset. A consumer of its own (own group, never commits)
 * stays joined with every partition paused; a read seeks one partition, resumes it, takes the first
 * record at or after the offset, and pauses it again.
 */
class TimestampProbe {
  readonly #consumer: Consumer;
  readonly #waiters = new Map<string, { offset: number; resolve: (ts: number | null) => void }>();
  #ready: Promise<void>;
  #assigned = new Set<string>();

  constructor(kafka: Kafka, readonly topics: readonly string[]) {
    this.#consumer = throwawayConsumer(kafka, 'klassify-lag-probe', { maxWaitTimeInMs: 100, maxBytesPerPartition: 16 * 1024 });
    this.#ready = this.#start();
  }

  async #start(): Promise<void> {
    const c = this.#consumer;
    let joined: () => void = () => undefined;
    const whenJoined = new Promise<void>((resolve) => (joined = resolve));
    c.on(c.events.GROUP_JOIN, (e) => {
      const assignment = Object.entries(e.payload.memberAssignment);
      this.#assigned = new Set(assignment.flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
      // Partition by partition: a topic-wide pause followed by a partition-level pause would unpause
      // the rest of the topic (kafkajs's SubscriptionState drops the topic-wide flag).
      c.pause(assignment.map(([topic, partitions]) => ({ topic, partitions })));
      joined();
    });
    await c.connect();
    for (const topic of this.topics) await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 16,
      eachBatch: async ({ batch }) => {
        const key = `${batch.topic}:${batch.partition}`;
        const waiter = this.#waiters.get(key);
        if (waiter === undefined) return;
        const first = batch.messages.find((m) => Number(m.offset) >= waiter.offset);
        if (first === undefined) return;
        this.#waiters.delete(key);
        try {
          c.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
        } catch {
          // See read(): a group re-forming; the timestamp is good all the same.
        }
        waiter.resolve(Number(first.timestamp));
      },
    });
    await whenJoined;
  }

  /** Timestamps of the records at the given offsets; null where none arrives within timeoutMs. */
  async read(targets: readonly { topic: string; partition: number; offset: number }[], timeoutMs = 3000): Promise<(number | null)[]> {
    await this.#ready;
    return Promise.all(
      targets.map((t) => {
        const key = `${t.topic}:${t.partition}`;
        if (!this.#assigned.has(key)) return Promise.resolve(null);
        return new Promise<number | null>((resolve) => {
          // kafkajs throws from pause/seek/resume while its consumer group is re-forming (after a broker
          // restart, or while stopping): a probe that cannot run answers null, it never throws from a timer.
          const quietly = (f: () => void): void => {
            try {
              f();
            } catch {
              /* the next poll tries again */
            }
          };
          const timer = setTimeout(() => {
            this.#waiters.delete(key);
            quietly(() => this.#consumer.pause([{ topic: t.topic, partitions: [t.partition] }]));
            resolve(null);
          }, timeoutMs);
          this.#waiters.set(key, { offset: t.offset, resolve: (ts) => (clearTimeout(timer), resolve(ts)) });
          quietly(() => {
            this.#consumer.seek({ topic: t.topic, partition: t.partition, offset: String(t.offset) });
            this.#consumer.resume([{ topic: t.topic, partitions: [t.partition] }]);
          });
        });
      }),
    );
  }

  async close(): Promise<void> {
    await this.#ready.catch(() => undefined);
    await this.#consumer.disconnect();
  }
}

export interface LagMonitorOptions {
  /** Samples per partition for the status rules. */
  windowSize?: number;
  now?: () => number;
}

export class LagMonitor {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #connected: Promise<void>;
  readonly #windows: LagWindows;
  readonly #now: () => number;
  #probe: TimestampProbe | undefined;

  constructor(kafka: Kafka, options: LagMonitorOptions = {}) {
    this.#kafka = kafka;
    this.#admin = kafka.admin();
    this.#connected = this.#admin.connect();
    this.#windows = new LagWindows({ size: options.windowSize ?? 10 });
    this.#now = options.now ?? Date.now;
  }

  async poll(group: string, topics?: readonly string[]): Promise<GroupLag> {
    await this.#connected;
    const [description] = (await this.#admin.describeGroups([group])).groups;
    const state = description?.state ?? 'Unknown';
    const members = description?.members.length ?? 0;
    const committedByTopic = await this.#admin.fetchOffsets({ groupId: group, ...(topics ? { topics: [...topics] } : {}) });
    const names = topics ?? committedByTopic.map((t) => t.topic);
    const at = this.#now();
    const partitions: PartitionLag[] = [];
    const pending: { index: number; topic: string; partition: number; offset: number }[] = [];

    for (const topic of names) {
      let ends: { partition: number; high: string; low: string }[];
      try {
        ends = await this.#admin.fetchTopicOffsets(topic);
      } catch (err) {
        partitions.push({ topic, partition: -1, committed: null, logStart: 0, logEnd: 0, lag: 0, lagSeconds: null, oldestUnconsumedTs: null, status: 'ERROR' });
        this.#windows.add(`${topic}:-1`, { at, committed: 0, logEnd: 0, lag: 0, error: (err as Error).message });
        continue;
      }
      const committed = committedByTopic.find((t) => t.topic === topic)?.partitions ?? [];
      for (const end of ends.sort((a, b) => a.partition - b.partition)) {
        const c = committed.find((p) => p.partition === end.partition);
        const committedOffset = c !== undefined && Number(c.offset) >= 0 ? Number(c.offset) : null;
        const logEnd = Number(end.high);
        const logStart = Number(end.low);
        // Records below the log start are gone (retention): they are not lag anyone can consume.
        const position = Math.max(committedOffset ?? logStart, logStart);
        const lag = Math.max(0, logEnd - position);
        if (lag > 0) pending.push({ index: partitions.length, topic, partition: end.partition, offset: position });
        partitions.push({ topic, partition: end.partition, committed: committedOffset, logStart, logEnd, lag, lagSeconds: lag > 0 ? null : 0, oldestUnconsumedTs: null, status: 'OK' });
      }
    }

    if (pending.length > 0) {
      const probe = await this.#probeFor(names);
      const stamps = await probe.read(pending);
      stamps.forEach((ts, i) => {
        const p = partitions[(pending[i] as (typeof pending)[number]).index] as PartitionLag;
        p.oldestUnconsumedTs = ts;
        // No data record found past the position: only transaction markers remain, nothing to consume.
        p.lagSeconds = ts === null ? 0 : Math.max(0, (at - ts) / 1000);
      });
    }

    for (const p of partitions) {
      if (p.partition < 0) continue;
      const window = this.#windows.add(`${group}:${p.topic}:${p.partition}`, { at, committed: p.committed ?? -1, logEnd: p.logEnd, lag: p.lag });
      p.status = evaluatePartition(window, members > 0);
    }
    return {
      group,
      state,
      members,
      at,
      partitions,
      totalLag: partitions.reduce((n, p) => n + p.lag, 0),
      maxLagSeconds: partitions.reduce((m, p) => Math.max(m, p.lagSeconds ?? 0), 0),
      status: worst(partitions.map((p) => p.status)),
    };
  }

  async #probeFor(topics: readonly string[]): Promise<TimestampProbe> {
    const same = this.#probe && this.#probe.topics.length === topics.length && topics.every((t) => this.#probe?.topics.includes(t));
    if (!same) {
      await this.#probe?.close();
      this.#probe = new TimestampProbe(this.#kafka, [...topics]);
    }
    return this.#probe as TimestampProbe;
  }

  async close(): Promise<void> {
    await this.#probe?.close();
    await this.#connected.catch(() => undefined);
    await this.#admin.disconnect();
  }
}
