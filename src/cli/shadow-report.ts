// klassify shadow-report: the shadow model's figures, read from a running instance's /metrics (the
// klassify_shadow_* series src/observe/shadow-metrics.ts writes), printed as a table or as JSON.
import { Command } from 'commander';
import { ShadowReportError } from '../errors.js';
import { configFrom, withKnobs } from './options.js';
import { printJson } from './output.js';

export interface ParsedShadow {
  liveVersion: string;
  shadow: { name: string; version: string };
  sample: number;
  compared: number;
  comparedTotal: number;
  agreement: number | null;
  classAgreement: Record<string, number>;
  labels: string[];
  /** confusion[live][shadow] */
  confusion: Record<string, Record<string, number>>;
  confidence: Record<string, number>;
  latencySeconds: Record<string, Record<string, number>>;
  windowErrors: Record<string, number>;
  shed: Record<string, number>;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of Prometheus' text format (names, label sets, values; comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The shadow figures in a /metrics body; undefined when no shadow model runs there. */
export function parseShadowMetrics(text: string): ParsedShadow | undefined {
  const samples = parsePrometheus(text).filter((s) => s.name.startsWith('klassify_shadow_'));
  const info = samples.find((s) => s.name === 'klassify_shadow_info');
  if (!info) return undefined;
  const of = (name: string): Sample[] => samples.filter((s) => s.name === name);
  const one = (name: string): number | undefined => of(name)[0]?.value;
  const by = (name: string, label: string): Record<string, number> => Object.fromEntries(of(name).map((s) => [s.labels[label] ?? '', s.value]));
  const confusion: Record<string, Record<string, number>> = {};
  for (const s of of('klassify_shadow_confusion')) (confusion[s.labels.live ?? ''] ??= {})[s.labels.shadow ?? ''] = s.value;
  const latencySeconds: Record<string, Record<string, number>> = {};
  for (const s of of('klassify_shadow_latency_seconds')) (latencySeconds[s.labels.model ?? ''] ??= {})[s.labels.quantile ?? ''] = s.value;
  return {
    liveVersion: info.labels.live_version ?? '',
    shadow: { name: info.labels.shadow_name ?? '', version: info.labels.shadow_version ?? '' },
    sample: Number(info.labels.sample),
    compared: one('klassify_shadow_window_compared') ?? 0,
    comparedTotal: one('klassify_shadow_compared_total') ?? 0,
    agreement: one('klassify_shadow_agreement') ?? null,
    classAgreement: by('klassify_shadow_class_agreement', 'label'),
    labels: Object.keys(confusion),
    confusion,
    confidence: by('klassify_shadow_mean_confidence', 'model'),
    latencySeconds,
    windowErrors: by('klassify_shadow_window_errors', 'model'),
    shed: by('klassify_shadow_shed_total', 'why'),
  };
}

export function formatShadowReport(r: ParsedShadow): string {
  const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(1)}%`);
  const ms = (x: number | undefined): string => (x === undefined ? '-' : `${(1000 * x).toFixed(1)} ms`);
  const w = Math.max(8, ...r.labels.map((l) => l.length)) + 2;
  const lines = [
    `shadow ${r.shadow.name} ${r.shadow.version} beside live ${r.liveVersion}, ${pct(r.sample)} of records sampled`,
    `compared in the window: ${r.compared} (since start: ${r.comparedTotal}); shed: ${Object.entries(r.shed).map(([k, v]) => `${k} ${v}`).join(', ') || '0'}`,
    `label agreement: ${pct(r.agreement)}`,
    ...r.labels.map((l) => `  on live "${l}": ${pct(r.classAgreement[l])}`),
    '',
    `confusion (rows: live label, columns: shadow label)`,
    `${''.padEnd(w)}${r.labels.map((l) => l.padStart(w)).join('')}`,
    ...r.labels.map((l) => `${l.padEnd(w)}${r.labels.map((s) => String(r.confusion[l]?.[s] ?? 0).padStart(w)).join('')}`),
    '',
    `${''.padEnd(18)}${'live'.padStart(12)}${'shadow'.padStart(12)}`,
    `${'mean confidence'.padEnd(18)}${pct(r.confidence.live).padStart(12)}${pct(r.confidence.shadow).padStart(12)}`,
    `${'latency p50'.padEnd(18)}${ms(r.latencySeconds.live?.['0.5']).padStart(12)}${ms(r.latencySeconds.shadow?.['0.5']).padStart(12)}`,
    `${'latency p99'.padEnd(18)}${ms(r.latencySeconds.live?.['0.99']).padStart(12)}${ms(r.latencySeconds.shadow?.['0.99']).padStart(12)}`,
    `${'errors'.padEnd(18)}${String(r.windowErrors.live ?? 0).padStart(12)}${String(r.windowErrors.shadow ?? 0).padStart(12)}`,
  ];
  return `${lines.join('\n')}\n`;
}

export function shadowReportCommand(): Command {
  const cmd = new Command('shadow-report')
    .description("print the shadow model's label agreement with the live model (from a running klassify start --shadow-model)")
    .option('--url <url>', 'the instance\'s metrics server (default: http://<metrics-host>:<metrics-port>)')
    .option('--json', 'print the figures as JSON');
  withKnobs(cmd, ['logLevel', 'metrics.host', 'metrics.port', 'metrics.token']);
  return cmd.action(async (opts: Record<string, unknown>) => {
    const config = configFrom(opts);
    const base = (opts.url as string | undefined) ?? `http://${config.metrics.host}:${config.metrics.port}`;
    const headers: Record<string, string> = config.metrics.token ? { authorization: `Bearer ${config.metrics.token}` } : {};
    let body: string;
    try {
      const res = await fetch(`${base.replace(/\/$/, '')}/metrics`, { headers });
      if (!res.ok) throw new Error(`HTTP ${res.status}${res.status === 401 ? ' (give the instance\'s --metrics-token)' : ''}`);
      body = await res.text();
    } catch (err) {
      throw new ShadowReportError(`cannot read ${base}/metrics: ${(err as Error).message}`);
    }
    const report = parseShadowMetrics(body);
    if (!report) throw new ShadowReportError(`${base} runs no shadow model (start it with --shadow-model DIR), or it was promoted`);
    if (opts.json) printJson(report);
    else process.stdout.write(formatShadowReport(report));
  });
}
