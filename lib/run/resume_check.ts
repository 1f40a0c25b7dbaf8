/**
 * What changed between a run and the command that resumes it: dataset-
 * shaping settings and data identity (refused unless `--force`), the head's
 * shape (never), and other settings (recorded). Used by `scripts/train.ts`
 * before any loading, and by the trainer once the data is loaded.
 *
 * @module
 */
import type { RunInfo } from "./checkpoint.ts";
import type { TrainConfig } from "../train/config.ts";
import { sha256File } from "../core/fs.ts";
import { normalizePath, RunDirError } from "./run_dir.ts";

/** One setting that differs between a run and the command that resumes it. */
export interface ResumeChange {
  /** The flag (`--data`) or derived field (`data sha256`). */
  field: string;
  /** The run's recorded value. */
  from: unknown;
  /** The value of this resume. */
  to: unknown;
  /** `refuse`: needs `--force`; `fatal`: cannot be resumed at all; `note`: recorded only. */
  kind: "refuse" | "fatal" | "note";
}

/** What identifies the data of a resumed run now (omitted fields are not compared). */
export interface RunIdentity {
  /** sha256 of the dataset file. */
  dataSha256?: string;
  /** sha256 of the feature-weight file. */
  weightsSha256?: string;
  /** Encoder fingerprint. */
  fingerprint?: string;
}

const IGNORED_ON_RESUME = new Set(["out", "cacheRoot", "encodeBatchSize"]);
const REFUSED_ON_RESUME = new Set([
  "data",
  "weights",
  "model",
  "seed",
  "splitSeed",
  "valFraction",
  "select",
]);

/**
 * Compare a committed run with the config (and data identity) of the command
 * that resumes it. Dataset-shaping settings (`--data`, `--weights`,
 * `--model`, `--seed`, `--split-seed`, `--val-fraction`, `--select`, and the sha256 of the
 * data and weight files and the encoder fingerprint) are `refuse`; `--out-dim`
 * is `fatal`; other settings (e.g. `--epochs`, `--lr`) are `note`.
 *
 * @example
 * ```ts
 * import { resumeChanges } from "./resume_check.ts";
 * // Type-checked, not run: it needs info from a real run.
 * async function _example(info: import("./checkpoint.ts").RunInfo) {
 *   const changes = resumeChanges(info, { ...info.config, data: "other.json" });
 *   console.log(changes.map((c) => c.field)); // ["--data"]
 * }
 * ```
 */
export function resumeChanges(
  info: RunInfo,
  config: TrainConfig,
  now: RunIdentity = {},
): ResumeChange[] {
  const out: ResumeChange[] = [];
  const flag = (k: string) => "--" + k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
  const old = info.config as unknown as Record<string, unknown>;
  const cur = config as unknown as Record<string, unknown>;
  // Lists (e.g. --matryoshka 256,128,64) compare by value, not by identity.
  const sameValue = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);
  const samePath = (a: unknown, b: unknown) =>
    a === b || (typeof a === "string" && typeof b === "string" && a !== "" && b !== "" &&
      normalizePath(a) === normalizePath(b));
  for (const key of Object.keys(cur)) {
    if (IGNORED_ON_RESUME.has(key) || !(key in old)) continue;
    const isPath = key === "data" || key === "weights" || key === "model";
    if (isPath ? samePath(old[key], cur[key]) : sameValue(old[key], cur[key])) continue;
    out.push({
      field: flag(key),
      from: old[key],
      to: cur[key],
      kind: key === "outDim" ? "fatal" : REFUSED_ON_RESUME.has(key) ? "refuse" : "note",
    });
  }
  const derived: [string, unknown, unknown][] = [
    ["data sha256", info.dataset.sha256, now.dataSha256],
    ["weights sha256", info.dataset.weightsSha256, now.weightsSha256],
    ["encoder fingerprint", info.encoder.fingerprint, now.fingerprint],
  ];
  for (const [field, from, to] of derived) {
    if (from !== undefined && to !== undefined && from !== to) {
      out.push({ field, from, to, kind: "refuse" });
    }
  }
  return out;
}

/**
 * Lines `  --data: a.json -> b.json` for {@link ResumeChange}s (hashes
 * shortened to 12 hex digits).
 *
 * @example
 * ```ts
 * import { formatResumeChanges } from "./resume_check.ts";
 * console.log(formatResumeChanges([{ field: "--lr", from: 0.002, to: 0.001, kind: "note" }]));
 * ```
 */
export function formatResumeChanges(changes: ResumeChange[]): string {
  const show = (v: unknown) => {
    const s = typeof v === "string" ? (/^[0-9a-f]{64}$/.test(v) ? v.slice(0, 12) + "…" : v) : v;
    return s === "" ? '""' : typeof s === "string" ? s : JSON.stringify(s);
  };
  return changes.map((c) => `  ${c.field}: ${show(c.from)} -> ${show(c.to)}`).join("\n");
}

/**
 * The error for resume changes that are not allowed (`refuse` without
 * `force`, or any `fatal`), or null when resuming may go on.
 *
 * @example
 * ```ts
 * import { resumeRefusal } from "./resume_check.ts";
 * const err = resumeRefusal("checkpoints/x", [{ field: "--data", from: "a", to: "b", kind: "refuse" }], false);
 * if (!err?.message.includes("--data")) throw new Error("the refusal names the changed field");
 * console.log(err?.message);
 * ```
 */
export function resumeRefusal(
  dir: string,
  changes: ResumeChange[],
  force: boolean,
): RunDirError | null {
  const fatal = changes.filter((c) => c.kind === "fatal");
  if (fatal.length) {
    return new RunDirError(
      `cannot resume ${dir}: the head's shape differs from the run's (old -> new):\n` +
        formatResumeChanges(fatal) + `\nStart a new run (without --resume) for another shape.`,
    );
  }
  const refused = changes.filter((c) => c.kind === "refuse");
  if (refused.length && !force) {
    return new RunDirError(
      `cannot resume ${dir}: the data or split differs from the run's (old -> new):\n` +
        formatResumeChanges(refused) +
        `\nResuming would mix two datasets. Start a new run (without --resume), ` +
        `or pass --force to resume anyway (the change is recorded in config.json).`,
    );
  }
  return null;
}

/**
 * sha256 of a file's bytes, or undefined when it cannot be read.
 *
 * @example
 * ```ts
 * import { fileSha256 } from "./resume_check.ts";
 * console.log(await fileSha256("data/weight-config.json"));
 * ```
 */
export async function fileSha256(path: string): Promise<string | undefined> {
  try {
    return await sha256File(path);
  } catch {
    return undefined;
  }
}
