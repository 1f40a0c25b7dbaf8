/**
 * Figures and reports: Plotly charts (loss curves, metrics, PCA scatter,
 * the `--compare` figure), their display in Jupyter, and a run's
 * self-contained `report.html`.
 *
 * @example
 * ```ts
 * import { lineChart } from "./mod.ts";
 * const fig = lineChart([{ name: "train", x: [1, 2], y: [0.9, 0.5] }], { title: "loss" });
 * if (fig.data.length !== 1) throw new Error("one trace per series");
 * ```
 *
 * @module
 */

export { compareFigure, type CompareFigureOptions } from "./compare_plot.ts";
export {
  barChart,
  combineFigures,
  type DisplayOptions,
  displayPlot,
  type Figure,
  histogram,
  INLINE_MODES,
  type InlineMode,
  lineChart,
  type LineChartOptions,
  type LineSeries,
  lossCurves,
  lrSchedule,
  metricCurves,
  outputPauseMs,
  type Pca2d,
  pca2d,
  pcaScatter,
  type PlotBundle,
  plotlyLoaderScript,
  showOutput,
} from "./plots.ts";
export { renderReport, type ReportInput, writeReport } from "./report.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type CompareRow } from "../eval/compare.ts";
export { type FeatureErrors, type Metrics } from "../eval/metrics.ts";
export { type Quantization } from "../eval/quantize.ts";
export { type EpochRecord } from "../run/checkpoint.ts";
