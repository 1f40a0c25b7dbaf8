/**
 * The `--compare` result as a figure: retrieval quality against bytes per
 * vector (log scale), one line per method (base, PCA, each head), each point
 * one (dim, storage) variant. A plain Plotly `{ data, layout }` object, shown
 * with `displayPlot` (notebooks) or `figureToHtmlDiv` (reports).
 *
 * @module
 */
import type { CompareRow } from "../eval/compare.ts";
import type { Metrics } from "../eval/metrics.ts";
import type { Figure } from "./plots.ts";

/**
 * Options of {@linkcode compareFigure}.
 *
 * @example
 * ```ts
 * import { compareFigure, type CompareFigureOptions } from "./compare_plot.ts";
 * const o: CompareFigureOptions = { metric: "ndcg@10", rescoredOnly: true };
 * if (JSON.stringify(compareFigure([], o).data.length) !== JSON.stringify(0)) throw new Error(`got ${JSON.stringify(compareFigure([], o).data.length)}`);
 * ```
 */
export interface CompareFigureOptions {
  /** The quality metric on the y axis (default `mrr@10`). */
  metric?: keyof Metrics;
  /** Leave out binary rows without re-scoring (default false). */
  rescoredOnly?: boolean;
  /** Figure title. */
  title?: string;
}

/**
 * Quality vs bytes per vector, one line per method, points sorted by size.
 * The hover text names the dimension and storage of each point.
 *
 * @example
 * ```ts
 * import { compareFigure } from "./compare_plot.ts";
 * const m = { "recall@1": 0.1, "recall@5": 0.3, "recall@10": 0.4, "mrr@10": 0.2, "ndcg@10": 0.25 };
 * const fig = compareFigure([
 *   { method: "base", dim: 1024, quantization: "fp32", rescore: 0, label: "base-1024 fp32", metrics: m, bytesPerVector: 4096, msPerQuery: 1 },
 *   { method: "head", dim: 256, quantization: "int8", rescore: 0, label: "head-256 int8", metrics: m, bytesPerVector: 256, msPerQuery: 1 },
 * ]);
 * if (JSON.stringify(fig.data.length) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(fig.data.length)}`);
 * ```
 */
export function compareFigure(rows: CompareRow[], opts: CompareFigureOptions = {}): Figure {
  const metric = opts.metric ?? "mrr@10";
  const byMethod = new Map<string, CompareRow[]>();
  for (const r of rows) {
    if (opts.rescoredOnly && r.quantization === "binary" && r.rescore === 0) continue;
    const list = byMethod.get(r.method) ?? [];
    list.push(r);
    byMethod.set(r.method, list);
  }
  const data = [...byMethod.entries()].map(([method, list]) => {
    const sorted = [...list].sort((a, b) =>
      a.bytesPerVector - b.bytesPerVector || a.metrics[metric] - b.metrics[metric]
    );
    return {
      type: "scatter",
      mode: "lines+markers",
      name: method,
      x: sorted.map((r) => r.bytesPerVector),
      y: sorted.map((r) => r.metrics[metric]),
      text: sorted.map((r) => r.label),
      hovertemplate: `%{text}<br>%{x} bytes/vector<br>${metric} %{y:.4f}<extra></extra>`,
    };
  });
  return {
    data,
    layout: {
      title: { text: opts.title ?? `${metric} vs index size, per method` },
      xaxis: { title: { text: "bytes per vector (log scale)" }, type: "log", automargin: true },
      yaxis: { title: { text: metric }, rangemode: "tozero", automargin: true },
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.02, yanchor: "bottom" },
      margin: { l: 60, r: 20, t: 80, b: 50 },
      hovermode: "closest",
    },
  };
}
