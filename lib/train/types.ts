/**
 * What the training loop takes and reports: the prepared data, the events
 * the CLI renders, and the result.
 *
 * @module
 */
import type { EpochRecord, RunInfo } from "../run/checkpoint.ts";
import type { Dataset, Example } from "../data/dataset.ts";
import type { FeatureErrors } from "../eval/metrics.ts";

/** Everything the loop needs, computed once. */
export interface PreparedData {
  dataset: Dataset;
  train: Example[];
  val: Example[];
  encoder: { name: string; dir: string; fingerprint: string; dim: number; params: number };
  /** All unique texts of the dataset, row-aligned with `embeddings`. */
  texts: string[];
  /** Base-encoder embeddings, row-major `[texts.length, dim]`, L2-normalised. */
  embeddings: Float32Array;
  /** text → row of `embeddings`. */
  rowOf: Map<string, number>;
  cache: { hits: number; misses: number; truncated: number };
}

/** What the loop reports. The CLI turns these into lines and a progress bar. */
export type TrainEvent =
  | { type: "info"; message: string }
  | {
    type: "step";
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    avgLoss: number;
    lr: number;
  }
  | { type: "epoch"; record: EpochRecord; isBest: boolean; bestPath?: string; select: string }
  | { type: "done"; result: TrainResult };

/** The outcome of {@link trainHead}. */
export interface TrainResult {
  outDir: string;
  status: "complete" | "interrupted";
  history: EpochRecord[];
  best: RunInfo["best"];
  baseMetrics: Record<string, number>;
  finalMetrics: Record<string, number>;
  perFeature?: { base: FeatureErrors; projected: FeatureErrors };
  seconds: number;
  stoppedEarly: boolean;
}
