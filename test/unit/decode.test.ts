import { describe, expect, it } from 'vitest';
import { decodeInput, type DecodeOptions, type InputRecord } from '../../consumers/decode.js';

const rec = (value: Buffer | string | null, key: string | null = null): InputRecord => ({
  topic: 'in',
  partition: 2,
  offset: '41',
  key: key === null ? null : Buffer.from(key),
  value: typeof value === 'string' ? Buffer.from(value) : value,
  timestamp: '1700000000000',
});
const opts: DecodeOptions = { format: 'auto', maxTextBytes: 100, wire: undefined };
const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'none');

describe('decodeInput', () => {
  it('JSON with id, ts and meta', async () => {
    const d = await decodeInput(rec('{"id":"a1","text":"great flight","ts":1700000001234,"meta":{"brand":"acme","n":3}}'), opts);
    expect(d).toEqual({ id: 'a1', text: 'great flight', ts: 1700000001234, meta: { brand: 'acme', n: '3' } });
  });

  it('plain text; id from key, else topic-partition-offset; ts from the record', async () => {
    expect(await decodeInput(rec('just text', 'k9'), opts)).toEqual({ id: 'k9', text: 'just text', ts: 1700000000000, meta: undefined });
    expect((await decodeInput(rec('just text'), opts)).id).toBe('in-2-41');
    expect((await decodeInput(rec('{"text":"x","ts":"2024-01-01T00:00:00Z"}'), opts)).ts).toBe(Date.parse('2024-01-01T00:00:00Z'));
  });

  it('--input-format text takes JSON-looking values as text', async () => {
    expect((await decodeInput(rec('{"text": 1'), { ...opts, format: 'text' })).text).toBe('{"text": 1');
  });

  it('each bad input gets its own code', async () => {
    expect(await code(decodeInput(rec(null), opts))).toBe('KLS_ERR_MISSING_TEXT');
    expect(await code(decodeInput(rec('{"text": '), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('{"id": 1}'), opts))).toBe('KLS_ERR_MISSING_TEXT');
    expect(await code(decodeInput(rec('{"text": "  "}'), opts))).toBe('KLS_ERR_MISSING_TEXT');
    expect(await code(decodeInput(rec('{"text": 5}'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('x'.repeat(101)), opts))).toBe('KLS_ERR_OVERSIZED_TEXT');
    expect(await code(decodeInput(rec('é'.repeat(40)), opts))).toBe('ok');
    expect(await code(decodeInput(rec('é'.repeat(51)), opts))).toBe('KLS_ERR_OVERSIZED_TEXT');
    expect(await code(decodeInput(rec(Buffer.from([0x68, 0xff, 0xfe, 0x69])), opts))).toBe('KLS_ERR_INVALID_UTF8');
    expect(await code(decodeInput(rec(Buffer.from([0, 0, 0, 0, 7, 2, 4])), opts))).toBe('KLS_ERR_DECODE');
    // The auto rule, whole: magic byte 0 but shorter than the wire header is broken, not text.
    expect(await code(decodeInput(rec(Buffer.from([0, 1, 2])), opts))).toBe('KLS_ERR_DECODE');
    // Opens like JSON, so it is JSON: an array or an object without a string text is refused.
    expect(await code(decodeInput(rec('[1, 2]'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('["text"]'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('[not json'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('plain'), { ...opts, format: 'avro' }))).toBe('KLS_ERR_SCHEMA');
    expect(await code(decodeInput(rec('["text"]'), { ...opts, format: 'json' }))).toBe('KLS_ERR_INVALID_JSON');
  });

  it('wire format goes through the registry decoder; its failures are schema errors', async () => {
    const wire = async (_t: string, v: Buffer): Promise<unknown> => {
      if (v.readUInt32BE(1) === 99) throw new Error('Schema 99 not found.; Error code: 40403');
      return { id: null, text: 'from avro', ts: null, meta: null };
    };
    const ok = await decodeInput(rec(Buffer.from([0, 0, 0, 0, 1, 9])), { ...opts, wire });
    expect(ok).toMatchObject({ text: 'from avro', id: 'in-2-41', ts: 1700000000000 });
    expect(await code(decodeInput(rec(Buffer.from([0, 0, 0, 0, 99, 9])), { ...opts, wire }))).toBe('KLS_ERR_SCHEMA');
  });

  it('ts: whole epoch ms that every output format can carry, or a clear refusal', async () => {
    const ts = async (v: string): Promise<number> => (await decodeInput(rec(`{"text":"x","ts":${v}}`), opts)).ts;
    expect(await ts('1700000000123.75')).toBe(1700000000123);
    expect(await ts('"1700000000123"')).toBe(1700000000123);
    expect(await ts('null')).toBe(1700000000000);
    expect(await code(decodeInput(rec('{"text":"x","ts":9007199254740993}'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('{"text":"x","ts":"123456789012345678901234567890"}'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('{"text":"x","ts":"yesterday"}'), opts))).toBe('KLS_ERR_INVALID_JSON');
    expect(await code(decodeInput(rec('{"text":"x","ts":-5}'), opts))).toBe('KLS_ERR_INVALID_JSON');
  });
});
