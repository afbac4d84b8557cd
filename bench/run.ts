// `npm run bench [-- --quick]`: the pipeline measured against the hardware's limit and a naive baseline,
// on this machine, with the shipped model, in one run. Figures that are compared are ratios taken within
// this run (the machines are shared and noisy). Writes bench/results/<timestamp>.{json,md,svg}.
//
// Phases (never two at once):
//   1 limit     raw in-process throughput of the compiled model, all cores, length-sorted, batch sweep
//   2 pool      the inference pool's throughput against that limit, and its dispatch overhead
//   3 e2e       Kafka → klassify (its own process) → Kafka, draining a backlog: max sustainable rate
//   4 latency   open-loop load at 25 / 50 / 75 % of (3): p50 / p95 / p99 / max, input time → output append
//   5 naive     a per-message fp32 eachMessage consumer padded to max length (what a user writes first)
//   6 fp32/int8 in-process throughput of the fp32 model against int8, and file sizes
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import type { ModelRunner } from '../inference-pool/model-runner.js';
import { int8KernelSaturates } from '../src/compile/int8-kernel.js';
import { DEFAULT_MODEL } from '../src/config-knobs.js';
import { loadManifest, type LoadedModel } from '../src/model/manifest.js';
import { packageRoot } from '../src/paths.js';
import { PostGenerator } from '../src/produce/generator.js';
import { defaultHome } from '../src/paths.js';
import { kafkaDown, kafkaUp } from '../src/services/kafka.js';
import { dequantizeFile } from './dequantize.js';
import {
  benchKafka, benchTopics, createTopics, fillBacklog, observeOutput, openLoopLoad, percentiles, scrapeMetrics, startPipelineProcess, waitForOutput,
} from './kafka-phases.js';
import { benchBrands } from './brands-bench.js';
import { benchScale } from './scale-bench.js';
import { benchShadow } from './shadow-bench.js';
import { benchSettings } from './settings-bench.js';
import { benchMemory } from './memory-bench.js';
import { benchInt8 } from './int8-bench.js';
import { benchProcesses, cpuShares, cpuSnapshot, type CpuShares } from './cpu-share.js';
import { latencyBudget, type LatencyBudget } from './latency-budget.js';
import { bestOf, LimitRunners, type LimitMeasure } from './limit.js';
import { benchPool, loadBenchRunner } from './pool.js';
import { check, latencySvg, targetsTable, type LatencyPoint, type Target } from './report.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    model: { type: 'string' },
    brokers: { type: 'string' },
    out: { type: 'string' },
    // Only the brand-monitoring phases (bench/brands-bench.ts): pipeline with and without brands, monitor rate.
    brands: { type: 'boolean', default: false },
    // Only the shadow-model phases (bench/shadow-bench.ts): live throughput and latency without and with a shadow.
    shadow: { type: 'boolean', default: false },
    // Only a settings A/B (bench/settings-bench.ts): klassify's defaults against these start arguments, interleaved.
    ab: { type: 'string' },
    // Only the scale-out phase (bench/scale-bench.ts): 12 partitions, 1 -> 3 -> 2 -> 1 instances under load.
    scale: { type: 'boolean', default: false },
    // Only the memory phase (bench/memory-bench.ts): peak RSS under a burst of 60 KB posts.
    memory: { type: 'boolean', default: false },
    // Only the int8 compile against the stock quantizer, with the ablation (bench/int8-bench.ts); needs the fp32 source.
    int8: { type: 'boolean', default: false },
    fp32: { type: 'string' },
    // A compiled model folder to drain the same backlog with in every e2e round, right after klassify's own:
    // end-to-end speed of a new model against the one it replaces, as a ratio within each round.
    'baseline-model': { type: 'string' },
  },
});

const quick = args.quick === true;
const P = {
  sweepTexts: quick ? 512 : 2048,
  poolTexts: quick ? 1024 : 4096,
  poolRounds: quick ? 1 : 3,
  drain: quick ? 3000 : 12000,
  rounds: quick ? 1 : 3,
  latencySeconds: quick ? 8 : 30,
  naive: quick ? 120 : 300,
  partitions: 6,
};
const cores = availableParallelism();
const modelDir = args.model ?? join(packageRoot, DEFAULT_MODEL);
const outDir = args.out ?? join(packageRoot, 'bench', 'results');

// Progress bars on a terminal; plain lines in logs and CI (cli-progress draws nothing without a TTY,
// and would swallow the log lines too).
const tty = process.stderr.isTTY === true;
const multi = tty ? new cliProgress.MultiBar({ format: '{phase} [{bar}] {percentage}% {note}', hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
interface Bar {
  update(n: number, payload?: Record<string, string>): void;
}
const bars = {
  create(total: number, start: number, payload: Record<string, string>): Bar {
    return multi?.create(total, start, payload) ?? { update: () => undefined };
  },
  remove(bar: Bar): void {
    if (multi) multi.remove(bar as cliProgress.SingleBar);
  },
  stop(): void {
    multi?.stop();
  },
};
const phaseBar = bars.create(5, 0, { phase: 'bench'.padEnd(10), note: '' });
function phase(n: number, name: string): void {
  phaseBar.update(n, { phase: name.padEnd(10), note: `phase ${n + 1}/6` });
  if (!tty) process.stderr.write(`[bench] phase ${n + 1}/6: ${name}\n`);
}
function log(line: string): void {
  if (multi) multi.log(`${line}\n`);
  else process.stderr.write(`${line}\n`);
}

function texts(n: number, seed: number): string[] {
  const gen = new PostGenerator(seed, 't');
  return Array.from({ length: n }, () => gen.next().text);
}

async function runner(model: LoadedModel, modelPath: string, threads: number): Promise<ModelRunner> {
  return (await loadBenchRunner(model, modelPath, threads)).runner;
}

/**
 * The CPU and what its int8 instructions allow. Without VNNI, x86 multiplies-and-adds int8 in three
 * instructions (vpmaddubsw, vpmaddwd, vpaddd) for 32 products against one FMA for 8 fp32 products, so an
 * int8 GEMM gains far less over fp32 than with VNNI's single vpdpbusd; ORT's probe says which kernel runs.
 */
async function cpuFacts(): Promise<{ model: string; vnni: boolean; int8Saturates: boolean }> {
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux: the flags stay unknown
  }
  return { model: cpus()[0]?.model ?? 'unknown', vnni: /\b(avx512_vnni|avx_vnni)\b/.test(flags), int8Saturates: await int8KernelSaturates() };
}

/** Texts per second of one in-process runner over `batchSize`-text calls. */
async function throughput(r: ModelRunner, all: readonly string[], batchSize: number): Promise<number> {
  await r.classify(all.slice(0, batchSize)); // warm this shape
  const t0 = performance.now();
  for (let i = 0; i < all.length; i += batchSize) await r.classify(all.slice(i, i + batchSize));
  return all.length / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const model = loadManifest(modelDir);
  const m = model.manifest;
  const started = new Date();
  const results: Record<string, unknown> = {
    startedAt: started.toISOString(),
    quick,
    machine: { cores, node: process.version, platform: `${process.platform}-${process.arch}`, cpu: await cpuFacts() },
    model: { name: m.name, version: m.version, target: m.target, dir: modelDir },
  };
  log(`klassify bench${quick ? ' (quick)' : ''}: ${m.name} ${m.version} (${m.target}) on ${cores} cores`);

  // 1. The limit: one session using every core, length-sorted calls, batch sweep.
  phase(0, 'limit');
  const sweepTexts = texts(P.sweepTexts, 11);
  const limitRunner = await runner(model, model.modelPath, cores);
  const sweep: { batchSize: number; textsPerSec: number }[] = [];
  for (const b of [1, 8, 16, 32, 64]) {
    const n = b === 1 ? Math.min(256, sweepTexts.length) : sweepTexts.length;
    sweep.push({ batchSize: b, textsPerSec: Math.round(await throughput(limitRunner, sweepTexts.slice(0, n), b)) });
  }
  await limitRunner.release();
  const limit = Math.max(...sweep.map((s) => s.textsPerSec));
  results.limit = { sweep, textsPerSec: limit, threads: cores };
  log(`limit: ${limit} texts/s (best of sweep ${sweep.map((s) => `B${s.batchSize}=${s.textsPerSec}`).join(' ')})`);

  // 2. The pool against the limit, as the pool benchmark measures it (alternating rounds).
  phase(1, 'pool');
  const pool = await benchPool({ modelDir, texts: texts(P.poolTexts, 12), rounds: P.poolRounds });
  results.pool = pool;
  log(`pool: ${pool.poolTextsPerSec} texts/s = ${(pool.ratio * 100).toFixed(1)}% of its in-run limit; dispatch p50 ${pool.dispatch.noopRoundTripMs.p50} ms`);

  // 3-5 need Kafka: the user's (--brokers) or the embedded one, on its own instance.
  await withBenchKafka(async (kafka, admin, brokers, brokerPid) => {
    // 3 + 5. Max sustainable throughput and the naive baseline, in rounds: each round measures the limit
    // (in process, best batch size), drains a backlog through klassify as its own process, and runs the
    // naive consumer, back to back. Ratios are taken within a round and the median round is reported:
    // this machine's speed drifts by tens of percent from minute to minute (shared host).
    phase(2, 'e2e');
    const fp32 = fp32Model(model);
    const roundTexts = texts(quick ? 512 : 1024, 14);
    const limits = await LimitRunners.load(modelDir, cores);
    const baselineDir = args['baseline-model'];
    const baseline = baselineDir === undefined ? undefined : loadManifest(baselineDir).manifest;
    const rounds: { limit: number; limitConfig: string; limitConfigs: LimitMeasure[]; e2e: number; baselineE2e?: number; naive: number; pipelineRss: number; naiveRss: number; seconds: number; records: number }[] = [];
    for (let r = 0; r < P.rounds; r++) {
      // The limit of this round: the best in-process configuration (layouts x batch sizes), measured now.
      const limitConfigs = await limits.measure(roundTexts, [16, 32, 64]);
      const roundBest = bestOf(limitConfigs);
      const roundLimit = roundBest.textsPerSec;

      // Same backlog (same seed), same partitions, back to back: the ratio is within the round. The baseline
      // drains first in every other round: drained always second, two copies of one model read 0.93-1.03x.
      const baselineFirst = baselineDir !== undefined && r % 2 === 1;
      const baselineRun = async (): Promise<number | undefined> =>
        baselineDir === undefined ? undefined : (await drainRate(`base${r}`, baselineDir, 100 + r)).rate;
      const early = baselineFirst ? await baselineRun() : undefined;
      const { rate: e2eRate, pipelineRss, span, records } = await drainRate(`drain${r}`, modelDir, 100 + r);
      const baselineE2e = baselineFirst ? early : await baselineRun();

      const tNaive = benchTopics(`naive${r}`);
      await createTopics(admin, tNaive, P.partitions);
      await fillBacklog(kafka, tNaive.input, P.naive, 200 + r);
      const naiveRun = await runNaive(brokers, tNaive, fp32.path, model, P.naive);
      rounds.push({ limit: roundLimit, limitConfig: roundBest.name, limitConfigs, e2e: e2eRate, ...(baselineE2e === undefined ? {} : { baselineE2e }), naive: naiveRun.perSecond, pipelineRss, naiveRss: naiveRun.peakRssBytes, seconds: span, records });
      log(`round ${r + 1}: limit ${Math.round(roundLimit)}/s (${roundBest.name}), e2e ${Math.round(e2eRate)}/s (${((e2eRate / roundLimit) * 100).toFixed(1)}%)` +
        (baselineE2e === undefined ? '' : `, baseline model ${Math.round(baselineE2e)}/s (e2e ${(e2eRate / baselineE2e).toFixed(2)}x)`) +
        `, naive ${naiveRun.perSecond.toFixed(1)}/s (e2e ${(e2eRate / naiveRun.perSecond).toFixed(1)}x)`);
    }

    /** Drains a fresh backlog of P.drain records through `klassify start --model dir`: records/s by append time. */
    async function drainRate(name: string, dir: string, seed: number): Promise<{ rate: number; pipelineRss: number; span: number; records: number }> {
      const t = benchTopics(name);
      await createTopics(admin, t, P.partitions);
      await fillBacklog(kafka, t.input, P.drain, seed);
      const drainBar = bars.create(P.drain, 0, { phase: `  ${name}`.padEnd(10), note: '' });
      const proc = await startPipelineProcess(brokers, t, ['--model', dir]);
      // Progress from log-end offsets; the results are read after the drain: a reader running alongside
      // would take CPU from the pipeline it measures. Broker append times make the reading time irrelevant.
      await waitForOutput(admin, t.output, P.drain, 600_000, (n) => drainBar.update(n));
      const pipelineRss = proc.peakRssBytes();
      await proc.stop();
      const drained = await observeOutput(kafka, t, P.drain, 60_000);
      bars.remove(drainBar);
      const span = (Math.max(...drained.appendTimes) - Math.min(...drained.appendTimes)) / 1000;
      return { rate: (drained.appendTimes.length - 1) / span, pipelineRss, span, records: drained.appendTimes.length };
    }
    await limits.release();
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const e2e = med(rounds.map((x) => x.e2e));
    const e2eRatio = med(rounds.map((x) => x.e2e / x.limit));
    const naiveRatio = med(rounds.map((x) => x.e2e / x.naive));
    const naive = { perSecond: med(rounds.map((x) => x.naive)), peakRssBytes: Math.max(...rounds.map((x) => x.naiveRss)) };
    const pipelineRss = Math.max(...rounds.map((x) => x.pipelineRss));
    const spread = (xs: number[]): { min: number; max: number } => ({ min: Math.min(...xs), max: Math.max(...xs) });
    const vsBaseline = baseline === undefined ? undefined : {
      model: { name: baseline.name, version: baseline.version, dir: baselineDir, quantization: baseline.quantization.details },
      ratio: med(rounds.map((x) => x.e2e / (x.baselineE2e ?? NaN))),
      spread: spread(rounds.map((x) => x.e2e / (x.baselineE2e ?? NaN))),
      recordsPerSec: Math.round(med(rounds.map((x) => x.baselineE2e ?? NaN))),
    };
    results.e2e = {
      rounds, recordsPerSec: Math.round(e2e), ratioToLimit: e2eRatio, peakRssBytes: pipelineRss, partitions: P.partitions, ...(vsBaseline ? { vsBaseline } : {}),
      spread: { e2e: spread(rounds.map((x) => x.e2e)), limit: spread(rounds.map((x) => x.limit)), ratioToLimit: spread(rounds.map((x) => x.e2e / x.limit)) },
    };
    results.naive = { perSecond: naive.perSecond, speedup: naiveRatio, peakRssBytes: naive.peakRssBytes, model: fp32.note, paddedTo: m.maxLength };
    log(`e2e: ${Math.round(e2e)} records/s, ${(e2eRatio * 100).toFixed(1)}% of the limit (median round); ${naiveRatio.toFixed(1)}x the naive consumer`);

    // 4. Latency at fixed open-loop rates.
    phase(3, 'latency');
    const latency: LatencyPoint[] = [];
    const budgets: LoadBudget[] = [];
    for (const fraction of [0.25, 0.5, 0.75]) {
      const rate = Math.max(1, Math.round(e2e * fraction));
      const t = benchTopics(`lat${Math.round(fraction * 100)}`);
      await createTopics(admin, t, P.partitions);
      const p = await startPipelineProcess(brokers, t, ['--model', modelDir]);
      // Warm up the path (connections, JIT, ORT arenas) before measuring.
      await openLoopLoad(kafka, t.input, rate, 2, 90);
      const warm = Math.round(rate * 2);
      await waitForOutput(admin, t.output, warm, 60_000);
      const metricsBefore = await scrapeMetrics(p.url);
      const cpuProcesses = benchProcesses(p.child.pid, brokerPid);
      const cpuBefore = cpuSnapshot(cpuProcesses);
      const { behindMs } = await openLoopLoad(kafka, t.input, rate, P.latencySeconds, 91);
      const expected = warm + Math.round(rate * P.latencySeconds);
      // Results are read after the load, not during it: this process would otherwise take CPU from the
      // pipeline it measures. Broker append times make the reading time irrelevant.
      await waitForOutput(admin, t.output, expected, 120_000);
      const cpu = cpuShares(cpuBefore, cpuSnapshot(cpuProcesses));
      const metricsAfter = await scrapeMetrics(p.url);
      await p.stop();
      const seen = await observeOutput(kafka, t, expected, 60_000);
      const measured = seen.latenciesMs.slice(warm);
      const pc = percentiles(measured);
      latency.push({ loadFraction: fraction, ratePerSec: rate, ...pc });
      // Without the warm-up's records (the first by input time), as the percentiles above and the scrapes.
      const measuredRecords = [...seen.records].sort((x, y) => (x.ts ?? 0) - (y.ts ?? 0)).slice(warm);
      budgets.push({ loadFraction: fraction, ratePerSec: rate, ...latencyBudget(measuredRecords, metricsBefore, metricsAfter), cpu });
      log(`latency @${fraction * 100}% (${rate}/s): p50 ${pc.p50} ms, p95 ${pc.p95} ms, p99 ${pc.p99} ms, max ${pc.max} ms (${pc.count} records; load generator at most ${behindMs} ms behind)`);
    }
    results.latency = latency;
    results.latencyBudget = { floor: pool.single, loads: budgets };

    // 6. fp32 against int8, in process, same texts and batching.
    phase(4, 'fp32/int8');
    const cmpTexts = texts(quick ? 512 : 1536, 13);
    const int8Runner = await runner(model, model.modelPath, cores);
    const fp32Runner = await runner(model, fp32.path, cores);
    const rates = { int8: [] as number[], fp32: [] as number[] };
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      rates.int8.push(await throughput(int8Runner, cmpTexts, 32));
      rates.fp32.push(await throughput(fp32Runner, cmpTexts, 32));
    }
    await int8Runner.release();
    await fp32Runner.release();
    const sizeRatio = m.result.bytes / m.source.bytes;
    results.precision = { int8TextsPerSec: Math.round(med(rates.int8)), fp32TextsPerSec: Math.round(med(rates.fp32)), speedup: med(rates.int8) / med(rates.fp32), int8Bytes: m.result.bytes, fp32SourceBytes: m.source.bytes, sizeRatio, fp32Model: fp32.note };
    log(`int8 ${Math.round(med(rates.int8))} vs fp32 ${Math.round(med(rates.fp32))} texts/s = ${(med(rates.int8) / med(rates.fp32)).toFixed(2)}x; file ${(sizeRatio * 100).toFixed(1)}% of fp32`);

    phase(5, 'report');
    const half = latency.find((l) => l.loadFraction === 0.5);
    const targets: Target[] = [
      check('End-to-end vs limit', '>= 90% of the limit (median round)', e2eRatio * 100, '%', (v) => v >= 90),
      ...(vsBaseline ? [check('End-to-end vs the baseline model', '>= 1.2x (median round)', vsBaseline.ratio, 'x', (v) => v >= 1.2)] : []),
      check('p50 latency at 50% load', '<= 8 ms', half?.p50 ?? null, 'ms', (v) => v <= 8),
      check('p99 latency at 50% load', '<= 25 ms', half?.p99 ?? null, 'ms', (v) => v <= 25),
      check('Speedup over the naive consumer', '>= 15x (median round)', naiveRatio, 'x', (v) => v >= 15),
      check('int8 over fp32 throughput', '>= 2.5x', med(rates.int8) / med(rates.fp32), 'x', (v) => v >= 2.5),
      check('int8 file size vs fp32', '<= 35%', sizeRatio * 100, '%', (v) => v <= 35),
      check('Pool vs limit', '>= 95% (pool bench, alternating rounds)', pool.ratio * 100, '%', (v) => v >= 95),
      check('Dispatch overhead per task', '< 0.2 ms', pool.dispatch.noopRoundTripMs.p50, 'ms', (v) => v < 0.2),
    ];
    results.targets = targets;
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    const svg = latencySvg(latency, `klassify ${m.name} (${m.target}) on ${cores} cores: latency against load`);
    writeFileSync(join(outDir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(outDir, `${stamp}.svg`), svg);
    writeFileSync(join(outDir, `${stamp}.md`), markdown(results, targets, latency, sweep, `${stamp}.svg`));
    bars.stop();
    process.stdout.write(`${targetsTable(targets)}\n\nwrote ${join(outDir, `${stamp}.md`)} (+ .json, .svg)\n`);
  });
}

/** Runs `work` against the user's brokers (--brokers) or an embedded broker of its own, stopped after. */
async function withBenchKafka(
  work: (kafka: ReturnType<typeof benchKafka>, admin: ReturnType<ReturnType<typeof benchKafka>['admin']>, brokers: string[], brokerPid: number | undefined) => Promise<void>,
): Promise<void> {
  const instance = `bench-${process.pid}`;
  const own = args.brokers ? undefined : await benchBroker(instance);
  const brokers = args.brokers ? args.brokers.split(',') : [own?.bootstrap as string];
  const kafka = benchKafka(brokers);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await work(kafka, admin, brokers, own?.pid);
  } finally {
    await admin.disconnect();
    if (!args.brokers) await kafkaDown({ home: defaultHome(), instance, purge: true });
  }
}

/** An embedded broker of its own for this run; a failed start leaves no instance folder behind. */
async function benchBroker(instance: string): Promise<{ bootstrap: string; pid: number | undefined }> {
  try {
    const up = await kafkaUp({ home: defaultHome(), instance, port: 0, controllerPort: 0 });
    return { bootstrap: up.bootstrap as string, pid: up.pid };
  } catch (err) {
    await kafkaDown({ home: defaultHome(), instance, purge: true }).catch(() => undefined);
    throw err;
  }
}

function fp32Model(model: LoadedModel): { path: string; note: string } {
  const given = process.env.KLASSIFY_FP32_MODEL;
  if (given && existsSync(given)) return { path: given, note: `fp32 source model ${given}` };
  const dir = join(defaultHome(), 'bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${model.manifest.name}-${model.manifest.version}-fp32.onnx`);
  if (!existsSync(path)) dequantizeFile(model.modelPath, path);
  return { path, note: `fp32 rebuilt from the int8 model (same graph and shapes as the fp32 source, weights rounded to int8 steps; ${statSync(path).size} bytes): the fine-tuned fp32 source is not shipped` };
}

async function runNaive(brokers: string[], t: ReturnType<typeof benchTopics>, modelPath: string, model: LoadedModel, count: number): Promise<{ processed: number; seconds: number; perSecond: number; peakRssBytes: number }> {
  const script = join(packageRoot, 'dist', 'bench', 'naive-consumer.js');
  const child = spawn(process.execPath, [script, '--brokers', brokers.join(','), '--input', t.input, '--output', t.output, '--group', t.group, '--model', modelPath,
    '--tokenizer', model.tokenizerPath, '--labels', model.manifest.labels.join(','), '--max-length', String(model.manifest.maxLength), '--count', String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`naive consumer failed (${code}): ${err}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { processed: number; seconds: number; perSecond: number; peakRssBytes: number };
}

function markdown(r: Record<string, unknown>, targets: Target[], latency: LatencyPoint[], sweep: { batchSize: number; textsPerSec: number }[], svg: string): string {
  type Round = { limit: number; limitConfig: string; limitConfigs: LimitMeasure[]; e2e: number; baselineE2e?: number; naive: number; seconds: number; records: number };
  type Spread = { min: number; max: number };
  type VsBaseline = { model: { name: string; version: string; dir: string; quantization: string }; ratio: number; spread: Spread; recordsPerSec: number };
  const e2e = r.e2e as { rounds: Round[]; recordsPerSec: number; ratioToLimit: number; peakRssBytes: number; spread: { e2e: Spread; limit: Spread; ratioToLimit: Spread }; vsBaseline?: VsBaseline };
  const naive = r.naive as { perSecond: number; speedup: number; peakRssBytes: number; model: string; paddedTo: number };
  const precision = r.precision as { int8TextsPerSec: number; fp32TextsPerSec: number; speedup: number; sizeRatio: number; int8Bytes: number; fp32SourceBytes: number; fp32Model: string };
  const pool = r.pool as { poolTextsPerSec: number; limitTextsPerSec: number; ratio: number; dispatch: { noopRoundTripMs: { p50: number } }; memory: { perWorkerMb: number; rssMb: number }; note: string };
  const machine = r.machine as { cores: number; node: string; cpu: { model: string; vnni: boolean; int8Saturates: boolean } };
  const model = r.model as { name: string; version: string; target: string };
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  return `# klassify benchmark — ${String(r.startedAt)}${r.quick ? ' (quick)' : ''}

Model ${model.name} ${model.version} (${model.target}); ${machine.cores} cores of ${machine.cpu.model}
(int8 dot products: ${machine.cpu.vnni ? 'VNNI' : 'AVX2 without VNNI'}${machine.cpu.int8Saturates ? ", ORT's u8s8 kernel saturates, so weights are 7-bit" : ''}); Node ${machine.node}. The machine is
shared: its speed drifts between minutes, so every ratio is taken between measurements made back to back
(rounds; the median round is reported), never between phases far apart.

## Targets

${targetsTable(targets)}

## Throughput

| round | limit (best in-process configuration of the round) | end to end (Kafka → klassify → Kafka) | e2e / limit | naive consumer | e2e / naive |
|---|---|---|---|---|---|
${e2e.rounds.map((x, i) => `| ${i + 1} | ${Math.round(x.limit)}/s (${x.limitConfig}) | ${Math.round(x.e2e)}/s (${x.records} records in ${x.seconds.toFixed(1)} s) | ${pct(x.e2e / x.limit)} | ${x.naive.toFixed(1)}/s | ${(x.e2e / x.naive).toFixed(1)}x |`).join('\n')}

Median: end to end ${e2e.recordsPerSec}/s, **${pct(e2e.ratioToLimit)} of the limit**, **${naive.speedup.toFixed(1)}x the naive consumer**
(one fp32 inference per message, padded to ${naive.paddedTo} tokens, ONNX Runtime defaults, one awaited produce per result).
Spread over the rounds: end to end ${Math.round(e2e.spread.e2e.min)}–${Math.round(e2e.spread.e2e.max)}/s, limit ${Math.round(e2e.spread.limit.min)}–${Math.round(e2e.spread.limit.max)}/s,
e2e / limit ${pct(e2e.spread.ratioToLimit.min)}–${pct(e2e.spread.ratioToLimit.max)}.
${e2e.vsBaseline ? baselineMarkdown(e2e.rounds, e2e.vsBaseline) : ''}
The limit is the best of these in-process configurations, each round measuring all of them just before its drain
(length-sorted calls, tokenization included; N sessions run side by side, each pulling the next batch):

| configuration | ${e2e.rounds.map((_, i) => `round ${i + 1}`).join(' | ')} |
|---|${e2e.rounds.map(() => '---|').join('')}
${(e2e.rounds[0]?.limitConfigs ?? []).map((c, j) => `| ${c.name} | ${e2e.rounds.map((x) => `${x.limitConfigs[j]?.textsPerSec ?? '-'}/s`).join(' | ')} |`).join('\n')}

Limit by batch size (one session, all cores, length-sorted): ${sweep.map((x) => `B=${x.batchSize}: ${x.textsPerSec}/s`).join(', ')}.

Inference pool (its own alternating rounds): ${pool.poolTextsPerSec}/s against an in-run limit of ${pool.limitTextsPerSec}/s,
**${pct(pool.ratio)}**; a no-op task's round trip ${pool.dispatch.noopRoundTripMs.p50} ms (median).

## Latency (input record time → result append time, open loop)

| load | rate /s | p50 ms | p95 ms | p99 ms | max ms | records |
|---|---|---|---|---|---|---|
${latency.map((l) => `| ${l.loadFraction * 100}% | ${l.ratePerSec} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.max} | ${l.count} |`).join('\n')}

Loads are fractions of the median end-to-end rate. Input records carry their scheduled send time; the output
topic uses LogAppendTime, so both ends are broker-side facts.

![latency against load](${svg})

### Where the milliseconds go

${budgetMarkdown(r.latencyBudget as { floor: { chars: number; p50Ms: number; p90Ms: number }; loads: LoadBudget[] })}

## int8 against fp32

int8 ${precision.int8TextsPerSec} texts/s, fp32 ${precision.fp32TextsPerSec} texts/s (alternating, same texts, batch 32): **${precision.speedup.toFixed(2)}x**.
File ${precision.int8Bytes} bytes against ${precision.fp32SourceBytes} bytes for the fp32 source: **${pct(precision.sizeRatio)}**.
fp32 model: ${precision.fp32Model}.
${machine.cpu.vnni ? '' : `This CPU has no VNNI: an int8 multiply-add takes three AVX2 instructions for 32 products where fp32 FMA
takes one for 8, so ONNX Runtime's int8 GEMM gains little over fp32 here. With VNNI (one vpdpbusd), a
BERT-like model of MiniLM's width ran 2.5-3.2x faster in int8 than in fp32 on a Zen 4 host.
`}
## Memory (peak RSS)

| process | peak RSS |
|---|---|
| klassify start (pipeline + ${machine.cores} workers) | ${(e2e.peakRssBytes / 2 ** 20).toFixed(0)} MB |
| naive consumer (fp32) | ${(naive.peakRssBytes / 2 ** 20).toFixed(0)} MB |
| pool bench: per worker / whole process | ${pool.memory.perWorkerMb} MB / ${pool.memory.rssMb} MB |

Pool bench: ${pool.note}.
`;
}

function baselineMarkdown(rounds: { e2e: number; baselineE2e?: number }[], b: { model: { name: string; version: string; dir: string; quantization: string }; ratio: number; spread: { min: number; max: number }; recordsPerSec: number }): string {
  return `
**Against the baseline model** ${b.model.name} ${b.model.version} (${b.model.dir}: ${b.model.quantization}), draining the same
backlog back to back with klassify's own drain in each round (the baseline first in rounds 2, 4, ...): ${rounds.map((x, i) => `round ${i + 1} ${Math.round(x.e2e)}/s vs ${Math.round(x.baselineE2e ?? NaN)}/s = ${(x.e2e / (x.baselineE2e ?? NaN)).toFixed(2)}x`).join('; ')}.
Median **${b.ratio.toFixed(2)}x** (rounds ${b.spread.min.toFixed(2)}–${b.spread.max.toFixed(2)}x); baseline median ${b.recordsPerSec}/s.
`;
}

/** One load step's latency budget, and where the cores went meanwhile (absent in results written before it was measured). */
type LoadBudget = { loadFraction: number; ratePerSec: number; cpu?: CpuShares } & LatencyBudget;

function budgetMarkdown(b: { floor: { chars: number; p50Ms: number; p90Ms: number }; loads: LoadBudget[] }): string {
  const stages = b.loads[0]?.stages.map((s) => s.stage) ?? [];
  const cell = (l: LatencyBudget, i: number): string => {
    const s = l.stages[i];
    return s ? `${s.meanMs} ms (${(s.share * 100).toFixed(0)}%) | ${s.slowestMeanMs} ms` : '- | -';
  };
  return `Per record, from the pipeline's own figures (each result's fetch time, batch wait and pool round trip; the
pool round trip split by the workers' tokenize / model-run means): mean over the measured records, and mean
over the slowest 1% (at or above p99). The stages add up to the end-to-end latency; the offset commit follows
the append and is outside it (a flush's write + commit took the mean given below).

| stage | ${b.loads.map((l) => `${l.loadFraction * 100}% load: mean (share) | slowest 1%`).join(' | ')} |
|---|${b.loads.map(() => '---|---|').join('')}
${stages.map((name, i) => `| ${name} | ${b.loads.map((l) => cell(l, i)).join(' | ')} |`).join('\n')}
| **end to end** | ${b.loads.map((l) => `**${l.endToEndMeanMs} ms** | -`).join(' | ')} |
| a flush (write + commit) | ${b.loads.map((l) => `${l.flushMeanMs} ms | -`).join(' | ')} |

Floor: one text (${b.floor.chars} characters, the median length) alone through the pool: ${b.floor.p50Ms} ms p50, ${b.floor.p90Ms} ms p90.
${cpuMarkdown(b.loads)}`;
}

function cpuMarkdown(loads: LoadBudget[]): string {
  const measured = loads.filter((l): l is LoadBudget & { cpu: CpuShares } => l.cpu !== undefined);
  if (measured.length === 0) return '';
  const labels = [...new Set(measured.flatMap((l) => l.cpu.rows.map((r) => r.label)))];
  const cell = (l: LoadBudget & { cpu: CpuShares }, label: string): string => {
    const c = l.cpu.rows.find((r) => r.label === label)?.cores;
    return c === undefined ? '-' : `${c.toFixed(2)} (${((c / l.cpu.cpus) * 100).toFixed(0)}%)`;
  };
  return `
### Where the cores went

Cores kept busy on average over each load's measured window (from the load's start until its last result was
written), from /proc: 1.00 is one core all the time, and the rows add up to the ${measured[0]?.cpu.cpus} cores of the machine (in
parentheses, the share of them). "klassify other threads" are the inference workers with V8's GC helpers and
libuv's I/O pool; the bench process is the load generator.

| process | ${measured.map((l) => `${l.loadFraction * 100}% load`).join(' | ')} |
|---|${measured.map(() => '---|').join('')}
${labels.map((label) => `| ${label} | ${measured.map((l) => cell(l, label)).join(' | ')} |`).join('\n')}
`;
}

async function brandsOnly(): Promise<void> {
  await withBenchKafka((kafka, admin, brokers) => benchBrands({ kafka, admin, brokers, modelDir, quick, outDir, log }));
}

async function shadowOnly(): Promise<void> {
  await withBenchKafka((kafka, admin, brokers) => benchShadow({ kafka, admin, brokers, modelDir, quick, outDir, log }));
}

async function settingsOnly(candidate: string): Promise<void> {
  const argv = candidate.split(/\s+/).filter((a) => a.length > 0);
  if (argv.length === 0) throw new Error('bench --ab needs the klassify start arguments to try, e.g. --ab="--fetch-min-bytes 4096 --fetch-max-wait-ms 10"');
  await withBenchKafka((kafka, admin, brokers) => benchSettings({ kafka, admin, brokers, modelDir, quick, outDir, log, candidate: argv }));
}

async function scaleOnly(): Promise<void> {
  await withBenchKafka((kafka, admin, brokers) => benchScale({ kafka, admin, brokers, modelDir, quick, outDir, log }));
}

async function memoryOnly(): Promise<void> {
  await withBenchKafka((kafka, admin, brokers) => benchMemory({ kafka, admin, brokers, modelDir, quick, outDir, log }));
}

async function int8Only(): Promise<void> {
  const fp32 = args.fp32 ?? process.env.KLASSIFY_FP32_MODEL;
  if (fp32 === undefined || !existsSync(fp32)) {
    throw new Error('bench --int8 builds every model from the fp32 source: give --fp32 <model.onnx> or KLASSIFY_FP32_MODEL (training/run.sh writes /work/artifacts/model-src-distill-imdb/model.onnx)');
  }
  mkdirSync(outDir, { recursive: true });
  await benchInt8({ modelDir, fp32, quick, outDir, log });
}

await (args.int8 ? int8Only() : args.brands ? brandsOnly() : args.shadow ? shadowOnly() : args.ab !== undefined ? settingsOnly(args.ab) : args.scale ? scaleOnly() : args.memory ? memoryOnly() : main());
process.exit(0);
