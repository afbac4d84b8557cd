// `npm run bench -- --ab="<klassify start arguments>"` (with "=": the value starts with a dash): a setting
// judged against the defaults in one run.
// klassify runs as its own process with its defaults (A) and with the given arguments (B), in interleaved
// rounds (bench/arms.ts: the order alternates, every ratio is within a round): drain rate under overload,
// and latency under open-loop load at 25% and 50% of A's slowest drain. Knobs such as --fetch-min-bytes /
// --fetch-max-wait-ms, --max-batch or --workers are judged this way rather than across bench runs, whose
// figures swing more than such a setting moves them. Writes bench/results/ab-<timestamp>.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { figuresOnly, runArms, WARM_SECONDS } from './arms.js';
import { median, type PhaseOptions } from './kafka-phases.js';

export interface SettingsBenchOptions extends PhaseOptions {
  /** B's extra `klassify start` arguments. */
  candidate: string[];
}

const LOADS = [0.25, 0.5] as const;

type Arm = 'defaults' | 'candidate';

const ratio = (b: number, a: number): string => `${(b / Math.max(a, 1e-9)).toFixed(2)}x`;

export async function benchSettings(o: SettingsBenchOptions): Promise<void> {
  const backlog = o.quick ? 3000 : 8000;
  const seconds = o.quick ? 10 : 30;
  const result = await runArms<Arm>(o, {
    arms: { defaults: [], candidate: o.candidate },
    tag: 'ab',
    backlog,
    overloadRounds: o.quick ? 2 : 4,
    loads: LOADS,
    loadSeconds: seconds,
    loadRounds: o.quick ? 2 : 4,
    onRun: ({ phase, fraction, rate, round, arm, run }) =>
      o.log(phase === 'overload'
        ? `ab overload round ${round + 1}, ${arm}: ${Math.round(run.perSecond)}/s`
        : `ab ${(fraction ?? 0) * 100}% load (${rate}/s) round ${round + 1}, ${arm}: p50 ${run.latency.p50} ms, p99 ${run.latency.p99} ms, CPU ${run.process.cpuSeconds} s`),
  });
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[:.]/g, '-');
  mkdirSync(o.outDir, { recursive: true });
  const json = { startedAt, quick: o.quick, candidate: o.candidate, backlog, loadSeconds: seconds, slowest: result.slowest, overload: result.overload.map(figuresOnly), loads: result.loads.map((l) => ({ ...l, rounds: l.rounds.map(figuresOnly) })) };
  writeFileSync(join(o.outDir, `ab-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const drain = result.overload.map((x) => x.candidate.perSecond / x.defaults.perSecond);
  const md = `# klassify settings A/B, ${startedAt}${o.quick ? ' (quick)' : ''}

A: \`klassify start\` with its defaults. B: the same with \`${o.candidate.join(' ')}\`. Both as their own process,
in rounds run back to back (the order alternates); every ratio is within a round. Overload: a backlog of
${backlog} posts drained as fast as it goes. Loads: open-loop input for ${seconds} s at ${LOADS.map((f) => `${f * 100}%`).join(' and ')} of A's slowest
drain (${Math.round(result.slowest)}/s), after ${WARM_SECONDS} s of the same load left out of the figures. CPU: the klassify
process's user + system seconds over the measured load (workers included).

## Overload: drain rate

| round | A | B | B / A |
|---|---|---|---|
${result.overload.map((x, i) => `| ${i + 1} | ${Math.round(x.defaults.perSecond)}/s | ${Math.round(x.candidate.perSecond)}/s | ${ratio(x.candidate.perSecond, x.defaults.perSecond)} |`).join('\n')}

Median B / A: **${median(drain).toFixed(2)}x** (${Math.min(...drain).toFixed(2)}-${Math.max(...drain).toFixed(2)}x).

## Open-loop load: latency (input time to output append)

| load | round | p50 A / B | p99 A / B | p99 B / A | CPU A / B |
|---|---|---|---|---|---|
${result.loads.flatMap((l) => l.rounds.map((x, i) => `| ${l.fraction * 100}% (${l.rate}/s) | ${i + 1} | ${x.defaults.latency.p50} / ${x.candidate.latency.p50} ms | ${x.defaults.latency.p99} / ${x.candidate.latency.p99} ms | ${ratio(x.candidate.latency.p99, x.defaults.latency.p99)} | ${x.defaults.process.cpuSeconds} / ${x.candidate.process.cpuSeconds} s |`)).join('\n')}

${result.loads.map((l) => `Median at ${l.fraction * 100}%: p50 ${median(l.rounds.map((x) => x.defaults.latency.p50))} / ${median(l.rounds.map((x) => x.candidate.latency.p50))} ms, p99 B / A ${median(l.rounds.map((x) => x.candidate.latency.p99 / Math.max(x.defaults.latency.p99, 1e-9))).toFixed(2)}x.`).join('\n')}
`;
  writeFileSync(join(o.outDir, `ab-${stamp}.md`), md);
  o.log(`wrote bench/results/ab-${stamp}.{json,md}`);
}
