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
