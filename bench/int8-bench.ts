// `npm run bench -- --int8`: klassify's int8 compile against ONNX Runtime's stock dynamic quantization,
// both built in this run from the same fp32 source, with the ablation of each compile step and the recipe
// shipped before (per-token scaling everywhere, α 0.5, 7-bit) as the baseline. In-process, one thread (a
// pool worker's setting), same texts, length-sorted calls of 32; every model runs once per round, in a
// rotated order, and every speed ratio is taken within a round. Label agreement with the fp32 source on
// the same texts.
//
// The fp32 source is the training recipe's output (training/run.sh, a documented one-time step: the 90 MB
// file is kept out of git): --fp32 <file> or KLASSIFY_FP32_MODEL. The dequantized shipped model the main
// bench uses would not do here: its graph keeps the shipped recipe's per-token and smoothing nodes.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel, type CompileOptions } from '../src/compile/index.js';
import { optimizeWithOrt } from '../src/compile/optimize.js';
import { decodeModel, encodeModel } from '../src/compile/onnx-graph.js';
import { loadManifest } from '../src/model/manifest.js';
import { PostGenerator } from '../src/produce/generator.js';
import { median } from './kafka-phases.js';
import { opProfileMarkdown, profileOps, type OpTime } from './op-profile.js';
import { loadBenchRunner } from './pool.js';
import { stockQuantizeDynamic } from './stock-int8.js';

export interface Int8BenchOptions {
  modelDir: string;
  fp32: string;
  quick: boolean;
  outDir: string;
  log: (line: string) => void;
}

interface Variant {
  name: string;
  what: string;
  options?: Partial<CompileOptions>;
}

// Each row but the first two changes one step of the default recipe (auto on this CPU).
// (--int8-per-token none alone is the default: after the split no down-projection input is uneven enough for it.)
const VARIANTS: Variant[] = [
  { name: 'klassify (default)', what: 'the default recipe on this CPU (--int8-weights auto, per-token and smoothing auto)' },
  { name: 'recipe shipped before', what: 'per-token scaling and smoothing α 0.5 everywhere, 7-bit weights', options: { int8PerToken: 'all', int8Smoothing: 0.5, int8SmoothAt: 'all', int8Weights: '7' } },
  { name: 'per-token instead of the split', what: 'default, --int8-outlier-channels 0: the uneven down-projection inputs scaled per token (the default before the split)', options: { int8OutlierChannels: 0 } },
  { name: 'neither split nor per-token', what: 'default, --int8-outlier-channels 0 --int8-per-token none', options: { int8OutlierChannels: 0, int8PerToken: 'none' } },
  { name: 'per-token everywhere', what: 'default, --int8-per-token all', options: { int8PerToken: 'all' } },
  { name: 'no smoothing', what: 'default, --int8-smoothing 0', options: { int8Smoothing: 0 } },
  { name: 'smoothing everywhere', what: 'default, --int8-smooth-at all', options: { int8SmoothAt: 'all' } },
  { name: 'fp32 embeddings', what: 'default, --no-int8-embeddings', options: { int8Embeddings: false } },
  { name: '7-bit weights', what: 'default, --int8-weights 7', options: { int8Weights: '7' } },
  { name: 'attention fused', what: 'default, --int8-fuse-attention', options: { int8FuseAttention: true } },
];

export async function benchInt8(o: Int8BenchOptions): Promise<void> {
  const model = loadManifest(o.modelDir);
  const { manifest } = model;
  const work = mkdtempSync(join(tmpdir(), 'klassify-int8-bench-'));
  try {
    const built: { name: string; what: string; path: string; bytes: number }[] = [];
    for (const v of VARIANTS) {
      o.log(`compile: ${v.name}`);
      const r = await compileModel({
        model: o.fp32, tokenizer: model.tokenizerPath, labels: manifest.labels, target: 'cpu-int8', name: `v${built.length}`, out: work,
        maxLength: manifest.maxLength, bench: false, force: true, ...v.options,
      });
      const path = join(r.dir, r.manifest.files.model);
      built.push({ name: v.name, what: `${v.what}: ${r.manifest.quantization.details}`, path, bytes: statSync(path).size });
    }
    o.log('stock: quantize_dynamic(weight_type=QInt8), reimplemented (bench/stock-int8.ts)');
    const stockModel = decodeModel(readFileSync(o.fp32), o.fp32);
    const stockReport = stockQuantizeDynamic(stockModel);
    const stockPath = join(work, 'stock.onnx');
    writeFileSync(join(work, 'stock-raw.onnx'), encodeModel(stockModel));
    // Saved as ONNX Runtime optimizes it at load (the same fusions a session applies to the stock file).
    await optimizeWithOrt(readFileSync(join(work, 'stock-raw.onnx')), stockPath, 'extended', 1);
    built.unshift({ name: 'stock quantize_dynamic', what: `ONNX Runtime's stock recipe: ${stockReport.matmuls} MatMul → MatMulInteger, per-tensor int8 weights, ${stockReport.gathers} Gather tables uint8`, path: stockPath, bytes: statSync(stockPath).size });

    const all = generatedTexts(o.quick ? 512 : 1024);
    const runners = [];
    for (const b of built) runners.push((await loadBenchRunner(model, b.path, 1)).runner);
    const fp32 = (await loadBenchRunner(model, o.fp32, 1)).runner;
    const labelsOf = async (r: typeof fp32): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < all.length; i += 32) {
        const reply = await r.classify(all.slice(i, i + 32));
        const n = manifest.labels.length;
        for (let t = 0; t < reply.scores.length / n; t++) out.push(argmax(reply.scores.subarray(t * n, (t + 1) * n)));
      }
      return out;
    };
    const reference = await labelsOf(fp32);
    await fp32.release();
    const agreement: number[] = [];
    for (const r of runners) {
      const l = await labelsOf(r);
      agreement.push(l.filter((x, i) => x === reference[i]).length / l.length);
    }
    const rounds = o.quick ? 2 : 5;
    const rates = built.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (let j = 0; j < runners.length; j++) {
        const k = (j + round) % runners.length;
        const t0 = performance.now();
        for (let i = 0; i < all.length; i += 32) await runners[k]?.classify(all.slice(i, i + 32));
        rates[k]?.push(all.length / ((performance.now() - t0) / 1000));
      }
      o.log(`round ${round + 1}: ${built.map((b, i) => `${b.name} ${Math.round(rates[i]?.[round] ?? 0)}/s`).join(', ')}`);
    }
    for (const r of runners) await r.release();
    o.log('op profile: stock and default, one pass each (ONNX Runtime profiler)');
    const ops = { stock: await profileOps(model, built[0]?.path ?? '', all, 32), klassify: await profileOps(model, built[1]?.path ?? '', all, 32) };

    const stock = rates[0] ?? [];
    const rows = built.map((b, i) => {
      const own = rates[i] ?? [];
      const ratios = own.map((x, r) => x / (stock[r] ?? x));
      return { name: b.name, what: b.what, bytes: b.bytes, agreement: agreement[i] ?? 0, textsPerSec: Math.round(median(own)), rounds: own.map(Math.round), vsStock: median(ratios), vsStockSpread: { min: Math.min(...ratios), max: Math.max(...ratios) } };
    });
    const base = rates[2] ?? [];
    const newVsOld = (rates[1] ?? []).map((x, r) => x / (base[r] ?? x));
    const results = { startedAt: new Date().toISOString(), quick: o.quick, fp32: o.fp32, texts: all.length, rounds, threads: 1, batch: 32, rows, defaultVsShippedBefore: { median: median(newVsOld), min: Math.min(...newVsOld), max: Math.max(...newVsOld) }, ops };
    const stamp = results.startedAt.replace(/[:.]/g, '-');
    writeFileSync(join(o.outDir, `int8-${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(o.outDir, `int8-${stamp}.md`), markdown(results));
    o.log(`wrote ${join(o.outDir, `int8-${stamp}.md`)} (+ .json)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function generatedTexts(n: number): string[] {
  const gen = new PostGenerator(17, 't');
  // Length-sorted, as the pool's planner orders a batch: padding is not what is measured here.
  return Array.from({ length: n }, () => gen.next().text).sort((a, b) => a.length - b.length);
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

function markdown(r: { startedAt: string; quick: boolean; fp32: string; texts: number; rounds: number; rows: { name: string; what: string; bytes: number; agreement: number; textsPerSec: number; rounds: number[]; vsStock: number; vsStockSpread: { min: number; max: number } }[]; defaultVsShippedBefore: { median: number; min: number; max: number }; ops: { stock: OpTime[]; klassify: OpTime[] } }): string {
  return `# klassify int8 compile against the stock quantizer — ${r.startedAt}${r.quick ? ' (quick)' : ''}

fp32 source: ${r.fp32}. ${r.texts} generated posts, length-sorted calls of 32, one ONNX Runtime thread, ${r.rounds}
rounds (every model once per round, order rotated); ratios are taken within each round, then the median.
Label agreement: argmax against the fp32 source on the same posts.

| model | texts/s (median) | per round | vs stock (median, min–max) | agreement with fp32 | file |
|---|---:|---|---|---:|---:|
${r.rows.map((x) => `| ${x.name} | ${x.textsPerSec} | ${x.rounds.join(' ')} | ${x.vsStock.toFixed(2)}x (${x.vsStockSpread.min.toFixed(2)}–${x.vsStockSpread.max.toFixed(2)}) | ${(x.agreement * 100).toFixed(2)}% | ${(x.bytes / 1e6).toFixed(1)} MB |`).join('\n')}

The default recipe against the one shipped before: **${r.defaultVsShippedBefore.median.toFixed(2)}x** (rounds ${r.defaultVsShippedBefore.min.toFixed(2)}–${r.defaultVsShippedBefore.max.toFixed(2)}).

What each model is:

${r.rows.map((x) => `- **${x.name}**: ${x.what}`).join('\n')}

${opProfileMarkdown(r.ops.stock, r.ops.klassify)}`;
}
