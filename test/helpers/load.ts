// Steady input for the tests that change something under load (a swap, a zombie, a scale step): a
// tenth of the rate every 100 ms, each post stamped with its send time (`ts`), until stopped.
import type { Producer } from 'kafkajs';
import { PostGenerator } from '../../src/produce/generator.js';

export function steadyLoad(producer: Producer, topic: string, o: { ratePerSec: number; seed: number; prefix?: string }): { stop: () => Promise<string[]> } {
  const gen = new PostGenerator(o.seed, o.prefix ?? 'gen');
  const ids: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      const batch = Array.from({ length: Math.max(1, Math.round(o.ratePerSec / 10)) }, () => gen.next());
      await producer.send({ topic, messages: batch.map((p) => ({ key: p.id, value: JSON.stringify({ id: p.id, text: p.text, ts: Date.now() }) })) });
      // Only what was written counts as sent.
      ids.push(...batch.map((p) => p.id));
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
  })();
  return { stop: async () => ((running = false), await loop, ids) };
}
