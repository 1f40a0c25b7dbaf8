/**
 * The training report: one offline, self-contained HTML file with the loss and
 * metric curves, the learning-rate schedule, the base-vs-projected metrics
 * table, per-feature error rates and the run config. plotly.js (the minified
 * cartesian bundle, about 1.5 MB) is inlined once from
 * `node_modules/plotly.js-cartesian-dist-min`; the page makes no network request
 * (no CDN, no web fonts) and stays well under 4 MB.
 *
 * @module
 */
import { atomicWrite, join } from "../core/fs.ts";
import { type FeatureErrors, metricKeysOf } from "../eval/metrics.ts";
import {
  barChart,
  type Figure,
  figureToHtmlDiv,
  lossCurves,
  lrSchedule,
  metricCurves,
  plotlyScriptTag,
} from "./plots.ts";
import type { EpochRecord } from "../run/checkpoint.ts";
import type { CompareRow } from "../eval/compare.ts";
import { compareFigure } from "./compare_plot.ts";

/** One epoch of training history (the trainer's `metrics.jsonl` record). */
export type { EpochRecord };

/** Input of {@linkcode renderReport}. */
export interface ReportInput {
  /** Page title and heading. */
  title: string;
  /** Run configuration, shown as a key/value table (nested objects flattened). */
  config: object;
  /** Per-epoch history (loss, metric and LR curves). */
  history: EpochRecord[];
  /** Per-step learning rates; else the per-epoch `lr` of `history` is plotted. */
  lrSteps?: { step: number[]; lr: number[] };
  /** Final base (1024-d) vs projected (256-d) metrics. */
  table?: {
    base: Record<string, number>;
    projected: Record<string, number>;
    baseLabel?: string;
    projectedLabel?: string;
  };
  /** Hard-negative error rates by feature (see `featureErrors`). */
  perFeature?: { base: FeatureErrors; projected?: FeatureErrors };
  /**
   * The `--compare` table (base, PCA, the head at each trained dim × storage,
   * see `lib/eval/compare_head.ts`), drawn as quality vs bytes per vector with the
   * table and `notes` (plain text, escaped) under the plot.
   */
  compare?: { rows: CompareRow[]; notes?: string[] };
  /** Free-form notes (plain text, escaped), shown under the title. */
  notes?: string[];
  /** Timestamp shown in the header (omitted when not given, for reproducible output). */
  generatedAt?: string;
}

/**
 * Escape text for HTML element content and attribute values.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./report.ts";
 * if (JSON.stringify(escapeHtml("<b>&</b>")) !== JSON.stringify("&lt;b&gt;&amp;&lt;/b&gt;")) throw new Error(`got ${JSON.stringify(escapeHtml("<b>&</b>"))}`);
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

function flatten(obj: unknown, prefix = "", out: [string, string][] = []): [string, string][] {
  if (obj !== null && typeof obj === "object" && !Array.isArray(obj)) {
    const entries = Object.entries(obj as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.push([prefix, "{}"]);
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.push([prefix, typeof obj === "string" ? obj : JSON.stringify(obj) ?? String(obj)]);
  }
  return out;
}

function metricsTableHtml(t: NonNullable<ReportInput["table"]>): string {
  const fmt = (x: number | undefined) => typeof x === "number" ? x.toFixed(4) : "-";
  const rows = metricKeysOf(t.base, t.projected).map((k) => {
    const b = t.base[k], p = t.projected[k], d = p - b;
    const cls = d > 0 ? "up" : d < 0 ? "down" : "";
    return `<tr><th>${escapeHtml(k)}</th><td>${fmt(b)}</td><td>${fmt(p)}</td>` +
      `<td class="${cls}">${isNaN(d) ? "-" : `${d >= 0 ? "+" : ""}${d.toFixed(4)}`}</td></tr>`;
  }).join("\n");
  return `<table class="num"><thead><tr><th>metric</th><th>${
    escapeHtml(t.baseLabel ?? "base (1024-d)")
  }</th><th>${escapeHtml(t.projectedLabel ?? "projected (256-d)")}</th><th>Δ</th></tr></thead>
<tbody>${rows}</tbody></table>`;
}

function featureTableHtml(f: NonNullable<ReportInput["perFeature"]>): string {
  const names = [...new Set([...Object.keys(f.base), ...Object.keys(f.projected ?? {})])].sort();
  const head = f.projected
    ? "<th>feature</th><th>hard negatives</th><th>base error rate</th><th>projected error rate</th><th>Δ</th>"
    : "<th>feature</th><th>hard negatives</th><th>errors</th><th>error rate</th>";
  const rows = names.map((n) => {
    const b = f.base[n], p = f.projected?.[n];
    const total = (b ?? p)!.total;
    if (!f.projected) {
      return `<tr><th>${escapeHtml(n)}</th><td>${total}</td><td>${b.errors}</td><td>${
        b.rate.toFixed(4)
      }</td></tr>`;
    }
    const d = b && p ? p.rate - b.rate : NaN;
    const cls = d < 0 ? "up" : d > 0 ? "down" : "";
    return `<tr><th>${escapeHtml(n)}</th><td>${total}</td><td>${b ? b.rate.toFixed(4) : "-"}</td>` +
      `<td>${p ? p.rate.toFixed(4) : "-"}</td><td class="${cls}">${
        isNaN(d) ? "-" : `${d >= 0 ? "+" : ""}${d.toFixed(4)}`
      }</td></tr>`;
  }).join("\n");
  return `<table class="num"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function compareTableHtml(rows: CompareRow[]): string {
  const head = ["method", "dim", "storage", "R@1", "R@10", "MRR@10", "nDCG@10", "bytes/vector"]
    .concat("ms/query").map((h) => `<th>${h}</th>`).join("");
  const body = rows.map((r) =>
    `<tr><th>${escapeHtml(r.method)}</th><td>${r.dim}</td><td>${
      escapeHtml(`${r.quantization}${r.rescore > 0 ? `+rescore×${r.rescore}` : ""}`)
    }</td>` +
    (["recall@1", "recall@10", "mrr@10", "ndcg@10"] as const).map((k) =>
      `<td>${r.metrics[k].toFixed(4)}</td>`
    ).join("") +
    `<td>${r.bytesPerVector}</td><td>${r.msPerQuery.toFixed(3)}</td></tr>`
  ).join("\n");
  return `<table class="num"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/**
 * The figures the report draws, in order (exposed for tests and notebooks).
 *
 * @example
 * ```ts
 * import { reportFigures } from "./report.ts";
 * const figs = reportFigures({ title: "t", config: {}, history: [{ epoch: 1, valLoss: 1 }] });
 * if (JSON.stringify(figs.map((f) => f.id)) !== JSON.stringify(["loss"])) throw new Error(`got ${JSON.stringify(figs.map((f) => f.id))}`);
 * ```
 */
export function reportFigures(input: ReportInput): { id: string; heading: string; fig: Figure }[] {
  const figs: { id: string; heading: string; fig: Figure }[] = [];
  if (input.history.length) {
    figs.push({ id: "loss", heading: "Loss", fig: lossCurves(input.history) });
  }
  const withMetrics = input.history.filter((h) => h.metrics && Object.keys(h.metrics).length);
  if (withMetrics.length) {
    const keys = metricKeysOf(...withMetrics.map((h) => h.metrics!));
    figs.push({
      id: "metrics",
      heading: "Validation metrics",
      fig: metricCurves(withMetrics as { epoch: number; metrics: Record<string, number> }[], keys),
    });
  }
  if (input.lrSteps && input.lrSteps.step.length) {
    figs.push({
      id: "lr",
      heading: "Learning-rate schedule",
      fig: lrSchedule(input.lrSteps.step, input.lrSteps.lr),
    });
  } else {
    const withLr = input.history.filter((h) => typeof h.lr === "number");
    if (withLr.length) {
      const fig = lrSchedule(withLr.map((h) => h.epoch), withLr.map((h) => h.lr!));
      (fig.layout.xaxis as { title: { text: string } }).title.text = "epoch";
      figs.push({ id: "lr", heading: "Learning-rate schedule", fig });
    }
  }
  // Data without feature labels (FlagEmbedding JSONL has no `differs`) has an
  // empty breakdown: leave the chart and table out rather than draw nothing.
  const hasFeatures = input.perFeature !== undefined &&
    Object.keys(input.perFeature.base).length + Object.keys(input.perFeature.projected ?? {})
            .length > 0;
  if (input.perFeature && hasFeatures) {
    const f = input.perFeature;
    const names = [...new Set([...Object.keys(f.base), ...Object.keys(f.projected ?? {})])].sort();
    const series = [{ name: "base", values: names.map((n) => f.base[n]?.rate ?? 0) }];
    if (f.projected) {
      series.push({ name: "projected", values: names.map((n) => f.projected![n]?.rate ?? 0) });
    }
    figs.push({
      id: "features",
      heading: "Hard-negative errors by feature",
      fig: barChart(names, series, {
        title: "Share of single-feature hard negatives scored ≥ the positive",
        xTitle: "feature",
        yTitle: "error rate",
      }),
    });
  }
  if (input.compare && input.compare.rows.length) {
    figs.push({
      id: "compare",
      heading: "Quality vs bytes per vector",
      fig: compareFigure(input.compare.rows),
    });
  }
  return figs;
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 0;
  color: #1d2733; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 0 0 12px; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 16px 20px;
  margin: 16px 0; }
.meta { color: #5a6572; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #e5e8ec; padding: 4px 12px; text-align: left; }
table.num td { text-align: right; font-variant-numeric: tabular-nums; }
td.up { color: #107c41; font-weight: 600; }
td.down { color: #b42318; font-weight: 600; }
table.config td { font-family: ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
`;

/**
 * Render the report as one self-contained HTML string (plotly.js inlined once,
 * about 1.5 MB; no network references).
 *
 * @example
 * ```ts
 * import { renderReport } from "./report.ts";
 * const html = renderReport({
 *   title: "run 1",
 *   config: { lr: 1e-3, epochs: 2 },
 *   history: [{ epoch: 1, trainLoss: 2, valLoss: 1.9 }, { epoch: 2, trainLoss: 1.5, valLoss: 1.6 }],
 * });
 * if (JSON.stringify(html.startsWith("<!DOCTYPE html>")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(html.startsWith("<!DOCTYPE html>"))}`);
 * ```
 */
export function renderReport(input: ReportInput): string {
  const parts: string[] = [];
  const figs = reportFigures(input);
  if (input.table) {
    parts.push(`<section id="results"><h2>Retrieval: base vs projected</h2>
${metricsTableHtml(input.table)}</section>`);
  }
  for (const f of figs) {
    // The section heading names the plot: drop the figure title, keep its top row for the legend.
    const margin = { ...(f.fig.layout.margin as object), t: 40 };
    const fig = { data: f.fig.data, layout: { ...f.fig.layout, title: { text: "" }, margin } };
    parts.push(`<section><h2>${escapeHtml(f.heading)}</h2>
${figureToHtmlDiv(fig, `plot-${f.id}`, { height: 400 })}</section>`);
    if (f.id === "features" && input.perFeature) {
      parts[parts.length - 1] = parts[parts.length - 1].replace(
        /<\/section>$/,
        `${featureTableHtml(input.perFeature)}</section>`,
      );
    }
    if (f.id === "compare" && input.compare) {
      const notes = (input.compare.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join("\n");
      parts[parts.length - 1] = parts[parts.length - 1]
        .replace(/^<section>/, '<section id="compare">')
        .replace(/<\/section>$/, `${notes}\n${compareTableHtml(input.compare.rows)}</section>`);
    }
  }
  const configRows = flatten(input.config).map(([k, v]) =>
    `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`
  ).join("\n");
  parts.push(`<section id="config"><h2>Configuration</h2>
<table class="config"><tbody>${configRows}</tbody></table></section>`);
  const trained = input.history.filter((h) => h.epoch > 0).length;
  const meta = [
    // Epoch 0 is the evaluation before the first step, not a trained epoch.
    `${trained} epoch${trained === 1 ? "" : "s"}`,
    ...(input.generatedAt ? [`generated ${escapeHtml(input.generatedAt)}`] : []),
  ].join(" · ");
  const notes = (input.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
${plotlyScriptTag()}
</head>
<body>
<main>
<h1>${escapeHtml(input.title)}</h1>
<p class="meta">${meta}</p>
${notes}
${parts.join("\n")}
</main>
</body>
</html>
`;
}

/**
 * Render and write the report atomically. `path` is the HTML file, or a
 * directory (no `.html` suffix) that receives `report.html`. Returns the file
 * written.
 *
 * @example
 * ```ts
 * import { writeReport } from "./report.ts";
 * const file = await writeReport("/tmp/run1", {
 *   title: "run 1", config: {}, history: [{ epoch: 1, valLoss: 1 }],
 * });
 * if (JSON.stringify(file) !== JSON.stringify("/tmp/run1/report.html")) throw new Error(`got ${JSON.stringify(file)}`);
 * ```
 */
export async function writeReport(path: string, input: ReportInput): Promise<string> {
  const file = /\.html?$/i.test(path) ? path : join(path, "report.html");
  await atomicWrite(file, renderReport(input));
  return file;
}
