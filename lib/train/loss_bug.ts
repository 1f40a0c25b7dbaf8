/**
 * The loss-bug demonstration's numbers and figure: one hard negative's share
 * of the loss against its similarity, under the "exp" (correct) and "logit"
 * (the original project's bug) weightings. Used by notebook 02 and by
 * `deno task loss-bug-figure` (the README's picture), so both draw exactly
 * the same figure.
 *
 * @module
 */
import type { Example } from "../data/dataset.ts";
import { negativeShare, type Weighting } from "./loss.ts";
import { combineFigures, type Figure, lineChart } from "../report/plots.ts";

/** Query–positive and query–hard-negative cosine similarities of some examples. */
export interface SimilarityStats {
  /** cos(query, positive), one per example. */
  positives: number[];
  /** cos(query, hard negative), one per hard negative. */
  negatives: number[];
  /** Median of `positives`. */
  medianPositive: number;
  /** Median of `negatives`. */
  medianNegative: number;
  /** Fraction of `negatives` below 0 (where the logit weighting inverts the weight). */
  fractionBelowZero: number;
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Cosine similarities of each example's query with its positive and with its
 * hard negatives, from a row-major matrix of unit vectors (`rowOf` maps a
 * text to its row).
 *
 * @example
 * ```ts
 * import { hardNegativeSimilarities } from "./loss_bug.ts";
 * const vectors = new Float32Array([1, 0, 0.6, 0.8, -0.6, 0.8]); // q, p, n (dim 2)
 * const rowOf = new Map([["q", 0], ["p", 1], ["n", 2]]);
 * const examples = [{ id: 0, query: "q", positive: "p",
 *   negatives: [{ text: "n", weight: 2.5, differs: ["district"] }] }];
 * const s = hardNegativeSimilarities(examples, vectors, 2, rowOf);
 * console.log(s.medianPositive, s.medianNegative, s.fractionBelowZero); // ~0.6 ~-0.6 1
 * ```
 */
export function hardNegativeSimilarities(
  examples: readonly Example[],
  vectors: Float32Array,
  dim: number,
  rowOf: Map<string, number>,
): SimilarityStats {
  const row = (text: string) => {
    const r = rowOf.get(text);
    if (r === undefined) throw new Error(`hardNegativeSimilarities: no vector for "${text}"`);
    return r * dim;
  };
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let t = 0; t < dim; t++) s += vectors[a + t] * vectors[b + t];
    return s;
  };
  const positives: number[] = [];
  const negatives: number[] = [];
  for (const ex of examples) {
    const q = row(ex.query);
    positives.push(dot(q, row(ex.positive)));
    for (const n of ex.negatives) negatives.push(dot(q, row(n.text)));
  }
  return {
    positives,
    negatives,
    medianPositive: median(positives),
    medianNegative: median(negatives),
    fractionBelowZero: negatives.length
      ? negatives.filter((s) => s < 0).length / negatives.length
      : 0,
  };
}

/** Options of {@linkcode lossBugFigure}. */
export interface LossBugFigureOptions {
  /** Softmax temperature τ (the training default is 0.05). */
  temperature: number;
  /**
   * Similarity of the positive, the other term of the denominator (the
   * measured median query–positive similarity in notebook 02).
   */
  positiveSimilarity: number;
  /** A similarity to mark with a vertical line, e.g. the median hard negative. */
  markSimilarity?: number;
  /** Hard-negative weights to draw (default 0, 0.5, 1, 2, 2.5). */
  weights?: number[];
  /** Similarity grid: from, to, step (default -1, 1, 0.01). */
  grid?: [number, number, number];
}

/** The weights drawn by default: 0, 0.5, 1, 2 and 2.5 (the district weight). */
export const LOSS_BUG_WEIGHTS: readonly number[] = [0, 0.5, 1, 2, 2.5];

/**
 * Two panels, "exp" (correct) and "logit" (the bug): one hard negative's share
 * of the loss denominator ({@linkcode negativeShare}) against its similarity,
 * one line per weight, on a log axis. Marks s = 0 (below it, logit inverts
 * the weight's meaning, shaded) and notes what w = 0 does under each.
 *
 * @example
 * ```ts
 * import { lossBugFigure } from "./loss_bug.ts";
 * const fig = lossBugFigure({ temperature: 0.05, positiveSimilarity: 0.6, markSimilarity: 0.4 });
 * if (fig.data.length !== 10) throw new Error(`${fig.data.length} traces, expected 5 weights x 2 panels`);
 * ```
 */
export function lossBugFigure(opts: LossBugFigureOptions): Figure {
  const [from, to, step] = opts.grid ?? [-1, 1, 0.01];
  const sims: number[] = [];
  for (let i = 0; from + i * step <= to + 1e-9; i++) {
    sims.push(Number((from + i * step).toFixed(6)));
  }
  const weights = opts.weights ?? [...LOSS_BUG_WEIGHTS];
  const tau = opts.temperature;
  const otherLogits = [opts.positiveSimilarity / tau];
  const panel = (weighting: Weighting, title: string) => {
    const vlines: { x: number }[] = [{ x: 0 }];
    if (opts.markSimilarity !== undefined) vlines.push({ x: opts.markSimilarity });
    const fig = lineChart(
      weights.map((w) => ({
        name: `w = ${w}`,
        x: sims,
        // A share of exactly 0 (exp, w = 0) cannot be drawn on a log axis.
        y: sims.map((s) => {
          const v = negativeShare(s, w, { temperature: tau, weighting, otherLogits });
          return v > 0 ? v : NaN;
        }),
        dash: w === 0 ? "dash" : undefined,
      })),
      {
        title,
        xTitle: "similarity s of the hard negative",
        yTitle: "share of the loss denominator",
        logY: true,
        vlines,
      },
    );
    const note = weighting === "exp"
      ? "w = 0: share 0 at every s (the negative is removed)"
      : "w = 0: e^0 = 1, counts as a negative at s = 0";
    const s0 = "s < 0: a larger w gives a <b>smaller</b> share (inverted)";
    const annotations = fig.layout.annotations as Record<string, unknown>[];
    const yaxis = fig.layout.yaxis as Record<string, unknown>;
    yaxis.exponentformat = "power";
    yaxis.dtick = 3;
    if (opts.markSimilarity !== undefined) {
      annotations.push({
        xref: "x",
        yref: "y domain",
        x: opts.markSimilarity,
        y: 0.03,
        xanchor: "left",
        yanchor: "bottom",
        textangle: -90,
        text: `median hard negative, s = ${opts.markSimilarity.toFixed(2)}`,
        showarrow: false,
        font: { size: 11, color: "#555" },
      });
    }
    annotations.push({
      xref: "x domain",
      yref: "y domain",
      x: 0.02,
      y: 0.98,
      xanchor: "left",
      yanchor: "top",
      text: weighting === "logit" ? `${note}<br>${s0}` : note,
      showarrow: false,
      align: "left",
      bgcolor: "rgba(255,255,255,0.8)",
    });
    if (weighting === "logit") {
      (fig.layout.shapes as Record<string, unknown>[]).push({
        type: "rect",
        xref: "x",
        yref: "y domain",
        x0: from,
        x1: 0,
        y0: 0,
        y1: 1,
        fillcolor: "rgba(214,39,40,0.08)",
        line: { width: 0 },
        layer: "below",
      });
    }
    return fig;
  };
  return combineFigures([
    panel("exp", "exp: w·e^s (correct)"),
    panel("logit", "logit: e^(w·s) (the bug)"),
  ], {
    columns: 2,
    title: `One hard negative's share of the loss (τ = ${tau}, positive at the median s = ${
      opts.positiveSimilarity.toFixed(2)
    })`,
    height: 560,
  });
}
