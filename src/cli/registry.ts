// klassify registry up|down|status: the embedded Confluent-API Schema Registry (Apicurio).
import { Command } from 'commander';
import { registryDown, registryStatus, registryUp } from '../services/registry.js';
import { configFrom, withKnobs } from './options.js';
import { info, printJson } from './output.js';

export function registryCommand(): Command {
  const cmd = new Command('registry').description('run a local Confluent-compatible Schema Registry (Apicurio Registry, in memory)');
  withKnobs(cmd.command('up').description('download (once, ~160 MB) and start the local registry; prints its URL'), ['home', 'registry.localPort', 'registry.localManagementPort'])
    .option('--instance <name>', 'run several registries side by side', 'default')
    .option('--json', 'print the status as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      if (!opts.json) info('starting local Schema Registry (needs Java 21+)...');
      const status = await registryUp({ home: config.home, instance: opts.instance as string, port: config.registry.localPort, managementPort: config.registry.localManagementPort });
      if (opts.json) printJson(status);
      else process.stdout.write(`${status.url ?? ''}\n`);
    });
  withKnobs(cmd.command('down').description('stop the local registry'), ['home'])
    .option('--instance <name>', 'which registry', 'default')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      info(`local Schema Registry: ${await registryDown({ home: config.home, instance: opts.instance as string })}`);
    });
  withKnobs(cmd.command('status').description('is the local registry running, and where'), ['home'])
    .option('--instance <name>', 'which registry', 'default')
    .option('--json', 'print the status as JSON')
    .action(async (opts: Record<string, unknown>) => {
      const config = configFrom(opts);
      const status = await registryStatus({ home: config.home, instance: opts.instance as string });
      if (opts.json) printJson(status);
      else process.stdout.write(status.running ? `running at ${status.url ?? '?'} (pid ${status.pid ?? '?'})\n` : 'not running\n');
      if (!status.running) process.exitCode = 3;
    });
  return cmd;
}
