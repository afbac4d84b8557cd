// Results and dead letters as Kafka messages: JSON, or Avro through the Schema Registry.
import type { IHeaders } from 'kafkajs';
import { codeOf, messageOf } from '../src/errors.js';
import { deadLetter, deadLetterMessage, type OutMessage, type ResultRecord } from './messages.js';
import { isRegistryUnavailable, type RegistrySerdes } from './serdes.js';
import type { SourceRecord } from './source.js';

export interface EncoderOptions {
  format: 'json' | 'avro';
  outputTopic: string;
  deadLetterTopic: string;
  serdes?: RegistrySerdes | undefined;
  /** Runs a registry call, retrying while the registry is unavailable (an outage is nobody's record's fault). */
  retry: <T>(step: () => Promise<T>) => Promise<T>;
}

/** Why a result could not be encoded: it becomes that record's dead letter with this code. */
export class EncodeFailure {
  constructor(
    readonly code: string,
    readonly message: string,
    /** The registry was unreachable (only surfaces while stopping): nobody's record's fault, redo it later. */
    readonly transient: boolean,
  ) {}
}

export class OutputEncoder {
  constructor(private readonly o: EncoderOptions) {}

  get #avro(): RegistrySerdes | undefined {
    return this.o.format === 'avro' ? this.o.serdes : undefined;
  }

  /** The output message of one result, or why its schema cannot carry it. */
  async result(result: ResultRecord, record: SourceRecord, partition: number): Promise<OutMessage | EncodeFailure> {
    const serdes = this.#avro;
    let value: Buffer | string;
    try {
      value = serdes ? await this.o.retry(() => serdes.encodeResult(this.o.outputTopic, result)) : JSON.stringify(result);
    } catch (err) {
      const code = codeOf(err);
      return new EncodeFailure(code === 'KLS_ERR_INTERNAL' ? 'KLS_ERR_SCHEMA' : code, `encoding the result failed: ${messageOf(err)}`, isRegistryUnavailable(err));
    }
    return { topic: this.o.outputTopic, partition, key: record.key, value, headers: record.headers };
  }

  /** A dead letter: the Avro envelope, or (JSON, or an envelope that cannot be encoded) the raw record with klassify.* headers. */
  async deadLetter(record: SourceRecord & { headers: IHeaders | undefined }, code: string, message: string, partition: number): Promise<OutMessage> {
    const dl = deadLetter(record, code, message);
    const serdes = this.#avro;
    if (serdes) {
      try {
        return { topic: this.o.deadLetterTopic, partition, key: record.key, value: await serdes.encodeDeadLetter(this.o.deadLetterTopic, dl), headers: record.headers };
      } catch {
        // Cannot encode the envelope: keep the record anyway, raw with headers.
      }
    }
    return deadLetterMessage(this.o.deadLetterTopic, partition, dl, record.headers);
  }
}
