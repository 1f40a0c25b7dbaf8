/**
 * Up-front checks of a training run: everything that would otherwise fail
 * late (after loading and encoding) or with an internal message, checked
 * before any heavy work and before the run directory exists.
 *
 * - {@link trainPathNeeds}: the paths a run reads and writes, for
 *   `requirePermissions` (see `lib/cli/permissions.ts`);
 * - {@link checkTrainConfig}: settings that only make sense together, and
 *   `--out-dim` against the encoder's dimension (from `encoder.json`, cheap);
 * - {@link checkTrainSplit}: a split that trains nothing, or a validation
 *   split that is empty although one was asked for.
 *
 * Every error is a {@link PreflightError} (a `UsageError`: exit code 2) that
 * names the flag or the data problem and says what would fix it.
 *
 * @module
 */
import { UsageError } from "../core/errors.ts";
import type { TrainConfig } from "./config.ts";
import { batchCount, type Example, queryGroups } from "../data/dataset.ts";
import { DEFAULT_MODEL_DIM } from "../encoder/default_model.ts";
import { DEFAULT_MODEL_DIR, modelFingerprint, readEncoderConfig } from "../encoder/encoder.ts";
import type { RunInfo } from "../run/checkpoint.ts";
import { fileSha256, resumeChanges, resumeRefusal } from "../run/resume_check.ts";
import { type PathNeed, requirePermissions } from "../cli/permissions.ts";

/** A run that cannot work as configured; the message names the flag or data problem and the fix. */
export class PreflightError extends UsageError {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the flag to change.
   */
  constructor(message: string) {
    super(message);
    this.name = "PreflightError";
  }
}

/**
 * The paths a training run reads and writes, each with the flag it came
 * from: `--data`, `--weights`, `--model` and `--cache-root` are read,
 * `--cache-root` and `--out` (default `checkpoints/`) or `--resume` are
 * written.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { trainPathNeeds } from "./preflight.ts";
 * console.log(trainPathNeeds(resolveConfig({}, { data: "/tmp/my.jsonl" })));
 * ```
 */
export function trainPathNeeds(
  config: TrainConfig,
  opts: { resume?: string } = {},
): PathNeed[] {
  const out = opts.resume ?? (config.out || "checkpoints");
  const outFlag = opts.resume ? "--resume" : config.out ? "--out" : "default --out";
  return [
    { kind: "read", path: config.data, flag: "--data" },
    { kind: "read", path: config.weights, flag: "--weights" },
    { kind: "read", path: config.model || DEFAULT_MODEL_DIR, flag: "--model" },
    { kind: "read", path: config.cacheRoot, flag: "--cache-root" },
    { kind: "write", path: config.cacheRoot, flag: "--cache-root" },
    { kind: "read", path: out, flag: outFlag },
    { kind: "write", path: out, flag: outFlag },
  ];
}

/**
 * Check settings against each other and against the encoder's output
 * dimension `encoderDim`: `--out-dim` may not exceed it (a projection to
 * more dimensions than its input has no orthogonal initialisation and adds
 * nothing), and `--patience` needs a validation split.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { checkTrainConfig } from "./preflight.ts";
 * checkTrainConfig(resolveConfig({}, { outDim: 128 }), 1024, "data/models/lexical-1024"); // ok
 * ```
 */
export function checkTrainConfig(config: TrainConfig, encoderDim: number, modelDir: string): void {
  if (config.outDim > encoderDim) {
    throw new PreflightError(
      `--out-dim ${config.outDim} is larger than the encoder's dimension ${encoderDim} ` +
        `(${modelDir}/encoder.json): the head projects ${encoderDim}-d embeddings down, ` +
        `so use --out-dim ${encoderDim} or less`,
    );
  }
  if (config.valFraction === 0 && config.patience > 0) {
    throw new PreflightError(
      `--patience ${config.patience} needs a validation split, but --val-fraction is 0: ` +
        `use --val-fraction > 0, or --patience 0`,
    );
  }
}

/**
 * Check a train/validation split before anything is encoded: the training
 * split must give at least one optimiser step (two examples: a one-row batch
 * has no in-batch negatives), and when validation was asked for
 * (`--val-fraction` > 0) it must not be empty (it is when every example has
 * the same query, whose copies all stay on one side).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { checkTrainSplit } from "./preflight.ts";
 * const ex = (id: number, query: string) => ({ id, query, positive: `p${id}`, negatives: [] });
 * const examples = [ex(0, "a"), ex(1, "b"), ex(2, "c")];
 * checkTrainSplit(resolveConfig({}, { valFraction: 0.3 }), "my.json", examples,
 *   examples.slice(0, 2), examples.slice(2)); // ok: 1 step, 1 validation query
 * ```
 */
export function checkTrainSplit(
  config: TrainConfig,
  dataPath: string,
  examples: readonly Example[],
  train: readonly Example[],
  val: readonly Example[],
): void {
  const steps = batchCount(train.length, config.batchSize);
  if (steps === 0) {
    const held = val.length > 0
      ? `, after holding out ${val.length} for validation (--val-fraction ${config.valFraction})`
      : "";
    const fix = val.length > 0 && examples.length >= 2
      ? `lower --val-fraction (--val-fraction 0 trains on all ${examples.length}, without validation) or add examples`
      : "add examples";
    throw new PreflightError(
      `${dataPath}: the train split has ${train.length} example(s)${held}: ` +
        `too few for one optimiser step (a batch needs at least 2 examples). ` +
        `Nothing would be trained: ${fix}`,
    );
  }
  if (config.valFraction > 0 && val.length === 0) {
    const groups = new Set(queryGroups(examples)).size;
    throw new PreflightError(
      `${dataPath}: the validation split is empty with --val-fraction ${config.valFraction}: ` +
        `the ${examples.length} examples have ${groups} distinct quer${
          groups === 1 ? "y" : "ies"
        }, ` +
        `and every copy of a query stays on one side. Add examples with other queries, ` +
        `or train without validation with --val-fraction 0`,
    );
  }
}

/**
 * The checks of a training run that need no data loaded: permissions for
 * every path (one line with the command that works, see
 * `requirePermissions`), `--out` and `--cache-root` not being files, then
 * {@link checkTrainConfig} against the encoder's `encoder.json`. Call it
 * before any loading or encoding.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { preflightTrain } from "./preflight.ts";
 * // Type-checked, not run: it needs a task's own permissions.
 * async function _example() {
 *   await preflightTrain(resolveConfig({}, { epochs: 1 }));
 * }
 * ```
 */
export async function preflightTrain(
  config: TrainConfig,
  opts: { resume?: string; args?: string[] } = {},
): Promise<void> {
  await requirePermissions("train", trainPathNeeds(config, opts), opts.args);
  const dirs: [string, string][] = [[config.cacheRoot, "--cache-root"]];
  if (!opts.resume && config.out) dirs.push([config.out, "--out"]);
  for (const [path, flag] of dirs) {
    let stat: Deno.FileInfo | undefined;
    try {
      stat = await Deno.stat(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (stat && !stat.isDirectory) {
      throw new PreflightError(`${flag} ${path} is a file, not a directory: give a directory`);
    }
  }
  const modelDir = config.model || DEFAULT_MODEL_DIR;
  let dim: number;
  try {
    dim = (await readEncoderConfig(modelDir)).dim;
  } catch (err) {
    // The default model is built on first use; its dimension is fixed.
    if (config.model) throw err;
    dim = DEFAULT_MODEL_DIM;
  }
  checkTrainConfig(config, dim, modelDir);
}

/**
 * Refuse `--resume` with other data, weights, model or split before anything
 * is loaded (unless `force`): the same rules the loop applies when it starts
 * (`RunRecorder.start`), checked early so that a refused run encodes nothing.
 *
 * @example
 * ```ts
 * import { preflightResume } from "./preflight.ts";
 * import type { RunInfo } from "../run/checkpoint.ts";
 * import type { TrainConfig } from "./config.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example(dir: string, info: RunInfo, config: TrainConfig) {
 *   await preflightResume(dir, info, config, false); // throws a PreflightError naming each change
 * }
 * ```
 */
export async function preflightResume(
  dir: string,
  info: RunInfo,
  config: TrainConfig,
  force: boolean,
): Promise<void> {
  const changes = resumeChanges(info, config, {
    dataSha256: await fileSha256(config.data),
    weightsSha256: await fileSha256(config.weights),
    fingerprint: await modelFingerprint(config.model || DEFAULT_MODEL_DIR).catch(() => undefined),
  });
  const refusal = resumeRefusal(dir, changes, force);
  if (refusal) throw new PreflightError(refusal.message);
}
