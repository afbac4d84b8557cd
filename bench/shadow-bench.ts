// `npm run bench -- --shadow`: what a shadow model costs the live path (issue #16), on this machine.
// klassify runs as its own process without and with `--shadow-model` (a copy of the live model under
// another version, --shadow-sample 0.5), in interleaved rounds, ratios taken within each round:
//   half load  open-loop input at about half of this machine's drain rate: live end-to-end p50 / p99
//   overload   a backlog drained as fast as it goes: live records/s, and how much shadow work was shed
// The shadow must never slow the live path; the figures say how close that holds. Writes
// bench/results/shadow-<timestamp>.{json,md}.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchTopics, createTopics, fillBacklog, observeOutput, openLoopLoad, percentiles, startPipelineProcess, waitForOutput, type PhaseOptions } from './kafka-phases.js';

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
  const total = (name: string): number =>
    metrics.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  return { compared: total('klassify_shadow_compared_total'), shed: total('klassify_shadow_shed_total') };
}

async function run(o: ShadowBenchOptions, tag: string, extra: string[], load: (t: ReturnType<typeof benchTopics>) => Promise<number>): Promise<{ latency: ReturnType<typeof percentiles>; perSecond: number; shadow: ShadowFigures | undefined }> {
  const t = benchTopics(tag);
  await createTopics(o.admin, t, 6);
  const proc = await startPipelineProcess(o.brokers, t, ['--model', o.modelDir, ...extra]);
  try {
    const n = await load(t);
    await waitForOutput(o.admin, t.output, n, 600_000);
    const metrics = await (await fetch(`${proc.url}/metrics`)).text();
    const seen = await observeOutput(o.kafka, t, n, 60_000);
    const span = (Math.max(...seen.appendTimes) - Math.min(...seen.appendTimes)) / 1000;
    return { latency: percentiles(seen.latenciesMs), perSecond: (seen.appendTimes.length - 1) / Math.max(span, 0.001), shadow: extra.length > 0 ? shadowFigures(metrics) : undefined };
  } finally {
    await proc.stop();
  }
}

export async function benchShadow(o: ShadowBenchOptions): Promise<void> {
  const shadow = ['--shadow-model', shadowCopy(o.modelDir), '--shadow-sample', String(SAMPLE)];
  const backlog = o.quick ? 3000 : 8000;
  const seconds = o.quick ? 15 : 30;
  const rounds: { overload: Record<string, Awaited<ReturnType<typeof run>>>; half: Record<string, Awaited<ReturnType<typeof run>>>; rate: number }[] = [];
  for (let r = 0; r < (o.quick ? 1 : 2); r++) {
    const order = r % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    const overload: Record<string, Awaited<ReturnType<typeof run>>> = {};
    for (const which of order) {
      overload[which] = await run(o, `shadow-over-${which}-${r}`, which === 'with' ? shadow : [], async (t) => {
        await fillBacklog(o.kafka, t.input, backlog, 500 + r);
        return backlog;
      });
      o.log(`shadow bench round ${r + 1}, overload, ${which} shadow: ${Math.round(overload[which]!.perSecond)}/s${overload[which]!.shadow ? `, shadow compared ${overload[which]!.shadow!.compared}, shed ${overload[which]!.shadow!.shed}` : ''}`);
    }
    // Half of what this round's drain without a shadow reached.
    const rate = Math.max(20, Math.round(overload.without!.perSecond / 2));
    const half: Record<string, Awaited<ReturnType<typeof run>>> = {};
    for (const which of order) {
      half[which] = await run(o, `shadow-half-${which}-${r}`, which === 'with' ? shadow : [], async (t) => (await openLoopLoad(o.kafka, t.input, rate, seconds, 600 + r)).sent);
      o.log(`shadow bench round ${r + 1}, half load ${rate}/s, ${which} shadow: p50 ${half[which]!.latency.p50} ms, p99 ${half[which]!.latency.p99} ms`);
    }
    rounds.push({ overload, half, rate });
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(o.outDir, { recursive: true });
  const json = { startedAt: new Date().toISOString(), quick: o.quick, sample: SAMPLE, backlog, halfLoadSeconds: seconds, rounds };
  writeFileSync(join(o.outDir, `shadow-${stamp}.json`), `${JSON.stringify(json, null, 2)}\n`);
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;
  const shedShare = (s: ShadowFigures | undefined): string => (s && s.compared + s.shed > 0 ? pct(s.shed / (s.compared + s.shed)) : '-');
  const md = `# klassify shadow bench, ${json.startedAt}${o.quick ? ' (quick)' : ''}

klassify as its own process, without and with \`--shadow-model\` (the live model copied under another
version, so the shadow does the live model's work) at \`--shadow-sample ${SAMPLE}\`, interleaved; ratios within
each round. Overload: a backlog of ${backlog} posts drained as fast as it goes. Half load: open-loop input at
half of the round's drain rate without a shadow, ${seconds} s. Shed: sampled records the shadow did not get
(live pool busy or a shadow call running), as a share of those sampled.

| round | overload without | with | with / without | shed | half load | p50 without / with | p99 without / with | p99 with / without | shed |
|---|---|---|---|---|---|---|---|---|---|
${rounds.map((x, i) => `| ${i + 1} | ${Math.round(x.overload.without!.perSecond)}/s | ${Math.round(x.overload.with!.perSecond)}/s | ${pct(x.overload.with!.perSecond / x.overload.without!.perSecond)} | ${shedShare(x.overload.with!.shadow)} | ${x.rate}/s | ${x.half.without!.latency.p50} / ${x.half.with!.latency.p50} ms | ${x.half.without!.latency.p99} / ${x.half.with!.latency.p99} ms | ${(x.half.with!.latency.p99 / Math.max(1, x.half.without!.latency.p99)).toFixed(2)}x | ${shedShare(x.half.with!.shadow)} |`).join('\n')}

On 2 shared cores the shadow's workers share the live workers' cores; niceness 19 leaves them only what
the live threads do not use, and shedding keeps the shadow from queueing behind live work.
`;
  writeFileSync(join(o.outDir, `shadow-${stamp}.md`), md);
  o.log(`wrote bench/results/shadow-${stamp}.{json,md}`);
}
