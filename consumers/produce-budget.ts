// How much one produce request may carry. Kafka refuses a record batch larger than the topic's
// max.message.bytes (the broker's message.max.bytes, 1 MB, by default) with MESSAGE_TOO_LARGE, which is
// not retriable: sending the same batch again is refused again, forever. Results that pile up while a
// broker is away would go out as one batch per partition after it returns, so every request is capped
// by bytes, per destination partition (one record batch each) and in total, and a refusal halves the
// caps until requests go through again.
import type { Admin } from 'kafkajs';
import type { LedgerEntry, TakeBudget } from './ledger.js';
import type { Finished, OutMessage } from './messages.js';

/** Kafka's default max.message.bytes (1 MiB + the 12-byte log overhead, as the broker ships it). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** Total bytes of one produce request (the Java producer's max.request.size default is 1 MiB too). */
export const MAX_REQUEST_BYTES = 1_048_576;

// A v2 record batch has a 61-byte header; each record costs up to ~20 bytes of varints and attributes
// beside its key, value and headers. Counting 64 + 8 per header keeps the estimate above the real size.
const BATCH_OVERHEAD = 61;
/** Below this scale (six refusals in a row) lone messages are shrunk too: see maxMessageBytes. */
const MIN_SCALE_TO_FIT = 1 / 64;
const RECORD_OVERHEAD = 64;
const HEADER_OVERHEAD = 8;

function length(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** An upper estimate of one message's bytes inside a record batch (uncompressed). */
export function messageBytes(m: OutMessage): number {
  let n = RECORD_OVERHEAD + length(m.key) + length(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) n += HEADER_OVERHEAD + Buffer.byteLength(k) + length(one as Buffer | string | undefined);
  }
  return n;
}

export interface ProduceLimits {
  /** Largest record batch each topic accepts (its max.message.bytes), by topic. */
  maxMessageBytes: ReadonlyMap<string, number>;
  /** Cap on one request's total bytes. */
  maxRequestBytes: number;
}

/** Reads max.message.bytes of `topics` (the broker default applies when a topic does not override it). */
export async function readProduceLimits(admin: Admin, topics: readonly string[]): Promise<ProduceLimits> {
  const out = new Map<string, number>();
  const unique = [...new Set(topics)];
  try {
    // kafkajs' ConfigResourceTypes.TOPIC is 2; the enum is not exported as a value in its ESM types.
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: unique.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })),
    });
    for (const r of described.resources) {
      const value = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (Number.isFinite(value) && value > 0) out.set(r.resourceName, value);
    }
  } catch {
    // Not allowed to describe configs (ACLs): fall back to Kafka's default, the common case.
  }
  for (const t of unique) if (!out.has(t)) out.set(t, DEFAULT_MAX_MESSAGE_BYTES);
  return { maxMessageBytes: out, maxRequestBytes: MAX_REQUEST_BYTES };
}

/** True for the broker's non-retriable "too large" refusals, which call for a split, never a plain retry. */
export function isTooLarge(err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const type = (e as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
    // kafkajs' wrappers keep the broker's wording even where they drop the type.
    if (/larger than the max message size|record batch.*too large/i.test(String((e as { message?: unknown }).message))) return true;
    if (e === (e as { cause?: unknown }).cause) break;
  }
  return false;
}

export class ProduceBudget {
  #limits: ProduceLimits;
  /** 1 normally; halved after each refusal, doubled back after each success. */
  #scale = 1;

  constructor(limits: ProduceLimits = { maxMessageBytes: new Map(), maxRequestBytes: MAX_REQUEST_BYTES }) {
    this.#limits = limits;
  }

  /** The limits read from the cluster once the topics exist. */
  setLimits(limits: ProduceLimits): void {
    this.#limits = limits;
  }

  /**
   * The largest message `topic` takes on its own. Refusals shrink requests, not this: a few refusals must
   * not turn ordinary results into dead letters. Only when the caps have been halved MIN_SCALE_TO_FIT
   * times over (our estimate is plainly wrong for this broker) does it shrink too, so a lone message the
   * broker keeps refusing becomes a dead letter that fits instead of being retried for ever.
   */
  maxMessageBytes(topic: string): number {
    const scale = this.#scale < MIN_SCALE_TO_FIT ? this.#scale / MIN_SCALE_TO_FIT : 1;
    return Math.floor(this.#batchLimit(topic) * scale) - BATCH_OVERHEAD;
  }

  #batchLimit(topic: string): number {
    const limit = this.#limits.maxMessageBytes.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES;
    // 5% margin: a batch's real size depends on varint widths our estimate only bounds.
    return Math.floor(limit * 0.95);
  }

  get scale(): number {
    return this.#scale;
  }

  /** The broker refused a request as too large: send half as much next time. */
  refused(): void {
    this.#scale = Math.max(this.#scale / 2, 1 / 1024);
  }

  succeeded(): void {
    if (this.#scale < 1) this.#scale = Math.min(1, this.#scale * 2);
  }

  /**
   * A budget for one takeReady(). `perRun`: every run is its own request (a transaction per partition);
   * otherwise all runs share one request. The first entry of a request is always admitted, so a single
   * message larger than the caps still moves (the sink shrinks it first: fitMessage in messages.ts).
   */
  take(perRun: boolean): TakeBudget<Finished> {
    let total = 0;
    let entries = 0;
    let byDestination = new Map<string, number>();
    return {
      startRun: () => {
        if (!perRun) return;
        total = 0;
        entries = 0;
        byDestination = new Map();
      },
      admit: (entry: LedgerEntry<Finished>) => {
        const messages = entry.output?.messages ?? [];
        const adds = new Map<string, { topic: string; bytes: number }>();
        let sum = 0;
        for (const m of messages) {
          const key = `${m.topic}\u0000${m.partition ?? -1}`;
          const bytes = messageBytes(m);
          const a = adds.get(key);
          if (a) a.bytes += bytes;
          else adds.set(key, { topic: m.topic, bytes });
          sum += bytes;
        }
        if (entries > 0) {
          if (total + sum > this.#limits.maxRequestBytes * this.#scale) return false;
          for (const [key, a] of adds) {
            const have = byDestination.get(key) ?? 0;
            if (have > 0 && BATCH_OVERHEAD + have + a.bytes > this.#batchLimit(a.topic) * this.#scale) return false;
          }
        }
        for (const [key, a] of adds) byDestination.set(key, (byDestination.get(key) ?? 0) + a.bytes);
        total += sum;
        entries++;
        return true;
      },
    };
  }
}
