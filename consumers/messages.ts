// What klassify writes: one result per classified record, one dead letter per record it could not classify.
import type { IHeaders } from 'kafkajs';
import { OutputTooLargeError } from '../src/errors.js';
import type { BrandFields } from '../brands/batch.js';
import type { DecodedInput, InputRecord } from './decode.js';

export interface ResultRecord {
  id: string;
  label: string;
  scores: Record<string, number>;
  tokens: number;
  truncated: boolean;
  model: { name: string; version: string; target: string };
  source: { topic: string; partition: number; offset: number };
  ts: number | null;
  meta: Record<string, string> | null;
  timings: { receivedAt: number; queueMs: number; inferenceMs: number; batchSize: number };
  /** With --brands: each brand mention and the sentiment towards its brand; and what exclusions suppressed. */
  brands?: BrandFields['brands'];
  excludedBrands?: BrandFields['excludedBrands'];
}

export interface OutMessage {
  topic: string;
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string;
  headers?: IHeaders;
}

/** What a finished record leaves behind in the ledger: the messages to write, and timing facts for metrics. */
export interface Finished {
  messages: OutMessage[];
  /** Event time of the input (epoch ms). */
  eventTs: number;
  /** When this process fetched the input (epoch ms). */
  receivedAt: number;
  deadLetter: boolean;
}

export const DLQ_HEADERS = {
  code: 'klassify.error.code',
  message: 'klassify.error.message',
  topic: 'klassify.source.topic',
  partition: 'klassify.source.partition',
  offset: 'klassify.source.offset',
  time: 'klassify.error.time',
  /** Set on a dead letter whose value was cut to fit the topic's max.message.bytes. */
  truncated: 'klassify.value.truncated',
  originalBytes: 'klassify.value.original-bytes',
} as const;

function bytesOf(v: Buffer | string | null): Buffer {
  if (v === null) return Buffer.alloc(0);
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/**
 * A message too large for its topic (its estimated size is over `maxBytes`) becomes a dead letter that
 * fits: the reason, where it came from, and the value cut to a quarter of the limit and flagged, so it is
 * never refused forever nor dropped unseen. A dead letter keeps its own reason; a result gets
 * KLS_ERR_OUTPUT_TOO_LARGE. Only klassify's headers are kept (the originals may be what is too large).
 */
export function fitMessage(
  m: OutMessage,
  size: number,
  maxBytes: number,
  dlqTopic: string,
  source: { topic: string; partition: number; offset: number },
  now = Date.now(),
): OutMessage {
  if (size <= maxBytes) return m;
  const original = bytesOf(m.value);
  const keep = Math.max(0, Math.floor(maxBytes / 4));
  const inherited: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (!k.startsWith('klassify.error.') || v === undefined) continue;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) inherited[k] = String(last).slice(0, 1000);
  }
  const isDeadLetter = m.topic === dlqTopic && inherited[DLQ_HEADERS.code] !== undefined;
  const key = bytesOf(m.key);
  const reason = new OutputTooLargeError(`the ${isDeadLetter ? 'dead letter' : 'result'} (${size} bytes) is larger than ${m.topic}'s max.message.bytes allows (${maxBytes}); value truncated`);
  return {
    topic: dlqTopic,
    key: key.length <= keep ? m.key : key.subarray(0, keep),
    value: original.subarray(0, keep),
    headers: {
      ...(isDeadLetter ? inherited : {
        [DLQ_HEADERS.code]: reason.code,
        [DLQ_HEADERS.message]: reason.message,
        [DLQ_HEADERS.time]: String(now),
      }),
      [DLQ_HEADERS.topic]: source.topic,
      [DLQ_HEADERS.partition]: String(source.partition),
      [DLQ_HEADERS.offset]: String(source.offset),
      [DLQ_HEADERS.truncated]: 'true',
      [DLQ_HEADERS.originalBytes]: String(original.length),
    },
  };
}

/** Where an input record came from, as results and dead letters name it. */
export function sourceOf(record: Pick<InputRecord, 'topic' | 'partition' | 'offset'>): ResultRecord['source'] {
  return { topic: record.topic, partition: record.partition, offset: Number(record.offset) };
}

export function resultRecord(
  input: DecodedInput,
  record: InputRecord,
  c: { label: string; scores: Record<string, number>; tokens: number; truncated: boolean },
  model: ResultRecord['model'],
  timings: ResultRecord['timings'],
  brands?: BrandFields,
): ResultRecord {
  const result: ResultRecord = {
    id: input.id,
    label: c.label,
    scores: c.scores,
    tokens: c.tokens,
    truncated: c.truncated,
    model,
    source: sourceOf(record),
    ts: Number.isFinite(input.ts) ? input.ts : null,
    meta: input.meta ?? null,
    timings,
  };
  // Set after the fixed fields, not spread in front of them: every result keeps one object shape, and
  // a spread first made V8 add the rest one property at a time (a visible share of the main thread).
  if (brands) {
    result.brands = brands.brands;
    result.excludedBrands = brands.excludedBrands;
  }
  return result;
}

export interface DeadLetter {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  error: { code: string; message: string };
  source: { topic: string; partition: number; offset: number };
  time: number;
}

export function deadLetter(record: InputRecord & { headers?: IHeaders | undefined }, code: string, message: string, now = Date.now()): DeadLetter {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(record.headers ?? {})) {
    if (v === undefined) continue;
    // Repeated headers arrive as arrays; the envelope keeps the last (JSON mode keeps them all, see below).
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) headers[k] = Buffer.isBuffer(last) ? last : Buffer.from(String(last));
  }
  return {
    key: record.key,
    value: record.value,
    headers,
    error: { code, message: message.slice(0, 1000) },
    source: sourceOf(record),
    time: now,
  };
}

/** JSON mode: the original bytes and headers, with the reason in klassify.* headers (Kafka Connect's DLQ style). */
export function deadLetterMessage(topic: string, partition: number | undefined, dl: DeadLetter, originalHeaders: IHeaders | undefined): OutMessage {
  return {
    topic,
    ...(partition === undefined ? {} : { partition }),
    key: dl.key,
    value: dl.value ?? Buffer.alloc(0),
    headers: {
      ...(originalHeaders ?? {}),
      [DLQ_HEADERS.code]: dl.error.code,
      [DLQ_HEADERS.message]: dl.error.message,
      [DLQ_HEADERS.topic]: dl.source.topic,
      [DLQ_HEADERS.partition]: String(dl.source.partition),
      [DLQ_HEADERS.offset]: String(dl.source.offset),
      [DLQ_HEADERS.time]: String(dl.time),
    },
  };
}
