// `klassify start --demo`: a background generator feeding the input topic, so a first run has
// something to classify and the dashboard moves.
import type { Kafka } from 'kafkajs';
import { PostGenerator } from './generator.js';

export async function startDemoProducer(kafka: Kafka, topic: string, ratePerSec: number): Promise<{ stop(): Promise<void> }> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const gen = new PostGenerator(Date.now() % 100_000, 'demo');
  const perTick = Math.max(1, Math.round(ratePerSec / 10));
  let sending: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    const messages = Array.from({ length: perTick }, () => {
      const p = gen.next();
      return { key: p.brand, value: JSON.stringify({ id: p.id, text: p.text, ts: Date.now(), meta: { brand: p.brand } }) };
    });
    sending = sending.then(() => producer.send({ topic, messages })).catch(() => undefined);
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      await sending;
      await producer.disconnect();
    },
  };
}
