/**
 * Training: the config (defaults, file, flags), the losses (weighted InfoNCE
 * and its Matryoshka wrapper), the fast onnxruntime step with its closed-form
 * gradient and AdamW, the tfjs reference step, the learning-rate schedule,
 * the checks before a run, and `trainHead`, the loop.
 *
 * @example
 * ```ts
 * import { learningRate } from "./mod.ts";
 * // linear warm-up over the first 10 % of 100 steps, then cosine decay
 * if (learningRate(0, 100, 1e-3, 0.1) !== 1e-4) throw new Error("first warm-up step");
 * if (learningRate(10, 100, 1e-3, 0.1) !== 1e-3) throw new Error("the peak");
 * if (learningRate(100, 100, 1e-3, 0.1) !== 0) throw new Error("the end");
 * ```
 *
 * @module
 */

export {
  ConfigError,
  DEFAULT_CONFIG,
  matryoshkaDims,
  readConfigFile,
  resolveConfig,
  type TrainConfig,
  usesOrt,
} from "./config.ts";
export {
  hardNegativeSimilarities,
  LOSS_BUG_WEIGHTS,
  lossBugFigure,
  type LossBugFigureOptions,
  type SimilarityStats,
} from "./loss_bug.ts";
export {
  type InfoNCEOptions,
  lossDirections,
  matryoshkaInfoNCE,
  type MatryoshkaOptions,
  negativeShare,
  weightedInfoNCE,
  type Weighting,
} from "./loss.ts";
export {
  checkTrainConfig,
  checkTrainSplit,
  PreflightError,
  preflightResume,
  preflightTrain,
  trainPathNeeds,
} from "./preflight.ts";
export { learningRate, scheduleCurve } from "./schedule.ts";
export {
  createStepEngine,
  NonFiniteLossError,
  prepareTraining,
  trainHead,
  type TrainOptions,
} from "./trainer.ts";
export {
  type LossSpec,
  OrtStep,
  type StepBatch,
  type StepEngine,
  type StepShape,
} from "./train_step.ts";
export { AdamW, type AdamWOptions, adamWUpdate, createState, type StepState } from "./optimizer.ts";
export { BestSelector } from "./select.ts";
export { RunRecorder } from "./recorder.ts";
export {
  type RowBatch,
  sampleByQuery,
  VAL_RETRIEVAL_MAX_QUERIES,
  type Validation,
  Validator,
} from "./validator.ts";
export { TfjsStep } from "./train_step_tfjs.ts";
export type { PreparedData, TrainEvent, TrainResult } from "./types.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type PathNeed } from "../cli/permissions.ts";
export { UsageError } from "../core/errors.ts";
export { type Dataset, type Example, type Negative } from "../data/dataset.ts";
export { type Comparison, type EmbeddingTable, type RetrievalTask } from "../eval/evaluation.ts";
export { type FeatureErrors, type Metrics } from "../eval/metrics.ts";
export { type Figure } from "../report/plots.ts";
export { CHECKPOINT_FORMAT, type EpochRecord, type RunInfo } from "../run/checkpoint.ts";
export { type Manifest, MANIFEST_FORMAT, type ManifestEntry } from "../run/manifest.ts";
export { RunDir, type TrainState } from "../run/run_dir.ts";
