// klassify lag: consumer lag of any group, per partition, in records and in seconds, with a status.
import { Command } from 'commander';
import { createKafka } from '../../consumers/kafka-client.js';
import { LagMonitor, type GroupLag } from '../observe/lag.js';
import { resolveBrokers } from '../services/brokers.js';
import { configFrom, withKnobs } from './options.js';
import { printJson } from './output.js';

export function formatLag(g: GroupLag): string {
  const rows = g.partitions.map((p) =>
    [
      `${p.topic}[${p.partition}]`.padEnd(40),
      String(p.committed ?? '-').padStart(10),
      String(p.logEnd).padStart(10),
      String(p.lag).padStart(8),
      (p.lagSeconds === null ? '?' : p.lagSeconds.toFixed(1)).padStart(9),
      `  ${p.status}`,
    ].join(' '),
  );
  const head = `${'PARTITION'.padEnd(40)} ${'COMMITTED'.padStart(10)} ${'LOG-END'.padStart(10)} ${'LAG'.padStart(8)} ${'LAG-SEC'.padStart(9)}  STATUS`;
  return [
    `group ${g.group}: ${g.status} (state ${g.state}, ${g.members} member(s)) total lag ${g.totalLag} records, oldest unconsumed ${g.maxLagSeconds.toFixed(1)} s`,
    head,
    ...rows,
  ].join('\n');
}

export function lagCommand(): Command {
  const cmd = new Command('lag')
    .description('consumer lag per partition: committed offset, log end, lag in records and in seconds (age of the oldest unconsumed record), and a Burrow-style status')
    .option('--topics <list>', 'topics to report (default: those the group committed offsets for)')
    .option('--watch [seconds]', 'repeat every few seconds; statuses like WARNING need several samples')
    .option('--json', 'print JSON (one object per sample)');
  withKnobs(cmd, ['home', 'logLevel', 'kafka.', 'pipeline.groupId']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    // --group is the pipeline's group knob: any group can be named, klassify's own is the default.
    const group = config.pipeline.groupId;
    const topics = typeof opts.topics === 'string' ? opts.topics.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    const { brokers } = await resolveBrokers(config);
    const monitor = new LagMonitor(createKafka(config, brokers, `${config.kafka.clientId}-lag`));
    const every = opts.watch === undefined ? 0 : opts.watch === true ? 5 : Number(opts.watch);
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    try {
      do {
        const sample = await monitor.poll(group, topics);
        if (opts.json) printJson(sample);
        else process.stdout.write(`${formatLag(sample)}\n\n`);
        if (every > 0 && !stop) await new Promise((r) => setTimeout(r, every * 1000));
      } while (every > 0 && !stop);
    } finally {
      await monitor.close();
    }
  });
}
