// Schema Registry (Confluent API): registering klassify's Avro schemas, decoding wire-format input
// (Avro or JSON Schema) and encoding Avro output. The registry client is loaded only when a registry is
// configured: it is a heavy import that plain-JSON deployments never need.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';
import { SchemaError } from '../src/errors.js';
import type { WireDecoder } from './decode.js';
import type { SchemaRegistryClient } from '@confluentinc/schemaregistry';

export const SCHEMA_FILES = {
  input: 'input-event.avsc',
  result: 'classification-result.avsc',
  deadLetter: 'dead-letter.avsc',
} as const;

/** How long one Schema Registry request may take (ms). */
export const REGISTRY_TIMEOUT_MS = 5_000;

/**
 * True when a registry call failed because the registry is unreachable or failing (no answer, a timeout,
 * a 5xx or 429), not because of the record: such a failure is retried, never dead-lettered.
 */
export function isRegistryUnavailable(err: unknown): boolean {
  for (let e = err as { cause?: unknown; status?: unknown; code?: unknown; isAxiosError?: unknown; response?: unknown } | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++) {
    if (typeof e.status === 'number' && (e.status >= 500 || e.status === 429)) return true;
    if (e.isAxiosError === true && e.response === undefined) return true;
    if (typeof e.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ECONNABORTED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|ERR_NETWORK)$/.test(e.code)) return true;
  }
  return false;
}

export function schemaText(which: keyof typeof SCHEMA_FILES): string {
  return readFileSync(join(packageRoot, 'schemas', SCHEMA_FILES[which]), 'utf8');
}

export interface RegistrySerdes {
  /** Decodes Avro or JSON Schema values in the Confluent wire format, whatever schema id they carry. */
  decode: WireDecoder;
  /** Encodes a result (or dead-letter envelope) with klassify's schema registered under <topic>-value. */
  encodeResult(topic: string, value: unknown): Promise<Buffer>;
  encodeDeadLetter(topic: string, value: unknown): Promise<Buffer>;
  /** Encodes an input event (klassify produce --avro). */
  encodeInput(topic: string, value: unknown): Promise<Buffer>;
  /** Registers one of klassify's schemas under <topic>-value; returns its id. */
  register(topic: string, which: keyof typeof SCHEMA_FILES): Promise<number>;
}

/** Registers `schema` under `<topic>-value` (idempotent: the registry returns the existing id). */
async function register(client: SchemaRegistryClient, topic: string, schema: string): Promise<number> {
  try {
    return await client.register(`${topic}-value`, { schemaType: 'AVRO', schema }, false);
  } catch (err) {
    throw new SchemaError(`registering the schema for ${topic}-value failed: ${(err as Error).message}`, { cause: err });
  }
}

export async function createRegistrySerdes(url: string): Promise<RegistrySerdes> {
  const sr = await import('@confluentinc/schemaregistry');
  // A request timeout: without one, a registry that accepts connections and never answers holds every
  // record behind it forever. Retries inside the client stay short; the pipeline retries outages itself.
  const client = new sr.SchemaRegistryClient({ baseURLs: [url], cacheCapacity: 1000, createAxiosDefaults: { timeout: REGISTRY_TIMEOUT_MS }, maxRetries: 2 });
  // Apicurio has no /associations endpoint: name subjects by topic explicitly, when decoding too. The default
  // strategy asks /associations first for every new topic (a 404 then falls back to the topic name); once in
  // CI that request went unanswered until the client's timeout, holding the topic's records behind it.
  const strategy = { subjectNameStrategyType: sr.SubjectNameStrategyType?.TOPIC } as Record<string, unknown>;
  const avroIn = new sr.AvroDeserializer(client, sr.SerdeType.VALUE, { ...strategy });
  // validate: a payload that breaks its own schema is a schema error (dead letter), not half-read data.
  const jsonIn = new sr.JsonDeserializer(client, sr.SerdeType.VALUE, { validate: true, ...strategy });
  const registered = new Map<string, Promise<InstanceType<typeof sr.AvroSerializer>>>();

  const ids = new Map<string, Promise<number>>();
  const registerOnce = (topic: string, which: keyof typeof SCHEMA_FILES): Promise<number> => {
    const key = `${topic}\u0000${which}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = register(client, topic, schemaText(which));
      id.catch(() => ids.delete(key));
      ids.set(key, id);
    }
    return id;
  };
  const serializerFor = (topic: string, which: keyof typeof SCHEMA_FILES): Promise<InstanceType<typeof sr.AvroSerializer>> => {
    let s = registered.get(topic);
    if (s === undefined) {
      s = registerOnce(topic, which).then(
        (id) => new sr.AvroSerializer(client, sr.SerdeType.VALUE, { useSchemaId: id, autoRegisterSchemas: false, ...strategy }),
      );
      s.catch(() => registered.delete(topic));
      registered.set(topic, s);
    }
    return s;
  };

  return {
    decode: async (topic, value) => {
      const id = value.readUInt32BE(1);
      const info = await client.getBySubjectAndId('', id);
      return info.schemaType === 'JSON' ? jsonIn.deserialize(topic, value) : avroIn.deserialize(topic, value);
    },
    encodeResult: async (topic, value) => (await serializerFor(topic, 'result')).serialize(topic, value),
    encodeDeadLetter: async (topic, value) => (await serializerFor(topic, 'deadLetter')).serialize(topic, value),
    encodeInput: async (topic, value) => (await serializerFor(topic, 'input')).serialize(topic, value),
    register: registerOnce,
  };
}

/**
 * Runs a registry-backed step, retrying with backoff while the registry is unavailable: an outage holds
 * the records (in flight, so fetching pauses at --max-in-flight) instead of dead-lettering innocent ones.
 * Gives up only once `stopping()`, leaving the records uncommitted for the next run.
 */
export async function whileRegistryUnavailable<T>(step: () => Promise<T>, stopping: () => boolean, onRetry: (err: Error) => void): Promise<T> {
  for (let wait = 100; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await step();
    } catch (err) {
      if (!isRegistryUnavailable(err) || stopping()) throw err;
      onRetry(err as Error);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
