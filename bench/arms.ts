// Interleaved arms: klassify as its own process with different arguments ("arms"), run in rounds back to
// back with the order rotating, so every comparison is a ratio within a round (the machines are shared and
// noisy). Two measures per arm and round:
//   overload  a backlog drained as fast as it goes: records/s
//   loads     open-loop input at fractions of the slowest overload drain of the first arm, after a warm-up
//             left out of the figures: latency from input time to output append
// Used by the shadow bench (without / idle / with a shadow) and the settings A/B (defaults / candidate).
import { benchTopics, createTopics, fillBacklog, metricSum, observeOutput, openLoopLoad, percentiles, scrapeMetrics, startPipelineProcess, waitForOutput, type PhaseOptions } from './kafka-phases.js';

/**
 * The klassify process itself over the measured part of the run (prom-client's default metrics): event-loop
 * delay since the scrape after the warm-up (prom-client resets that histogram at each scrape), GC and CPU
 * as the difference of the two scrapes, RSS at the end.
 */
export interface ProcessFigures {
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

export interface ArmRun {
  latency: ReturnType<typeof percentiles>;
  perSecond: number;
  process: ProcessFigures;
  /** The process's /metrics at the end of the run. */
  metrics: string;
}

/** A round's runs without the /metrics text each kept (a JSON report keeps the figures). */
export function figuresOnly<A extends string, R extends ArmRun>(round: Record<A, R>): Record<A, Omit<R, 'metrics'>> {
  return Object.fromEntries((Object.entries(round) as [A, R][]).map(([arm, { metrics: _metrics, ...figures }]) => [arm, figures])) as Record<A, Omit<R, 'metrics'>>;
}

async function run(o: PhaseOptions, tag: string, extra: readonly string[], load: (t: ReturnType<typeof benchTopics>, url: string) => Promise<Loaded>): Promise<ArmRun> {
  const t = benchTopics(tag);
  await createTopics(o.admin, t, 6);
  const proc = await startPipelineProcess(o.brokers, t, ['--model', o.modelDir, ...extra]);
  try {
    const { total, warm, before } = await load(t, proc.url);
    await waitForOutput(o.admin, t.output, total, 600_000);
    const metrics = await scrapeMetrics(proc.url);
    const seen = await observeOutput(o.kafka, t, total, 60_000);
    const span = (Math.max(...seen.appendTimes) - Math.min(...seen.appendTimes)) / 1000;
    return { latency: percentiles(seen.latenciesMs.slice(warm)), perSecond: (seen.appendTimes.length - 1) / Math.max(span, 0.001), process: processFigures(metrics, before), metrics };
  } finally {
    await proc.stop();
  }
}

/** Seconds of open-loop load before each measured one, its records left out of the latency figures. */
export const WARM_SECONDS = 5;

export interface ArmsPlan<A extends string> {
  /** Each arm's extra `klassify start` arguments; the first arm's drains set the load levels. */
  arms: Record<A, readonly string[]>;
  tag: string;
  backlog: number;
  overloadRounds: number;
  /** Load levels as fractions of the slowest overload drain of the first arm. */
  loads: readonly number[];
  loadSeconds: number;
  loadRounds: number;
  /** Called after each run (for a log line). */
  onRun?: (what: { phase: 'overload' | 'load'; fraction?: number; rate?: number; round: number; arm: A; run: ArmRun }) => void;
}

export interface ArmsResult<A extends string> {
  overload: Record<A, ArmRun>[];
  /** The slowest overload drain of the first arm (records/s): what the load levels are fractions of. */
  slowest: number;
  loads: { fraction: number; rate: number; rounds: Record<A, ArmRun>[] }[];
}

export async function runArms<A extends string>(o: PhaseOptions, plan: ArmsPlan<A>): Promise<ArmsResult<A>> {
  const names = Object.keys(plan.arms) as A[];
  const rotated = (r: number): A[] => names.map((_, i) => names[(i + r) % names.length] as A);
  const overload: Record<A, ArmRun>[] = [];
  for (let r = 0; r < plan.overloadRounds; r++) {
    const got = {} as Record<A, ArmRun>;
    for (const arm of rotated(r)) {
      got[arm] = await run(o, `${plan.tag}-over-${arm}-${r}`, plan.arms[arm], async (t, url) => {
        const before = await scrapeMetrics(url);
        await fillBacklog(o.kafka, t.input, plan.backlog, 500 + r);
        return { total: plan.backlog, warm: 0, before };
      });
      plan.onRun?.({ phase: 'overload', round: r, arm, run: got[arm] });
    }
    overload.push(got);
  }
  const first = names[0] as A;
  const slowest = Math.min(...overload.map((x) => x[first].perSecond));
  const loads: ArmsResult<A>['loads'] = [];
  for (const fraction of plan.loads) {
    // The same rate in every round and arm: a round on a slow minute is not pushed past what the machine does then.
    const rate = Math.max(10, Math.round(slowest * fraction));
    const done: Record<A, ArmRun>[] = [];
    for (let r = 0; r < plan.loadRounds; r++) {
      const got = {} as Record<A, ArmRun>;
      for (const arm of rotated(r)) {
        got[arm] = await run(o, `${plan.tag}-l${fraction * 100}-${arm}-${r}`, plan.arms[arm], async (t, url) => {
          // A warm-up first, left out of the percentiles: a process's first seconds of traffic (group
          // join, first fetches, first shapes through ORT) took up to ~2.5 s a record in any arm, and
          // landing in one arm and not the other it decided a p99 comparison on its own.
          const warm = (await openLoopLoad(o.kafka, t.input, rate, WARM_SECONDS, 700 + r)).sent;
          await waitForOutput(o.admin, t.output, warm, 120_000);
          const before = await scrapeMetrics(url);
          return { total: warm + (await openLoopLoad(o.kafka, t.input, rate, plan.loadSeconds, 600 + r)).sent, warm, before };
        });
        plan.onRun?.({ phase: 'load', fraction, rate, round: r, arm, run: got[arm] });
      }
      done.push(got);
    }
    loads.push({ fraction, rate, rounds: done });
  }
  return { overload, slowest, loads };
}
