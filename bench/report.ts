// The benchmark's outputs: the JSON of every figure, a markdown report stating each target, the
// measured figure and whether it holds, and an SVG plot of latency against load.

export interface Target {
  name: string;
  /** Human-readable goal, e.g. ">= 90% of the limit". */
  goal: string;
  measured: number | null;
  unit: string;
  holds: boolean | null;
  note?: string;
}

export interface LatencyPoint {
  loadFraction: number;
  ratePerSec: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  count: number;
}

export function check(name: string, goal: string, measured: number | null, unit: string, ok: (v: number) => boolean, note?: string): Target {
  return { name, goal, measured, unit, holds: measured === null ? null : ok(measured), ...(note ? { note } : {}) };
}

function fmt(v: number | null, unit: string): string {
  if (v === null) return 'n/a';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

export function targetsTable(targets: readonly Target[]): string {
  const rows = targets.map((t) => `| ${t.name} | ${t.goal} | ${fmt(t.measured, t.unit)} | ${t.holds === null ? 'not measured' : t.holds ? 'yes' : '**no**'} | ${t.note ?? ''} |`);
  return ['| Target | Goal | Measured | Holds | Note |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** Latency percentiles against offered load, as a small standalone SVG (no plotting dependency needed). */
export function latencySvg(points: readonly LatencyPoint[], title: string): string {
  const W = 640;
  const H = 360;
  const m = { l: 60, r: 120, t: 36, b: 48 };
  const xs = points.map((p) => p.loadFraction * 100);
  const maxY = Math.max(1, ...points.map((p) => p.p99)) * 1.15;
  const x = (v: number): number => m.l + ((v - 0) / 100) * (W - m.l - m.r);
  const y = (v: number): number => H - m.b - (v / maxY) * (H - m.t - m.b);
  const series: [keyof LatencyPoint, string][] = [['p50', '#1f77b4'], ['p95', '#ff7f0e'], ['p99', '#d62728']];
  const lines = series.map(([k, color], i) => {
    const pts = points.map((p, j) => `${x(xs[j] as number).toFixed(1)},${y(p[k] as number).toFixed(1)}`).join(' ');
    const dots = points.map((p, j) => `<circle cx="${x(xs[j] as number).toFixed(1)}" cy="${y(p[k] as number).toFixed(1)}" r="3" fill="${color}"/>`).join('');
    const legendY = m.t + 16 + i * 18;
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>${dots}<text x="${W - m.r + 14}" y="${legendY}" fill="${color}" font-size="12">${k}</text>`;
  });
  const yTicks = Array.from({ length: 5 }, (_, i) => (maxY / 4) * i).map((v) => `<line x1="${m.l}" x2="${W - m.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${m.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
  const xTicks = [0, 25, 50, 75, 100].map((v) => `<text x="${x(v).toFixed(1)}" y="${H - m.b + 18}" text-anchor="middle" font-size="11">${v}%</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>
${yTicks.join('\n')}
${xTicks.join('\n')}
<text x="${(m.l + W - m.r) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">offered load (% of max sustainable throughput)</text>
<text transform="translate(16 ${(H - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle" font-size="12">end-to-end latency (ms)</text>
${lines.join('\n')}
</svg>
`;
}
