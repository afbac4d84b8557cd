// --shadow-topic: each shadow comparison (record id, where it came from, both models' answers) as one
// JSON record keyed by the record id. Best effort by design: the shadow is an experiment beside the
// output, so a failed write is counted and logged by the caller, never retried into the live path.
import type { Kafka, Producer } from 'kafkajs';

export interface ShadowTopicRecord {
  id: string;
  source?: { topic: string; partition: number; offset: number } | undefined;
  live: { model: string; label: string; scores: Record<string, number> };
  shadow: { model: string; label: string; scores: Record<string, number> } | { model: string; error: { code: string; message: string } };
  agree: boolean;
}

export class ShadowTopicWriter {
  readonly #producer: Producer;
  #connected: Promise<void> | undefined;

  constructor(kafka: Kafka, readonly topic: string) {
    this.#producer = kafka.producer({ allowAutoTopicCreation: false });
  }

  async write(records: readonly ShadowTopicRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.#connected ??= this.#producer.connect();
    await this.#connected;
    await this.#producer.send({ topic: this.topic, acks: -1, messages: records.map((r) => ({ key: r.id, value: JSON.stringify(r) })) });
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#producer.disconnect();
  }
}
