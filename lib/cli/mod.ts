/**
 * What the command-line scripts share beyond flag parsing: progress lines
 * and the permission checks that name the flag to fix.
 *
 * @example
 * ```ts
 * import { Progress } from "./mod.ts";
 * if (typeof Progress !== "function") throw new Error("Progress is a class");
 * ```
 *
 * @module
 */

export {
  type EncodePlan,
  type EncodeReporter,
  encodeReporter,
  type EncodeReporterOptions,
  planMessage,
  Progress,
} from "./progress.ts";
export {
  fileWriteNeeds,
  type MissingPermission,
  type PathNeed,
  PermissionPreflightError,
  requirePermissions,
} from "./permissions.ts";
export { CliError } from "./cli.ts";
export { TrainView } from "./train_view.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { UsageError } from "../core/errors.ts";
export { type Dataset, type Example, type Negative } from "../data/dataset.ts";
export { type FeatureErrors } from "../eval/metrics.ts";
export { CHECKPOINT_FORMAT, type EpochRecord, type RunInfo } from "../run/checkpoint.ts";
export { type TrainConfig } from "../train/config.ts";
export { type PreparedData, type TrainEvent, type TrainResult } from "../train/types.ts";
