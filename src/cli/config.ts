// klassify config: the effective configuration (secrets redacted), or the table of every knob.
import { Command } from 'commander';
import type { ResolvedConfig } from '../config.js';
import { knobs } from '../config-knobs.js';
import { redactUrl } from '../redact.js';
import { configFrom, withKnobs } from './options.js';

export function knobTable(): string {
  const rows = knobs.map((k) => {
    const def = k.key === 'home' || k.key === 'model.dir' || k.key === 'pool.workers' ? '(see text)' : JSON.stringify(k.default()) ?? '';
    return `| \`${k.env}\` | \`--${k.flag}\` | ${def.replace(/\|/g, '\\|')} | ${k.help.replace(/\|/g, '\\|')} |`;
  });
  return ['| Environment | Flag | Default | What it does, and when to change it |', '|---|---|---|---|', ...rows].join('\n');
}

// Secret-valued keys by name (exact endings: `maxTokens` and `maxBatchTokens` are knobs, not secrets).
const SECRET_KEY = /(^token|Password|Secret|^password|^secret)$/;

export function redact(config: ResolvedConfig): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (value === undefined) return value;
      if (SECRET_KEY.test(key)) return '***';
      // A URL may carry credentials (https://user:pass@registry): keep where it points, hide who logs in.
      if (typeof value === 'string' && /url$/i.test(key)) return redactUrl(value);
      return value;
    }),
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
