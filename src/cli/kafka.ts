// klassify kafka up|down|status: the embedded single-node Kafka.
import { Command } from 'commander';
import { kafkaDown, kafkaStatus, kafkaUp } from '../services/kafka.js';
import { configFrom, withKnobs } from './options.js';
import { info, printJson } from './output.js';

export function kafkaCommand(): Command {
  const cmd = new Command('kafka').description('run a local single-node Apache Kafka (KRaft) from Maven Central jars, no Docker needed');
  withKnobs(cmd.command('up').description('download (once) and start the local broker; prints its bootstrap address'), ['home', 'kafka.localPort', 'kafka.localControllerPort'])
    .option('--instance <name>', 'run several brokers side by side, each with its own data', 'default')
    .option('--json', 'print the status as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      if (!opts.json) info('starting local Kafka (the first run downloads ~55 MB of jars with mvn)...');
      const status = await kafkaUp({ home: config.home, instance: opts.instance as string, port: config.kafka.localPort, controllerPort: config.kafka.localControllerPort });
      if (opts.json) printJson(status);
      else process.stdout.write(`${status.bootstrap ?? ''}\n`);
    });
  withKnobs(cmd.command('down').description('stop the local broker and wait until its process has exited'), ['home'])
    .option('--instance <name>', 'which broker', 'default')
    .option('--purge', 'also delete its data')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      const result = await kafkaDown({ home: config.home, instance: opts.instance as string, purge: opts.purge === true });
      info(`local Kafka: ${result}`);
    });
  withKnobs(cmd.command('status').description('is the local broker running, and where'), ['home'])
    .option('--instance <name>', 'which broker', 'default')
    .option('--json', 'print the status as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      const status = await kafkaStatus({ home: config.home, instance: opts.instance as string });
      if (opts.json) printJson(status);
      else process.stdout.write(status.running ? `running at ${status.bootstrap ?? '?'} (pid ${status.pid ?? '?'}, log ${status.logFile})\n` : `not running (log ${status.logFile})\n`);
      if (!status.running) process.exitCode = 3;
    });
  return cmd;
}
