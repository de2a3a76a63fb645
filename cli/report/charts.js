/**
 * The browser side of the report (`renderReport`) and of `selfcal dashboard`: draws a ReportData
 * (cli/report/report-data.ts) with uPlot. Plain ES5-style script, inlined into both pages next to uPlot;
 * it defines `window.SelfcalCharts.render(root, data, options)`, which may be called again with new data (the
 * dashboard does, every few seconds): charts whose series are the same are updated in place.
 *
 * Every chart's container says what it drew, for tests and scripts: `data-chart` (its id), `data-points`
 * (points handed to uPlot, all series together), `data-state` (`drawn` or `no-data`) and `data-colors`
 * (the stroke colours of the series that have points, as JSON). A chart whose series are all empty shows
 * "no data" instead of an empty frame.
 */
(function (global) {
  'use strict';

  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#e377c2', '#8c564b'];
  var HEALTH_NAMES = ['healthy', 'suspect', 'degraded', 'unknown'];
  var HEIGHT = 220;

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }

  /** Series of [{t, v}] → uPlot's aligned columns: the union of the times, null where a series has none. */
  function align(columns) {
    var times = {};
    columns.forEach(function (points) {
      points.forEach(function (p) {
        times[p.t] = true;
      });
    });
    var xs = Object.keys(times)
      .map(Number)
      .sort(function (a, b) {
        return a - b;
      });
    var index = {};
    xs.forEach(function (t, i) {
      index[t] = i;
    });
    var out = [xs];
    columns.forEach(function (points) {
      var ys = new Array(xs.length).fill(null);
      points.forEach(function (p) {
        if (typeof p.v === 'number' && isFinite(p.v)) ys[index[p.t]] = p.v;
      });
      out.push(ys);
    });
    return out;
  }

  /** Axis labels that stay readable for frictions (1e-4) as for tensions (150). */
  function formatValue(v) {
    if (v === 0) return '0';
    var a = Math.abs(v);
    return a < 0.01 || a >= 1e6 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
  }

  function pick(points, field) {
    return (points || []).map(function (p) {
      return { t: p.t, v: p[field] };
    });
  }

  function countPoints(spec) {
    return spec.series.reduce(function (n, s) {
      return (
        n +
        s.points.filter(function (p) {
          return typeof p.v === 'number' && isFinite(p.v);
        }).length
      );
    }, 0);
  }

  /** A band: three series (mean, lo, hi) in one colour; the area between lo and hi is filled. */
  function bandSeries(label, points, color) {
    return [
      { label: label, points: pick(points, 'mean'), color: color, width: 2 },
      { label: label + ' lo', points: pick(points, 'lo'), color: color, width: 1, dash: [4, 3], bandOf: 1 },
      { label: label + ' hi', points: pick(points, 'hi'), color: color, width: 1, dash: [4, 3], bandOf: 2 },
    ];
  }

  function uplotOptions(spec, width, withPoints) {
    var series = [{ label: 'time' }];
    var bands = [];
    withPoints.forEach(function (s, i) {
      var idx = i + 1;
      var opts = {
        label: s.label,
        stroke: s.color,
        width: s.width || 1.5,
        spanGaps: true,
        points: { show: false },
      };
      if (s.dash) opts.dash = s.dash;
      if (spec.stepped) opts.paths = global.uPlot.paths.stepped({ align: 1 });
      series.push(opts);
      // lo, hi follow their mean: fill between hi (idx) and lo (idx - 1).
      if (s.bandOf === 2) bands.push({ series: [idx, idx - 1], fill: rgba(s.color, 0.18) });
    });
    var opts = {
      width: width,
      height: HEIGHT,
      series: series,
      bands: bands,
      legend: { show: true },
      scales: { x: { time: true } },
      axes: [{}, { label: spec.yLabel || '', size: 70 }],
    };
    if (spec.yRange) opts.scales.y = { range: spec.yRange };
    opts.axes[1].values =
      spec.yValues ||
      function (u, splits) {
        return splits.map(formatValue);
      };
    if (spec.ySplits) opts.axes[1].splits = spec.ySplits;
    return opts;
  }

  function chartKey(spec) {
    return spec.series
      .map(function (s) {
        return s.label + (s.points.length > 0 ? '+' : '-');
      })
      .join('|');
  }

  /** Draws one chart into its container (made on first use), or says "no data" where every series is empty. */
  function drawChart(root, state, spec) {
    var box = state.boxes[spec.id];
    if (!box) {
      box = el('section', 'chart');
      box.setAttribute('data-chart', spec.id);
      box.appendChild(el('h3', 'chart-title'));
      box.appendChild(el('div', 'chart-body'));
      root.appendChild(box);
      state.boxes[spec.id] = box;
    }
    box.querySelector('.chart-title').textContent = spec.title;
    box.classList.toggle('alert', !!spec.alert);
    var body = box.querySelector('.chart-body');
    var total = countPoints(spec);
    box.setAttribute('data-points', String(total));
    // A band whose mean is empty is left out with it (its lo/hi would be too).
    var withPoints = spec.series.filter(function (s) {
      return s.points.length > 0;
    });
    var old = state.plots[spec.id];
    if (total === 0) {
      if (old) old.plot.destroy();
      delete state.plots[spec.id];
      body.textContent = '';
      body.appendChild(el('p', 'no-data', 'no data' + (spec.emptyNote ? ' — ' + spec.emptyNote : '')));
      box.setAttribute('data-state', 'no-data');
      box.setAttribute('data-colors', '[]');
      return;
    }
    var data = align(
      withPoints.map(function (s) {
        return s.points;
      }),
    );
    var key = chartKey(spec);
    if (old && old.key === key) {
      old.plot.setData(data);
    } else {
      if (old) old.plot.destroy();
      body.textContent = '';
      var width = Math.max(320, (root.clientWidth || 960) - 24);
      state.plots[spec.id] = {
        key: key,
        plot: new global.uPlot(uplotOptions(spec, width, withPoints), data, body),
      };
    }
    box.setAttribute('data-state', 'drawn');
    box.setAttribute(
      'data-colors',
      JSON.stringify(
        withPoints.map(function (s) {
          return s.color;
        }),
      ),
    );
  }

  function healthAlert(data, roller) {
    var h = (data.health || []).filter(function (x) {
      return x.roller === roller;
    })[0];
    return (
      !!h &&
      h.points.some(function (p) {
        return p.v === 1 || p.v === 2;
      })
    );
  }

  function chartSpecs(data, notes) {
    var specs = [];
    (data.tensions || []).forEach(function (c) {
      specs.push({
        id: 'tension:' + c.signal,
        group: 'tensions',
        title: c.signal + ' measured vs ' + c.virtualName + ' (±σ)',
        yLabel: 'N',
        series: [{ label: c.signal, points: c.measured || [], color: PALETTE[0], width: 1 }].concat(
          bandSeries(c.virtualName, c.virtual, PALETTE[1]),
        ),
      });
    });
    (data.frictions || []).forEach(function (f) {
      var alert = healthAlert(data, f.roller);
      specs.push({
        id: 'friction:' + f.parameter,
        group: 'frictions',
        alert: alert,
        title:
          f.parameter +
          ' (' +
          f.roller +
          ' bearing friction, N·m·s)' +
          (alert ? ' — left the healthy band (suspect or degraded)' : ''),
        yLabel: 'b',
        series: bandSeries('cloud (p05–p95)', f.cloud, PALETTE[3])
          .concat(bandSeries('edge (p05–p95)', f.edge, PALETTE[4]))
          .concat([{ label: 'truth', points: f.truth || [], color: PALETTE[2], width: 2 }]),
      });
    });
    specs.push({
      id: 'health',
      group: 'health',
      title: 'Roller health (0 healthy, 1 suspect, 2 degraded, 3 unknown)',
      stepped: true,
      yRange: [-0.2, 3.2],
      ySplits: function () {
        return [0, 1, 2, 3];
      },
      yValues: function (u, splits) {
        return splits.map(function (v) {
          return HEALTH_NAMES[v] || '';
        });
      },
      series: (data.health || []).map(function (h, i) {
        return { label: h.roller, points: h.points || [], color: PALETTE[i % PALETTE.length], width: 2 };
      }),
    });
    specs.push({
      id: 'backlog',
      group: 'backlog',
      title: 'Edge outbox backlog (readings waiting for SiteWise)',
      yLabel: 'readings',
      emptyNote: notes.backlog,
      series: [{ label: 'backlog', points: data.backlog || [], color: PALETTE[5], width: 2 }],
    });
    return specs;
  }

  function renderSummary(root, summary) {
    var table = root.querySelector('table.summary');
    if (!table) {
      table = el('table', 'summary');
      root.appendChild(table);
    }
    table.textContent = '';
    Object.keys(summary || {}).forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('th', '', k));
      tr.appendChild(el('td', '', String(summary[k])));
      table.appendChild(tr);
    });
  }

  var GROUPS = [
    ['tensions', 'Tensions: load cells against the virtual sensors'],
    ['frictions', 'Bearing frictions b: posterior bands and the truth'],
    ['health', 'Health'],
    ['backlog', 'Edge outbox'],
    ['summary', 'Summary'],
  ];

  /**
   * Draws `data` into `root` (an element); call again with new data to update. `options.notes` may say why
   * a chart has no data (`{ backlog: '…' }`).
   */
  function render(root, data, options) {
    var notes = (options && options.notes) || {};
    var state = root.__selfcal;
    if (!state) {
      state = root.__selfcal = { boxes: {}, plots: {}, groups: {} };
      root.textContent = '';
      var header = el('header', 'report-header');
      header.appendChild(el('h1', 'report-title'));
      header.appendChild(el('p', 'report-meta'));
      root.appendChild(header);
      GROUPS.forEach(function (g) {
        var section = el('div', 'group');
        section.setAttribute('data-group', g[0]);
        section.appendChild(el('h2', '', g[1]));
        root.appendChild(section);
        state.groups[g[0]] = section;
      });
    }
    root.querySelector('.report-title').textContent = data.title;
    root.querySelector('.report-meta').textContent =
      'line ' + data.lineId + ' · data as of ' + data.generatedAt;
    var specs = chartSpecs(data, notes);
    var wanted = {};
    specs.forEach(function (s) {
      wanted[s.id] = true;
      drawChart(state.groups[s.group], state, s);
    });
    Object.keys(state.boxes).forEach(function (id) {
      if (wanted[id]) return;
      if (state.plots[id]) state.plots[id].plot.destroy();
      state.boxes[id].remove();
      delete state.boxes[id];
      delete state.plots[id];
    });
    renderSummary(state.groups.summary, data.summary);
  }

  global.SelfcalCharts = { render: render };
})(window);
