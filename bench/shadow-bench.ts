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
import { benchTopics, createTopics, fillBacklog, median, metricSum, observeOutput, openLoopLoad, percentiles, scrapeMetrics, startPipelineProcess, waitForOutput, type PhaseOptions } from './kafka-phases.js';

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

function shadowFigures(metrics: string): ShadowFigures {
  return { compared: metricSum(metrics, 'klassify_shadow_compared_total'), shed: metricSum(metrics, 'klassify_shadow_shed_total') };
}

/**
 * The klassify process itself over the measured part of the run (prom-client's default metrics): event-loop
 * delay since the scrape after the warm-up (prom-client resets that histogram at each scrape), GC and CPU
 * as the difference of the two scrapes, RSS at the end.
 */
interface ProcessFigures {
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  gcSeconds: number;
  /** User + system CPU of the whole process, workers included. */
  cpuSeconds: number;
  rssMb: number;
}

function processFigures(metrics: string, before: string): ProcessFigures {
  const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
  const delta = (name: string): number => metricSum(metrics, name) - metricSum(before, name);
  return {
    eventLoopP99Ms: round(metricSum(metrics, 'nodejs_eventloop_lag_p99_seconds') * 1000),
    eventLoopMaxMs: round(metricSum(metrics, 'nodejs_eventloop_lag_max_seconds') * 1000),
    gcSeconds: round(delta('nodejs_gc_duration_seconds_sum'), 2),
    cpuSeconds: round(delta('process_cpu_seconds_total')),
    rssMb: Math.round(metricSum(metrics, 'process_resident_memory_bytes') / 2 ** 20),
  };
}

/**
 * What a run's load put on the input: `total` records, of which the first `warm` (by input time) only warm
 * up; `before` is the process's /metrics scraped when the measured part began.
 */
interface Loaded {
  total: number;
  warm: number;
  before: string;
}

async function run(o: ShadowBenchOptions, tag: string, extra: string[], load: (t: ReturnType<typeof benchTopics>, url: string) => Promise<Loaded>): Promise<{ latency: ReturnType<typeof percentiles>; perSecond: number; shadow: ShadowFigures | undefined; process: ProcessFigures }> {
  const t = benchTopics(tag);
  await createTopics(o.admin, t, 6);
  const proc = await startPipelineProcess(o.brokers, t, ['--model', o.modelDir, ...extra]);
  try {
    const { total, warm, before } = await load(t, proc.url);
    await waitForOutput(o.admin, t.output, total, 600_000);
    const metrics = await scrapeMetrics(proc.url);
    const seen = await observeOutput(o.kafka, t, total, 60_000);
    const span = (Math.max(...seen.appendTimes) - Math.min(...seen.appendTimes)) / 1000;
    return { latency: percentiles(seen.latenciesMs.slice(warm)), perSecond: (seen.appendTimes.length - 1) / Math.max(span, 0.001), shadow: extra.length > 0 ? shadowFigures(metrics) : undefined, process: processFigures(metrics, before) };
  } finally {
    await proc.stop();
  }
}

type Run = Awaited<ReturnType<typeof run>>;

/** Load levels as fractions of the slowest drain without a shadow: fixed for the whole bench, so a round
 *  that happens on a slow minute is not pushed past what the machine does then. */
const LOADS = [0.25, 0.5] as const;

/** Seconds of open-loop load before each measured one, its records left out of the latency figures. */
const WARM_SECONDS = 5;

/** A shadow that is loaded but never offered anything: what its presence alone costs. */
const IDLE_SAMPLE = 1e-9;

type Arm = 'without' | 'idle' | 'with';
const ARMS: readonly Arm[] = ['without', 'idle', 'with'];

export async function benchShadow(o: ShadowBenchOptions): Promise<void> {
  const copy = shadowCopy(o.modelDir);
  const shadow = ['--shadow-model', copy, '--shadow-sample', String(SAMPLE)];
  const args: Record<Arm, string[]> = { without: [], idle: ['--shadow-model', copy, '--shadow-sample', String(IDLE_SAMPLE)], with: shadow };
  const backlog = o.quick ? 3000 : 8000;
  const seconds = o.quick ? 15 : 30;
  const rounds = o.quick ? 1 : 2;
  // Overload in rounds of three arms (the order rotates), so a shadow's presence (loaded, idle) and its
  // work can be told apart within each round.
  const overload: Record<Arm, Run>[] = [];
  for (let r = 0; r < (o.quick ? 1 : 5); r++) {
    const order = ARMS.map((_, i) => ARMS[(i + r) % ARMS.length] as Arm);
    const got: Partial<Record<Arm, Run>> = {};
    for (const which of order) {
      got[which] = await run(o, `shadow-over-${which}-${r}`, args[which], async (t, url) => {
        const before = await scrapeMetrics(url);
        await fillBacklog(o.kafka, t.input, backlog, 500 + r);
        return { total: backlog, warm: 0, before };
      });
      o.log(`shadow bench overload round ${r + 1}, ${which}: ${Math.round(got[which]!.perSecond)}/s${got[which]!.shadow ? `, shadow compared ${got[which]!.shadow!.compared}, shed ${got[which]!.shadow!.shed}` : ''}`);
    }
    overload.push(got as Record<Arm, Run>);
  }
  const slowest = Math.min(...overload.map((x) => x.without.perSecond));
  // Loads in rounds of the same three arms: under open-loop input a presence cost shows in latency, which
  // the overload phase's drain rate cannot see.
  const loads: { fraction: number; rate: number; rounds: Record<Arm, Run>[] }[] = [];
  for (const fraction of LOADS) {
    const rate = Math.max(10, Math.round(slowest * fraction));
    const done: Record<Arm, Run>[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = ARMS.map((_, i) => ARMS[(i + r) % ARMS.length] as Arm);
      const got: Partial<Record<Arm, Run>> = {};
      for (const which of order) {
        got[which] = await run(o, `shadow-l${fraction * 100}-${which}-${r}`, args[which], async (t, url) => {
          // A warm-up first, left out of the percentiles: a process's first seconds of traffic (group
          // join, first fetches, first shapes through ORT) took up to ~2.5 s a record in any arm, and
          // landing in one arm and not the other it decided the p99 comparison on its own.
          const warm = (await openLoopLoad(o.kafka, t.input, rate, WARM_SECONDS, 700 + r)).sent;
          await waitForOutput(o.admin, t.output, warm, 120_000);
          const before = await scrapeMetrics(url);
          return { total: warm + (await openLoopLoad(o.kafka, t.input, rate, seconds, 600 + r)).sent, warm, before };
        });
        o.log(`shadow bench ${fraction * 100}% load (${rate}/s) round ${r + 1}, ${which}: p50 ${got[which]!.latency.p50} ms, p99 ${got[which]!.latency.p99} ms`);
      }
      done.push(got as Record<Arm, Run>);
    }
    loads.push({ fraction, rate, rounds: done });
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(o.outDir, { recursive: true });
  const json = { startedAt: new Date().toISOString(), quick: o.quick, sample: SAMPLE, backlog, loadSeconds: seconds, overload, loads };
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
