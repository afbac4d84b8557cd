#!/usr/bin/env node
// The klassify command line: one file per subcommand, each thin (parse, call, print).
import { Command } from 'commander';
import { envValue } from '../config.js';
import { packageVersion } from '../paths.js';
import { brandsCommand } from './brands.js';
import { classifyCommand } from './classify.js';
import { compileCommand } from './compile.js';
import { configCommand } from './config.js';
import { kafkaCommand } from './kafka.js';
import { lagCommand } from './lag.js';
import { failure } from './output.js';
import { produceCommand } from './produce.js';
import { registryCommand } from './registry.js';
import { startCommand } from './start.js';
import { tailCommand } from './tail.js';
import { shadowReportCommand } from './shadow-report.js';

const program = new Command('klassify')
  .description('real-time text classification on Kafka')
  .version(packageVersion)
  .showHelpAfterError()
  // Top-level options come before the subcommand, so `compile --version 2.0.0` is the compile option.
  .enablePositionalOptions()
  .addCommand(startCommand())
  .addCommand(classifyCommand())
  .addCommand(brandsCommand())
  .addCommand(compileCommand())
  .addCommand(configCommand())
  .addCommand(kafkaCommand())
  .addCommand(produceCommand())
  .addCommand(lagCommand())
  .addCommand(tailCommand())
  .addCommand(shadowReportCommand())
  .addCommand(registryCommand());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${failure(err, envValue('KLASSIFY_DEBUG') === '1')}\n`);
  process.exitCode = 1;
}
