// Draws every chart of report.html as inline SVG from the report's own JSON (no library: the file must open offline).
// Each chart element gets data-rendered="true" and data-series="N" once drawn, so a headless browser test can check it.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = { floor: '#1c7ed6', sidecars: '#e8590c', 'sidecars-jit': '#7048e8' };
  var W = 560, H = 260, M = { l: 56, r: 14, t: 10, b: 38 };

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function html(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }
  function color(name) { return COLORS[name] || '#495057'; }
  function fmt(v, d) { return v === null || v === undefined ? '–' : Number(v).toFixed(d === undefined ? 2 : d); }
  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function box(parent, title, kind) {
    var d = html('div', { 'class': 'chart', 'data-chart': kind }, parent);
    html('div', { 'class': 'title' }, d, title);
    return d;
  }
  function done(d, series) {
    d.setAttribute('data-series', String(series));
    d.setAttribute('data-rendered', 'true');
  }
  function empty(d, why) { html('div', { 'class': 'empty' }, d, why); done(d, 0); }
  function legend(d, names) {
    var l = html('div', { 'class': 'legend' }, d);
    names.forEach(function (n) {
      var s = html('span', {}, l);
      var i = html('i', {}, s); i.style.background = color(n.split(' ')[0]);
      s.appendChild(document.createTextNode(n));
    });
  }

  // A line chart: series = [{ name, points: [[x, y]], dash }]; xTicks = [[value, label]].
  function lineChart(parent, title, kind, series, o) {
    var d = box(parent, title, kind);
    series = series.filter(function (s) { return s.points.length > 0; });
    if (series.length === 0) { empty(d, o.emptyText || 'no data in this run'); return; }
    var xs = [], ys = [];
    series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    var x0 = o.xMin !== undefined ? o.xMin : Math.min.apply(null, xs);
    var x1 = o.xMax !== undefined ? o.xMax : Math.max.apply(null, xs);
    if (x1 <= x0) { x1 = x0 + 1; }
    var y1 = niceMax(Math.max.apply(null, ys));
    var g = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, d);
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    function X(v) { return M.l + (v - x0) / (x1 - x0) * pw; }
    function Y(v) { return M.t + ph - v / y1 * ph; }
    for (var i = 0; i <= 4; i++) {
      var yv = y1 * i / 4;
      svg('line', { x1: M.l, x2: W - M.r, y1: Y(yv), y2: Y(yv), stroke: '#e9ecef' }, g);
      svg('text', { x: M.l - 6, y: Y(yv) + 4, 'text-anchor': 'end' }, g).textContent = fmt(yv, yv < 10 ? 2 : 0);
    }
    var ticks = o.xTicks || [0, 0.25, 0.5, 0.75, 1].map(function (f) { var v = x0 + f * (x1 - x0); return [v, fmt(v, x1 - x0 < 8 ? 1 : 0)]; });
    ticks.forEach(function (t) {
      svg('line', { x1: X(t[0]), x2: X(t[0]), y1: M.t, y2: M.t + ph, stroke: '#f1f3f5' }, g);
      var anchor = X(t[0]) > W - M.r - 20 ? 'end' : 'middle';
      svg('text', { x: X(t[0]), y: H - M.b + 14, 'text-anchor': anchor }, g).textContent = t[1];
    });
    svg('text', { x: M.l + pw / 2, y: H - 6, 'text-anchor': 'middle' }, g).textContent = o.xLabel;
    svg('text', { x: 12, y: M.t + ph / 2, 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (M.t + ph / 2) + ')' }, g).textContent = o.yLabel;
    svg('rect', { x: M.l, y: M.t, width: pw, height: ph, fill: 'none', stroke: '#adb5bd' }, g);
    series.forEach(function (s) {
      var path = s.points.map(function (p, j) { return (j ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1); }).join(' ');
      var attrs = { d: path, fill: 'none', stroke: color(s.name), 'stroke-width': 2, 'data-series-name': s.name };
      if (s.dash) { attrs['stroke-dasharray'] = '5 3'; }
      svg('path', attrs, g);
    });
    legend(d, series.map(function (s) { return s.name + (s.label ? ' ' + s.label : ''); }));
    done(d, series.length);
  }

  // A grouped bar chart: groups = [{ label, bars: [{ name, value }] }].
  function barChart(parent, title, kind, groups, yLabel) {
    var d = box(parent, title, kind);
    var names = [];
    groups.forEach(function (gr) { gr.bars.forEach(function (b) { if (names.indexOf(b.name) < 0) { names.push(b.name); } }); });
    if (groups.length === 0 || names.length === 0) { empty(d, 'no data in this run'); return; }
    var max = 0;
    groups.forEach(function (gr) { gr.bars.forEach(function (b) { max = Math.max(max, b.value); }); });
    var y1 = niceMax(max);
    var g = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, d);
    var pw = W - M.l - M.r, ph = H - M.t - M.b;
    function Y(v) { return M.t + ph - v / y1 * ph; }
    for (var i = 0; i <= 4; i++) {
      var yv = y1 * i / 4;
      svg('line', { x1: M.l, x2: W - M.r, y1: Y(yv), y2: Y(yv), stroke: '#e9ecef' }, g);
      svg('text', { x: M.l - 6, y: Y(yv) + 4, 'text-anchor': 'end' }, g).textContent = yv >= 10000 ? (yv / 1000).toFixed(yv % 1000 ? 1 : 0) + 'k' : fmt(yv, yv < 1 ? 2 : yv % 1 ? 1 : 0);
    }
    var gw = pw / groups.length, bw = Math.min(40, gw * 0.8 / names.length);
    groups.forEach(function (gr, gi) {
      var cx = M.l + gw * gi + gw / 2;
      gr.bars.forEach(function (b) {
        var k = names.indexOf(b.name), x = cx - bw * names.length / 2 + k * bw;
        svg('rect', { x: x, y: Y(b.value), width: bw - 2, height: Math.max(0, M.t + ph - Y(b.value)), fill: color(b.name), 'data-series-name': b.name }, g);
      });
      svg('text', { x: cx, y: H - M.b + 14, 'text-anchor': 'middle' }, g).textContent = gr.label;
    });
    svg('text', { x: 12, y: M.t + ph / 2, 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (M.t + ph / 2) + ')' }, g).textContent = yLabel;
    svg('rect', { x: M.l, y: M.t, width: pw, height: ph, fill: 'none', stroke: '#adb5bd' }, g);
    legend(d, names);
    done(d, names.length);
  }

  function table(parent, kind, head, rows) {
    var t = html('table', { 'data-chart': kind }, parent);
    var tr = html('tr', {}, t);
    head.forEach(function (h, i) { html('th', i === 0 ? { 'class': 'l' } : {}, tr, h); });
    rows.forEach(function (r) {
      var row = html('tr', {}, t);
      r.forEach(function (c, i) {
        var attrs = {};
        if (i === 0 || (c && c.cls)) { attrs['class'] = (i === 0 ? 'l ' : '') + (c && c.cls ? c.cls : ''); }
        html('td', attrs, row, c && c.text !== undefined ? c.text : String(c));
      });
    });
    done(t, rows.length);
    return t;
  }

  // -log10(1 - p): 0 at p0, 1 at p90, 2 at p99 ... the usual HDR percentile axis; p99.999 and above (the max) sit on its right edge.
  function pctX(p) { return -Math.log10(Math.max(1e-5, 1 - Math.min(p, 99.999) / 100)); }
  var PCT_TICKS = [[0, '0'], [1, '90'], [2, '99'], [3, '99.9'], [4, '99.99'], [5, '99.999']];

  function judged(scenario, target) {
    return data.runs.filter(function (r) {
      var role = (r.notes || {}).role;
      return r.scenario === scenario && r.target === target && r.mode === 'open' && (role === 'judged' || role === 'jit');
    })[0];
  }

  var root = document.getElementById('report');
  var m = data.machine, b = data.build;
  html('h1', {}, root, 'Sidecars load report (' + data.profile + ')');
  html('div', { 'class': 'meta' }, root, data.generated + ' · ' + m.cores + ' cores, ' + (m.memory_bytes / 1073741824).toFixed(1) + ' GiB, ' + m.cpu_model + ', kernel ' + m.kernel);
  html('div', { 'class': 'meta' }, root, 'commit ' + b.git_commit + ' · .NET ' + b.dotnet_version + ' · sidecars ' + b.sidecars_build + ' (GC ' + b.sidecars_gc + ') · floor GC ' + b.floor_gc);
  if (data.cpu_placement) {
    html('div', { 'class': 'meta' }, root, 'CPUs: ' + data.cpu_placement);
  }
  if (data.generator_cap) {
    html('div', { 'class': 'meta' }, root, 'generator cap: ' + fmt(data.generator_cap.calls_per_second, 0) + ' calls/s (' + data.generator_cap.how + ')');
  }

  html('h2', {}, root, 'Budgets');
  table(root, 'verdicts', ['budget', 'scenario', 'verdict', 'measured', 'limit', 'detail'], data.verdicts.map(function (v) {
    return [v.budget, v.scenario, { text: v.result, cls: v.result }, fmt(v.measured, 3), fmt(v.limit, 3), v.detail];
  }));

  html('h2', {}, root, 'Scenarios (sidecars / floor)');
  table(root, 'summary', ['scenario', 'max req/s sidecars', 'floor', 'ratio', 'open-loop rate', 'p50 ms', 'p99 ms', 'floor p99', 'p99 ratio', 'p99.9 ms', 'floor p99.9', 'max ms', 'errors', 'unanswered'],
    data.scenarios.map(function (s) {
      var t = s.max_throughput, sc = s.sidecars || {}, fl = s.floor || {}, r = s.ratios || {};
      return [s.scenario, t ? fmt(t.sidecars_rps, 0) : '–', t ? fmt(t.floor_rps, 0) : '–', t ? fmt(t.ratio, 3) : '–', fmt(s.offered_rate, 0),
        fmt(sc.p50, 3), fmt(sc.p99, 3), fmt(fl.p99, 3), fmt(r.p99, 2), fmt(sc.p999, 3), fmt(fl.p999, 3), fmt(sc.max, 2),
        (sc.errors || 0) + (sc.unexpected || 0) + ' / ' + ((fl.errors || 0) + (fl.unexpected || 0)), (sc.unanswered || 0) + ' / ' + (fl.unanswered || 0)];
    }));

  var rounds = [];
  data.scenarios.forEach(function (s) {
    ((s.max_throughput && s.max_throughput.rounds) || []).forEach(function (r, i) {
      rounds.push([s.scenario, i + 1, r.first + ' first', fmt(r.sidecars_rps, 0), fmt(r.floor_rps, 0), fmt(r.ratio, 3)]);
    });
  });
  if (rounds.length) {
    html('h2', {}, root, 'Max throughput rounds (h2load; the verdict takes the median ratio)');
    table(root, 'rounds', ['scenario', 'round', 'order', 'sidecars req/s', 'floor req/s', 'ratio'], rounds);
  }

  var openRounds = [];
  data.scenarios.forEach(function (s) {
    (s.open_rounds || []).forEach(function (r, i) {
      openRounds.push([s.scenario, i + 1, fmt(r.sidecars_p99, 3), fmt(r.floor_p99, 3), fmt(r.sidecars_p999, 3), fmt(r.floor_p999, 3), r.fell_behind ? 'generator fell behind' : '']);
    });
  });
  if (openRounds.length) {
    html('h2', {}, root, 'Open-loop rounds (each target judged on its median round by p99)');
    table(root, 'open-rounds', ['scenario', 'round', 'sidecars p99', 'floor p99', 'sidecars p99.9', 'floor p99.9', 'note'], openRounds);
  }

  html('h2', {}, root, 'Throughput, errors, startup, memory');
  var row = html('div', { 'class': 'row' }, root);
  barChart(row, 'Max throughput (h2load, closed loop), req/s', 'throughput', data.scenarios.filter(function (s) { return s.max_throughput; }).map(function (s) {
    return { label: s.scenario, bars: [{ name: 'floor', value: s.max_throughput.floor_rps }, { name: 'sidecars', value: s.max_throughput.sidecars_rps }] };
  }), 'req/s');
  barChart(row, 'Errors + unexpected + unanswered (open loop)', 'errors', data.scenarios.filter(function (s) { return s.sidecars && s.floor; }).map(function (s) {
    function bad(f) { return f.errors + f.unexpected + f.unanswered; }
    return { label: s.scenario, bars: [{ name: 'floor', value: bad(s.floor) }, { name: 'sidecars', value: bad(s.sidecars) }] };
  }), 'calls');
  barChart(row, 'Start to first allowed Check, ms (median)', 'startup', data.startup.length ? [{ label: 'median', bars: data.startup.map(function (s) { return { name: s.target, value: s.median_milliseconds }; }) }] : [], 'ms');
  barChart(row, 'RSS, MB (idle, after the check-cached load)', 'memory', data.memory.length ? [
    { label: 'idle', bars: data.memory.map(function (mm) { return { name: mm.target, value: mm.idle_rss_bytes / 1048576 }; }) },
    { label: 'after load', bars: data.memory.map(function (mm) { return { name: mm.target, value: mm.after_load_rss_bytes / 1048576 }; }) }] : [], 'MB');

  data.scenarios.forEach(function (s) {
    html('h2', {}, root, s.scenario + ' — open loop at ' + fmt(s.offered_rate, 0) + ' calls/s');
    var r2 = html('div', { 'class': 'row' }, root);
    var targets = ['floor', 'sidecars', 'sidecars-jit'];
    var runs = targets.map(function (t) { return { t: t, run: judged(s.scenario, t) }; }).filter(function (x) { return x.run; });
    lineChart(r2, 'HDR percentile curve, latency ms', 'percentile-curve', runs.map(function (x) {
      return { name: x.t, points: x.run.curve.map(function (p) { return [pctX(p.percentile), p.milliseconds]; }) };
    }), { xMin: 0, xMax: 5, xTicks: PCT_TICKS, xLabel: 'percentile', yLabel: 'ms' });
    var lat = [];
    runs.forEach(function (x) {
      lat.push({ name: x.t, label: 'p99', points: x.run.timeline.map(function (p) { return [p.second, p.p99]; }) });
      lat.push({ name: x.t, label: 'p50', dash: true, points: x.run.timeline.map(function (p) { return [p.second, p.p50]; }) });
    });
    lineChart(r2, 'Latency over time (p99 solid, p50 dashed), ms', 'latency-timeline', lat, { xLabel: 'second', yLabel: 'ms' });
    lineChart(r2, 'Throughput over time, answered calls/s', 'throughput-timeline', runs.map(function (x) {
      return { name: x.t, points: x.run.timeline.map(function (p) { return [p.second, p.answered]; }) };
    }), { xLabel: 'second', yLabel: 'calls/s' });
    lineChart(r2, 'Errors over time, calls/s', 'errors-timeline', runs.map(function (x) {
      return { name: x.t, points: x.run.timeline.map(function (p) { return [p.second, p.errors]; }) };
    }), { xLabel: 'second', yLabel: 'errors/s' });
  });

  if (data.soak) {
    var k = data.soak;
    html('h2', {}, root, 'Soak: ' + k.scenario + ' at ' + fmt(k.rate, 0) + ' calls/s for ' + fmt(k.minutes, 1) + ' min — ' + k.trend);
    var r3 = html('div', { 'class': 'row' }, root);
    lineChart(r3, 'RSS and managed heap, MB', 'soak-memory', [
      { name: 'sidecars', label: 'RSS', points: k.samples.map(function (p) { return [p.at_seconds, p.rss_bytes / 1048576]; }) },
      { name: 'sidecars', label: 'heap', dash: true, points: k.samples.map(function (p) { return [p.at_seconds, p.heap_bytes / 1048576]; }) }],
      { xLabel: 'second', yLabel: 'MB' });
    lineChart(r3, 'GC pause, total ms', 'soak-gc', [{ name: 'sidecars', points: k.samples.map(function (p) { return [p.at_seconds, p.gc_pause_milliseconds]; }) }], { xLabel: 'second', yLabel: 'ms' });
  }

  if (data.notes.length) {
    html('h2', {}, root, 'Notes');
    var ul = html('ul', { 'class': 'notes' }, root);
    data.notes.forEach(function (n) { html('li', {}, ul, n); });
  }
  document.body.setAttribute('data-report-rendered', 'true');
})();
