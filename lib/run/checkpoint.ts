/**
 * Reading run directories: `config.json`, `metrics.jsonl` and the head's
 * `best` / `final` / `interrupted` safetensors, each verified against the
 * run's `manifest.json` and validated (shape, finite values, magnitude) on
 * load. Runs are written only by `RunDir` (`run_dir.ts`), which commits
 * every epoch through the manifest.
 *
 * @module
 */
import type { TrainConfig } from "../train/config.ts";
import { atomicWrite, dirname, exists, join } from "../core/fs.ts";
import { MANIFEST_FILE, ManifestError, readCommittedFile } from "./manifest.ts";
import { decodeSafetensors } from "../core/safetensors.ts";

/** Format tag of `config.json`. */
export const CHECKPOINT_FORMAT = "phongtro-head/v1";

/** Validation numbers of one epoch. */
export interface EpochRecord {
  /** The epoch (0 = before the first step). */
  epoch: number;
  /** Mean training loss over the epoch; absent for epoch 0 (before training). */
  trainLoss?: number;
  /** Mean validation loss (NaN without a validation split). */
  valLoss: number;
  /** Retrieval metrics of the projected head on the validation split. */
  metrics?: Record<string, number>;
  /** Learning rate at the end of the epoch. */
  lr?: number;
  /** Wall time of the epoch in seconds. */
  seconds?: number;
  /** Global norm of the last gradient, before clipping. */
  gradNorm?: number;
  /** Matryoshka runs: validation loss and metrics of each trained prefix, keyed by its dim. */
  byDim?: Record<string, { valLoss: number; metrics: Record<string, number> }>;
}

/** The contents of `config.json`. */
export interface RunInfo {
  /** Format tag, {@link CHECKPOINT_FORMAT}. */
  format: typeof CHECKPOINT_FORMAT;
  /** Where the run stands: `failed` after a non-finite loss (the last good epoch is kept). */
  status: "running" | "complete" | "interrupted" | "failed";
  /** When the run was created (ISO 8601). */
  created: string;
  /** When `config.json` was last committed (ISO 8601). */
  updated: string;
  /** The resolved training config. */
  config: TrainConfig;
  /** The frozen encoder the head was trained on (its fingerprint is checked on load). */
  encoder: { name: string; dir: string; fingerprint: string; dim: number; params: number };
  /** The training data, its sha256, and the split that held out the validation examples. */
  dataset: {
    path: string;
    sha256: string;
    format: string;
    examples: number;
    train: number;
    val: number;
    splitSeed: number;
    valFraction: number;
    /** sha256 of the feature-weight file (runs since manifests). */
    weightsSha256?: string;
  };
  /** The head's shape and parameter count. */
  head: { inDim: number; outDim: number; params: number };
  /** The step's backend (`onnxruntime-cpu`, or the tfjs backend's name). */
  backend: string;
  /** The last epoch whose weights are in `final.safetensors`. */
  lastEpoch: number;
  /** Optimiser step count at `lastEpoch`. */
  step: number;
  /** The selected epoch, its metric and value, and its record (null before epoch 0). */
  best: { epoch: number; select: string; value: number; record: EpochRecord } | null;
  /** Base-encoder validation metrics (1024-d), for comparison. */
  baseMetrics?: Record<string, number>;
  /** Why the run failed (with `status: "failed"`). */
  error?: string;
  /** Each `--resume` that changed a setting: when, at which epoch, what changed, forced or not. */
  resumes?: {
    at: string;
    epoch: number;
    forced: boolean;
    changes: { field: string; from: unknown; to: unknown }[];
  }[];
}

/** A head weight loaded from a checkpoint. */
export interface LoadedCheckpoint {
  /** The run directory, resolved (a `latest` pointer followed). */
  dir: string;
  /** Which weights were loaded. */
  which: "best" | "final" | "interrupted";
  /** The run's `config.json`. */
  info: RunInfo;
  /** PyTorch `nn.Linear` layout `[outDim, inDim]`. */
  weight: Float32Array;
  /** Input dimension (the encoder's). */
  inDim: number;
  /** Output dimension. */
  outDim: number;
  /** The safetensors header's metadata (format, epoch). */
  metadata: Record<string, string>;
}

/** A checkpoint that cannot be used; the message names the file and the problem. */
export class CheckpointError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message The file and what is wrong with it.
   */
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/**
 * Read and validate `config.json` of a checkpoint directory.
 *
 * @example
 * ```ts
 * import { readRunInfo } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const info = await readRunInfo("checkpoints/latest");
 *   console.log(info.encoder.name, info.best?.epoch);
 * }
 * ```
 */
export async function readRunInfo(runDir: string): Promise<RunInfo> {
  const dir = await resolveRunDir(runDir);
  const path = join(dir, "config.json");
  let bytes: Uint8Array;
  try {
    bytes = await readCommittedFile(dir, "config.json");
  } catch (err) {
    if (err instanceof ManifestError && !await exists(path)) {
      throw new CheckpointError(`${path} is missing: ${dir} is not a checkpoint directory`);
    }
    throw new CheckpointError((err as Error).message);
  }
  return parseRunInfo(bytes, path);
}

/**
 * Parse and validate the contents of a `config.json` (`path` for messages).
 *
 * @example
 * ```ts
 * import { parseRunInfo } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const info = parseRunInfo(await Deno.readFile("checkpoints/x/config.json"), "checkpoints/x/config.json");
 *   console.log(info.lastEpoch);
 * }
 * ```
 */
export function parseRunInfo(data: Uint8Array | string, path: string): RunInfo {
  let info: RunInfo;
  try {
    info = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
  } catch (err) {
    throw new CheckpointError(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  if (info?.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${path}: field "format" is ${JSON.stringify(info?.format)}, expected "${CHECKPOINT_FORMAT}"`,
    );
  }
  for (const field of ["config", "encoder", "dataset", "head"] as const) {
    if (typeof info[field] !== "object" || info[field] === null) {
      throw new CheckpointError(`${path}: field "${field}" is missing`);
    }
  }
  if (typeof info.encoder.fingerprint !== "string") {
    throw new CheckpointError(`${path}: field "encoder.fingerprint" is missing`);
  }
  return info;
}

/**
 * Read `metrics.jsonl` (one JSON object per line).
 *
 * @example
 * ```ts
 * import { readMetrics } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   console.log((await readMetrics("checkpoints/latest")).length);
 * }
 * ```
 */
export async function readMetrics(runDir: string): Promise<EpochRecord[]> {
  const dir = await resolveRunDir(runDir);
  const path = join(dir, "metrics.jsonl");
  let text: string;
  try {
    text = new TextDecoder().decode(await readCommittedFile(dir, "metrics.jsonl"));
  } catch (err) {
    throw new CheckpointError((err as Error).message);
  }
  return text.split("\n").filter((l) => l.trim() !== "").map((line, i) => {
    try {
      return JSON.parse(line) as EpochRecord;
    } catch {
      throw new CheckpointError(`${path}: line ${i + 1} is not valid JSON`);
    }
  });
}

/**
 * Load a head from a checkpoint directory, validating `config.json`, the
 * safetensors header, dtype and shape. Both files are verified against the
 * run's `manifest.json` (sha256), so a load never mixes two epochs or
 * accepts a file changed after the run committed it. With `fingerprint`, the checkpoint's
 * encoder fingerprint must match, unless `force` (then `onWarning` is told).
 *
 * @example
 * ```ts
 * import { loadCheckpoint } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const ckpt = await loadCheckpoint("checkpoints/latest", { which: "best" });
 *   console.log(ckpt.outDim, ckpt.inDim);
 * }
 * ```
 */
export async function loadCheckpoint(
  runDir: string,
  opts: {
    which?: "best" | "final" | "interrupted";
    fingerprint?: string;
    force?: boolean;
    onWarning?: (msg: string) => void;
  } = {},
): Promise<LoadedCheckpoint> {
  const dir = await resolveRunDir(runDir);
  const info = await readRunInfo(dir);
  const which = opts.which ?? "best";
  if (opts.fingerprint && opts.fingerprint !== info.encoder.fingerprint) {
    const msg = `${join(dir, "config.json")}: the checkpoint was trained on encoder ` +
      `"${info.encoder.name}" (fingerprint ${info.encoder.fingerprint.slice(0, 12)}), ` +
      `but the encoder in use has fingerprint ${opts.fingerprint.slice(0, 12)}`;
    if (!opts.force) throw new CheckpointError(`${msg}. Use --force to load it anyway.`);
    (opts.onWarning ?? console.warn)(`warning: ${msg}; loading anyway (--force)`);
  }
  const path = join(dir, `${which}.safetensors`);
  if (!await exists(path) && !await exists(path + ".next")) {
    throw new CheckpointError(`${path} is missing`);
  }
  let st;
  try {
    st = decodeSafetensors(await readCommittedFile(dir, `${which}.safetensors`));
  } catch (err) {
    const msg = (err as Error).message;
    throw new CheckpointError(err instanceof ManifestError ? msg : `${path}: ${msg}`);
  }
  const t = st.tensors.weight;
  if (!t) throw new CheckpointError(`${path}: tensor "weight" is missing`);
  const expected = [info.head.outDim, info.head.inDim];
  if (t.shape.length !== 2 || t.shape[0] !== expected[0] || t.shape[1] !== expected[1]) {
    throw new CheckpointError(
      `${path}: tensor "weight" has shape [${t.shape}], config.json says [${expected}]`,
    );
  }
  validateHeadWeight(t.data, t.shape[0], t.shape[1], path);
  if (!await exists(join(dir, MANIFEST_FILE))) {
    // Loaded all the same (runs from before manifests, checkpoints made by tools), but not silently.
    (opts.onWarning ?? console.warn)(
      `warning: ${dir} has no ${MANIFEST_FILE}, so its files are not verified (a run from before ` +
        `manifests, a checkpoint made by a tool, or a removed manifest)`,
    );
  }
  return {
    dir,
    which,
    info,
    weight: t.data,
    outDim: t.shape[0],
    inDim: t.shape[1],
    metadata: st.metadata,
  };
}

/**
 * The largest magnitude of a head weight value that {@link validateHeadWeight} accepts.
 *
 * @example
 * ```ts
 * import { MAX_HEAD_VALUE } from "./checkpoint.ts";
 * if (JSON.stringify(MAX_HEAD_VALUE) !== JSON.stringify(10000)) throw new Error(`got ${JSON.stringify(MAX_HEAD_VALUE)}`);
 * ```
 */
export const MAX_HEAD_VALUE = 1e4;
/**
 * The largest ratio of a head row's norm to the median row norm that
 * {@link validateHeadWeight} accepts.
 *
 * @example
 * ```ts
 * import { MAX_ROW_NORM_RATIO } from "./checkpoint.ts";
 * if (JSON.stringify(MAX_ROW_NORM_RATIO) !== JSON.stringify(1000)) throw new Error(`got ${JSON.stringify(MAX_ROW_NORM_RATIO)}`);
 * ```
 */
export const MAX_ROW_NORM_RATIO = 1e3;

/**
 * Check that a head weight (`[outDim, inDim]`, row-major) can be used: every
 * value finite and at most {@link MAX_HEAD_VALUE} in magnitude, not all zeros,
 * no all-zero output row (that output would be 0 for every text), no row whose
 * norm is over {@link MAX_ROW_NORM_RATIO} times the median (that output would
 * dominate every vector) and no two identical rows (two outputs always
 * equal). One pass plus a hash per row, so cheap even for large heads. Throws a
 * {@link CheckpointError} naming `path` and the problem.
 *
 * @example
 * ```ts
 * import { validateHeadWeight } from "./checkpoint.ts";
 * validateHeadWeight(new Float32Array([1, 0, 0, 1]), 2, 2, "x.safetensors"); // ok
 * try {
 *   validateHeadWeight(new Float32Array(4), 2, 2, "x.safetensors");
 * } catch (err) {
 *   console.log((err as Error).message); // x.safetensors: tensor "weight" is all zeros ...
 * }
 * ```
 */
export function validateHeadWeight(
  weight: Float32Array,
  outDim: number,
  inDim: number,
  path: string,
): void {
  const name = `${path}: tensor "weight" [${outDim}, ${inDim}]`;
  if (weight.length !== outDim * inDim) {
    throw new CheckpointError(`${name} holds ${weight.length} values`);
  }
  const retrain = "The checkpoint is degenerate: retrain, or load the other one (--which)";
  let zeroRows = 0, firstZero = -1;
  const seen = new Map<number, number[]>();
  const norms = new Float64Array(outDim);
  for (let r = 0; r < outDim; r++) {
    const row = weight.subarray(r * inDim, (r + 1) * inDim);
    let sq = 0;
    for (let c = 0; c < inDim; c++) {
      const x = row[c];
      if (!Number.isFinite(x)) {
        throw new CheckpointError(
          `${name} holds a non-finite value (${x}) at row ${r}, column ${c} (index ${
            r * inDim + c
          })`,
        );
      }
      if (Math.abs(x) > MAX_HEAD_VALUE) {
        throw new CheckpointError(
          `${name} holds ${
            x.toPrecision(3)
          } at row ${r}, column ${c}: trained heads stay far below ` +
            `${MAX_HEAD_VALUE} in magnitude (a damaged or hand-edited weight?)`,
        );
      }
      sq += x * x;
    }
    norms[r] = Math.sqrt(sq);
    if (sq === 0) {
      zeroRows++;
      if (firstZero < 0) firstZero = r;
      continue;
    }
    const bits = new Uint32Array(row.buffer, row.byteOffset, inDim);
    let h = 0x811c9dc5;
    for (let c = 0; c < inDim; c++) h = Math.imul(h ^ bits[c], 0x01000193);
    const rows = seen.get(h) ?? [];
    for (const other of rows) {
      const o = new Uint32Array(weight.buffer, weight.byteOffset + other * inDim * 4, inDim);
      if (o.every((v, c) => v === bits[c])) {
        throw new CheckpointError(
          `${name}: rows ${other} and ${r} are identical, so two outputs are always equal. ${retrain}`,
        );
      }
    }
    rows.push(r);
    seen.set(h, rows);
  }
  if (zeroRows === outDim) {
    throw new CheckpointError(
      `${name} is all zeros: every text would map to the zero vector and every score be 0. ${retrain}`,
    );
  }
  if (zeroRows > 0) {
    throw new CheckpointError(
      `${name} has ${zeroRows} all-zero row(s) (first: row ${firstZero}), outputs that are 0 ` +
        `for every text. ${retrain}`,
    );
  }
  const median = Float64Array.from(norms).sort()[Math.floor(outDim / 2)];
  for (let r = 0; r < outDim; r++) {
    if (norms[r] > MAX_ROW_NORM_RATIO * median) {
      throw new CheckpointError(
        `${name}: row ${r} has norm ${norms[r].toPrecision(3)}, ${
          (norms[r] / median).toPrecision(3)
        }× the median row norm ${median.toPrecision(3)}, so that output would dominate every ` +
          `vector (a damaged or hand-edited weight?). ${retrain}`,
      );
    }
  }
}

/**
 * Check that a loaded head fits the encoder in use: its input dimension must
 * be the encoder's output dimension (this cannot be forced, unlike a
 * fingerprint mismatch). Throws a {@link CheckpointError} naming both
 * dimensions and fingerprints.
 *
 * @example
 * ```ts
 * import { assertHeadFitsEncoder, loadCheckpoint } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const ckpt = await loadCheckpoint("checkpoints/latest");
 *   assertHeadFitsEncoder(ckpt, { name: "lexical-1024", dim: 1024, fingerprint: "7011a347d15a" });
 * }
 * ```
 */
export function assertHeadFitsEncoder(
  ckpt: Pick<LoadedCheckpoint, "dir" | "which" | "inDim" | "outDim" | "info">,
  encoder: { name: string; dim: number; fingerprint: string },
): void {
  if (ckpt.inDim === encoder.dim) return;
  throw new CheckpointError(
    `${join(ckpt.dir, `${ckpt.which}.safetensors`)}: the head takes ${ckpt.inDim}-d input ` +
      `(trained on encoder "${ckpt.info.encoder.name}", fingerprint ` +
      `${ckpt.info.encoder.fingerprint.slice(0, 12)}), but encoder "${encoder.name}" ` +
      `(fingerprint ${encoder.fingerprint.slice(0, 12)}) gives ${encoder.dim}-d embeddings. ` +
      `Use the checkpoint's encoder (--model ${ckpt.info.encoder.dir}) or a head trained on this one`,
  );
}

/**
 * Record `dir` as the newest run: `<root>/latest` is a small text file that
 * holds the run directory's name (a pointer file rather than a symlink, so
 * that tasks need only path-scoped write permission). Every command that
 * takes `--checkpoint` accepts it, see {@link resolveRunDir}.
 *
 * @example
 * ```ts
 * import { updateLatest } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   await updateLatest("checkpoints", "checkpoints/2026-01-01T00-00-00");
 * }
 * ```
 */
export async function updateLatest(root: string, dir: string): Promise<void> {
  const name = dir.replace(/\/+$/, "").split("/").pop()!;
  await atomicWrite(join(root, "latest"), name + "\n");
}

/**
 * Resolve a `--checkpoint` argument: a checkpoint directory as is, or a
 * pointer file such as `checkpoints/latest` (holding a run directory name,
 * relative to the file's own directory) to the directory it names.
 *
 * @example
 * ```ts
 * import { resolveRunDir } from "./checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   console.log(await resolveRunDir("checkpoints/latest")); // "checkpoints/2026-..."
 * }
 * ```
 */
export async function resolveRunDir(path: string): Promise<string> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CheckpointError(
        `checkpoint not found: ${path} (train one with deno task train, or pass --checkpoint DIR)`,
      );
    }
    throw err;
  }
  if (stat.isDirectory) return path;
  const name = (await Deno.readTextFile(path)).trim();
  if (!name || name.includes("\n")) {
    throw new CheckpointError(`${path}: not a checkpoint directory or a pointer to one`);
  }
  const target = name.startsWith("/") ? name : join(dirname(path), name);
  if (!await exists(join(target, "config.json"))) {
    throw new CheckpointError(`${path} points to ${target}, which is not a checkpoint directory`);
  }
  return target;
}
