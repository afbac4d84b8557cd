// klassify config: the effective configuration (secrets redacted), or the table of every knob.
import { Command } from 'commander';
import type { ResolvedConfig } from '../config.js';
import { knobs } from '../config-knobs.js';
import { configFrom, withKnobs } from './options.js';

export function knobTable(): string {
  const rows = knobs.map((k) => {
    const def = k.key === 'home' || k.key === 'model.dir' || k.key === 'pool.workers' ? '(see text)' : JSON.stringify(k.default()) ?? '';
    return `| \`${k.env}\` | \`--${k.flag}\` | ${def.replace(/\|/g, '\\|')} | ${k.help.replace(/\|/g, '\\|')} |`;
  });
  return ['| Environment | Flag | Default | What it does, and when to change it |', '|---|---|---|---|', ...rows].join('\n');
}

export function redact(config: ResolvedConfig): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => (/password|token|secret/i.test(key) && value !== undefined ? '***' : value)),
  );
}

export function configCommand(): Command {
  return withKnobs(new Command('config').description('print the effective configuration (defaults < --config file < env < flags)'), [''])
    .option('--markdown', 'print the table of every setting instead (as in the README)')
    .action((opts: Record<string, unknown>) => {
      if (opts.markdown) {
        process.stdout.write(`${knobTable()}\n`);
        return;
      }
      process.stdout.write(`${JSON.stringify(redact(configFrom(opts)), null, 2)}\n`);
    });
}
