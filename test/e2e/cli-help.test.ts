// Every subcommand answers --help, and the top-level help lists them all.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

async function subcommands(args: string[]): Promise<string[]> {
  const { stdout } = await runCli([...args, '--help']);
  const section = stdout.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] as string).filter((c) => c !== 'help');
}

describe('klassify --help', () => {
  it('every command and subcommand prints help and exits 0', async () => {
    const top = await subcommands([]);
    expect(top).toEqual(expect.arrayContaining(['kafka', 'registry']));
    for (const cmd of top) {
      const r = await runCli([cmd, '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: klassify ${cmd}`);
      for (const sub of await subcommands([cmd])) {
        const s = await runCli([cmd, sub, '--help']);
        expect(s.code, `${cmd} ${sub}`).toBe(0);
        expect(s.stdout).toContain(`Usage: klassify ${cmd} ${sub}`);
      }
    }
  });

  it('an unknown command fails with a hint', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command/);
  });

  it('start refuses --brands with Avro results at once, before any broker or model is touched', async () => {
    const r = await runCli(['start', '--brands', 'brands/example-brands.json', '--output-format', 'avro', '--brokers', '127.0.0.1:1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/KLS_ERR_CONFIG: --brands needs JSON results/);
  });
});
