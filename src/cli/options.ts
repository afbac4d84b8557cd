// Turns the knob table into command-line options, and parsed options back into config flags, so every
// knob is a flag with the same help text as its environment variable.
import { Option, type Command } from 'commander';
import { loadConfig, type ResolvedConfig } from '../config.js';
import { knobs } from '../config-knobs.js';

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds the knobs whose keys start with one of `prefixes` (e.g. 'kafka.', 'batch.'), plus --config. */
export function withKnobs(command: Command, prefixes: readonly string[]): Command {
  command.addOption(new Option('--config <file>', 'JSON config file (env KLASSIFY_CONFIG)'));
  for (const knob of knobs) {
    if (!prefixes.some((p) => knob.key === p || knob.key.startsWith(p))) continue;
    const valueName = knob.type === 'bool' ? '[bool]' : knob.type === 'int' || knob.type === 'number' ? '<n>' : '<value>';
    command.addOption(new Option(`--${knob.flag} ${valueName}`, `${knob.help} [env ${knob.env}]`));
  }
  return command;
}

/** The configuration for a command: defaults < --config file < environment < flags. */
export function configFrom(opts: Record<string, unknown>): ResolvedConfig {
  const flags: Record<string, unknown> = {};
  for (const knob of knobs) {
    const value = opts[camel(knob.flag)];
    if (value === undefined) continue;
    flags[knob.key] = value === true ? 'true' : value;
  }
  return loadConfig({ file: opts.config as string | undefined, flags });
}
