// Where an int8 model's time goes, by operator: ONNX Runtime's own profiler (SessionOptions.enableProfiling)
// on one pass over the bench's texts, its per-node kernel times summed by op type. The int8 bench profiles the
// stock quantizer's model and klassify's default side by side, so the report says which of the compile's extra
// steps (per-token scaling: ReduceMax/ReduceMin/Div and a Mul; smoothing: a Mul) cost what against the GEMMs
// both share. The profiler adds a little time per node, alike for both, so only the shares are compared.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedModel } from '../src/model/manifest.js';
import { loadBenchRunner } from './pool.js';

export interface OpTime {
  op: string;
  /** Kernel time summed over every node of this type and every call, in milliseconds. */
  ms: number;
  /** Node executions. */
  calls: number;
}

/** Sums the kernel time of ORT profile events (chrome trace format) by op type, largest first. Pure. */
export function opTimes(events: readonly unknown[]): OpTime[] {
  const byOp = new Map<string, OpTime>();
  for (const e of events) {
    if (typeof e !== 'object' || e === null) continue;
    const ev = e as { cat?: unknown; name?: unknown; dur?: unknown; args?: { op_name?: unknown } };
    if (ev.cat !== 'Node' || typeof ev.name !== 'string' || !ev.name.endsWith('_kernel_time')) continue;
    const op = typeof ev.args?.op_name === 'string' ? ev.args.op_name : 'unknown';
    const dur = typeof ev.dur === 'number' ? ev.dur : 0;
    const t = byOp.get(op) ?? { op, ms: 0, calls: 0 };
    t.ms += dur / 1000;
    t.calls++;
    byOp.set(op, t);
  }
  return [...byOp.values()].sort((a, b) => b.ms - a.ms);
}

/** One profiled pass of `texts` (calls of `batch`) through the model at `modelPath`, one thread. */
export async function profileOps(model: LoadedModel, modelPath: string, texts: readonly string[], batch: number): Promise<OpTime[]> {
  const dir = mkdtempSync(join(tmpdir(), 'klassify-op-profile-'));
  try {
    const { runner } = await loadBenchRunner(model, modelPath, 1, 8192, { enableProfiling: true, profileFilePrefix: join(dir, 'ort') });
    try {
      for (let i = 0; i < texts.length; i += batch) await runner.classify(texts.slice(i, i + batch));
    } finally {
      // ORT writes the trace when the session ends.
      await runner.release();
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`expected one ONNX Runtime profile in ${dir}, found ${files.length}`);
    return opTimes(JSON.parse(readFileSync(join(dir, files[0] ?? ''), 'utf8')) as unknown[]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The two profiles side by side: every op type with its time and share in each, largest first. */
export function opProfileMarkdown(stock: readonly OpTime[], klassify: readonly OpTime[]): string {
  const total = (xs: readonly OpTime[]): number => xs.reduce((a, x) => a + x.ms, 0);
  const [ts, tk] = [total(stock), total(klassify)];
  const find = (xs: readonly OpTime[], op: string): OpTime | undefined => xs.find((x) => x.op === op);
  const ops = [...new Set([...stock, ...klassify].map((x) => x.op))]
    .map((op) => ({ op, s: find(stock, op), k: find(klassify, op) }))
    .sort((a, b) => Math.max(b.s?.ms ?? 0, b.k?.ms ?? 0) - Math.max(a.s?.ms ?? 0, a.k?.ms ?? 0));
  const cell = (t: OpTime | undefined, all: number): string => (t ? `${t.ms.toFixed(0)} ms (${((100 * t.ms) / all).toFixed(1)}%), ${t.calls}` : '–');
  return `## Where the time goes (ONNX Runtime's profiler, one pass each)

Kernel time summed by op type over one pass of the same texts (the profiler's own cost is in both alike).
Stock: ${ts.toFixed(0)} ms in all; klassify (default): ${tk.toFixed(0)} ms, **${(tk / ts).toFixed(3)}x** stock's.

| op type | stock: time (share), node runs | klassify (default): time (share), node runs | klassify − stock |
|---|---|---|---:|
${ops.map((x) => `| ${x.op} | ${cell(x.s, ts)} | ${cell(x.k, tk)} | ${((x.k?.ms ?? 0) - (x.s?.ms ?? 0)).toFixed(0)} ms |`).join('\n')}
`;
}
