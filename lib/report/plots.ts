/**
 * Plotly figure builders (plain `{ data, layout }` objects, no plotly import
 * needed to build them), `Deno.jupyter` display helpers and HTML helpers for
 * offline reports. Plotly itself comes from the pinned
 * `plotly.js-cartesian-dist-min` npm package in `node_modules`, never from a CDN.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { Rng } from "../core/rng.ts";

/** A Plotly figure: traces and layout, as plain JSON-able objects. */
export interface Figure {
  /** Plotly traces. */
  data: Record<string, unknown>[];
  /** Plotly layout. */
  layout: Record<string, unknown>;
}

/**
 * Plotly config used everywhere: interactive (not static), no Plotly logo.
 *
 * @example
 * ```ts
 * import { PLOTLY_CONFIG } from "./plots.ts";
 * if (JSON.stringify(PLOTLY_CONFIG.displaylogo) !== JSON.stringify(false)) throw new Error(`got ${JSON.stringify(PLOTLY_CONFIG.displaylogo)}`);
 * ```
 */
export const PLOTLY_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  staticPlot: false,
  displaylogo: false,
  responsive: true,
});

/** Plotly's default colour cycle (used to keep a series' colour across panels). */
const COLORWAY = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

const BASE_LAYOUT = {
  margin: { l: 60, r: 20, t: 80, b: 50 },
  font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif", size: 13 },
  // Legend in a row just above the plot area (below the title): never hits the x-axis title.
  legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
  hovermode: "closest",
};

function layout(title: string, xTitle: string, yTitle: string, extra: object = {}) {
  return {
    ...BASE_LAYOUT,
    title: { text: title },
    xaxis: { title: { text: xTitle }, zeroline: false, automargin: true },
    yaxis: { title: { text: yTitle }, zeroline: false, automargin: true },
    ...extra,
  };
}

function line(name: string, x: number[], y: number[], extra: object = {}) {
  return { type: "scatter", mode: x.length > 40 ? "lines" : "lines+markers", name, x, y, ...extra };
}

/**
 * Train and validation loss per epoch (train only where `trainLoss` is given).
 *
 * @example
 * ```ts
 * import { lossCurves } from "./plots.ts";
 * const fig = lossCurves([{ epoch: 1, trainLoss: 2.1, valLoss: 2.0 }, { epoch: 2, trainLoss: 1.5, valLoss: 1.7 }]);
 * if (JSON.stringify(fig.data.length) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(fig.data.length)}`);
 * ```
 */
export function lossCurves(
  history: { epoch: number; trainLoss?: number; valLoss: number }[],
  opts: { title?: string } = {},
): Figure {
  const train = history.filter((h) => typeof h.trainLoss === "number" && isFinite(h.trainLoss));
  const data = [];
  if (train.length) {
    data.push(line("train loss", train.map((h) => h.epoch), train.map((h) => h.trainLoss!)));
  }
  data.push(line("val loss", history.map((h) => h.epoch), history.map((h) => h.valLoss)));
  return { data, layout: layout(opts.title ?? "Loss", "epoch", "loss") };
}

/**
 * One line per metric over epochs. `keys` defaults to every metric seen, in
 * order of first appearance.
 *
 * @example
 * ```ts
 * import { metricCurves } from "./plots.ts";
 * const fig = metricCurves([
 *   { epoch: 1, metrics: { "recall@1": 0.4, "ndcg@10": 0.5 } },
 *   { epoch: 2, metrics: { "recall@1": 0.5, "ndcg@10": 0.6 } },
 * ]);
 * if (JSON.stringify(fig.data.map((t) => t.name)) !== JSON.stringify(["recall@1", "ndcg@10"])) throw new Error(`got ${JSON.stringify(fig.data.map((t) => t.name))}`);
 * ```
 */
export function metricCurves(
  history: { epoch: number; metrics?: Record<string, number> }[],
  keys?: string[],
  opts: { title?: string; yTitle?: string } = {},
): Figure {
  const names = keys ?? [...new Set(history.flatMap((h) => Object.keys(h.metrics ?? {})))];
  const data = names.map((key) => {
    const pts = history.filter((h) => typeof h.metrics?.[key] === "number");
    return line(key, pts.map((h) => h.epoch), pts.map((h) => h.metrics![key]));
  });
  return {
    data,
    layout: layout(opts.title ?? "Validation metrics", "epoch", opts.yTitle ?? "value"),
  };
}

/**
 * Learning rate per optimiser step.
 *
 * @example
 * ```ts
 * import { lrSchedule } from "./plots.ts";
 * const fig = lrSchedule([0, 1, 2, 3], [0, 1e-3, 5e-4, 0]);
 * if (JSON.stringify(fig.data[0].x) !== JSON.stringify([0, 1, 2, 3])) throw new Error(`got ${JSON.stringify(fig.data[0].x)}`);
 * ```
 */
export function lrSchedule(steps: number[], lrs: number[], opts: { title?: string } = {}): Figure {
  if (steps.length !== lrs.length) {
    throw new RangeError(`lrSchedule: ${steps.length} steps but ${lrs.length} learning rates`);
  }
  return {
    data: [line("learning rate", steps, lrs, { mode: "lines" })],
    layout: layout(opts.title ?? "Learning-rate schedule", "step", "learning rate", {
      showlegend: false,
      yaxis: {
        title: { text: "learning rate" },
        exponentformat: "e",
        rangemode: "tozero",
        automargin: true,
      },
    }),
  };
}

/**
 * Histogram of values (e.g. cosine similarities).
 *
 * @example
 * ```ts
 * import { histogram } from "./plots.ts";
 * const fig = histogram([0.1, 0.2, 0.2, 0.9], { title: "Similarity", xTitle: "cosine", nbins: 20 });
 * if (JSON.stringify(fig.data[0].type) !== JSON.stringify("histogram")) throw new Error(`got ${JSON.stringify(fig.data[0].type)}`);
 * ```
 */
export function histogram(
  values: number[],
  opts: { title: string; xTitle: string; yTitle?: string; nbins?: number; name?: string },
): Figure {
  const trace: Record<string, unknown> = { type: "histogram", x: values, name: opts.name ?? "" };
  if (opts.nbins) trace.nbinsx = opts.nbins;
  return {
    data: [trace],
    layout: layout(opts.title, opts.xTitle, opts.yTitle ?? "count", {
      showlegend: false,
      bargap: 0.02,
    }),
  };
}

/**
 * Bar chart: one series (`number[]`) or grouped series (`{ name, values }[]`).
 *
 * @example
 * ```ts
 * import { barChart } from "./plots.ts";
 * const fig = barChart(["price", "district"], [
 *   { name: "base", values: [0.4, 0.3] },
 *   { name: "projected", values: [0.2, 0.1] },
 * ], { title: "Error rate by feature", yTitle: "rate" });
 * if (JSON.stringify(fig.data.length) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(fig.data.length)}`);
 * ```
 */
export function barChart(
  labels: string[],
  values: number[] | { name: string; values: number[] }[],
  opts: { title: string; xTitle?: string; yTitle?: string; horizontal?: boolean } = { title: "" },
): Figure {
  const series = values.length && typeof values[0] === "number"
    ? [{ name: "", values: values as number[] }]
    : values as { name: string; values: number[] }[];
  const data = series.map((s) => {
    if (s.values.length !== labels.length) {
      throw new RangeError(
        `barChart: series "${s.name}" has ${s.values.length} values for ${labels.length} labels`,
      );
    }
    return opts.horizontal
      ? { type: "bar", orientation: "h", name: s.name, x: s.values, y: labels }
      : { type: "bar", name: s.name, x: labels, y: s.values };
  });
  const [xt, yt] = opts.horizontal
    ? [opts.yTitle ?? "", opts.xTitle ?? ""]
    : [opts.xTitle ?? "", opts.yTitle ?? ""];
  return {
    data,
    layout: layout(opts.title, xt, yt, { barmode: "group", showlegend: series.length > 1 }),
  };
}

/** One series of {@linkcode lineChart}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** x values. */
  x: number[];
  /** y values (same length as `x`). */
  y: number[];
  /** Plotly dash style: "solid", "dash", "dot", "dashdot". */
  dash?: string;
  /** CSS colour (default: plotly's colour cycle). */
  color?: string;
}

/** Options of {@linkcode lineChart}. */
export interface LineChartOptions {
  /** Figure title. */
  title: string;
  /** x-axis title. */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Vertical reference lines, optionally labelled. */
  vlines?: { x: number; label?: string }[];
  /** Horizontal reference lines, optionally labelled. */
  hlines?: { y: number; label?: string }[];
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Fixed y range. */
  yRange?: [number, number];
}

/**
 * Generic multi-series line chart with optional reference lines.
 *
 * @example
 * ```ts
 * import { lineChart } from "./plots.ts";
 * const x = [0, 0.25, 0.5, 0.75, 1];
 * const fig = lineChart([
 *   { name: "w=1", x, y: x.map((s) => Math.exp(s)) },
 *   { name: "w=2", x, y: x.map((s) => 2 * Math.exp(s)), dash: "dash" },
 * ], { title: "share of loss", xTitle: "similarity", vlines: [{ x: 0.6, label: "positive" }] });
 * if (JSON.stringify([fig.data.length, (fig.layout.shapes as unknown[]).length]) !== JSON.stringify([2, 1])) throw new Error(`got ${JSON.stringify([fig.data.length, (fig.layout.shapes as unknown[]).length])}`);
 * ```
 */
export function lineChart(series: LineSeries[], opts: LineChartOptions): Figure {
  const data = series.map((s) => {
    if (s.x.length !== s.y.length) {
      throw new RangeError(`lineChart: series "${s.name}" has ${s.x.length} x and ${s.y.length} y`);
    }
    const ln: Record<string, unknown> = {};
    if (s.dash) ln.dash = s.dash;
    if (s.color) ln.color = s.color;
    return line(s.name, s.x, s.y, Object.keys(ln).length ? { line: ln } : {});
  });
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  for (const v of opts.vlines ?? []) {
    shapes.push({
      type: "line",
      xref: "x",
      yref: "y domain",
      x0: v.x,
      x1: v.x,
      y0: 0,
      y1: 1,
      line: { dash: "dot", color: "#555", width: 1 },
    });
    if (v.label) {
      annotations.push({
        xref: "x",
        yref: "y domain",
        x: v.x,
        y: 1,
        text: v.label,
        showarrow: false,
        yanchor: "bottom",
      });
    }
  }
  for (const h of opts.hlines ?? []) {
    shapes.push({
      type: "line",
      xref: "x domain",
      yref: "y",
      x0: 0,
      x1: 1,
      y0: h.y,
      y1: h.y,
      line: { dash: "dot", color: "#555", width: 1 },
    });
    if (h.label) {
      annotations.push({
        xref: "x domain",
        yref: "y",
        x: 1,
        y: h.y,
        text: h.label,
        showarrow: false,
        xanchor: "right",
        yanchor: "bottom",
      });
    }
  }
  const yaxis: Record<string, unknown> = {
    title: { text: opts.yTitle ?? "" },
    zeroline: false,
    automargin: true,
  };
  if (opts.logY) yaxis.type = "log";
  if (opts.yRange) yaxis.range = opts.yRange;
  return {
    data,
    layout: layout(opts.title, opts.xTitle ?? "", opts.yTitle ?? "", {
      shapes,
      annotations,
      yaxis,
    }),
  };
}

/**
 * Put several figures side by side (a grid of independent subplots), keeping
 * each figure's axis titles, reference lines and title (as a subplot title).
 *
 * @example
 * ```ts
 * import { combineFigures, lineChart } from "./plots.ts";
 * const a = lineChart([{ name: "a", x: [0, 1], y: [0, 1] }], { title: "exp" });
 * const b = lineChart([{ name: "b", x: [0, 1], y: [1, 0] }], { title: "logit" });
 * const fig = combineFigures([a, b], { columns: 2, title: "weighting" });
 * if (JSON.stringify(fig.data[1].xaxis) !== JSON.stringify("x2")) throw new Error(`got ${JSON.stringify(fig.data[1].xaxis)}`);
 * ```
 */
export function combineFigures(
  figs: Figure[],
  opts: { columns?: number; title?: string; height?: number } = {},
): Figure {
  if (figs.length === 0) throw new RangeError("combineFigures: no figures");
  const columns = Math.max(1, Math.min(opts.columns ?? figs.length, figs.length));
  const rows = Math.ceil(figs.length / columns);
  const data: Record<string, unknown>[] = [];
  const shapes: unknown[] = [];
  const annotations: unknown[] = [];
  const out: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: opts.title ?? "" },
    grid: { rows, columns, pattern: "independent", xgap: 0.12, ygap: 0.25 },
    legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top" },
    margin: { l: 60, r: 20, t: opts.title ? 90 : 50, b: 50 },
  };
  if (opts.height) out.height = opts.height;
  const remap = (ref: unknown, i: number) =>
    typeof ref === "string"
      ? ref.replace(/^([xy])(\d*)(.*)$/, (_m, axis, _n, rest) => `${axis}${i ? i + 1 : ""}${rest}`)
      : ref;
  // A series name keeps one colour and one legend entry across panels.
  const colours = new Map<string, string>();
  figs.forEach((fig, i) => {
    const suffix = i ? String(i + 1) : "";
    for (const t of fig.data) {
      const name = String(t.name ?? "");
      const first = !colours.has(name);
      if (first) colours.set(name, COLORWAY[colours.size % COLORWAY.length]);
      const colour = colours.get(name)!;
      const trace: Record<string, unknown> = {
        ...t,
        xaxis: `x${suffix}`,
        yaxis: `y${suffix}`,
        legendgroup: name,
        showlegend: first && t.showlegend !== false,
      };
      if (t.type !== "histogram" && t.type !== "bar") {
        const ln = (t.line ?? {}) as Record<string, unknown>;
        trace.line = { color: colour, ...ln };
      }
      const mk = (t.marker ?? {}) as Record<string, unknown>;
      trace.marker = { color: colour, ...mk };
      data.push(trace);
    }
    const l = fig.layout;
    out[`xaxis${suffix}`] = l.xaxis ?? {};
    out[`yaxis${suffix}`] = l.yaxis ?? {};
    for (const s of (l.shapes as Record<string, unknown>[] | undefined) ?? []) {
      shapes.push({ ...s, xref: remap(s.xref, i), yref: remap(s.yref, i) });
    }
    for (const a of (l.annotations as Record<string, unknown>[] | undefined) ?? []) {
      annotations.push({ ...a, xref: remap(a.xref, i), yref: remap(a.yref, i) });
    }
    const title = (l.title as { text?: string } | undefined)?.text;
    if (title) {
      annotations.push({
        xref: `x${suffix} domain`,
        yref: `y${suffix} domain`,
        x: 0.5,
        y: 1.02,
        xanchor: "center",
        yanchor: "bottom",
        text: `<b>${title}</b>`,
        showarrow: false,
      });
    }
  });
  out.shapes = shapes;
  out.annotations = annotations;
  return { data, layout: out };
}

/** Result of {@linkcode pca2d}. */
export interface Pca2d {
  /** Row-major `[n, 2]` projections on PC1, PC2. */
  coords: Float64Array;
  /** The two unit principal axes, each of length `dim`. */
  components: [Float64Array, Float64Array];
  /** Fraction of the total variance explained by PC1 and PC2. */
  explained: [number, number];
}

/**
 * Top-2 principal components by power iteration on the (implicit) covariance
 * `XcᵀXc` (never materialised: O(n·dim) per iteration). Deterministic: fixed
 * seeded start vector, and each axis's sign is fixed so that its
 * largest-magnitude coordinate is positive.
 *
 * @example
 * ```ts
 * import { pca2d } from "./plots.ts";
 * const v = new Float32Array([0, 0, 0, 2, 0, 0, 4, 0, 1, 6, 0, 0]); // 4 points, dim 3
 * const p = pca2d(v, 4, 3);
 * if (JSON.stringify(p.explained[0] > 0.9) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(p.explained[0] > 0.9)}`);
 * ```
 */
export function pca2d(
  vectors: Float32Array,
  n: number,
  dim: number,
  opts: { maxIter?: number; tol?: number } = {},
): Pca2d {
  if (vectors.length !== n * dim) {
    throw new RangeError(
      `pca2d: vectors has length ${vectors.length}, expected n * dim = ${n * dim}`,
    );
  }
  if (n < 2) throw new RangeError(`pca2d: need at least 2 vectors, got ${n}`);
  const maxIter = opts.maxIter ?? 1000;
  const tol = opts.tol ?? 1e-12;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let t = 0; t < dim; t++) mean[t] += vectors[i * dim + t];
  for (let t = 0; t < dim; t++) mean[t] /= n;
  let totalVar = 0;
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < dim; t++) {
      const c = vectors[i * dim + t] - mean[t];
      totalVar += c * c;
    }
  }
  const u = new Float64Array(n);
  // w = Xcᵀ Xc v
  const covTimes = (v: Float64Array, w: Float64Array) => {
    let mv = 0;
    for (let t = 0; t < dim; t++) mv += mean[t] * v[t];
    let su = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const off = i * dim;
      for (let t = 0; t < dim; t++) s += vectors[off + t] * v[t];
      u[i] = s - mv;
      su += u[i];
    }
    w.fill(0);
    for (let i = 0; i < n; i++) {
      const ui = u[i], off = i * dim;
      for (let t = 0; t < dim; t++) w[t] += vectors[off + t] * ui;
    }
    for (let t = 0; t < dim; t++) w[t] -= mean[t] * su;
  };
  const rng = new Rng(20240601);
  const components: Float64Array[] = [];
  const eigen: number[] = [];
  for (let c = 0; c < 2; c++) {
    let v = new Float64Array(dim);
    for (let t = 0; t < dim; t++) v[t] = rng.normal();
    let w = new Float64Array(dim);
    let lambda = 0;
    const orth = (x: Float64Array) => {
      for (const p of components) {
        let d = 0;
        for (let t = 0; t < dim; t++) d += x[t] * p[t];
        for (let t = 0; t < dim; t++) x[t] -= d * p[t];
      }
      let norm = 0;
      for (let t = 0; t < dim; t++) norm += x[t] * x[t];
      return Math.sqrt(norm);
    };
    let norm = orth(v);
    if (norm === 0) break;
    for (let t = 0; t < dim; t++) v[t] /= norm;
    for (let it = 0; it < maxIter; it++) {
      covTimes(v, w);
      norm = orth(w);
      lambda = norm;
      if (norm === 0) break;
      let dot = 0;
      for (let t = 0; t < dim; t++) {
        w[t] /= norm;
        dot += w[t] * v[t];
      }
      [v, w] = [w, v];
      if (1 - Math.abs(dot) < tol) break;
    }
    let big = 0;
    for (let t = 0; t < dim; t++) if (Math.abs(v[t]) > Math.abs(v[big])) big = t;
    if (v[big] < 0) { for (let t = 0; t < dim; t++) v[t] = -v[t]; }
    components.push(v);
    eigen.push(lambda);
  }
  while (components.length < 2) {
    components.push(new Float64Array(dim));
    eigen.push(0);
  }
  const coords = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 2; c++) {
      let s = 0;
      const p = components[c];
      for (let t = 0; t < dim; t++) s += (vectors[i * dim + t] - mean[t]) * p[t];
      coords[i * 2 + c] = s;
    }
  }
  return {
    coords,
    components: [components[0], components[1]],
    explained: totalVar > 0 ? [eigen[0] / totalVar, eigen[1] / totalVar] : [0, 0],
  };
}

/**
 * 2-D PCA scatter of vectors, one trace per label (e.g. coloured by district).
 * Labels are ordered naturally ("q2" before "q10"); `hoverTexts` show on hover.
 *
 * @example
 * ```ts
 * import { pcaScatter } from "./plots.ts";
 * const v = new Float32Array([1, 0, 0, 0.9, 0.1, 0, 0, 1, 0, 0, 0.9, 0.1]);
 * const fig = pcaScatter(v, 4, 3, ["a", "a", "b", "b"], { title: "PCA" });
 * if (JSON.stringify(fig.data.map((t) => t.name)) !== JSON.stringify(["a", "b"])) throw new Error(`got ${JSON.stringify(fig.data.map((t) => t.name))}`);
 * ```
 */
export function pcaScatter(
  vectors: Float32Array,
  n: number,
  dim: number,
  labels: string[],
  opts: { title: string; hoverTexts?: string[]; markerSize?: number },
): Figure {
  if (labels.length !== n) {
    throw new RangeError(`pcaScatter: ${labels.length} labels for ${n} vectors`);
  }
  const { coords, explained } = pca2d(vectors, n, dim);
  const groups = [...new Set(labels)].sort((a, b) =>
    a.localeCompare(b, undefined, { numeric: true })
  );
  const data = groups.map((label) => {
    const idx: number[] = [];
    labels.forEach((l, i) => l === label && idx.push(i));
    const trace: Record<string, unknown> = {
      type: "scatter",
      mode: "markers",
      name: label,
      x: idx.map((i) => coords[2 * i]),
      y: idx.map((i) => coords[2 * i + 1]),
      marker: { size: opts.markerSize ?? 7, opacity: 0.8 },
    };
    if (opts.hoverTexts) {
      trace.text = idx.map((i) => opts.hoverTexts![i]);
      trace.hoverinfo = "text+name";
    }
    return trace;
  });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return {
    data,
    layout: layout(
      opts.title,
      `PC1 (${pct(explained[0])} of variance)`,
      `PC2 (${pct(explained[1])} of variance)`,
      { legend: { orientation: "v" }, margin: { l: 60, r: 20, t: 50, b: 50 } },
    ),
  };
}

// ---------------------------------------------------------------------------
// HTML and Jupyter display

/** The pinned plotly.js npm package: the minified cartesian bundle (scatter, bar, histogram, …). */
export const PLOTLY_PACKAGE = "plotly.js-cartesian-dist-min";
const PLOTLY_FILE = "plotly-cartesian.min.js";

let plotlySource: string | undefined;
let plotlyLoader: string | undefined;

/**
 * Path (file URL) of the pinned plotly.js bundle ({@linkcode PLOTLY_PACKAGE},
 * about 1.5 MB): resolved through the import map, else
 * `node_modules/plotly.js-cartesian-dist-min/` next to the repo root. The
 * cartesian bundle covers every trace type the figure builders here make
 * (`scatter`, `bar`, `histogram`).
 *
 * @example
 * ```ts
 * import { plotlyJsUrl } from "./plots.ts";
 * if (JSON.stringify(plotlyJsUrl().href.endsWith("plotly-cartesian.min.js")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(plotlyJsUrl().href.endsWith("plotly-cartesian.min.js"))}`);
 * ```
 */
export function plotlyJsUrl(): URL {
  try {
    const resolved = import.meta.resolve(PLOTLY_PACKAGE);
    if (resolved.startsWith("file:")) return new URL(resolved);
  } catch {
    // fall through
  }
  return new URL(`../../node_modules/${PLOTLY_PACKAGE}/${PLOTLY_FILE}`, import.meta.url);
}

/**
 * The plotly.js bundle's source (about 1.5 MB; read once, then cached), made
 * safe to inline in a `<script>` element.
 *
 * @example
 * ```ts
 * import { plotlyJsSource } from "./plots.ts";
 * if (JSON.stringify(plotlyJsSource().length > 1e6) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(plotlyJsSource().length > 1e6)}`);
 * ```
 */
export function plotlyJsSource(): string {
  if (plotlySource === undefined) {
    const url = plotlyJsUrl();
    let src: string;
    try {
      src = Deno.readTextFileSync(url);
    } catch (err) {
      throw new Error(
        `plotly.js not found at ${url.pathname} (npm package ${PLOTLY_PACKAGE}); ` +
          `run \`deno install\` in the repo root: ${err instanceof Error ? err.message : err}`,
      );
    }
    plotlySource = src.replace(/<\/(script)/gi, "<\\/$1");
  }
  return plotlySource;
}

/**
 * A `<script>` element with plotly.js inlined (no network access needed).
 *
 * @example
 * ```ts
 * import { plotlyScriptTag } from "./plots.ts";
 * if (JSON.stringify(plotlyScriptTag().startsWith("<script>")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(plotlyScriptTag().startsWith("<script>"))}`);
 * ```
 */
export function plotlyScriptTag(): string {
  return `<script>${plotlyJsSource()}</script>`;
}

/**
 * A `<script>` element that carries plotly.js gzip-compressed and base64-encoded
 * (about 0.66 MB instead of 1.5 MB) and, unless `window.Plotly` exists or is
 * already loading, decompresses it in the browser (`DecompressionStream`) and
 * runs it. Used in notebook outputs: each Jupyter message stays far below the
 * ~2 MB at which Deno's kernel starts to lose or corrupt IOPub messages (see
 * `docs/deno_kernel_outputs.md`). Figures drawn by {@linkcode figureToHtmlDiv}
 * wait for `window.Plotly`, so they draw once it is loaded.
 *
 * @example
 * ```ts
 * import { plotlyLoaderScript } from "./plots.ts";
 * const tag = plotlyLoaderScript();
 * if (JSON.stringify([tag.length < 800_000, tag.includes("DecompressionStream")]) !== JSON.stringify([true, true])) throw new Error(`got ${JSON.stringify([tag.length < 800_000, tag.includes("DecompressionStream")])}`);
 * ```
 */
export function plotlyLoaderScript(): string {
  if (plotlyLoader === undefined) {
    const gz = gzipSync(new TextEncoder().encode(plotlyJsSource()), { level: 9 });
    const b64 = encodeBase64(gz);
    plotlyLoader = `<script>(function () {
  if (window.Plotly || window.__plotlyLoading) return;
  window.__plotlyLoading = true;
  var bin = atob("${b64}");
  var bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  new Response(stream).text().then(function (src) {
    var s = document.createElement("script");
    s.text = src;
    document.head.appendChild(s);
  }).catch(function (err) {
    window.__plotlyLoading = false;
    console.error("plotly.js could not be loaded:", err);
  });
})();</script>`;
  }
  return plotlyLoader;
}

/** Standard base64 of bytes (chunked: `String.fromCharCode` takes a bounded argument list). */
function encodeBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** JSON safe to embed inside `<script>` (no `</script>`, no `<!--`). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(
    /\u2029/g,
    "\\u2029",
  );
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/**
 * A `<div>` plus a `<script>` that draws `fig` into it with `Plotly.newPlot`
 * (config {@linkcode PLOTLY_CONFIG}). Plotly must already be loaded on the
 * page (see {@linkcode plotlyScriptTag}); the script waits up to 10 s for
 * `window.Plotly`, then writes an explanatory message into the div.
 *
 * @example
 * ```ts
 * import { figureToHtmlDiv, lossCurves } from "./plots.ts";
 * const html = figureToHtmlDiv(lossCurves([{ epoch: 1, valLoss: 1 }]), "loss");
 * if (JSON.stringify(html.includes('id="loss"')) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(html.includes('id="loss"'))}`);
 * ```
 */
export function figureToHtmlDiv(fig: Figure, id: string, opts: { height?: number } = {}): string {
  const height = opts.height ?? (fig.layout.height as number | undefined) ?? 420;
  const layoutJson = { ...fig.layout, height };
  return `<div id="${
    escapeAttr(id)
  }" class="plotly-figure" style="width:100%;height:${height}px">` +
    `</div>\n<script>(function () {
  var id = ${scriptJson(id)}, data = ${scriptJson(fig.data)}, layout = ${scriptJson(layoutJson)};
  var config = ${scriptJson(PLOTLY_CONFIG)}, tries = 0;
  function draw() {
    var el = document.getElementById(id);
    if (window.Plotly) { window.Plotly.newPlot(el, data, layout, config); return; }
    if (++tries > 100) {
      el.textContent = "Plotly is not loaded on this page: the output that inlined plotly.js " +
        "was cleared or not rendered. Re-run the notebook from the top (or call resetPlotlyInline()).";
      return;
    }
    setTimeout(draw, 100);
  }
  draw();
})();</script>`;
}

let plotlyInlined = false;

/**
 * Forget that plotly.js was inlined in this notebook session, so that the next
 * {@linkcode displayPlot} fallback inlines it again (e.g. after clearing outputs).
 *
 * @example
 * ```ts
 * import { resetPlotlyInline } from "./plots.ts";
 * resetPlotlyInline();
 * ```
 */
export function resetPlotlyInline(): void {
  plotlyInlined = false;
}

/** MIME bundle returned by a {@linkcode displayPlot} object. */
export interface PlotBundle {
  /** The figure for renderers that know plotly (JupyterLab, VS Code). */
  "application/vnd.plotly.v1+json": { data: unknown[]; layout: unknown; config: unknown };
  /** Offline fallback: a div and a script (plotly.js inlined in the first one, see `inlinePlotly`). */
  "text/html": string;
  /** One-line description for plain-text frontends. */
  "text/plain": string;
}

/** The values of {@linkcode DisplayOptions.inlinePlotly}. */
export const INLINE_MODES = ["once", "always", "never"] as const;

/** When a figure's `text/html` fallback carries plotly.js (see {@linkcode DisplayOptions.inlinePlotly}). */
export type InlineMode = typeof INLINE_MODES[number];

/** Environment variable that sets the default of {@linkcode DisplayOptions.inlinePlotly}. */
export const PLOTLY_INLINE_ENV = "PLOTLY_INLINE";

/**
 * The default `inlinePlotly` mode: the `PLOTLY_INLINE` environment variable
 * (`once`, `always` or `never`) when it is set and readable, else `"once"`.
 *
 * @example
 * ```ts
 * import { defaultInlineMode } from "./plots.ts";
 * if (JSON.stringify(["once", "always", "never"].includes(defaultInlineMode())) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(["once", "always", "never"].includes(defaultInlineMode()))}`);
 * ```
 */
export function defaultInlineMode(): InlineMode {
  let value: string | undefined;
  try {
    value = Deno.env.get(PLOTLY_INLINE_ENV);
  } catch {
    return "once"; // no --allow-env: the default
  }
  if (value === undefined || value === "") return "once";
  if (!(INLINE_MODES as readonly string[]).includes(value)) {
    throw new Error(
      `${PLOTLY_INLINE_ENV}=${JSON.stringify(value)}: expected one of ${INLINE_MODES.join(", ")}`,
    );
  }
  return value as InlineMode;
}

/** Options of {@linkcode displayPlot}. */
export interface DisplayOptions {
  /** Plot height in pixels (default: the layout's, else 420). */
  height?: number;
  /**
   * When the `text/html` fallback carries plotly.js ({@linkcode plotlyLoaderScript},
   * 0.66 MB): `"once"` only in the first fallback of the notebook session,
   * `"always"` in every one, `"never"` in none (the page must load plotly
   * itself). Default: {@linkcode defaultInlineMode}.
   */
  inlinePlotly?: InlineMode;
}

/**
 * Wrap a figure for `Deno.jupyter`: displaying it (best with {@linkcode showOutput})
 * shows a MIME bundle with `application/vnd.plotly.v1+json` (rendered natively
 * by VS Code, and by JupyterLab with a plotly renderer) and a `text/html`
 * fallback (used by classic Notebook, JupyterLab without the renderer and
 * `nbconvert --to html`) that draws the figure offline with plotly.js from
 * `node_modules/plotly.js-cartesian-dist-min` — never a CDN.
 *
 * Caveat of the default `inlinePlotly: "once"`: plotly.js is inlined (gzip +
 * base64, {@linkcode plotlyLoaderScript}) only in the first fallback rendered
 * in the kernel session; later fallbacks use `window.Plotly` from it.
 * Executing the notebook top to bottom works; if that first output is cleared,
 * later fallbacks show a message instead — call {@linkcode resetPlotlyInline}
 * or restart the kernel and re-run.
 *
 * @example
 * ```ts
 * import { displayPlot, lossCurves } from "./plots.ts";
 * const shown = displayPlot(lossCurves([{ epoch: 1, valLoss: 0.5 }]), { height: 300 });
 * // In a notebook cell: await showOutput(shown);
 * const bundle = shown[Symbol.for("Jupyter.display")]();
 * console.log(Object.keys(bundle));
 * ```
 */
export function displayPlot(
  fig: Figure,
  opts: DisplayOptions = {},
): { [key: symbol]: () => PlotBundle } {
  let bundle: PlotBundle | undefined;
  return {
    [Symbol.for("Jupyter.display")]: () => {
      if (bundle) return bundle;
      const height = opts.height ?? (fig.layout.height as number | undefined) ?? 420;
      const layout = { ...fig.layout, height };
      const mode = opts.inlinePlotly ?? defaultInlineMode();
      const inline = mode === "always" || (mode === "once" && !plotlyInlined);
      const id = `plot-${crypto.randomUUID()}`;
      let html = figureToHtmlDiv({ data: fig.data, layout }, id, { height });
      if (inline) {
        html = `${plotlyLoaderScript()}\n${html}`;
        if (mode === "once") plotlyInlined = true;
      }
      const title = (fig.layout.title as { text?: string } | undefined)?.text ?? "";
      bundle = {
        "application/vnd.plotly.v1+json": { data: fig.data, layout, config: PLOTLY_CONFIG },
        "text/html": html,
        "text/plain": `Plotly figure${title ? ` "${title}"` : ""} (${fig.data.length} traces)`,
      };
      return bundle;
    },
  };
}

/**
 * How long {@linkcode showOutput} pauses after sending an output of `chars`
 * characters: 50 ms, plus 1 ms per 5,000 characters (0.19 s for plotly.js's
 * 0.7 MB loader), at most 2 s. Deno's kernel sends the message some time after
 * `Deno.jupyter.display` resolved, and drops the next message while a large
 * one is still queued in its socket: the pause lets both happen before the
 * cell ends (see `docs/deno_kernel_outputs.md`).
 *
 * @example
 * ```ts
 * import { outputPauseMs } from "./plots.ts";
 * if (JSON.stringify(outputPauseMs(700_000)) !== JSON.stringify(190)) throw new Error(`got ${JSON.stringify(outputPauseMs(700_000))}`);
 * ```
 */
export function outputPauseMs(chars: number): number {
  return Math.min(2000, 50 + Math.round(chars / 5000));
}

/**
 * Display `value` in the running Deno Jupyter kernel and make sure the output
 * message has left the kernel before this resolves. Use it for every output of
 * a notebook cell (`await showOutput(x)`), never a cell's last expression.
 * Deno 2.9's kernel (see `docs/deno_kernel_outputs.md`):
 *
 * - publishes a last expression's `execute_result` without waiting for it, so
 *   it can arrive after the cell's `idle` status, and clients that stop
 *   listening at `idle` (nbconvert, nbclient) lose it;
 * - resolves an awaited `Deno.jupyter.display` before its message is out
 *   (`Deno.jupyter.broadcast` does not await the op that sends it), so the
 *   message can still follow the cell's `idle`: a short pause lets it out;
 * - silently drops a message while a large previous one is still queued in
 *   its socket: after a large output this pauses for {@linkcode outputPauseMs}.
 *
 * `value` is a MIME bundle with `raw: true`, else anything `Deno.jupyter.display`
 * takes (an object with a `Symbol.for("Jupyter.display")` method, e.g. a
 * {@linkcode displayPlot} result, is turned into its bundle here).
 *
 * @example
 * ```ts ignore
 * import { displayPlot, lossCurves, showOutput } from "./plots.ts";
 * await showOutput(displayPlot(lossCurves([{ epoch: 1, valLoss: 0.5 }])));
 * await showOutput({ "text/markdown": "**done**" }, { raw: true });
 * ```
 */
export async function showOutput(value: unknown, opts: { raw?: boolean } = {}): Promise<void> {
  const method = value !== null && typeof value === "object"
    ? (value as Record<symbol, unknown>)[Symbol.for("Jupyter.display")]
    : undefined;
  let bundle: Deno.jupyter.MediaBundle | undefined;
  if (opts.raw) bundle = value as Deno.jupyter.MediaBundle;
  else if (typeof method === "function") {
    bundle = await (method as () => Deno.jupyter.MediaBundle).call(value);
  }
  if (bundle) await Deno.jupyter.display(bundle, { raw: true });
  else await Deno.jupyter.display(value as Deno.jupyter.Displayable);
  const chars = bundle ? JSON.stringify(bundle).length : 0;
  await new Promise((resolve) => setTimeout(resolve, outputPauseMs(chars)));
}
