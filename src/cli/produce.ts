// klassify produce: write events to the input topic from a file, stdin or the built-in generator.
import { Command, Option } from 'commander';
import type { Message } from 'kafkajs';
import { createKafka, ensureTopics, recordProducer, retrying } from '../../consumers/kafka-client.js';
import { createRegistrySerdes } from '../../consumers/serdes.js';
import { ConfigError } from '../errors.js';
import { parseSpike } from '../produce/generator.js';
import { Pacer } from '../produce/rate.js';
import { readEvents, type ProduceEvent, type SourceFormat } from '../produce/sources.js';
import { resolveBrokers } from '../services/brokers.js';
import { configFrom, withKnobs } from './options.js';
import { info } from './output.js';
import { progress } from './progress.js';

export function produceCommand(): Command {
  const cmd = new Command('produce')
    .description('write texts to the input topic: from a JSONL/CSV/text FILE, stdin (-), or --generate (realistic social-media posts)')
    .argument('[file]', 'JSONL ({"id","text",...} per line, sent byte for byte), CSV with a header, or text (one post per line); - for stdin')
    .option('--topic <name>', 'topic to write to (default: the first input topic)')
    .option('--generate', 'generate realistic brand-mention posts instead of reading a file')
    .option('--count <n>', 'stop after n messages (default: all of the file; 1000 with --generate)')
    .option('--rate <n>', 'messages per second, open loop (0 = as fast as possible)', '0')
    .addOption(new Option('--format <f>', 'input format').choices(['auto', 'jsonl', 'csv', 'text']).default('auto'))
    .option('--key-field <name>', 'field used as the record key (default: the brand with --generate)')
    .option('--text-field <name>', 'CSV column holding the text', 'text')
    .option('--id-field <name>', 'CSV column holding the id', 'id')
    .option('--avro', 'encode events as Avro (schemas/input-event.avsc) through the Schema Registry')
    .option('--seed <n>', 'generator seed', '42')
    .option('--spike <spec>', 'with --generate: inject a burst, BRAND:AT:FACTORx[:SENTIMENT[:DURATION]], e.g. "Acme Air:60s:8x:negative" (from 60 s in, for a minute, 8x as many Acme Air posts, all negative)')
    .option('--quiet', 'no progress output');
  withKnobs(cmd, ['home', 'logLevel', 'kafka.', 'registry.url', 'pipeline.inputTopics', 'pipeline.partitions']);
  return cmd.action(async (file: string | undefined, opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const topic = (opts.topic as string | undefined) ?? config.pipeline.inputTopics[0] ?? 'klassify.input';
    const generate = opts.generate === true;
    if (!generate && file === undefined) throw new ConfigError('give a FILE (or - for stdin), or --generate');
    const count = opts.count !== undefined ? Number(opts.count) : generate ? 1000 : Number.POSITIVE_INFINITY;
    const rate = Number(opts.rate);
    if (!(count >= 0) || !(rate >= 0)) throw new ConfigError('--count and --rate must be numbers >= 0');
    if (opts.avro && !config.registry.url) throw new ConfigError('--avro needs a Schema Registry: set SCHEMA_REGISTRY_URL (klassify registry up starts a local one)');

    const { brokers } = await resolveBrokers(config, opts.quiet ? undefined : info);
    const kafka = createKafka(config, brokers, `${config.kafka.clientId}-produce`);
    await ensureTopics(kafka, [topic], config.pipeline.partitions);
    const serdes = opts.avro ? await createRegistrySerdes(config.registry.url as string) : undefined;
    const producer = recordProducer(kafka);
    await producer.connect();

    const events = readEvents({
      file,
      format: opts.format as SourceFormat,
      generate,
      seed: Number(opts.seed),
      spike: opts.spike === undefined ? undefined : parseSpike(String(opts.spike)),
      keyField: opts.keyField as string | undefined,
      textField: opts.textField as string,
      idField: opts.idField as string,
    });
    const bar = opts.quiet ? undefined : progress(`produce → ${topic}`, Number.isFinite(count) ? count : undefined);
    const pacer = new Pacer(rate);
    const toMessage = async (e: ProduceEvent): Promise<Message> => {
      if (serdes && typeof e.value === 'object') return { key: e.key, value: await serdes.encodeInput(topic, { id: null, ts: null, meta: null, ...e.value }) };
      return { key: e.key, value: typeof e.value === 'string' ? e.value : JSON.stringify(e.value) };
    };

    let sent = 0;
    let pending: Message[] = [];
    const started = Date.now();
    const iterator = events[Symbol.asyncIterator]();
    let exhausted = false;
    while (sent < count && !exhausted) {
      const wait = pacer.waitMs();
      if (wait > 1) await new Promise((r) => setTimeout(r, Math.min(wait, 50)));
      const due = pacer.due(Math.min(500, count - sent));
      for (let i = 0; i < due; i++) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        pending.push({ ...(await toMessage(next.value)), timestamp: String(Date.now()) });
      }
      if (pending.length > 0) {
        // A topic created a moment ago may have no leader in the producer's metadata yet (seen in CI);
        // repeated, the batch is at-least-once, as any producer's retry after an unclear failure.
        await retrying(() => producer.send({ topic, messages: pending, acks: -1 }), 40, 250, true);
        sent += pending.length;
        pacer.sent(pending.length);
        pending = [];
        bar?.update(sent, `${Math.round((sent * 1000) / Math.max(1, Date.now() - started))}/s`);
      }
    }
    bar?.stop();
    await producer.disconnect();
    if (!opts.quiet) info(`wrote ${sent} messages to ${topic} at ${brokers.join(',')} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
}
