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
  /** The loaded dataset (path, format, sha256, examples). */
  dataset: Dataset;
  /** The training split. */
  train: Example[];
  /** The validation split (held out by query). */
  val: Example[];
  /** The frozen encoder: name, folder, fingerprint, output dim, parameter count. */
  encoder: { name: string; dir: string; fingerprint: string; dim: number; params: number };
  /** All unique texts of the dataset, row-aligned with `embeddings`. */
  texts: string[];
  /** Base-encoder embeddings, row-major `[texts.length, dim]`, L2-normalised. */
  embeddings: Float32Array;
  /** text → row of `embeddings`. */
  rowOf: Map<string, number>;
  /** Embedding cache use: texts found, texts encoded, texts truncated to the model's length. */
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
  /** The run directory. */
  outDir: string;
  /** `complete`, or `interrupted` (Ctrl-C or an abort signal). */
  status: "complete" | "interrupted";
  /** Every committed epoch (epoch 0 is before the first step). */
  history: EpochRecord[];
  /** The selected epoch, by `--select`. */
  best: RunInfo["best"];
  /** The base encoder's validation retrieval metrics. */
  baseMetrics: Record<string, number>;
  /** The final head's validation retrieval metrics. */
  finalMetrics: Record<string, number>;
  /** Per-feature error shares of the base encoder and the final head. */
  perFeature?: { base: FeatureErrors; projected: FeatureErrors };
  /** Wall time of the loop. */
  seconds: number;
  /** True when `--patience` stopped the run before `--epochs`. */
  stoppedEarly: boolean;
}
