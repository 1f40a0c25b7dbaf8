/**
 * Run directories: one locked writer per run, one manifest per committed
 * epoch (every file's sha256), checkpoint loading that verifies what it reads,
 * and the resume check that refuses a changed run.
 *
 * @example
 * ```ts
 * import { ManifestError, RunDirError } from "./mod.ts";
 * // errors are typed, so callers can tell a damaged run from a bad request
 * const err: Error = new ManifestError("checkpoints/x/manifest.json: sha256 mismatch");
 * if (err instanceof RunDirError) throw new Error("distinct error classes");
 * ```
 *
 * @module
 */

export {
  assertHeadFitsEncoder,
  CHECKPOINT_FORMAT,
  CheckpointError,
  type EpochRecord,
  loadCheckpoint,
  type LoadedCheckpoint,
  readMetrics,
  readRunInfo,
  resolveRunDir,
  type RunInfo,
  validateHeadWeight,
} from "./checkpoint.ts";
export {
  type Manifest,
  MANIFEST_FORMAT,
  type ManifestEntry,
  ManifestError,
  readCommittedFile,
  readManifest,
} from "./manifest.ts";
export {
  formatResumeChanges,
  type ResumeChange,
  resumeChanges,
  resumeRefusal,
  type RunIdentity,
} from "./resume_check.ts";
export {
  latestName,
  type LockInfo,
  RunDir,
  RunDirError,
  type RunDirOptions,
  RunLockedError,
  type TrainState,
} from "./run_dir.ts";
export { RunLock } from "./run_lock.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type TrainConfig } from "../train/config.ts";
