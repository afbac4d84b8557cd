// klassify compile: turn an ONNX text classifier into compiled-models/<name>/<target>/ (see src/compile).
import { Command, Option } from 'commander';
import { compileModel, progressFor, quantizeDynamicInt8, renderEvalReport, type CompileDeps, type CompileOptions } from '../compile/index.js';
import { INT8_PER_TOKEN, INT8_SMOOTH_AT } from '../compile/options.js';
import { TARGETS } from '../model/manifest.js';
import { info, printJson } from './output.js';

export function compileCommand(): Command {
  return new Command('compile')
    .description('optimize / quantize an ONNX text classifier for a target, check accuracy parity, benchmark, and write compiled-models/<name>/<target>/')
    .requiredOption('--model <file>', 'source ONNX model: int64 input_ids (+ attention_mask, token_type_ids) in, float32 logits [batch, labels] out')
    .requiredOption('--tokenizer <file>', "the model's Hugging Face tokenizer.json")
    .requiredOption('--labels <list>', 'label names in logit order, "a,b,c", or a labels.json file holding an array')
    .requiredOption('--target <target>', `${TARGETS.join(' | ')}`)
    .requiredOption('--name <name>', 'model name: the folder under --out')
    .option('--out <dir>', 'root folder of compiled models', 'compiled-models')
    .option('--eval <file>', 'JSONL evaluation set, lines {"text","label"} (accuracy) or {"text"} (agreement); default: built-in English texts')
    .option('--eval-report', 'with a labeled --eval set: print per-class precision/recall and the confusion matrix of the source and the compiled model (stderr) and add them to report.md')
    .option('--max-length <n>', 'most tokens per text, special tokens included (at most the model\'s position embeddings)', '128')
    .option('--force', 'write the model even when it fails the parity gate (manifest parity.forced=true)')
    .option('--version <version>', "model version in the manifest (default: the compiled file's sha256, 12 digits)")
    .option('--no-bench', 'skip the benchmark')
    .option('--threads <n>', 'ONNX Runtime threads for the parity and benchmark runs (default 1, as in one pool worker)')
    .addOption(new Option('--opt-level <level>', 'saved graph optimization for the cpu targets: extended (portable) or all (this CPU kind only)').choices(['extended', 'all']).default('extended'))
    .addOption(new Option('--int8-weights <bits>', 'cpu-int8 weight range: auto (probe this CPU: 7-bit without VNNI), 7 (exact on every x86 CPU: for a model shipped to unknown machines) or 8').choices(['auto', '7', '8']).default('auto'))
    .addOption(new Option('--int8-per-token <which>', 'cpu-int8: activations scaled per token before quantization: down (the down-projections, K > N: the feed-forward outputs), all, none, or auto (down with 8-bit weights, all with 7-bit)').choices([...INT8_PER_TOKEN]).default('auto'))
    .option('--int8-smoothing <alpha>', 'cpu-int8: SmoothQuant strength, 0 (off) to 1 (default: 0.75 with 8-bit weights, 0.5 with 7-bit)')
    .addOption(new Option('--int8-smooth-at <which>', 'cpu-int8: activations smoothed: norm (LayerNorm outputs), all, or auto (norm with 8-bit weights, all with 7-bit)').choices([...INT8_SMOOTH_AT]).default('auto'))
    .option('--no-int8-embeddings', 'cpu-int8: keep the embedding tables fp32')
    .option('--int8-fuse-attention', 'cpu-int8: each self-attention block as one com.microsoft QAttention where the graph allows (same labels; no faster on MiniLM-L6 here)')
    .option('--int8-outlier-channels <n>', 'cpu-int8: in each feed-forward block with outlier channels, this many of its largest hidden channels run in fp32 beside the int8 GEMMs instead of per-token scaling; 0 (off) or auto (16 with 8-bit weights, 0 with 7-bit)', 'auto')
    .option('--json', 'print the manifest as JSON on stdout instead of the folder path')
    // Hidden: corrupts the int8 scales so end-to-end tests can watch the parity gate refuse a broken model.
    .addOption(new Option('--x-damage-int8-scales').hideHelp())
    .action(async (opts: Record<string, unknown>) => {
      const deps: CompileDeps = { progress: progressFor(process.stderr) };
      if (opts.xDamageInt8Scales === true) {
        deps.quantize = (model, options) => quantizeDynamicInt8(model, { ...options, perturbScales: (s) => s.forEach((v, i) => (s[i] = v * (i % 2 === 0 ? 4 : 0.25))) });
      }
      const result = await compileModel({
        model: opts.model as string,
        tokenizer: opts.tokenizer as string,
        labels: opts.labels as string,
        target: opts.target as string,
        name: opts.name as string,
        out: opts.out as string,
        evalSet: opts.eval as string | undefined,
        evalReport: opts.evalReport === true,
        maxLength: Number(opts.maxLength),
        force: opts.force === true,
        version: opts.version as string | undefined,
        bench: opts.bench !== false,
        threads: opts.threads === undefined ? undefined : Number(opts.threads),
        optimizationLevel: opts.optLevel as 'extended' | 'all',
        int8Weights: opts.int8Weights as 'auto' | '7' | '8',
        int8PerToken: opts.int8PerToken as CompileOptions['int8PerToken'],
        int8Smoothing: opts.int8Smoothing === undefined ? undefined : Number(opts.int8Smoothing),
        int8SmoothAt: opts.int8SmoothAt as CompileOptions['int8SmoothAt'],
        int8Embeddings: opts.int8Embeddings !== false,
        int8FuseAttention: opts.int8FuseAttention === true,
        int8OutlierChannels: opts.int8OutlierChannels === 'auto' ? 'auto' : Number(opts.int8OutlierChannels),
      }, deps);
      const { parity } = result.manifest;
      if (parity) info(`parity: ${(parity.agreement * 100).toFixed(2)}% agreement on ${parity.count} texts${parity.forced ? ' (FAILED, forced)' : ''}`);
      if (result.evaluation) {
        const { evaluation: e } = result;
        info(`evaluation report on ${e.evalSet} (rows = gold, columns = predicted):`);
        for (const line of [...renderEvalReport(e.source, 'source'), ...renderEvalReport(e.compiled, `compiled (${result.manifest.target})`)]) info(line);
      }
      if (!result.manifest.verifiedOnTarget) info(`note: ${result.manifest.target} was not verified on its target hardware (no GPU here); see report.md`);
      if (opts.json === true) printJson(result.manifest);
      else process.stdout.write(`${result.dir}\n`);
    });
}
