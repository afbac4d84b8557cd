// What lag is computed from, read from the brokers: a group's state, members and committed offsets,
// each topic's log start and end, and the timestamp of the record at an offset. Group and offset work
// stays in consumers/ (the one place that talks kafkajs); src/observe/lag.ts turns readings into lag.
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { throwawayConsumer } from './kafka-client.js';

export interface TopicEnds {
  topic: string;
  /** Per partition: log start (low) and log end (high); absent when they could not be read. */
  ends?: { partition: number; low: number; high: number }[];
  error?: string;
}

export interface GroupReading {
  state: string;
  members: number;
  /** Committed offset per topic and partition (-1: none). */
  committed: Map<string, Map<number, number>>;
  topics: TopicEnds[];
}

/** One long-lived admin client for repeated polls (a dashboard polls every few seconds). */
export class GroupOffsetReader {
  readonly #kafka: Kafka;
  readonly #admin: Admin;
  readonly #connected: Promise<void>;
  #probe: TimestampProbe | undefined;

  constructor(kafka: Kafka) {
    this.#kafka = kafka;
    this.#admin = kafka.admin();
    this.#connected = this.#admin.connect();
  }

  /** The group's reading over `topics` (default: every topic it committed on). */
  async read(group: string, topics?: readonly string[]): Promise<GroupReading> {
    await this.#connected;
    const [description] = (await this.#admin.describeGroups([group])).groups;
    const fetched = await this.#admin.fetchOffsets({ groupId: group, ...(topics ? { topics: [...topics] } : {}) });
    const committed = new Map(fetched.map((t) => [t.topic, new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]))]));
    const names = topics ?? fetched.map((t) => t.topic);
    const ends: TopicEnds[] = [];
    for (const topic of names) {
      try {
        const offsets = await this.#admin.fetchTopicOffsets(topic);
        ends.push({ topic, ends: offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })).sort((x, y) => x.partition - y.partition) });
      } catch (err) {
        ends.push({ topic, error: (err as Error).message });
      }
    }
    return { state: description?.state ?? 'Unknown', members: description?.members.length ?? 0, committed, topics: ends };
  }

  /** Timestamps of the records at the given offsets (null where none arrives in time). */
  async timestamps(topics: readonly string[], targets: readonly { topic: string; partition: number; offset: number }[]): Promise<(number | null)[]> {
    const same = this.#probe && this.#probe.topics.length === topics.length && topics.every((t) => this.#probe?.topics.includes(t));
    if (!same) {
      await this.#probe?.close();
      this.#probe = new TimestampProbe(this.#kafka, [...topics]);
    }
    return (this.#probe as TimestampProbe).read(targets);
  }

  async close(): Promise<void> {
    await this.#probe?.close();
    await this.#connected.catch(() => undefined);
    await this.#admin.disconnect();
  }
}

/**
 * Reads the timestamp of the record at a given offset. A consumer of its own (own group, never commits)
 * stays joined with every partition paused; a read seeks one partition, resumes it, takes the first
 * record at or after the offset, and pauses it again.
 */
export class TimestampProbe {
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
