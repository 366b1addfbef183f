// Bitrate over the last five minutes, drawn with uPlot (window.uPlot, loaded
// by a classic <script>). Points come from two places: the live snapshots
// (one per second while the page is open) and, at load, the metric history
// the server kept (`dashboard/api/history`), so a page opened mid-event shows
// what came before it when the metrics are there.

export const WINDOW_S = 300;
// The shortest span drawn while the page has seen less than WINDOW_S.
const MIN_SPAN_S = 60;

const COLOURS = ['#58a6ff', '#f0883e', '#bc8cff', '#56d4dd'];
const HEIGHT = 120;

// Per-second series with aligned x values, trimmed to WINDOW_S.
export class Series {
  constructor(names) {
    this.names = names;
    this.x = [];
    this.ys = names.map(() => []);
  }

  // Sets the values of second `t` (unix seconds); later values of the same
  // second replace earlier ones.
  put(t, values) {
    let i = this.x.length - 1;
    if (i < 0 || this.x[i] < t) {
      this.x.push(t);
      this.ys.forEach((y) => y.push(null));
      i = this.x.length - 1;
    } else if (this.x[i] !== t) {
      i = this.x.findIndex((x) => x >= t);
      if (this.x[i] !== t) {
        this.x.splice(i, 0, t);
        this.ys.forEach((y) => y.splice(i, 0, null));
      }
    }
    this.names.forEach((name, k) => {
      if (values[name] !== undefined && values[name] !== null) { this.ys[k][i] = values[name]; }
    });
    this.trim(t);
  }

  // Adds [unix ms, value] points of one series where the live ones have none.
  backfill(name, points) {
    const k = this.names.indexOf(name);
    if (k < 0) { return; }
    for (const [ms, v] of points) {
      const t = Math.floor(ms / 1000);
      const i = this.x.indexOf(t);
      if (i >= 0 && this.ys[k][i] !== null) { continue; }
      this.put(t, { [name]: v });
    }
  }

  trim(now) {
    let drop = 0;
    while (drop < this.x.length && this.x[drop] < now - WINDOW_S) { drop += 1; }
    if (drop) {
      this.x.splice(0, drop);
      this.ys.forEach((y) => y.splice(0, drop));
    }
  }

  data() {
    return [this.x, ...this.ys];
  }
}

// "12:07" on whole minutes, ":30" between them.
function tick(t) {
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, '0');
  return d.getSeconds() ? `:${two(d.getSeconds())}` : `${two(d.getHours())}:${two(d.getMinutes())}`;
}

// A uPlot chart of one Series in Mb/s, sized to its container.
export class BitrateChart {
  // `labels` name the series in order; the one called `onAir` is drawn white
  // and thicker (give it last, so that it is drawn over the others).
  constructor(container, series, labels, onAir) {
    this.container = container;
    this.series = series;
    this.now = Math.floor(Date.now() / 1000);
    const axis = { stroke: '#9da7b3', grid: { stroke: '#262c33' }, ticks: { stroke: '#262c33' } };
    const opts = {
      width: Math.max(200, container.clientWidth),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      legend: { show: true, live: false },
      scales: {
        x: { time: true, range: () => this.span() },
        y: { range: (_u, _min, max) => [0, Math.max(1, (max || 0) * 1.15)] },
      },
      axes: [
        { ...axis, space: 60, size: 26, values: (_u, splits) => splits.map(tick) },
        { ...axis, size: 44, space: 24, values: (_u, vals) => vals.map((v) => `${+v.toFixed(1)}`), label: 'Mb/s', labelSize: 14 },
      ],
      series: [
        {},
        ...labels.map((label, i) => ({
          label,
          stroke: label === onAir ? '#e6edf3' : COLOURS[i % COLOURS.length],
          width: label === onAir ? 2 : 1.25,
          points: { show: false },
          value: (_u, v) => (v === null || v === undefined ? '—' : `${v.toFixed(2)} Mb/s`),
        })),
      ],
    };
    this.plot = new window.uPlot(opts, this.mbps(), container);
    this.resize = new ResizeObserver(() => {
      const width = Math.max(200, container.clientWidth);
      if (width !== this.plot.width) { this.plot.setSize({ width, height: HEIGHT }); }
    });
    this.resize.observe(container);
  }

  // The last WINDOW_S seconds, or less while the page has seen less.
  span() {
    const first = this.series.x.length ? this.series.x[0] : this.now;
    return [Math.max(this.now - WINDOW_S, Math.min(first, this.now - MIN_SPAN_S)), this.now];
  }

  mbps() {
    const [x, ...ys] = this.series.data();
    return [x, ...ys.map((y) => y.map((v) => (v === null ? null : v / 1e6)))];
  }

  redraw(nowSeconds) {
    this.now = nowSeconds;
    this.plot.setData(this.mbps());
  }

  destroy() {
    this.resize.disconnect();
    this.plot.destroy();
  }
}
