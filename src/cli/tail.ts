// klassify tail: follow the output (or dead-letter) topic and print results readably.
import { Command } from 'commander';
import type { KafkaMessage } from 'kafkajs';
import { createKafka, throwawayConsumer } from '../../consumers/kafka-client.js';
import { DLQ_HEADERS, type ResultRecord } from '../../consumers/messages.js';
import { createRegistrySerdes, type RegistrySerdes } from '../../consumers/serdes.js';
import { resolveBrokers } from '../services/brokers.js';
import { configFrom, withKnobs } from './options.js';
import { info } from './output.js';

function header(m: KafkaMessage, name: string): string {
  const v = m.headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? '' : one.toString();
}

/** One readable line; `writtenAt` is the result record's timestamp (when klassify wrote it). */
export function formatResult(r: ResultRecord, writtenAt: number): string {
  const score = r.scores[r.label] ?? 0;
  const trunc = r.truncated ? ' (truncated)' : '';
  const e2e = r.ts !== null ? ` latency=${Math.max(0, writtenAt - r.ts)}ms` : '';
  return `${r.source.topic}[${r.source.partition}]@${r.source.offset}  ${r.label.padEnd(8)} ${score.toFixed(3)}  id=${r.id}  tokens=${r.tokens}${trunc}${e2e}`;
}

export function formatDeadLetter(m: KafkaMessage): string {
  const where = `${header(m, DLQ_HEADERS.topic)}[${header(m, DLQ_HEADERS.partition)}]@${header(m, DLQ_HEADERS.offset)}`;
  const value = m.value?.toString('utf8').replace(/\s+/g, ' ').slice(0, 80) ?? '';
  return `${where}  ${header(m, DLQ_HEADERS.code)}: ${header(m, DLQ_HEADERS.message)}  value=${JSON.stringify(value)}`;
}

export function tailCommand(): Command {
  const cmd = new Command('tail')
    .description('print results from the output topic as they arrive (Ctrl-C to stop)')
    .option('--topic <name>', 'topic to read (default: the output topic)')
    .option('--dead-letters', 'read the dead-letter topic instead and show each reason')
    .option('--from-beginning', 'start at the oldest record instead of new ones')
    .option('--count <n>', 'exit after n records')
    .option('--json', 'print each record as one JSON line');
  withKnobs(cmd, ['home', 'logLevel', 'kafka.', 'registry.url', 'pipeline.outputTopic', 'pipeline.deadLetterTopic']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const topic = (opts.topic as string | undefined) ?? (opts.deadLetters ? config.pipeline.deadLetterTopic : config.pipeline.outputTopic);
    const limit = opts.count === undefined ? Number.POSITIVE_INFINITY : Number(opts.count);
    const { brokers } = await resolveBrokers(config);
    const kafka = createKafka(config, brokers, `${config.kafka.clientId}-tail`);
    const serdes: RegistrySerdes | undefined = config.registry.url ? await createRegistrySerdes(config.registry.url) : undefined;
    // A throwaway group: tail never commits and never steals partitions from a real consumer group.
    const consumer = throwawayConsumer(kafka, 'klassify-tail');
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: opts.fromBeginning === true });
    let seen = 0;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const stop = (): void => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    info(`tailing ${topic} at ${brokers.join(',')}${opts.fromBeginning ? ' from the beginning' : ''}`);
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (seen >= limit) return;
        seen++;
        const raw = message.value ?? Buffer.alloc(0);
        let line: string;
        if (opts.deadLetters) {
          line = opts.json
            ? JSON.stringify({ key: message.key?.toString() ?? null, value: raw.toString('utf8'), headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])) })
            : formatDeadLetter(message);
        } else {
          const value: unknown = raw[0] === 0 && serdes ? await serdes.decode(topic, raw) : JSON.parse(raw.toString('utf8'));
          line = opts.json ? JSON.stringify(value) : formatResult(value as ResultRecord, Number(message.timestamp));
        }
        process.stdout.write(`${line}\n`);
        if (seen >= limit) done();
      },
    });
    await finished;
    await consumer.disconnect();
  });
}
