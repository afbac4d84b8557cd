// klassify live dashboard: Server-Sent Events from /events, charts drawn with uPlot. Plain script, no build.
(function () {
  'use strict';
  const WINDOW = 300; // points kept (5 minutes at one a second)
  const COLORS = ['#4fb3ff', '#7be0a6', '#ff8f6b', '#f5c542', '#c792ea', '#5ad4e6', '#ff6b9a', '#a3be8c', '#d08770', '#88c0d0'];
  const token = new URLSearchParams(location.search).get('token');
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  const history = [];
  const dlqTotals = {};
  const charts = {};

  const el = (id) => document.getElementById(id);
  const fmt = (n, d = 0) => (n === null || n === undefined || Number.isNaN(n) ? '–' : Number(n).toFixed(d));

  function chart(id, seriesNames, opts = {}) {
    const key = id + '|' + seriesNames.join(',');
    if (charts[id] && charts[id].key === key) return charts[id].plot;
    if (charts[id]) charts[id].plot.destroy();
    const target = el(id);
    const plot = new uPlot(
      {
        width: Math.max(200, target.clientWidth),
        height: 200,
        legend: { show: true },
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, opts.minMax || 1)] } },
        axes: [{ stroke: '#8a96a3', grid: { stroke: '#222b35' } }, { stroke: '#8a96a3', grid: { stroke: '#222b35' }, size: 50 }],
        series: [{}, ...seriesNames.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: false } }))],
      },
      [[], ...seriesNames.map(() => [])],
      target,
    );
    charts[id] = { key, plot };
    return plot;
  }

  function draw(id, names, pick, opts) {
    const xs = history.map((s) => s.at / 1000);
    const plot = chart(id, names, opts);
    plot.setData([xs, ...names.map((n, i) => history.map((s) => pick(s, n, i)))]);
    el(id).dataset.points = String(xs.length);
    el(id).dataset.last = JSON.stringify(names.map((n, i) => (history.length ? pick(history[history.length - 1], n, i) : null)));
  }

  function render() {
    const last = history[history.length - 1];
    if (!last) return;
    el('model').textContent = `${last.model.name} ${last.model.version} (${last.model.target})`;
    el('t-in').textContent = fmt(last.inPerSec);
    el('t-out').textContent = fmt(last.outPerSec);
    el('t-p99').textContent = last.latencyMs ? `${fmt(last.latencyMs.p99, 1)} ms` : '–';
    el('t-busy').textContent = `${fmt(last.workers.busyRatio * 100)}%`;
    el('t-lag').textContent = last.lag ? `${last.lag.totalRecords} · ${fmt(last.lag.maxSeconds, 1)} s · ${last.lag.status}` : '–';
    el('t-dlq').textContent = String(last.totals.deadLetters);
    el('t-total').textContent = String(last.totals.out);

    draw('c-throughput', ['in', 'out', 'dead letters'], (s, n) => (n === 'in' ? s.inPerSec : n === 'out' ? s.outPerSec : s.deadLettersPerSec));
    draw('c-latency', ['p50', 'p95', 'p99'], (s, n) => (s.latencyMs ? s.latencyMs[n] : null));
    draw('c-batch', ['mean', 'max'], (s, n) => (s.batch.count ? (n === 'mean' ? s.batch.meanSize : s.batch.maxSize) : null));
    draw('c-workers', ['busy %', 'queued'], (s, n) => (n === 'busy %' ? s.workers.busyRatio * 100 : s.workers.queued), { minMax: 100 });
    const parts = [...new Set(history.flatMap((s) => (s.lag ? s.lag.partitions.map((p) => p.key) : [])))].sort();
    const lagOf = (s, key, field) => {
      const p = s.lag && s.lag.partitions.find((x) => x.key === key);
      return p ? p[field] : null;
    };
    draw('c-lag-records', parts, (s, key) => lagOf(s, key, 'records'));
    draw('c-lag-seconds', parts, (s, key) => lagOf(s, key, 'seconds'));
    const labels = [...new Set(history.flatMap((s) => Object.keys(s.labels)))].sort();
    draw('c-labels', labels, (s, l) => s.labels[l] || 0);

    renderShadow(last.shadow);

    const tbody = el('dlq-table').querySelector('tbody');
    const rows = Object.entries(dlqTotals).sort((a, b) => b[1] - a[1]);
    tbody.innerHTML = rows.length ? rows.map(([c, n]) => `<tr><td>${c}</td><td class="n">${n}</td></tr>`).join('') : '<tr><td>none</td><td class="n">0</td></tr>';
  }

  // Labels come from a model's manifest: text, never markup.
  const esc = (x) => String(x).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const pct = (x) => (x === null || x === undefined ? '–' : `${fmt(x * 100, 1)}%`);
  function renderShadow(s) {
    el('shadow').hidden = !s;
    if (!s) return;
    el('shadow-model').textContent = `${s.model.name} ${s.model.version} on ${fmt(s.sample * 100)}% of records`;
    draw('c-shadow', ['agreement'], (x) => (x.shadow && x.shadow.agreement !== null ? x.shadow.agreement * 100 : null), { minMax: 100 });
    const ms = (x) => (x === null ? '–' : `${fmt(x, 1)} ms`);
    const rows = [
      ['compared (5 min)', String(s.compared)],
      ['agreement', pct(s.agreement)],
      ...s.perClass.map((c) => [`agreement on live "${c.label}" (${c.texts})`, c.texts ? pct(c.agreement) : '–']),
      ['mean confidence live / shadow', `${pct(s.confidence.live)} / ${pct(s.confidence.shadow)}`],
      ['p99 per call live / shadow', `${ms(s.p99Ms.live)} / ${ms(s.p99Ms.shadow)}`],
      ['errors live / shadow', `${s.errors.live} / ${s.errors.shadow}`],
      ['shed (not given to the shadow)', String(s.shed)],
    ];
    el('shadow-summary').querySelector('tbody').innerHTML = rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td class="n">${esc(v)}</td></tr>`).join('');
    const t = el('shadow-confusion');
    t.querySelector('thead').innerHTML = `<tr><th></th>${s.labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>`;
    t.querySelector('tbody').innerHTML = s.labels.map((l, i) => `<tr><th>${esc(l)}</th>${s.confusion[i].map((n) => `<td class="n">${n}</td>`).join('')}</tr>`).join('');
  }

  function add(snapshot) {
    history.push(snapshot);
    if (history.length > WINDOW) history.shift();
    for (const [code, n] of Object.entries(snapshot.deadLetterCodes || {})) dlqTotals[code] = (dlqTotals[code] || 0) + n;
  }

  const source = new EventSource(`events${q}`);
  source.addEventListener('history', (e) => {
    history.length = 0;
    for (const s of JSON.parse(e.data)) add(s);
    render();
  });
  source.onmessage = (e) => {
    add(JSON.parse(e.data));
    render();
  };
  source.onopen = () => {
    el('conn').textContent = 'live';
    el('conn').className = 'pill live';
  };
  source.onerror = () => {
    el('conn').textContent = 'reconnecting…';
    el('conn').className = 'pill';
  };
  window.addEventListener('resize', () => {
    for (const c of Object.values(charts)) c.plot.setSize({ width: Math.max(200, c.plot.root.parentElement.clientWidth), height: 200 });
  });
})();
