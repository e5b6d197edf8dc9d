// rask's dashboard and performance reports: one script, no libraries. Live pages get updates
// from /events (server-sent events); a report carries its data in #report-data.
(function () {
  'use strict';
  const MAX_EVENTS = 20000;
  const LIVE_WINDOW_US = 15e6;
  const MAX_PROGRESS_ROWS = 40;
  const state = { stats: null, events: [], samples: [], updates: 0, lastSeq: 0, errors: [] };
  window.rask = state; // read by tests and by anyone curious in the console
  window.addEventListener('error', (e) => state.errors.push(String(e.message)));

  const report = JSON.parse(document.getElementById('report-data').textContent || 'null');
  const view = report ? 'report' : document.body.dataset.page;
  const $ = (id) => document.getElementById(id);

  function bytes(n) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
  }
  function ms(us) { return (us / 1000).toFixed(1); }
  // Colours by order of first appearance, so the first groups of a run are far apart.
  const PALETTE = ['#f28e2b', '#b07aa1', '#76b7b2', '#edc948', '#9c755f', '#ff9da7', '#59a14f', '#4c8df6', '#2f4b7c', '#8cd17d', '#d37295', '#e15759'];
  const colours = new Map();
  function colour(group) {
    if (!colours.has(group)) colours.set(group, PALETTE[colours.size % PALETTE.length]);
    return colours.get(group);
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function fillTable(tbody, rows) {
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = el('tr');
      cells.forEach((c) => tr.appendChild(el('td', {}, String(c))));
      return tr;
    }));
  }
  function groupDone(g) {
    const s = g.states;
    return Math.max(0, g.total - s.waiting - s.queued - s.processing - s.erred);
  }

  // ---- status: progress per task group ----
  function drawProgress(groups) {
    const inFlight = (g) => g.states.waiting + g.states.queued + g.states.processing > 0;
    const shown = groups.filter((g) => g.total > 0)
      .sort((a, b) => Number(inFlight(b)) - Number(inFlight(a)))
      .slice(0, MAX_PROGRESS_ROWS);
    $('progress').replaceChildren(...shown.map((g) => {
      const s = g.states;
      const done = groupDone(g);
      const row = el('div', { class: 'bar-row group-row', 'data-group': g.name, 'data-done': done, 'data-total': g.total, 'data-erred': s.erred });
      row.appendChild(el('span', { class: 'name', title: g.name }, g.name));
      const bar = el('div', { class: 'bar' });
      const total = Math.max(g.total, 1);
      const parts = [['memory', s.memory], ['done', done - s.memory], ['processing', s.processing], ['queued', s.queued], ['erred', s.erred]];
      for (const [name, n] of parts) {
        if (n > 0) bar.appendChild(el('span', { class: 'seg-' + name, style: 'width:' + (100 * n / total) + '%', title: name + ': ' + n }));
      }
      row.appendChild(bar);
      const extra = s.erred ? ', ' + s.erred + ' erred' : '';
      row.appendChild(el('span', { class: 'count' }, done + ' / ' + g.total + extra));
      return row;
    }));
  }

  // ---- the task stream: a row per worker thread, a colour per group ----
  const GUTTER = 150;
  function drawStream(canvas, tip, events, from, to) {
    const rows = [...new Set(events.map((e) => e.worker + '#' + e.thread))].sort();
    const ctx = canvas.getContext('2d');
    const width = canvas.clientWidth || 800;
    const rowHeight = Math.max(8, Math.min(28, Math.floor(230 / Math.max(rows.length, 1))));
    canvas.width = width;
    canvas.height = Math.max(60, rows.length * rowHeight + 20);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#4a5468';
    ctx.font = '11px system-ui';
    rows.forEach((r, i) => {
      const [worker, thread] = r.split('#');
      ctx.fillText(worker + ' · ' + thread, 2, i * rowHeight + rowHeight * 0.6);
    });
    const span = Math.max(to - from, 1);
    const x = (us) => GUTTER + ((us - from) / span) * (width - GUTTER - 4);
    const boxes = [];
    for (const e of events) {
      if (e.stop_us < from || e.start_us > to) continue;
      const r = rows.indexOf(e.worker + '#' + e.thread);
      const y = r * rowHeight;
      const x0 = x(e.start_us);
      const w = Math.max(1, x(e.stop_us) - x0);
      ctx.fillStyle = colour(e.group);
      ctx.fillRect(x0, y + 1, w, rowHeight * 0.7);
      for (const t of e.transfers) {
        ctx.fillStyle = '#d64545';
        ctx.fillRect(x(t.start_us), y + rowHeight * 0.75, Math.max(1, x(t.stop_us) - x(t.start_us)), rowHeight * 0.2);
      }
      boxes.push([x0, y, w, rowHeight, e]);
    }
    ctx.fillStyle = '#4a5468';
    ctx.font = '11px system-ui';
    ctx.fillText('+' + ((to - from) / 1e6).toFixed(2) + ' s', width - 60, canvas.height - 4);
    canvas.dataset.drawn = String(boxes.length);
    canvas.dataset.rows = String(rows.length);
    canvas.onmousemove = (m) => {
      const rect = canvas.getBoundingClientRect();
      const mx = m.clientX - rect.left;
      const my = m.clientY - rect.top;
      const hit = boxes.find(([bx, by, bw, bh]) => mx >= bx - 1 && mx <= bx + bw + 1 && my >= by && my <= by + bh);
      if (!hit) { tip.style.display = 'none'; return; }
      const e = hit[4];
      tip.textContent = e.key + ' · ' + ms(e.stop_us - e.start_us) + ' ms · ' + bytes(e.nbytes) + ' · ' + e.worker + ' thread ' + e.thread;
      tip.style.left = (mx + 16) + 'px';
      tip.style.top = (my + 30) + 'px';
      tip.style.display = 'block';
    };
  }

  function barRows(container, items, valueParts, label) {
    const max = Math.max(1, ...items.map((i) => i.scale));
    container.replaceChildren(...items.map((item) => {
      const row = el('div', { class: 'bar-row worker-row', 'data-worker': item.name });
      row.appendChild(el('span', { class: 'name', title: item.name }, item.name));
      const bar = el('div', { class: 'bar' });
      for (const [cls, n] of valueParts(item)) {
        if (n > 0) bar.appendChild(el('span', { class: cls, style: 'width:' + (100 * n / max) + '%' }));
      }
      row.appendChild(bar);
      row.appendChild(el('span', { class: 'count' }, label(item)));
      return row;
    }));
  }

  function drawStatus(stats) {
    drawProgress(stats.groups);
    // The last 15 s, or less while the stream is younger than that.
    const latest = state.events.reduce((m, e) => Math.max(m, e.stop_us), 0);
    const earliest = state.events.reduce((m, e) => Math.min(m, e.start_us), Infinity);
    const to = Math.max(latest, Date.now() * 1000);
    const from = Math.max(to - LIVE_WINDOW_US, Math.min(earliest, to - 1e6) - 2e5);
    drawStream($('task-stream'), $('tip'), state.events, from, to);
    const workers = stats.worker_status;
    barRows($('memory'), workers.map((w) => ({ name: w.addr, w, scale: Math.max(w.memory_limit, w.bytes_in_memory + w.bytes_spilled) })),
      (i) => [['seg-memory', i.w.bytes_in_memory], ['seg-spilled', i.w.bytes_spilled]],
      (i) => bytes(i.w.bytes_in_memory) + (i.w.bytes_spilled ? ' + ' + bytes(i.w.bytes_spilled) + ' spilled' : ''));
    barRows($('processing'), workers.map((w) => ({ name: w.addr, w, scale: w.nthreads + 32 })),
      (i) => [['seg-processing', i.w.processing]], (i) => String(i.w.processing));
  }

  function drawWorkers(stats) {
    fillTable(document.querySelector('#workers-table tbody'), stats.worker_status.map((w) => [
      w.addr, w.nthreads, w.processing, w.metrics.executing, w.metrics.ready, w.keys_held, bytes(w.bytes_in_memory),
      bytes(w.bytes_spilled), w.memory_limit ? bytes(w.memory_limit) : '—', bytes(w.metrics.rss),
      w.metrics.cpu_percent.toFixed(0) + '%', bytes(w.metrics.bytes_received), bytes(w.metrics.bytes_sent),
      resources(w), w.last_seen_s.toFixed(1) + ' s']));
  }

  // "GPU 1/2": what running tasks leave free of each resource the worker declared.
  function resources(w) {
    const amount = (x) => (Number.isInteger(x) ? String(x) : x.toPrecision(3));
    return w.resources.map(([name, total], i) => name + ' ' + amount(w.resources_free[i]) + '/' + amount(total)).join(', ') || '—';
  }

  // ---- graph: task groups layered by dependency ----
  function drawGraph(groups) {
    const svg = $('graph');
    const byName = new Map(groups.map((g) => [g.name, g]));
    const layer = new Map();
    const depth = (g, seen) => {
      if (layer.has(g.name)) return layer.get(g.name);
      if (seen.has(g.name)) return 0;
      seen.add(g.name);
      const deps = g.dependencies.map((d) => byName.get(d)).filter(Boolean);
      const d = deps.length ? 1 + Math.max(...deps.map((x) => depth(x, seen))) : 0;
      layer.set(g.name, d);
      return d;
    };
    groups.forEach((g) => depth(g, new Set()));
    const columns = [];
    for (const g of groups) (columns[layer.get(g.name)] = columns[layer.get(g.name)] || []).push(g);
    const width = svg.clientWidth || 900;
    const tallest = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
    const height = Math.max(200, Math.min(4000, tallest * 40 + 40));
    svg.setAttribute('height', String(height));
    const pos = new Map();
    columns.forEach((col, i) => (col || []).forEach((g, j) => {
      pos.set(g.name, [40 + (i + 0.5) * ((width - 80) / columns.length), 20 + (j + 0.5) * ((height - 40) / col.length)]);
    }));
    const ns = 'http://www.w3.org/2000/svg';
    const make = (tag, attrs) => { const n = document.createElementNS(ns, tag); for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v); return n; };
    const nodes = [];
    for (const g of groups) {
      const [x, y] = pos.get(g.name);
      for (const d of g.dependencies) {
        const p = pos.get(d);
        if (p) nodes.push(make('line', { x1: p[0], y1: p[1], x2: x, y2: y, stroke: '#b9c3d6' }));
      }
    }
    for (const g of groups) {
      const [x, y] = pos.get(g.name);
      const done = groupDone(g);
      const st = g.states.erred ? 'erred' : done >= g.total ? 'done' : g.states.processing ? 'running' : 'waiting';
      const node = make('g', { class: 'node', 'data-group': g.name, 'data-state': st });
      const r = 11;
      node.appendChild(make('circle', { cx: x, cy: y, r, fill: '#eef0f4', stroke: g.states.erred ? '#d64545' : '#4a5468', 'stroke-width': g.states.erred ? 3 : 1 }));
      const f = g.total ? done / g.total : 0;
      node.appendChild(make('circle', { cx: x, cy: y, r: Math.max(0.1, r * Math.sqrt(f)), fill: colour(g.name) }));
      const label = make('text', { x: x + 14, y: y + 4 });
      label.textContent = g.name + ' ' + done + '/' + g.total;
      node.appendChild(label);
      nodes.push(node);
    }
    svg.replaceChildren(...nodes);
  }

  function infoRows(s) {
    return [
      ['address', s.address], ['version', s.version], ['uptime', s.uptime_s.toFixed(0) + ' s'],
      ['workers', s.workers], ['threads', s.worker_status.reduce((n, w) => n + w.nthreads, 0)],
      ['tasks done', s.tasks_done], ['tasks known', s.tasks_known], ['throughput', s.throughput.toFixed(1) + ' tasks/s'],
      ['event loop latency', ms(s.event_loop_latency_us) + ' ms'], ['tasks recomputed', s.tasks_recomputed],
      ['workers lost', s.workers_lost], ['bytes moved', bytes(s.bytes_fetched_by_copy + s.bytes_fetched_by_reference)],
      ['bytes in memory', bytes(s.bytes_in_memory)], ['bytes spilled', bytes(s.bytes_spilled)],
    ];
  }

  function drawInfo(stats) {
    const tbody = document.querySelector('#info tbody');
    tbody.replaceChildren(...infoRows(stats).map(([k, v]) => {
      const tr = el('tr', { 'data-field': k });
      tr.appendChild(el('td', {}, k));
      tr.appendChild(el('td', {}, String(v)));
      return tr;
    }));
  }

  function summarize(stats) {
    const totals = stats.groups.reduce((a, g) => [a[0] + groupDone(g), a[1] + g.total], [0, 0]);
    $('summary').textContent = stats.workers + ' workers · ' + totals[0] + '/' + totals[1] + ' tasks · ' + stats.throughput.toFixed(0) + ' tasks/s';
  }

  function render() {
    const stats = state.stats;
    if (!stats) return;
    summarize(stats);
    if (view === 'status') drawStatus(stats);
    else if (view === 'workers') drawWorkers(stats);
    else if (view === 'graph') drawGraph(stats.groups);
    else if (view === 'info') drawInfo(stats);
  }

  // ---- a performance report: everything drawn once from the embedded data ----
  function drawReport(data) {
    state.stats = data.stats;
    state.events = data.events;
    state.samples = data.samples;
    summarize(data.stats);
    $('connection').textContent = 'report';
    $('connection').className = '';
    const events = data.events;
    const compute = events.reduce((n, e) => n + (e.stop_us - e.start_us), 0);
    const transfers = events.flatMap((e) => e.transfers.map((t) => Object.assign({ to: e.worker }, t)));
    fillTable(document.querySelector('#report-summary tbody'), [
      ['duration', ((data.stop_us - data.start_us) / 1e6).toFixed(3) + ' s'], ['tasks submitted (graph size)', data.tasks_submitted],
      ['tasks run (recomputations included)', events.length],
      ['compute time', (compute / 1e6).toFixed(3) + ' s'], ['transfers', transfers.length],
      ['bytes transferred', bytes(transfers.reduce((n, t) => n + t.nbytes, 0))],
      ['task events lost (the ring wrapped)', data.events_lost], ['workers', data.stats.workers], ['written', new Date(data.stop_us / 1000).toISOString()],
    ]);
    drawStream($('report-stream'), $('report-tip'), events, data.start_us, data.stop_us);
    const groups = new Map();
    for (const e of events) {
      const g = groups.get(e.group) || { n: 0, total: 0, max: 0, bytes: 0 };
      const d = e.stop_us - e.start_us;
      g.n += 1; g.total += d; g.max = Math.max(g.max, d); g.bytes += e.nbytes;
      groups.set(e.group, g);
    }
    const durations = [...groups.entries()].sort((a, b) => b[1].total - a[1].total);
    const tbody = document.querySelector('#durations tbody');
    fillTable(tbody, durations.map(([name, g]) => [name, g.n, (g.total / 1e6).toFixed(3), ms(g.total / g.n), ms(g.max), bytes(g.bytes)]));
    [...tbody.rows].forEach((tr, i) => tr.setAttribute('data-group', durations[i][0]));
    const routes = new Map();
    for (const t of transfers) {
      const k = t.from + ' → ' + t.to;
      const r = routes.get(k) || { from: t.from, to: t.to, n: 0, bytes: 0, us: 0 };
      r.n += 1; r.bytes += t.nbytes; r.us += t.stop_us - t.start_us;
      routes.set(k, r);
    }
    fillTable(document.querySelector('#transfers tbody'), [...routes.values()].map((r) => [r.from, r.to, r.n, bytes(r.bytes), (r.us / 1e6).toFixed(3)]));
    drawMemoryOverTime($('memory-time'), data.samples, data.start_us, data.stop_us);
    fillTable(document.querySelector('#report-scheduler tbody'), infoRows(data.stats));
  }

  function drawMemoryOverTime(canvas, samples, from, to) {
    const ctx = canvas.getContext('2d');
    const width = canvas.clientWidth || 800;
    canvas.width = width;
    const height = canvas.height;
    ctx.clearRect(0, 0, width, height);
    const workers = [...new Set(samples.map((s) => s.worker))];
    const max = Math.max(1, ...samples.map((s) => Math.max(s.rss, s.bytes_in_memory + s.bytes_spilled)));
    const x = (us) => ((us - from) / Math.max(to - from, 1)) * (width - 10) + 5;
    const y = (v) => height - 16 - (v / max) * (height - 30);
    workers.forEach((w) => {
      const mine = samples.filter((s) => s.worker === w);
      for (const [field, dash] of [['bytes_in_memory', []], ['rss', [4, 3]]]) {
        ctx.beginPath();
        ctx.setLineDash(dash);
        ctx.strokeStyle = colour(w);
        mine.forEach((s, i) => (i ? ctx.lineTo(x(s.time_us), y(s[field])) : ctx.moveTo(x(s.time_us), y(s[field]))));
        ctx.stroke();
      }
    });
    ctx.setLineDash([]);
    ctx.fillStyle = '#4a5468';
    ctx.font = '11px system-ui';
    ctx.fillText('max ' + bytes(max) + ' · solid: results in memory, dashed: RSS · ' + workers.length + ' workers', 8, height - 3);
    canvas.dataset.lines = String(workers.length);
  }

  function show() {
    for (const section of document.querySelectorAll('.view')) section.classList.toggle('shown', section.id === 'view-' + view);
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.view === view);
    if (report) document.querySelector('nav').style.display = 'none';
  }

  function connect() {
    const source = new EventSource('/events');
    source.addEventListener('update', (message) => {
      const update = JSON.parse(message.data);
      state.stats = update.stats;
      for (const e of update.events) {
        if (e.seq > state.lastSeq) { state.events.push(e); state.lastSeq = e.seq; }
      }
      if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
      state.samples.push(...update.samples);
      state.updates += 1;
      $('connection').textContent = 'live';
      $('connection').className = '';
      render();
    });
    source.onerror = () => { $('connection').textContent = 'disconnected'; $('connection').className = 'off'; };
  }

  show();
  if (report) drawReport(report); else connect();
})();
