// The brand dashboard: polls /brands/data (the monitor's recent 1-minute stats and latest alerts) every
// 5 s and draws per-brand volume and net sentiment over time, share of voice and the alerts.
'use strict';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
const charts = {};

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function series(brands, stats, field) {
  const starts = [...new Set(stats.map((s) => s.start))].sort((a, b) => a - b);
  const index = new Map(starts.map((t, i) => [t, i]));
  const data = [starts.map((t) => t / 1000)];
  for (const b of brands) {
    const row = starts.map(() => null);
    for (const s of stats) if (s.brand === b) row[index.get(s.start)] = s[field];
    data.push(row);
  }
  return data;
}

// Model swaps (the first minute with a new model version): dashed vertical lines on every chart.
let markers = [];
const markerPlugin = {
  hooks: {
    draw: [
      (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = '#6b7280';
        ctx.fillStyle = '#374151';
        ctx.setLineDash([4, 4]);
        ctx.font = `${11 * window.devicePixelRatio}px sans-serif`;
        for (const m of markers) {
          const x = u.valToPos(m.start / 1000, 'x', true);
          if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillText(m.added.join(', '), x + 4, u.bbox.top + 12 * window.devicePixelRatio);
        }
        ctx.restore();
      },
    ],
  },
};

function draw(id, brands, data) {
  const target = document.getElementById(id);
  if (charts[id]) {
    charts[id].setData(data);
    return;
  }
  const opts = {
    width: Math.max(320, target.clientWidth || 560),
    height: 220,
    series: [{}, ...brands.map((b, i) => ({ label: b, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true }))],
    axes: [{}, {}],
    plugins: [markerPlugin],
  };
  charts[id] = new uPlot(opts, data, target);
}

function render(d) {
  document.getElementById('summary').textContent = `${d.brands.length} brands, ${d.stats.length} brand-minutes, ${d.alerts.length} alerts`;
  markers = d.markers || [];
  document.getElementById('markers').replaceChildren(...(markers.length ? markers : [null]).map((m) =>
    el('li', m ? `${new Date(m.start).toISOString().slice(11, 16)} UTC: ${m.before.join(', ')} → ${m.added.join(', ')}` : 'none in view')));
  draw('c-volume', d.brands, series(d.brands, d.stats, 'count'));
  draw('c-net', d.brands, series(d.brands, d.stats, 'netSentiment'));
  // The last minute that had any mention (quiet minutes close too, with nothing to share).
  const last = Math.max(0, ...d.stats.filter((s) => s.count > 0).map((s) => s.start));
  const sov = document.querySelector('#sov-table tbody');
  sov.replaceChildren(...d.stats.filter((s) => s.start === last).sort((a, b) => (b.shareOfVoice ?? 0) - (a.shareOfVoice ?? 0)).map((s) => {
    const tr = el('tr');
    tr.append(el('td', s.brand), el('td', s.shareOfVoice === null ? '–' : `${(100 * s.shareOfVoice).toFixed(1)}%`), el('td', `${s.count} mentions`));
    return tr;
  }));
  const alerts = document.querySelector('#alerts-table tbody');
  alerts.replaceChildren(...d.alerts.map((a) => {
    const tr = el('tr');
    tr.className = 'alert';
    tr.append(
      el('td', new Date(a.window.start).toISOString().slice(11, 16)),
      el('td', a.brand),
      el('td', a.kind === 'volume' ? 'volume spike' : 'negative share spike'),
      el('td', a.kind === 'volume' ? a.observed : `${(100 * a.observed).toFixed(0)}%`),
      el('td', a.kind === 'volume' ? a.expected : `${(100 * a.expected).toFixed(0)}%`),
      el('td', a.score.toFixed(1)),
      el('td', a.samplePostIds.join(', ')),
    );
    return tr;
  }));
}

async function poll() {
  const conn = document.getElementById('conn');
  try {
    const r = await fetch('brands/data', { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    render(await r.json());
    conn.textContent = 'live';
    conn.className = 'pill ok';
  } catch (err) {
    conn.textContent = `offline: ${err.message}`;
    conn.className = 'pill bad';
  }
}

void poll();
window.setInterval(() => void poll(), 5000);
