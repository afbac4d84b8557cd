// Input record bytes → the text to classify, or a typed reason it cannot be (which becomes a dead letter).
import {
  DecodeError, InvalidJsonError, InvalidUtf8Error, MissingTextError, OversizedTextError, SchemaError, type KlassifyError,
} from '../src/errors.js';

export type InputFormat = 'auto' | 'json' | 'text' | 'avro' | 'json-schema';

export interface InputRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

export interface DecodedInput {
  id: string;
  text: string;
  /** Event time (epoch ms): the payload's ts, else the record timestamp. */
  ts: number;
  meta: Record<string, string> | undefined;
}

/** Decodes a Confluent wire-format value (magic byte 0, schema id, payload) through a Schema Registry. */
export type WireDecoder = (topic: string, value: Buffer) => Promise<unknown>;

export interface DecodeOptions {
  format: InputFormat;
  maxTextBytes: number;
  wire: WireDecoder | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function decodeInput(record: InputRecord, options: DecodeOptions): Promise<DecodedInput> {
  const value = record.value;
  if (value === null || value.length === 0) throw new MissingTextError('the record has no value (null or empty)');

  const format = options.format;
  // Text never starts with a NUL byte, so in auto mode a leading 0 means the Confluent wire format
  // (magic byte 0, then a 4-byte schema id): a shorter value is a broken one, not text.
  const isWire = value[0] === 0 && value.length >= 5;
  if (format === 'auto' && value[0] === 0 && !isWire) {
    throw new DecodeError(`the value starts with the wire-format magic byte 0 but has ${value.length} bytes, fewer than its 5-byte header`);
  }
  let payload: unknown;
  if (format === 'avro' || format === 'json-schema' || (format === 'auto' && isWire)) {
    if (!isWire) throw new SchemaError(`expected the Confluent wire format (magic byte 0 + schema id) for --input-format ${format}`);
    if (options.wire === undefined) throw new DecodeError('the value is in the Confluent wire format but no Schema Registry is configured (SCHEMA_REGISTRY_URL)');
    try {
      payload = await options.wire(record.topic, value);
    } catch (err) {
      throw new SchemaError(`schema registry decoding failed: ${(err as Error).message}`, { cause: err });
    }
    return fromObject(payload, record, options, SchemaError);
  }

  let text: string;
  try {
    text = utf8.decode(value);
  } catch (err) {
    throw new InvalidUtf8Error('the value is not valid UTF-8', { cause: err });
  }
  if (format === 'text') return fromText(text, record, options);
  // A value that opens like JSON ({ or [) is JSON: it must parse and be an object with a string text.
  const looksJson = /^\s*[{[]/.test(text);
  if (format === 'json' || looksJson) {
    try {
      payload = JSON.parse(text);
    } catch (err) {
      throw new InvalidJsonError(`invalid JSON: ${(err as Error).message}`, { cause: err });
    }
    return fromObject(payload, record, options, InvalidJsonError);
  }
  return fromText(text, record, options);
}

function fromText(text: string, record: InputRecord, options: DecodeOptions): DecodedInput {
  checkText(text, options);
  return { id: defaultId(record), text, ts: Number(record.timestamp), meta: undefined };
}

function fromObject(
  payload: unknown,
  record: InputRecord,
  options: DecodeOptions,
  ShapeError: new (message: string) => KlassifyError,
): DecodedInput {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new ShapeError('expected an object like {"text": "..."}');
  }
  const o = payload as Record<string, unknown>;
  if (o.text === undefined || o.text === null) throw new MissingTextError('no "text" field');
  if (typeof o.text !== 'string') throw new ShapeError(`"text" must be a string, got ${typeof o.text}`);
  checkText(o.text, options);
  const id = typeof o.id === 'string' && o.id !== '' ? o.id : typeof o.id === 'number' ? String(o.id) : defaultId(record);
  let ts = Number(record.timestamp);
  if (o.ts !== undefined && o.ts !== null) {
    const parsed = eventTime(o.ts);
    if (parsed === undefined) throw new ShapeError(`"ts" must be epoch milliseconds (an integer up to 2^53) or an ISO 8601 date, got ${JSON.stringify(o.ts).slice(0, 40)}`);
    ts = parsed;
  }
  return { id, text: o.text, ts, meta: metaOf(o.meta) };
}

function checkText(text: string, options: DecodeOptions): void {
  if (text.trim() === '') throw new MissingTextError('the text is empty');
  // Byte length without encoding: UTF-16 length is a lower bound, 3x an upper bound.
  if (text.length * 3 > options.maxTextBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > options.maxTextBytes) throw new OversizedTextError(`the text has ${bytes} bytes, more than the ${options.maxTextBytes} allowed (KLASSIFY_MAX_TEXT_BYTES)`);
  }
}

function defaultId(record: InputRecord): string {
  if (record.key !== null && record.key.length > 0) {
    try {
      return utf8.decode(record.key);
    } catch {
      return record.key.toString('base64');
    }
  }
  return `${record.topic}-${record.partition}-${record.offset}`;
}

/**
 * Event time as whole epoch milliseconds that every output format can carry (Avro's long holds exactly
 * what a JS number does up to 2^53): a fractional ms is floored; anything past 2^53 is refused.
 */
function eventTime(ts: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof ts === 'number') ms = ts;
  else if (typeof ts === 'bigint') ms = ts <= BigInt(Number.MAX_SAFE_INTEGER) && ts >= 0n ? Number(ts) : undefined;
  else if (typeof ts === 'string') ms = /^\d{1,16}$/.test(ts) ? Number(ts) : /^\d+$/.test(ts) ? undefined : Date.parse(ts);
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  ms = Math.floor(ms);
  return Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

function metaOf(meta: unknown): Record<string, string> | undefined {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
    // Avro's map<string> carries strings only; keep other values readable.
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}
