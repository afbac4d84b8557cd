// report.md: the human-readable side of manifest.json. Everything in it comes from the manifest plus the
// list of steps the compile took, so the two cannot disagree.
import type { ModelManifest } from '../model/manifest.js';
import { failures, pct } from './parity.js';

export function renderReport(m: ModelManifest, steps: readonly string[], extraSections: readonly string[] = []): string {
  const lines: string[] = [];
  const add = (...l: string[]): void => void lines.push(...l);
  add(`# ${m.name} ${m.version}: ${m.target}`, '');
  add('Written by `klassify compile`; the same figures are in `manifest.json`.', '');
  if (!m.verifiedOnTarget) {
    add(`> **Not verified on the target hardware.** This ${m.target} model was compiled on a machine without a GPU:`);
    add('> it loads and runs, but its accuracy and speed on CUDA were not measured. Check it on a GPU before relying on it.', '');
  }
  add('| | |', '|---|---|');
  add(`| labels | ${m.labels.join(', ')} |`);
  add(`| inputs | ${[m.inputs.inputIds, m.inputs.attentionMask, m.inputs.tokenTypeIds].filter(Boolean).join(', ')} (int64) → ${m.output} (float32) |`);
  add(`| max length | ${m.maxLength} tokens |`);
  add(`| source | \`${m.source.file}\`, ${mb(m.source.bytes)}, sha256 \`${m.source.sha256.slice(0, 16)}…\` |`);
  add(`| compiled | \`${m.result.file}\`, ${mb(m.result.bytes)} (${ratio(m.result.bytes / m.source.bytes)} of the source), sha256 \`${m.result.sha256.slice(0, 16)}…\` |`);
  add(`| opset | ${m.opset} |`);
  add(`| ONNX Runtime | ${m.onnxruntimeVersion}, ${m.executionProvider} execution provider |`);
  add(`| graph optimization | ${m.optimization.level}, ${m.optimization.portable ? 'portable' : '**specific to this CPU kind**'} |`);
  add(`| weights | ${m.quantization.kind}: ${m.quantization.details} |`);
  if (m.host) add(`| compiled on | ${m.host.cpu} (${m.host.cores} cores, ${m.host.platform}/${m.host.arch}) |`);
  add('');
  add('## What was done', '', ...steps.map((s, i) => `${i + 1}. ${s}`), '');
  add('## Accuracy parity', '');
  const p = m.parity;
  if (!p) add('Not measured.', '');
  else {
    add(`Evaluation set: ${p.evalSet}${p.measuredOn === 'cpu' && m.executionProvider !== 'cpu' ? ', run on the CPU provider' : ''}.`, '');
    add('| | source | compiled |', '|---|---|---|');
    if (p.labeled) add(`| accuracy | ${pct(p.sourceAccuracy ?? 0)} | ${pct(p.compiledAccuracy ?? 0)} |`);
    add(`| label agreement | | ${pct(p.agreement)} of ${p.count} texts |`);
    add(`| max abs logit difference | | ${p.maxAbsLogitDiff.toPrecision(3)} |`, '');
    const gate = `gate: agreement ≥ ${pct(p.minAgreement)}${p.labeled ? `, accuracy drop ≤ ${(p.maxAccuracyDrop * 100).toFixed(1)} points` : ''}`;
    if (p.passed) add(`**Passed** (${gate}).`, '');
    else add(`**Failed** (${gate}): ${failures(p).join('; ')}. Written anyway because of --force (parity.forced=true).`, '');
  }
  if (extraSections.length > 0) add(...extraSections);
  add('## Benchmark', '');
  const b = m.benchmark;
  if (!b || b.rows.length === 0) add(m.verifiedOnTarget ? 'Skipped (--no-bench).' : 'Not run: CPU timings say nothing about a GPU model.', '');
  else {
    add(`Median latency per batch, ${b.threads} ONNX Runtime thread(s), synthetic batches of real token ids, on the compiling machine.`, '');
    add('| batch | tokens | source ms | compiled ms | source texts/s | compiled texts/s | speedup |', '|---|---|---|---|---|---|---|');
    for (const r of b.rows) add(`| ${r.batchSize} | ${r.seqLen} | ${r.sourceMs.toFixed(2)} | ${r.compiledMs.toFixed(2)} | ${r.sourceTextsPerSec.toFixed(0)} | ${r.compiledTextsPerSec.toFixed(0)} | ${r.speedup.toFixed(2)}x |`);
    add('', `File size: ${ratio(b.sizeRatio)} of the source.`, '');
  }
  if (m.notes.length > 0) add('## Notes', '', ...m.notes.map((n) => `- ${n}`), '');
  add('## Use it', '', '```sh', `klassify start --model <this folder>`, '```', '');
  return lines.join('\n');
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

function ratio(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
