// `klassify start --demo`: a background generator feeding the input topic, so a first run has
// something to classify and the dashboards move. With brands, it first writes `backfillMinutes` of
// back-dated posts (the spike detector's baselines need history) and then injects a spike.
import type { Kafka } from 'kafkajs';
import { recordProducer } from '../../consumers/kafka-client.js';
import { PostGenerator, type Spike } from './generator.js';

export interface DemoOptions {
  /** Minutes of history written at once, event times in the past (0: none). */
  backfillMinutes?: number;
  spike?: Spike | undefined;
}

function message(p: { id: string; text: string; brand: string; ts: number }): { key: string; value: string } {
  return { key: p.brand, value: JSON.stringify({ id: p.id, text: p.text, ts: p.ts, meta: { brand: p.brand } }) };
}

export async function startDemoProducer(kafka: Kafka, topic: string, ratePerSec: number, options: DemoOptions = {}): Promise<{ stop(): Promise<void> }> {
  const producer = recordProducer(kafka);
  await producer.connect();
  const seed = Date.now() % 100_000;
  const minutes = options.backfillMinutes ?? 0;
  if (minutes > 0) {
    // Same rate as live, so the live minutes look like the history they are judged against.
    const perMinute = Math.max(1, Math.round(ratePerSec * 60));
    const t0 = Date.now() - minutes * 60_000;
    let i = 0;
    const history = new PostGenerator(seed + 1, 'demo-history', { clock: () => t0 + Math.floor((i * 60_000) / perMinute) });
    for (let batch: { key: string; value: string }[] = []; i < minutes * perMinute; i++) {
      batch.push(message(history.next()));
      if (batch.length === 500 || i === minutes * perMinute - 1) {
        await producer.send({ topic, messages: batch });
        batch = [];
      }
    }
  }
  const gen = new PostGenerator(seed, 'demo', { spike: options.spike });
  const perTick = Math.max(1, Math.round(ratePerSec / 10));
  let sending: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    const messages = Array.from({ length: perTick }, () => message(gen.next()));
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
