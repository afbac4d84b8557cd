// The naive baseline: what a user writes first. A kafkajs eachMessage consumer that runs one fp32
// inference per message, padded to the model's max length, on ONNX Runtime's default session options,
// and awaits one produce per result. Run as its own process by the benchmark; prints one JSON line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import * as ort from 'onnxruntime-node';
import { TextTokenizer } from '../src/model/tokenizer.js';

const { values: a } = parseArgs({
  options: {
    brokers: { type: 'string' },
    input: { type: 'string' },
    output: { type: 'string' },
    group: { type: 'string' },
    model: { type: 'string' },
    tokenizer: { type: 'string' },
    labels: { type: 'string' },
    'max-length': { type: 'string', default: '128' },
    count: { type: 'string' },
    'timeout-ms': { type: 'string', default: '600000' },
  },
});

const maxLength = Number(a['max-length']);
const labels = (a.labels ?? '').split(',');
const count = Number(a.count);
const tokenizer = new TextTokenizer(JSON.parse(readFileSync(a.tokenizer ?? '', 'utf8')), maxLength);
const session = await ort.InferenceSession.create(a.model ?? '');
const names = new Set(session.inputNames);

const kafka = new Kafka({ clientId: 'naive-baseline', brokers: (a.brokers ?? '').split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: a.group ?? 'naive' });
const producer = kafka.producer();
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: a.input ?? '', fromBeginning: true });

let done = 0;
let first = 0;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => (finish = resolve));

await consumer.run({
  eachMessage: async ({ message }) => {
    if (first === 0) first = performance.now();
    const { id, text } = JSON.parse(message.value?.toString() ?? '{}') as { id: string; text: string };
    const enc = tokenizer.encode(text);
    const ids = new BigInt64Array(maxLength);
    const mask = new BigInt64Array(maxLength);
    enc.ids.forEach((v, i) => {
      ids[i] = BigInt(v);
      mask[i] = 1n;
    });
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, [1, maxLength]) };
    if (names.has('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, [1, maxLength]);
    if (names.has('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(maxLength), [1, maxLength]);
    const out = await session.run(feeds);
    const logits = Array.from(out[session.outputNames[0] ?? 'logits']?.data as Float32Array);
    const max = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - max));
    const sum = exp.reduce((x, y) => x + y, 0);
    const scores = Object.fromEntries(labels.map((l, i) => [l, (exp[i] ?? 0) / sum]));
    const label = labels[logits.indexOf(max)] ?? '';
    await producer.send({ topic: a.output ?? '', messages: [{ key: message.key, value: JSON.stringify({ id, label, scores }) }] });
    done++;
    if (done >= count) finish();
  },
});

const timeout = setTimeout(finish, Number(a['timeout-ms']));
await finished;
clearTimeout(timeout);
const seconds = (performance.now() - first) / 1000;
await consumer.disconnect();
await producer.disconnect();
const peakRssBytes = peakRss();
process.stdout.write(`${JSON.stringify({ processed: done, seconds, perSecond: done / seconds, peakRssBytes })}\n`);
process.exit(0);

function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
  } catch {
    return process.memoryUsage().rss;
  }
}
