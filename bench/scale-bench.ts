// `npm run bench -- --scale`: what scaling out and in costs (issue #15), on this machine. 12 input
// partitions under steady open-loop load; klassify as its own processes (one worker each, as a pod with one
// core would run): 1 instance, then 3 (two join at once), then 2, then 1 (a SIGTERM at each step down, as
// Kubernetes stops a pod), in both delivery modes. Per step: the longest gap between two output appends and
// the p99 / longest wait of the records sent around it; per mode: records in / out / lost / duplicated.
// kafkajs rebalances are eager, so each step pauses the whole group; these figures say for how long.
// Writes bench/results/scale-<timestamp>.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PostGenerator } from '../src/produce/generator.js';
import { benchTopics, createTopics, observeOutput, openLoopLoad, percentiles, startPipelineProcess, type Observed, type PhaseOptions, type ProcessHandle } from './kafka-phases.js';

const PARTITIONS = 12;
const SESSION_TIMEOUT_MS = 6000;
/** Records sent from this long before a step ... */
const BEFORE_MS = 1_000;
/** ... to this long after it count as sent around it. */
const AFTER_MS = 8_000;

type Delivery = 'at-least-once' | 'exactly-once';

interface StepFigures {
  step: string;
  records: number;
  longestGapMs: number;
  p50Ms: number;
  p99Ms: number;
  longestWaitMs: number;
}

interface ModeFigures {
  delivery: Delivery;
  ratePerSec: number;
  in: number;
  out: number;
  lost: number;
  duplicated: number;
  exitCodes: (number | null)[];
  steady: { p50Ms: number; p99Ms: number };
  steps: StepFigures[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The ids openLoopLoad sent: it draws them from a generator of the same seed. */
function sentIds(seed: number, count: number): string[] {
  const gen = new PostGenerator(seed, 'l');
  return Array.from({ length: count }, () => gen.next().id);
}

/**
 * Figures of one step from what the output showed around it: from BEFORE_MS before the step began (`at`)
 * to AFTER_MS after it was done (`doneAt`: the new instances ready, or the stopped one gone).
 */
export function stepFigures(step: string, at: number, records: Observed['records'], doneAt = at): StepFigures {
  const from = at - BEFORE_MS;
  const to = doneAt + AFTER_MS;
  const around = records.filter((r) => r.ts !== null && r.ts >= from && r.ts < to);
  const waits = percentiles(around.map((r) => r.appended - (r.ts as number)));
  const appends = records.map((r) => r.appended).filter((a) => a >= from && a < to).sort((a, b) => a - b);
  let longestGapMs = 0;
  for (let i = 1; i < appends.length; i++) longestGapMs = Math.max(longestGapMs, (appends[i] as number) - (appends[i - 1] as number));
  return { step, records: around.length, longestGapMs, p50Ms: waits.p50, p99Ms: waits.p99, longestWaitMs: waits.max };
}

async function scaleRun(o: PhaseOptions, delivery: Delivery, ratePerSec: number, seed: number): Promise<ModeFigures> {
  const t = benchTopics(`scale-${delivery === 'exactly-once' ? 'eos' : 'alo'}`);
  await createTopics(o.admin, t, PARTITIONS);
  const args = ['--model', o.modelDir, '--delivery', delivery, '--workers', '1', '--session-timeout-ms', String(SESSION_TIMEOUT_MS)];
  const running: ProcessHandle[] = [];
  const exitCodes: (number | null)[] = [];
  const steps: { name: string; at: number; doneAt: number }[] = [];
  const step = async (name: string, work: () => Promise<void>): Promise<void> => {
    const at = Date.now();
    await work();
    steps.push({ name, at, doneAt: Date.now() });
    await sleep(AFTER_MS + 2_000);
  };
  let started = 0;
  try {
    running.push(await startPipelineProcess(o.brokers, t, args));
    started = Date.now();
    // Long enough for every step (two instances load their models in a few seconds) and its window after.
    const load = openLoopLoad(o.kafka, t.input, ratePerSec, 70, seed);
    await sleep(8_000);
    await step('1 -> 3', async () => void running.push(...(await Promise.all([startPipelineProcess(o.brokers, t, args), startPipelineProcess(o.brokers, t, args)]))));
    await step('3 -> 2', async () => void exitCodes.push(await running.shift()!.stop()));
    await step('2 -> 1', async () => void exitCodes.push(await running.shift()!.stop()));
    const { sent } = await load;
    // One instance left at well under its capacity catches up within seconds; what has no result after
    // 20 s more counts as lost. Reading for a fixed time (not up to a count) also catches late duplicates.
    const seen = await observeOutput(o.kafka, t, Number.MAX_SAFE_INTEGER, 20_000);
    const ids = sentIds(seed, sent);
    const outIds = new Set(seen.records.map((r) => r.id));
    const steadyWaits = percentiles(seen.records.filter((r) => r.ts !== null && r.ts >= started + 1_000 && r.ts < steps[0]!.at - BEFORE_MS).map((r) => r.appended - (r.ts as number)));
    return {
      delivery,
      ratePerSec,
      in: ids.length,
      out: seen.records.length,
      lost: ids.filter((id) => !outIds.has(id)).length,
      duplicated: seen.records.length - outIds.size,
      exitCodes,
      steady: { p50Ms: steadyWaits.p50, p99Ms: steadyWaits.p99 },
      steps: steps.map((s) => stepFigures(s.name, s.at, seen.records, s.doneAt)),
    };
  } finally {
    exitCodes.push(...(await Promise.all(running.splice(0).map((p) => p.stop()))));
  }
}

export async function benchScale(o: PhaseOptions): Promise<void> {
  const ratePerSec = o.quick ? 60 : 100;
  const modes: ModeFigures[] = [];
  for (const [i, delivery] of (['at-least-once', 'exactly-once'] as const).entries()) {
    const m = await scaleRun(o, delivery, ratePerSec, 700 + i);
    modes.push(m);
    o.log(`scale bench, ${delivery}: ${m.steps.map((s) => `${s.step}: longest gap ${s.longestGapMs} ms, p99 ${s.p99Ms} ms`).join('; ')}; in ${m.in}, lost ${m.lost}, duplicated ${m.duplicated}`);
  }
  const startedAt = new Date().toISOString();
  const stamp = startedAt.replace(/[:.]/g, '-');
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, `scale-${stamp}.json`), `${JSON.stringify({ startedAt, quick: o.quick, partitions: PARTITIONS, sessionTimeoutMs: SESSION_TIMEOUT_MS, modes }, null, 2)}\n`);
  const md = `# klassify scale bench, ${startedAt}${o.quick ? ' (quick)' : ''}

${PARTITIONS} input partitions, open-loop input at ${ratePerSec} records/s (each record stamped with its due time;
the output topic stamps its append time). klassify as its own processes, \`--workers 1\` each,
\`--session-timeout-ms ${SESSION_TIMEOUT_MS}\` (a heartbeat every ${SESSION_TIMEOUT_MS / 10} ms): 1 instance, then 3 (two start at once), then a
SIGTERM to one (3 -> 2) and another (2 -> 1). Per step, over output appended and records sent from
${BEFORE_MS / 1000} s before it began to ${AFTER_MS / 1000} s after it was done (new instances ready, or the stopped one gone): the longest
gap between two appends to the output topic, and the wait of each record (output append - input time).
Steady: the 1-instance stretch before the first step. On 2 cores, two instances loading their models
starve the running one, which shows in the waits around 1 -> 3 beside the rebalance itself.
Duplicated: results beyond the first per input (read_committed in exactly-once).

| mode | step | longest output gap | p50 wait | p99 wait | longest wait | records |
|---|---|---|---|---|---|---|
${modes.map((m) => [`| ${m.delivery} | steady, 1 instance | - | ${m.steady.p50Ms} ms | ${m.steady.p99Ms} ms | - | - |`, ...m.steps.map((s) => `| ${m.delivery} | ${s.step} | ${s.longestGapMs} ms | ${s.p50Ms} ms | ${s.p99Ms} ms | ${s.longestWaitMs} ms | ${s.records} |`)].join('\n')).join('\n')}

| mode | in | out | lost | duplicated | exit codes |
|---|---|---|---|---|---|
${modes.map((m) => `| ${m.delivery} | ${m.in} | ${m.out} | ${m.lost} | ${m.duplicated} | ${m.exitCodes.join(', ')} |`).join('\n')}

kafkajs implements only the eager group protocol: at every step each member stops, gives up its
partitions and rejoins, so the whole group pauses for about one heartbeat interval plus the join and
sync round trips; the longest gap is that pause.
`;
  writeFileSync(join(o.outDir, `scale-${stamp}.md`), md);
  o.log(`wrote bench/results/scale-${stamp}.{json,md}`);
}
