// `klassify compile`, the library function: validate → build the target → parity gate → benchmark →
// manifest + report → publish. Nothing is written under `out` before the gate has passed (or was forced);
// intermediate files live in a temporary folder that is always removed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigError, EvalSetError, TokenizerError } from '../errors.js';
import { MANIFEST_FILE, type ModelManifest } from '../model/manifest.js';
import { BUILTIN_EVAL_TEXTS } from './builtin-texts.js';
import { DEFAULT_BENCH, benchmark, type BenchOptions, type BenchRow } from './bench.js';
import { evalReport, renderEvalReport, type EvalReport } from './eval-report.js';
import { builtinEvalSet, loadEvalSet, type EvalSet } from './eval-set.js';
import { buildManifest } from './manifest-builder.js';
import { resolveCompileOptions, type CompileOptions, type ResolvedCompileOptions } from './options.js';
import { enforceParity, measureParity, type Parity } from './parity.js';
import { silentProgress, type CompileProgress } from './progress.js';
import { publishFolder } from './publish.js';
import { quantizeDynamicInt8 } from './quantize-int8.js';
import { renderReport } from './report.js';
import { ModelRunner } from './runner.js';
import { inspectModel, readSourceModel, type ModelSignature } from './signature.js';
import { buildSteps, buildTarget, type Quantizer, type TargetBuild } from './targets.js';
import { prepareTokenizer, type PreparedTokenizer } from './tokenizer-file.js';

export interface CompileDeps {
  progress?: CompileProgress;
  /** Replaces the int8 quantizer (tests pass one that corrupts its scales to exercise the gate). */
  quantize?: Quantizer;
  /** Benchmark settings (tests shorten them). */
  bench?: Partial<BenchOptions>;
}

export interface CompileResult {
  /** <out>/<name>/<target> */
  dir: string;
  manifest: ModelManifest;
  report: string;
  /** With evalReport: per-class figures and confusion matrices of both models on the labeled --eval set. */
  evaluation?: { evalSet: string; source: EvalReport; compiled: EvalReport };
}

export const REPORT_FILE = 'report.md';

export async function compileModel(options: CompileOptions, deps: CompileDeps = {}): Promise<CompileResult> {
  const o = resolveCompileOptions(options);
  const progress = deps.progress ?? silentProgress;
  const runsBench = o.bench && o.target !== 'cuda-fp16'; // CPU timings of a GPU model would mislead
  const total = 1 + buildSteps(o.target) + 2 + (runsBench ? 1 : 0) + 1;
  let index = 0;
  const step = (label: string): void => progress.step(++index, total, label);
  const tick = (done: number, of: number): void => progress.tick(done, of);
  const workDir = mkdtempSync(join(tmpdir(), 'klassify-compile-'));
  const runners: ModelRunner[] = [];
  let ok = false;
  try {
    step('check model and tokenizer');
    const tok = prepareTokenizer(o.tokenizer, o.maxLength);
    const source = readSourceModel(o.model);
    const sig = await inspectModel(source, o.labels.length, tok.tokenizer.encode('Hello world, this is a test.').ids, o.model);
    checkFit(o, sig, tok);
    const evalSet = o.evalSet === undefined ? builtinEvalSet() : loadEvalSet(o.evalSet, o.labels);
    if (o.evalReport && evalSet.gold === undefined) {
      throw new EvalSetError(`--eval-report needs labels: ${evalSet.description} has none (lines {"text","label"})`);
    }

    const padId = tok.tokenizer.padId;
    // int8 calibration reads the built-in texts, never a user's evaluation set, so with --eval the gate
    // judges the quantization on texts it was not calibrated on (without --eval the report says so).
    const calibration = { inputs: sig.inputs, texts: BUILTIN_EVAL_TEXTS.map((t) => tok.tokenizer.encode(t)), padId };
    const quantize = deps.quantize ?? quantizeDynamicInt8;
    const build = await buildTarget(o.target, { source: source.bytes, workDir, level: o.optimizationLevel, threads: o.threads, int8Weights: o.int8Weights, int8Recipe: { perToken: o.int8PerToken, smoothing: o.int8Smoothing, smoothAt: o.int8SmoothAt, embeddings: o.int8Embeddings, fuseAttention: o.int8FuseAttention, outlierChannels: o.int8OutlierChannels }, quantize, calibration, step });

    const encoded = evalSet.texts.map((t) => tok.tokenizer.encode(t));
    const open = async (model: string | Uint8Array): Promise<ModelRunner> => {
      const runner = await ModelRunner.create(model, sig.inputs, sig.output, o.labels.length, { threads: o.threads });
      runners.push(runner);
      return runner;
    };
    const sourceRunner = await open(o.model);
    step(`parity: source model on ${evalSet.texts.length} texts`);
    const sourceLogits = await sourceRunner.logits(encoded, padId, 32, tick);
    const compiledRunner = await open(build.bytes);
    step(`parity: ${o.target} model on ${evalSet.texts.length} texts`);
    const compiledLogits = await compiledRunner.logits(encoded, padId, 32, tick);
    const parity: Parity = {
      ...measureParity({ source: sourceLogits, compiled: compiledLogits, labels: o.labels.length, gold: evalSet.gold, evalSet: evalSet.description, gate: o.gate, force: o.force }),
      measuredOn: 'cpu',
    };
    enforceParity(parity, o.target);
    const evaluation = o.evalReport && evalSet.gold !== undefined
      ? { evalSet: evalSet.description, source: evalReport(sourceLogits, evalSet.gold, o.labels), compiled: evalReport(compiledLogits, evalSet.gold, o.labels) }
      : undefined;

    let rows: BenchRow[] | undefined;
    if (runsBench) {
      step('benchmark source vs compiled');
      const sample = tok.tokenizer.encode(BUILTIN_EVAL_TEXTS.join(' ')).ids;
      rows = await benchmark(sourceRunner, compiledRunner, sample, { ...DEFAULT_BENCH, ...deps.bench }, tick);
    }
    await releaseAll(runners);

    const notes = compileNotes(o, [...tok.notes, ...build.notes], encoded.filter((e) => e.truncated).length, encoded.length, parity, rows);
    const manifest = buildManifest({ options: o, signature: sig, sourceBytes: source.bytes, build, parity, benchmark: rows, notes });
    const report = renderReport(manifest, describeSteps(o, sig, build, evalSet, rows), evaluation ? evaluationSection(evaluation) : []);
    const dir = join(o.out, o.name, o.target);
    step(`write ${dir}`);
    publishFolder(dir, [
      { name: manifest.files.model, data: build.bytes },
      { name: manifest.files.tokenizer, data: tok.text },
      { name: MANIFEST_FILE, data: `${JSON.stringify(manifest, null, 2)}\n` },
      { name: REPORT_FILE, data: report },
    ]);
    ok = true;
    return { dir, manifest, report, ...(evaluation ? { evaluation } : {}) };
  } finally {
    progress.end(ok);
    await releaseAll(runners);
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** report.md's "Evaluation report" section: both models' per-class figures and confusion matrices. */
export function evaluationSection(e: NonNullable<CompileResult['evaluation']>): string[] {
  return [
    '## Evaluation report', '',
    `Evaluation set: ${e.evalSet}. Rows of a confusion matrix are gold labels, columns predicted labels (argmax).` +
      (e.compiled.binary ? ` Binary accuracy counts the gold ${e.compiled.binary.negative}/${e.compiled.binary.positive} texts only and compares those two logits alone.` : ''),
    '',
    ...renderEvalReport(e.source, '**source**'),
    ...renderEvalReport(e.compiled, '**compiled**'),
  ];
}

/** The user's settings must fit the model: max length within its positions, token ids within its vocabulary. */
function checkFit(o: ResolvedCompileOptions, sig: ModelSignature, tok: PreparedTokenizer): void {
  if (sig.maxPositions !== undefined && o.maxLength > sig.maxPositions) {
    throw new ConfigError(`--max-length ${o.maxLength} exceeds the model's ${sig.maxPositions} position embeddings; use --max-length ${sig.maxPositions} or less`);
  }
  if (sig.vocabRows !== undefined && tok.maxTokenId >= sig.vocabRows) {
    throw new TokenizerError(`${o.tokenizer} can produce token id ${tok.maxTokenId}, but the model's embedding table has ${sig.vocabRows} rows: is it the model's own tokenizer?`);
  }
}

/** The notes a compile adds to those of the tokenizer and the target build. */
function compileNotes(o: ResolvedCompileOptions, base: string[], truncated: number, texts: number, parity: Parity, rows: BenchRow[] | undefined): string[] {
  const notes = [...base];
  if (truncated > 0) notes.push(`${truncated} of ${texts} evaluation texts were longer than ${o.maxLength} tokens and were truncated, as they will be when served.`);
  if (parity.forced) notes.push('PARITY GATE FAILED and was overridden with --force.');
  if (o.target === 'cpu-int8' && o.evalSet === undefined) {
    notes.push('The built-in texts both calibrated the int8 smoothing and served as the parity set: give --eval with texts of your own for an independent check.');
  }
  // Below 0.95 it is slower beyond timing noise.
  const speedup = rows ? medianSpeedup(rows) : 1;
  if (o.target === 'cpu-int8' && speedup < 0.95) {
    notes.push(`The int8 model is slower than its source on this machine (median speedup ${speedup.toFixed(2)}x): its MatMuls are too small for int8 to pay for quantizing the activations. Prefer --target cpu for it.`);
  }
  return notes;
}

function medianSpeedup(rows: readonly BenchRow[]): number {
  const sorted = rows.map((r) => r.speedup).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 1;
}

async function releaseAll(runners: ModelRunner[]): Promise<void> {
  for (const r of runners.splice(0)) await r.release();
}

function describeSteps(o: ResolvedCompileOptions, sig: ModelSignature, build: TargetBuild, evalSet: EvalSet, rows: BenchRow[] | undefined): string[] {
  const inputs = [sig.inputs.inputIds, sig.inputs.attentionMask, sig.inputs.tokenTypeIds].filter(Boolean).join(', ');
  const unique = (xs: number[]): string => [...new Set(xs)].join(', ');
  return [
    `Checked the source: inputs ${inputs} (int64), output ${sig.output} [batch, ${o.labels.length}], opset ${sig.opset}` +
      (sig.maxPositions !== undefined ? `, ${sig.maxPositions} position embeddings` : '') +
      `; tokenizer ${basename(o.tokenizer)} fits its ${sig.vocabRows ?? '?'}-row embedding table.`,
    ...build.done,
    `Ran the source and the compiled model on ${evalSet.description} and compared their labels${evalSet.gold ? ' and accuracy' : ''}.`,
    ...(rows ? [`Benchmarked both at batch sizes ${unique(rows.map((r) => r.batchSize))} and ${unique(rows.map((r) => r.seqLen))} tokens.`] : []),
  ];
}
