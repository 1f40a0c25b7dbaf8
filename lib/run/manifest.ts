/**
 * The read side of a run directory's `manifest.json`: what a committed
 * epoch consists of, and reading one of its files verified against it.
 *
 * A run directory is committed one generation at a time (see
 * `lib/run/run_dir.ts`, the only writer). A generation's new files are first
 * written as `<name>.next`; then `manifest.json` is replaced atomically (the
 * commit point), naming the epoch, the optimiser step, the status and the
 * sha256 of every file; then each `<name>.next` is renamed to `<name>`. So at
 * every instant the committed version of a file is whichever of `<name>` and
 * `<name>.next` has the manifest's sha256, and a reader that verifies the
 * bytes it read never mixes two epochs.
 *
 * Run directories written before manifests existed have none; they are read
 * as they are (nothing to verify against).
 *
 * @module
 */
import { join, sha256Hex } from "../core/fs.ts";

/** File name of the manifest inside a run directory. */
export const MANIFEST_FILE = "manifest.json";

/** Format tag of `manifest.json`. */
export const MANIFEST_FORMAT = "phongtro-head/manifest/v1";

/** Suffix of a file staged for the next generation. */
export const NEXT_SUFFIX = ".next";

/** One committed file: its sha256 (hex) and size. */
export interface ManifestEntry {
  /** SHA-256 of the file's bytes. */
  sha256: string;
  /** The file's size. */
  bytes: number;
}

/** The contents of `manifest.json`: exactly one committed epoch. */
export interface Manifest {
  /** Format tag, {@link MANIFEST_FORMAT}. */
  format: typeof MANIFEST_FORMAT;
  /** Commit counter, +1 per commit (epoch ends, interruptions, the final status). */
  generation: number;
  /** The last completed epoch; `final.safetensors` holds its weights. */
  epoch: number;
  /** Optimiser step count at `epoch`. */
  step: number;
  /** The run's status at this commit. */
  status: "running" | "complete" | "interrupted" | "failed";
  /** ISO time of the commit. */
  committed: string;
  /** Every file of the generation, by name (`final.safetensors`, `config.json`, ...). */
  files: Record<string, ManifestEntry>;
}

/** A manifest that is unreadable, or a file that disagrees with it. */
export class ManifestError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "ManifestError";
  }
}

const STATUSES = ["running", "complete", "interrupted", "failed"];

/**
 * Read and validate `<dir>/manifest.json`; `null` when the directory has
 * none (a run written before manifests, or one that never committed).
 *
 * @example
 * ```ts
 * import { readManifest } from "./manifest.ts";
 * const m = await readManifest("checkpoints/my-run");
 * console.log(m?.epoch, m?.status);
 * ```
 */
export async function readManifest(dir: string): Promise<Manifest | null> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  return parseManifest(text, path);
}

/**
 * Parse and validate manifest JSON; errors name `path` and the field.
 *
 * @example
 * ```ts
 * import { parseManifest } from "./manifest.ts";
 * const m = parseManifest(
 *   '{"format":"phongtro-head/manifest/v1","generation":1,"epoch":0,"step":0,' +
 *     '"status":"running","committed":"","files":{}}',
 *   "manifest.json",
 * );
 * if (JSON.stringify(m.generation) !== JSON.stringify(1)) throw new Error(`got ${JSON.stringify(m.generation)}`);
 * ```
 */
export function parseManifest(text: string, path: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  const bad = (field: string, why: string) => new ManifestError(`${path}: field "${field}" ${why}`);
  if (typeof m !== "object" || m === null) throw new ManifestError(`${path}: not a JSON object`);
  if (m.format !== MANIFEST_FORMAT) {
    throw bad("format", `is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}"`);
  }
  for (const f of ["generation", "epoch", "step"] as const) {
    if (!Number.isSafeInteger(m[f]) || m[f] < 0) throw bad(f, "must be a non-negative integer");
  }
  if (!STATUSES.includes(m.status)) throw bad("status", `must be one of ${STATUSES.join("|")}`);
  if (typeof m.files !== "object" || m.files === null) throw bad("files", "is missing");
  for (const [name, e] of Object.entries(m.files)) {
    if (name.includes("/") || name.startsWith(".")) {
      throw bad(`files.${name}`, "is not a file name");
    }
    if (typeof e?.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw bad(`files.${name}.sha256`, "must be 64 hex digits");
    }
    if (!Number.isSafeInteger(e.bytes) || e.bytes < 0) {
      throw bad(`files.${name}.bytes`, "must be a non-negative integer");
    }
  }
  return m;
}

/** Read a file's bytes, `null` when it does not exist. */
async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Find the committed bytes of `name`: `<name>` or, while a commit is being
 * completed, `<name>.next`, whichever has the manifest's sha256. `null`
 * when neither matches; the caller reports what it found.
 *
 * @example
 * ```ts
 * import { findCommitted, readManifest } from "./manifest.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const m = (await readManifest("checkpoints/my-run"))!;
 *   const hit = await findCommitted("checkpoints/my-run", "final.safetensors", m.files["final.safetensors"]);
 *   console.log(hit?.path);
 * }
 * ```
 */
export async function findCommitted(
  dir: string,
  name: string,
  entry: ManifestEntry,
): Promise<{ path: string; bytes: Uint8Array } | null> {
  for (const path of [join(dir, name), join(dir, name + NEXT_SUFFIX)]) {
    const bytes = await readIfExists(path);
    if (bytes && bytes.length === entry.bytes && await sha256Hex(bytes) === entry.sha256) {
      return { path, bytes };
    }
  }
  return null;
}

/**
 * Read one file of a run directory, verified against its manifest: the
 * bytes returned are exactly those the manifest committed (sha256), or a
 * {@link ManifestError} says which file disagrees and what to do. Without a
 * manifest (an older run) the file is read as it is. A commit that happens
 * while reading is waited out (the manifest is read again).
 *
 * @example
 * ```ts
 * import { readCommittedFile } from "./manifest.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const text = new TextDecoder().decode(await readCommittedFile("checkpoints/my-run", "config.json"));
 *   console.log(JSON.parse(text).lastEpoch);
 * }
 * ```
 */
export async function readCommittedFile(dir: string, name: string): Promise<Uint8Array> {
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const manifest = await readManifest(dir);
    if (!manifest) {
      const bytes = await readIfExists(join(dir, name));
      if (!bytes) throw new ManifestError(`${join(dir, name)} is missing`);
      return bytes;
    }
    const entry = manifest.files[name];
    if (!entry) {
      throw new ManifestError(
        `${join(dir, name)} is not part of the run's last commit (${
          join(dir, MANIFEST_FILE)
        }: epoch ${manifest.epoch}, status ${manifest.status})`,
      );
    }
    const hit = await findCommitted(dir, name, entry);
    if (hit) return hit.bytes;
    last = await describeMismatch(dir, name, entry);
    // A writer may be completing a commit right now: look again shortly.
    await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
  }
  throw new ManifestError(
    `${last}. The directory was changed after its last commit (${
      join(dir, MANIFEST_FILE)
    }); restore the file or train again`,
  );
}

/**
 * Say how `<dir>/<name>` differs from its manifest entry (missing, size,
 * sha256), for error messages.
 *
 * @example
 * ```ts
 * import { describeMismatch } from "./manifest.ts";
 * console.log(await describeMismatch("/tmp", "nope.json", { sha256: "0".repeat(64), bytes: 1 }));
 * ```
 */
export async function describeMismatch(
  dir: string,
  name: string,
  entry: ManifestEntry,
): Promise<string> {
  const path = join(dir, name);
  const bytes = await readIfExists(path);
  if (!bytes) return `${path} is missing (the manifest lists it)`;
  if (bytes.length !== entry.bytes) {
    return `${path} has ${bytes.length} bytes, the manifest says ${entry.bytes}`;
  }
  return `${path} has sha256 ${(await sha256Hex(bytes)).slice(0, 12)}…, the manifest says ${
    entry.sha256.slice(0, 12)
  }…`;
}
