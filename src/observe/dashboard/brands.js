// The brand dashboard: polls /brands/data (the monitor's recent 1-minute and 1-hour stats and latest
// alerts) every 5 s and draws per-brand volume and net sentiment over time in the chosen window size,
// share of voice and the alerts with their sample posts' words.
'use strict';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
const charts = {};
let view = '1m';
let last;

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
    // From the data, at least 30 windows wide: for a single point uPlot widens a time axis by 86,400 of
    // its ms units, which in seconds is years.
    scales: { x: { time: true, range: (u, min, max) => {
      const xs = u.data[0];
      if (!xs || xs.length === 0) return [min, max];
      const step = view === '1h' ? 3600 : 60;
      const hi = xs[xs.length - 1];
      return [Math.min(xs[0], hi - 30 * step), hi + step / 2];
    } } },
    // The dashboard's dark theme: uPlot's default axis colour is black, unreadable on it.
    axes: [{ stroke: '#8a96a3', grid: { stroke: '#222b35' } }, { stroke: '#8a96a3', grid: { stroke: '#222b35' }, size: 50 }],
    plugins: [markerPlugin],
  };
  charts[id] = new uPlot(opts, data, target);
}

// What an alert's sample-posts cell lists: each post's words with the label towards the brand; the id
// alone for alerts written before results carried the mention's context.
function samples(a) {
  const posts = a.samplePosts || a.samplePostIds.map((id) => ({ id, label: null, text: null }));
  const ul = el('ul');
  ul.className = 'samples';
  for (const p of posts.slice(0, 5)) {
    const li = el('li');
    li.title = p.id;
    if (p.label) {
      const tag = el('span', p.label);
      tag.className = `tag ${p.label}`;
      li.append(tag);
    }
    li.append(document.createTextNode(p.text ?? p.id));
    ul.append(li);
  }
  if (posts.length > 5) ul.append(el('li', `… ${posts.length - 5} more`));
  return ul;
}

function setView(size) {
  view = size;
  for (const b of document.querySelectorAll('.view')) {
    const on = b.id === `view-${size}`;
    b.classList.toggle('on', on);
    b.setAttribute('aria-pressed', String(on));
  }
  for (const u of document.querySelectorAll('.unit')) u.textContent = size === '1h' ? 'hour' : 'minute';
  // The time axis changes scale: draw the charts anew.
  for (const id of Object.keys(charts)) {
    charts[id].destroy();
    delete charts[id];
  }
  if (last) render(last);
}

function render(d) {
  last = d;
  const stats = view === '1h' ? d.hourly || [] : d.stats;
  document.getElementById('summary').textContent = `${d.brands.length} brands, ${d.stats.length} brand-minutes, ${(d.hourly || []).length} brand-hours, ${d.alerts.length} alerts`;
  markers = d.markers || [];
  document.getElementById('markers').replaceChildren(...(markers.length ? markers : [null]).map((m) =>
    el('li', m ? `${new Date(m.start).toISOString().slice(11, 16)} UTC: ${m.before.join(', ')} → ${m.added.join(', ')}` : 'none in view')));
  draw('c-volume', d.brands, series(d.brands, stats, 'count'));
  draw('c-net', d.brands, series(d.brands, stats, 'netSentiment'));
  // The last window that had any mention (quiet windows close too, with nothing to share).
  const latest = Math.max(0, ...stats.filter((s) => s.count > 0).map((s) => s.start));
  const sov = document.querySelector('#sov-table tbody');
  sov.replaceChildren(...stats.filter((s) => s.start === latest).sort((a, b) => (b.shareOfVoice ?? 0) - (a.shareOfVoice ?? 0)).map((s) => {
    const tr = el('tr');
    tr.append(el('td', s.brand), el('td', s.shareOfVoice === null ? '–' : `${(100 * s.shareOfVoice).toFixed(1)}%`), el('td', `${s.count} mentions`));
    return tr;
  }));
  const alerts = document.querySelector('#alerts-table tbody');
  alerts.replaceChildren(...d.alerts.map((a) => {
    const tr = el('tr');
    tr.className = 'alert';
    tr.append(
      el('td', `${new Date(a.window.start).toISOString().slice(11, 16)}${a.window.size === '1h' ? ' (1 h)' : ''}`),
      el('td', a.brand),
      el('td', a.kind === 'volume' ? 'volume spike' : 'negative share spike'),
      el('td', a.kind === 'volume' ? a.observed : `${(100 * a.observed).toFixed(0)}%`),
      el('td', a.kind === 'volume' ? a.expected : `${(100 * a.expected).toFixed(0)}%`),
      el('td', a.score.toFixed(1)),
    );
    const cell = el('td');
    cell.append(samples(a));
    tr.append(cell);
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

for (const size of ['1m', '1h']) document.getElementById(`view-${size}`).addEventListener('click', () => setView(size));
void poll();
window.setInterval(() => void poll(), 5000);
