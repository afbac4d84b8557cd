// `npm run bench -- --shadow`: what a shadow model costs the live path (issue #16), on this machine.
// klassify runs as its own process without and with `--shadow-model` (a copy of the live model under
// another version, --shadow-sample 0.5), in interleaved rounds, ratios taken within each round:
//   loads      open-loop input at 25% and 50% of the slowest drain without a shadow, the same three arms:
//              live p50 / p99
//   overload   a backlog drained as fast as it goes, without a shadow, with an idle one (loaded, offered
//              nothing: its presence) and with a working one: live records/s, and shadow work shed
// The shadow must never slow the live path; the figures say how close that holds. Writes
// bench/results/shadow-<timestamp>.{json,md}.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { figuresOnly, runArms, WARM_SECONDS, type ArmRun } from './arms.js';
import { median, metricSum, type PhaseOptions } from './kafka-phases.js';

export type ShadowBenchOptions = PhaseOptions;

const SAMPLE = 0.5;

/** The live model copied under another version: the shadow does the same work the live model does. */
function shadowCopy(modelDir: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'klassify-bench-shadow-')), 'shadow');
  cpSync(modelDir, dir, { recursive: true });
  const file = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
  m.version = `${m.version}-shadow`;
  writeFileSync(file, JSON.stringify(m, null, 2));
  return dir;
}

interface ShadowFigures {
  compared: number;
  shed: number;
}

/** An arm's run with what its shadow did (none without one). */
type Run = ArmRun & { shadow: ShadowFigures | undefined };

function withShadow(run: ArmRun, hasShadow: boolean): Run {
  return { ...run, shadow: hasShadow ? { compared: metricSum(run.metrics, 'klassify_shadow_compared_total'), shed: metricSum(run.metrics, 'klassify_shadow_shed_total') } : undefined };
}

/** Load levels as fractions of the slowest drain without a shadow: fixed for the whole bench, so a round
 *  that happens on a slow minute is not pushed past what the machine does then. */
const LOADS = [0.25, 0.5] as const;

/** A shadow that is loaded but never offered anything: what its presence alone costs. */
const IDLE_SAMPLE = 1e-9;

type Arm = 'without' | 'idle' | 'with';
const ARMS: readonly Arm[] = ['without', 'idle', 'with'];

export async function benchShadow(o: ShadowBenchOptions): Promise<void> {
  const copy = shadowCopy(o.modelDir);
  const args: Record<Arm, string[]> = { without: [], idle: ['--shadow-model', copy, '--shadow-sample', String(IDLE_SAMPLE)], with: ['--shadow-model', copy, '--shadow-sample', String(SAMPLE)] };
  const backlog = o.quick ? 3000 : 8000;
  const seconds = o.quick ? 15 : 30;
  // Overload in rounds of three arms (the order rotates), so a shadow's presence (loaded, idle) and its
  // work can be told apart within each round; loads in rounds of the same arms: under open-loop input a
  // presence cost shows in latency, which the overload phase's drain rate cannot see.
  const raw = await runArms(o, {
    arms: args,
    tag: 'shadow',
    backlog,
    overloadRounds: o.quick ? 1 : 5,
    loads: LOADS,
    loadSeconds: seconds,
    loadRounds: o.quick ? 1 : 2,
    onRun: ({ phase, fraction, rate, round, arm, run }) => {
      const r = withShadow(run, arm !== 'without');
      o.log(phase === 'overload'
        ? `shadow bench overload round ${round + 1}, ${arm}: ${Math.round(r.perSecond)}/s${r.shadow ? `, shadow compared ${r.shadow.compared}, shed ${r.shadow.shed}` : ''}`
        : `shadow bench ${(fraction ?? 0) * 100}% load (${rate}/s) round ${round + 1}, ${arm}: p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`);
    },
  });
  const shadowed = (x: Record<Arm, ArmRun>): Record<Arm, Run> => ({ without: withShadow(x.without, false), idle: withShadow(x.idle, true), with: withShadow(x.with, true) });
  const overload = raw.overload.map(shadowed);
  const slowest = raw.slowest;
  const loads = raw.loads.map((l) => ({ fraction: l.fraction, rate: l.rate, rounds: l.rounds.map(shadowed) }));
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(o.outDir, { recursive: true });
  const json = { startedAt: new Date().toISOString(), quick: o.quick, sample: SAMPLE, backlog, loadSeconds: seconds, overload: overload.map(figuresOnly), loads: loads.map((l) => ({ ...l, rounds: l.rounds.map(figuresOnly) })) };
  writeFileSync(join(o.outDir, `shadow-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const shedShare = (s: ShadowFigures | undefined): string => (s && s.compared + s.shed > 0 ? pct(s.shed / (s.compared + s.shed)) : '-');
  const ratio = (a: number, b: number): string => `${(a / Math.max(1, b)).toFixed(2)}x`;
  const md = `# klassify shadow bench, ${json.startedAt}${o.quick ? ' (quick)' : ''}

klassify as its own process, without and with \`--shadow-model\` (the live model copied under another
version, so the shadow does the live model's work) at \`--shadow-sample ${SAMPLE}\`, in rounds run back to back
(the order rotates); every ratio is within a round. Overload: a backlog of ${backlog} posts drained as fast as it
goes. Loads: open-loop input for ${seconds} s at ${LOADS.map((f) => pct(f)).join(' and ')} of the slowest drain without a shadow
(${Math.round(slowest)}/s), the same rate in every round, after ${WARM_SECONDS} s of the same load whose records the latency figures leave out. Shed: sampled records the shadow did not get (live pool busy,
live workers busy past \`--shadow-max-live-busy\`, or a shadow call running), as a share of those sampled.

## Overload: live drain rate

Three arms per round, the order rotating: without a shadow; with an idle one (loaded, \`--shadow-sample
${IDLE_SAMPLE}\`, so nothing is offered: its presence alone); with one at \`--shadow-sample ${SAMPLE}\`.

| round | without | idle shadow | with shadow | idle / without | with / without | shadow compared | shed |
|---|---|---|---|---|---|---|---|
${overload.map((x, i) => `| ${i + 1} | ${Math.round(x.without.perSecond)}/s | ${Math.round(x.idle.perSecond)}/s | ${Math.round(x.with.perSecond)}/s | ${pct(x.idle.perSecond / x.without.perSecond)} | ${pct(x.with.perSecond / x.without.perSecond)} | ${x.with.shadow?.compared ?? 0} | ${shedShare(x.with.shadow)} |`).join('\n')}

Median: idle / without **${pct(median(overload.map((x) => x.idle.perSecond / x.without.perSecond)))}**, with / without **${pct(median(overload.map((x) => x.with.perSecond / x.without.perSecond)))}**.

## Open-loop load: live latency (input time to output append)

Three arms per round, as above, the order rotating.

| load | round | p50 without / idle / with | p99 without / idle / with | p99 idle / without | p99 with / without | shadow compared | shed |
|---|---|---|---|---|---|---|---|
${loads.flatMap((l) => l.rounds.map((x, i) => `| ${pct(l.fraction)} (${l.rate}/s) | ${i + 1} | ${x.without.latency.p50} / ${x.idle.latency.p50} / ${x.with.latency.p50} ms | ${x.without.latency.p99} / ${x.idle.latency.p99} / ${x.with.latency.p99} ms | ${ratio(x.idle.latency.p99, x.without.latency.p99)} | ${ratio(x.with.latency.p99, x.without.latency.p99)} | ${x.with.shadow?.compared ?? 0} | ${shedShare(x.with.shadow)} |`)).join('\n')}

## The klassify process in each run (open-loop loads)

Over the measured load (after the warm-up), from its own \`/metrics\`: its main thread's event-loop delay
(p99 / max), time in GC and CPU of the whole process (workers included); resident memory at the end.

| load | round | arm | event loop p99 / max | GC | CPU | RSS |
|---|---|---|---|---|---|---|
${loads.flatMap((l) => l.rounds.flatMap((x, i) => ARMS.map((a) => `| ${pct(l.fraction)} | ${i + 1} | ${a} | ${x[a].process.eventLoopP99Ms} / ${x[a].process.eventLoopMaxMs} ms | ${x[a].process.gcSeconds} s | ${x[a].process.cpuSeconds} s | ${x[a].process.rssMb} MB |`))).join('\n')}

On 2 shared cores the shadow's workers share the live workers' cores; SCHED_IDLE (niceness 19 before it)
leaves them only what the live threads do not use, and shedding keeps the shadow from queueing behind live work.
`;
  writeFileSync(join(o.outDir, `shadow-${stamp}.md`), md);
  o.log(`wrote bench/results/shadow-${stamp}.{json,md}`);
}
