// Consumer lag, measured rather than estimated: per partition the committed offset, the log-end offset,
// the lag in records, and the lag in seconds as now minus the timestamp of the oldest unconsumed record,
// which is read from the broker. (Interpolating time from offset rates, as kafka-lag-exporter does, makes
// the seconds figure bounce when traffic is bursty: its issues 121 and 353.)
import type { Kafka } from 'kafkajs';
import { GroupOffsetReader } from '../../consumers/group-offsets.js';
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

export interface LagMonitorOptions {
  /** Samples per partition for the status rules. */
  windowSize?: number;
  now?: () => number;
}

export class LagMonitor {
  readonly #reader: GroupOffsetReader;
  readonly #windows: LagWindows;
  readonly #now: () => number;

  constructor(kafka: Kafka, options: LagMonitorOptions = {}) {
    this.#reader = new GroupOffsetReader(kafka);
    this.#windows = new LagWindows({ size: options.windowSize ?? 10 });
    this.#now = options.now ?? Date.now;
  }

  async poll(group: string, topics?: readonly string[]): Promise<GroupLag> {
    const reading = await this.#reader.read(group, topics);
    const { state, members } = reading;
    const names = reading.topics.map((t) => t.topic);
    const at = this.#now();
    const partitions: PartitionLag[] = [];
    const pending: { index: number; topic: string; partition: number; offset: number }[] = [];

    for (const { topic, ends, error } of reading.topics) {
      if (ends === undefined) {
        partitions.push({ topic, partition: -1, committed: null, logStart: 0, logEnd: 0, lag: 0, lagSeconds: null, oldestUnconsumedTs: null, status: 'ERROR' });
        this.#windows.add(`${topic}:-1`, { at, committed: 0, logEnd: 0, lag: 0, error: error ?? 'log offsets unreadable' });
        continue;
      }
      const committed = reading.committed.get(topic);
      for (const end of ends) {
        const c = committed?.get(end.partition);
        const committedOffset = c !== undefined && c >= 0 ? c : null;
        const logEnd = end.high;
        const logStart = end.low;
        // Records below the log start are gone (retention): they are not lag anyone can consume.
        const position = Math.max(committedOffset ?? logStart, logStart);
        const lag = Math.max(0, logEnd - position);
        if (lag > 0) pending.push({ index: partitions.length, topic, partition: end.partition, offset: position });
        partitions.push({ topic, partition: end.partition, committed: committedOffset, logStart, logEnd, lag, lagSeconds: lag > 0 ? null : 0, oldestUnconsumedTs: null, status: 'OK' });
      }
    }

    if (pending.length > 0) {
      const stamps = await this.#reader.timestamps(names, pending);
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

  async close(): Promise<void> {
    await this.#reader.close();
  }
}
