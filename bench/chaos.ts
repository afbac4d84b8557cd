// `npm run chaos`: the fault suite as a report. Runs the reliability tests (SIGKILL loops, rebalances,
// zombie freezes, a broker restart; both delivery modes) on the real broker the test setup provisions
// (or KAFKA_BROKERS), collects the figures each scenario reports (test/helpers/fault-report.ts), and
// writes bench/results/chaos-<timestamp>.{json,md}: records in / out / lost / duplicated per scenario and
// mode, and whether each test passed. Broker-heavy: never run it beside a benchmark or another suite.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

const SUITES = ['test/integration/delivery.test.ts', 'test/integration/zombie.test.ts', 'test/integration/broker-restart.test.ts', 'test/integration/scale-out.test.ts'];

interface Row {
  scenario: string;
  mode: string;
  in: number;
  out: number;
  lost: number;
  duplicated: number;
  at: string;
}

interface VitestJson {
  testResults: { name: string; assertionResults: { fullName: string; status: string; duration?: number }[] }[];
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const figures = join(tmpdir(), `klassify-chaos-${process.pid}.jsonl`);
const vitestOut = join(tmpdir(), `klassify-chaos-${process.pid}.json`);
rmSync(figures, { force: true });
const started = Date.now();
const run = spawnSync('npx', ['vitest', 'run', ...SUITES, '--reporter=default', '--reporter=json', `--outputFile.json=${vitestOut}`], {
  cwd: packageRoot,
  stdio: 'inherit',
  env: { ...process.env, KLASSIFY_CHAOS_REPORT: figures },
});
const rows: Row[] = existsSync(figures) ? readFileSync(figures, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row) : [];
const tests = existsSync(vitestOut)
  ? (JSON.parse(readFileSync(vitestOut, 'utf8')) as VitestJson).testResults.flatMap((f) => f.assertionResults.map((a) => ({ file: f.name.replace(`${packageRoot}/`, ''), name: a.fullName, status: a.status, seconds: Math.round((a.duration ?? 0) / 1000) })))
  : [];

// What each mode promises: at-least-once loses nothing (copies allowed); exactly-once neither loses nor copies.
const verdict = (r: Row): string => (r.lost > 0 ? 'LOST' : r.mode === 'exactly-once' && r.duplicated > 0 ? 'DUPLICATED' : 'ok');
const md = [
  `# klassify chaos report, ${new Date().toISOString()}`,
  '',
  `\`npm run chaos\`: ${SUITES.map((s) => `\`${s}\``).join(', ')} on a real broker; ${Math.round((Date.now() - started) / 1000)} s; vitest exit ${run.status ?? 'signal'}.`,
  'Duplicates are allowed in at-least-once (each is a real redo of an input), never in exactly-once (read_committed output).',
  '',
  '| scenario | mode | records in | out | lost | duplicated | verdict |',
  '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ...rows.map((r) => `| ${r.scenario} | ${r.mode} | ${r.in} | ${r.out} | ${r.lost} | ${r.duplicated} | ${verdict(r)} |`),
  '',
  '| test | result | seconds |',
  '| --- | --- | ---: |',
  ...tests.map((t) => `| ${t.name} | ${t.status} | ${t.seconds} |`),
  '',
].join('\n');
const dir = join(packageRoot, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `chaos-${stamp}.json`), `${JSON.stringify({ suites: SUITES, exit: run.status, rows, tests }, null, 2)}\n`);
writeFileSync(join(dir, `chaos-${stamp}.md`), md);
process.stdout.write(`\n${md}\nwrote bench/results/chaos-${stamp}.{json,md}\n`);
rmSync(figures, { force: true });
rmSync(vitestOut, { force: true });
process.exitCode = run.status === 0 && rows.every((r) => verdict(r) === 'ok') ? 0 : 1;
