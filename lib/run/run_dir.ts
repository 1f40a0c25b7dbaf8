/**
 * A training run directory, owned by one writer and committed one epoch at
 * a time.
 *
 * - **One writer.** {@link RunDir.create} and {@link RunDir.open} take
 *   `<dir>/.lock` (`lib/run/run_lock.ts`: an OS advisory lock on a file that names
 *   the holder's PID, host, start time and command) before any other work. A
 *   second writer fails at once with `RunLockedError` naming the holder; a
 *   lock file left by a killed process is reported as stale and taken over.
 * - **Transactional.** Every commit writes its new files as `<name>.next`,
 *   then replaces `manifest.json` atomically (the commit point: epoch, step,
 *   status, sha256 of every file), then renames each `.next` into place. A
 *   kill at any instant leaves the old or the new manifest, each consistent
 *   with files on disk; the next open rolls the renames forward, removes
 *   uncommitted `.next` and `*.tmp` files, and verifies every sha256.
 * - **Resume is exact or refused.** {@link RunDir.open} continues from the
 *   manifest's epoch (weights, AdamW moments, step, `metrics.jsonl` up to that
 *   epoch) or throws {@link RunDirError} saying which file disagrees.
 *
 * The trainer hands over plain arrays ({@link TrainState}, PyTorch layout
 * `[outDim, inDim]`), so the file format lives here and nowhere else.
 *
 * @module
 */
import { pausePoint } from "../core/test_hook.ts";
import {
  CHECKPOINT_FORMAT,
  type EpochRecord,
  parseRunInfo,
  resolveRunDir,
  type RunInfo,
  updateLatest,
} from "./checkpoint.ts";
import { dirname, join, sha256Hex } from "../core/fs.ts";
import {
  describeMismatch,
  findCommitted,
  type Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  type ManifestEntry,
  ManifestError,
  NEXT_SUFFIX,
  readManifest,
} from "./manifest.ts";
import { LOCK_FILE, RunLock } from "./run_lock.ts";
import { decodeSafetensors, encodeSafetensors } from "../core/safetensors.ts";

export { LOCK_FILE, type LockInfo, RunLockedError } from "./run_lock.ts";

/** Files a run directory owns (anything else in it is left alone). */
export const RUN_FILES = [
  "config.json",
  "metrics.jsonl",
  "final.safetensors",
  "best.safetensors",
  "optimizer.safetensors",
  "interrupted.safetensors",
  "report.html",
] as const;

/**
 * Test hook: when this environment variable equals a commit point
 * (`<generation>:<point>`, e.g. `3:flipped`, `2:staged:final.safetensors`,
 * `2:tmp:config.json`, `4:renamed:best.safetensors`), the writer prints
 * `PHONGTRO_RUNDIR_PAUSE: paused at …` on stderr and blocks for up to 30 s,
 * so that a test can SIGKILL it exactly there.
 */
export const PAUSE_ENV = "PHONGTRO_RUNDIR_PAUSE";

/**
 * What the trainer commits at an epoch end: PyTorch layout `[outDim, inDim]`.
 * {@link RunDir.commitEpoch} encodes the arrays before its first `await`, so
 * the trainer may hand over its live buffers and keep using them afterwards.
 */
export interface TrainState {
  /** Head weight `[outDim, inDim]`. */
  weight: Float32Array;
  /** AdamW first moment, same layout. */
  m: Float32Array;
  /** AdamW second moment, same layout. */
  v: Float32Array;
  /** Optimiser steps taken. */
  step: number;
}

/** Options of {@link RunDir.create} and {@link RunDir.open}. */
export interface RunDirOptions {
  /** Recorded in the lock file (default: the script and its arguments). */
  command?: string;
  /** Notes for the user (stale lock taken over, leftovers removed, run replaced). */
  onInfo?: (message: string) => void;
}

/** A run directory that cannot be used as asked; the message says why and what to do. */
export class RunDirError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "RunDirError";
  }
}

/**
 * The default output directory of a new run: `checkpoints/<UTC timestamp>`.
 *
 * @example
 * ```ts
 * import { defaultOutDir } from "./run_dir.ts";
 * const dir = defaultOutDir(); // e.g. checkpoints/2026-01-01T00-00-00-000
 * if (!/^checkpoints\/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}$/.test(dir)) throw new Error(dir);
 * ```
 */
export function defaultOutDir(): string {
  return join("checkpoints", new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, ""));
}

/**
 * A training run directory with its lock and manifest. Create one per
 * training; commit each epoch with {@link RunDir.commitEpoch}; release it at
 * the end (also on errors: `try … finally run.release()`).
 *
 * @example
 * ```ts
 * import { RunDir } from "./run_dir.ts";
 * // Type-checked, not run: it needs info from a real run.
 * async function _example(info: import("./checkpoint.ts").RunInfo) {
 *   const run = await RunDir.create("/tmp/example-run");
 *   try {
 *     const zeros = new Float32Array(info.head.outDim * info.head.inDim);
 *     await run.commitEpoch({
 *       epoch: 0,
 *       state: { weight: zeros, m: zeros, v: zeros, step: 0 },
 *       info,
 *       history: [{ epoch: 0, valLoss: 1 }],
 *       isBest: true,
 *     });
 *   } finally {
 *     run.release();
 *   }
 * }
 * ```
 */
export class RunDir {
  /** The directory. */
  readonly dir: string;
  /** The last commit in the directory (for a run being replaced: the old run's). */
  manifest: Manifest | null;
  /** The committed `config.json` of a run being continued ({@link RunDir.open}); null for a new run. */
  info: RunInfo | null;
  /** The committed `metrics.jsonl` of a run being continued, up to the manifest's epoch. */
  history: EpochRecord[];
  readonly #fresh: boolean;
  readonly #created: string[];
  readonly #onInfo: (message: string) => void;
  #lock: RunLock | null;
  #commits = 0;
  readonly #unload = () => this.release();

  private constructor(
    dir: string,
    lock: RunLock,
    created: string[],
    fresh: boolean,
    onInfo: (message: string) => void,
  ) {
    this.dir = dir;
    this.#lock = lock;
    this.#created = created;
    this.#fresh = fresh;
    this.#onInfo = onInfo;
    this.manifest = null;
    this.info = null;
    this.history = [];
    // Deno.exit (e.g. a second Ctrl-C) dispatches "unload": drop the lock then.
    globalThis.addEventListener("unload", this.#unload);
  }

  /** Path of the lock file. */
  get lockPath(): string {
    return join(this.dir, LOCK_FILE);
  }

  /** True once this process has committed at least one generation. */
  get committed(): boolean {
    return this.#commits > 0;
  }

  /**
   * Take the directory for a new run: create it if needed and lock it. A
   * directory that already holds a run is replaced at this run's first
   * commit (until then it still holds the old run, intact); a directory that
   * holds other files is refused. If the run fails before its first commit,
   * {@link RunDir.release} removes a directory it created.
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * const run = await RunDir.create("/tmp/example-run");
   * run.release();
   * ```
   */
  static async create(dir: string, opts: RunDirOptions = {}): Promise<RunDir> {
    dir = trimSlashes(dir);
    const onInfo = opts.onInfo ?? ((m: string) => console.error(m));
    const created = await makeDirs(dir);
    const refuseForeign = (entries: string[], isRun: boolean) => {
      const foreign = entries.filter((n) => !isOwnedName(n) && n !== MANIFEST_FILE);
      if (!isRun && !entries.includes("config.json") && foreign.length > 0) {
        throw new RunDirError(
          `${dir} exists and holds files that are not a training run (${
            foreign.slice(0, 5).join(", ")
          }${foreign.length > 5 ? ", …" : ""}); choose a new or empty --out directory`,
        );
      }
    };
    // A folder of other files is refused before the lock file is written into it.
    if (!created.includes(dir)) {
      const before = await listDir(dir);
      refuseForeign(before, before.includes(MANIFEST_FILE));
    }
    const run = await RunDir.#lockDir(dir, created, true, opts, onInfo);
    try {
      await run.#recover(false);
      const entries = await listDir(dir);
      refuseForeign(entries, run.manifest !== null);
      if (!run.manifest && entries.every((n) => n === LOCK_FILE) && !created.includes(dir)) {
        // Left by a run that never saved an epoch: ours to remove if this one fails too.
        created.unshift(dir);
      }
      if (run.manifest || entries.includes("config.json")) {
        onInfo(
          `note: ${dir} already holds a run${
            run.manifest ? ` (epoch ${run.manifest.epoch}, ${run.manifest.status})` : ""
          }; this run replaces it at its first saved epoch (use --resume ${dir} to continue it instead)`,
        );
      }
      return run;
    } catch (err) {
      run.release();
      throw err;
    }
  }

  /**
   * Take an existing run directory to continue it: lock it, finish or undo
   * an interrupted commit, verify every file against `manifest.json`, and
   * read the committed `config.json` and `metrics.jsonl`. A directory
   * written before manifests existed is migrated when its files agree with
   * each other (epoch and step in their metadata), else refused.
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * // Type-checked, not run: it needs a trained run (`deno task train`).
   * async function _example() {
   *   const run = await RunDir.open("checkpoints/latest");
   *   console.log(run.manifest?.epoch, run.history.length);
   *   run.release();
   * }
   * ```
   */
  static async open(path: string, opts: RunDirOptions = {}): Promise<RunDir> {
    const onInfo = opts.onInfo ?? ((m: string) => console.error(m));
    let dir: string;
    try {
      dir = trimSlashes(await resolveRunDir(path));
    } catch {
      throw new RunDirError(`cannot resume ${path}: no such run directory`);
    }
    const run = await RunDir.#lockDir(dir, [], false, opts, onInfo);
    try {
      await run.#recover(true);
      if (!run.manifest) await run.#migrate();
      const m = run.manifest!;
      const info = parseRunInfo(await run.#readVerified("config.json"), join(dir, "config.json"));
      if (info.lastEpoch !== m.epoch || info.step !== m.step) {
        throw new RunDirError(
          `cannot resume ${dir}: config.json says epoch ${info.lastEpoch} step ${info.step}, ` +
            `manifest.json says epoch ${m.epoch} step ${m.step}. Start a new run (--out NEW_DIR)`,
        );
      }
      const history = parseMetrics(await run.#readVerified("metrics.jsonl"), dir);
      checkHistory(history, m.epoch, join(dir, "metrics.jsonl"));
      run.info = info;
      run.history = history;
      return run;
    } catch (err) {
      run.release();
      throw err;
    }
  }

  static async #lockDir(
    dir: string,
    created: string[],
    fresh: boolean,
    opts: RunDirOptions,
    onInfo: (message: string) => void,
  ): Promise<RunDir> {
    try {
      const lock = await RunLock.acquire(dir, { command: opts.command, onInfo });
      return new RunDir(dir, lock, created, fresh, onInfo);
    } catch (err) {
      await removeDirs(created);
      throw err;
    }
  }

  /**
   * Release the lock (idempotent, synchronous so that it can run on exit).
   * A directory this run created and never committed to is removed.
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * const run = await RunDir.create("/tmp/example-run-2");
   * run.release(); // the directory is gone again: nothing was committed
   * ```
   */
  release(): void {
    if (!this.#lock) return;
    globalThis.removeEventListener("unload", this.#unload);
    this.#lock.release();
    this.#lock = null;
    if (this.#commits === 0 && this.#created.length > 0) {
      for (const d of this.#created) {
        try {
          Deno.removeSync(d);
        } catch { /* not empty, or gone */ }
      }
    }
  }

  /** Read a committed file, verified against the current manifest. */
  async #readVerified(name: string): Promise<Uint8Array> {
    const entry = this.manifest?.files[name];
    if (!entry) {
      throw new RunDirError(`${join(this.dir, name)} is not part of the run's last commit`);
    }
    const hit = await findCommitted(this.dir, name, entry);
    if (!hit) {
      throw new RunDirError(
        `${await describeMismatch(this.dir, name, entry)}; it changed while the run was locked`,
      );
    }
    return hit.bytes;
  }

  /**
   * Bring the directory to its last commit: remove leftover `*.tmp` files,
   * rename committed `.next` files into place, remove uncommitted ones,
   * and verify every file's sha256. With `strict`, a mismatch throws.
   */
  async #recover(strict: boolean): Promise<void> {
    const dir = this.dir;
    const removed: string[] = [];
    for (const name of await listDir(dir)) {
      if (isTmpName(name)) {
        await removeIfExists(join(dir, name));
        removed.push(name);
      }
    }
    let manifest: Manifest | null = null;
    try {
      manifest = await readManifest(dir);
    } catch (err) {
      if (strict || !(err instanceof ManifestError)) throw asRunDirError(err, dir);
      this.#onInfo(`note: ${(err as Error).message}; the run in ${dir} will be replaced`);
    }
    const problems: string[] = [];
    const rolled: string[] = [];
    if (manifest) {
      for (const [name, entry] of Object.entries(manifest.files)) {
        const hit = await findCommitted(dir, name, entry);
        if (!hit) problems.push(await describeMismatch(dir, name, entry));
        else if (hit.path.endsWith(NEXT_SUFFIX)) {
          await Deno.rename(hit.path, join(dir, name));
          rolled.push(name);
        }
      }
    }
    for (const name of await listDir(dir)) {
      const base = name.endsWith(NEXT_SUFFIX) ? name.slice(0, -NEXT_SUFFIX.length) : "";
      const staged = base !== "" && (isRunFile(base) || base === MANIFEST_FILE);
      const dropped = manifest && isRunFile(name) && !(name in manifest.files);
      if (staged || dropped) {
        await removeIfExists(join(dir, name));
        removed.push(name);
      }
    }
    if (rolled.length || removed.length) {
      this.#onInfo(
        `note: ${dir}: completed an interrupted save` +
          (rolled.length ? ` (${rolled.join(", ")} moved into place)` : "") +
          (removed.length ? `; removed uncommitted leftovers: ${removed.join(", ")}` : ""),
      );
    }
    if (problems.length && strict) {
      throw new RunDirError(
        `cannot resume ${dir}: its files disagree with ${MANIFEST_FILE} (epoch ${
          manifest!.epoch
        }, generation ${manifest!.generation}):\n` +
          problems.map((p) => `  - ${p}`).join("\n") +
          `\nThe directory was changed after its last commit, so it cannot be resumed exactly. ` +
          `Restore those files, or start a new run (without --resume, or with another --out).`,
      );
    }
    if (problems.length) {
      this.#onInfo(`note: the run in ${dir} is inconsistent (${problems.join("; ")})`);
    }
    this.manifest = manifest;
  }

  /** A directory without a manifest: write one if its files agree, else refuse. */
  async #migrate(): Promise<void> {
    const dir = this.dir;
    const names = await listDir(dir);
    if (!names.includes("config.json")) {
      throw new RunDirError(
        `cannot resume ${dir}: it holds no saved epoch (no ${MANIFEST_FILE}; ` +
          `the run stopped before its first epoch was saved). Start it again without --resume`,
      );
    }
    const info = parseRunInfo(await Deno.readFile(join(dir, "config.json")), `${dir}/config.json`);
    const problems: string[] = [];
    const meta = async (name: string) => {
      try {
        return decodeSafetensors(await Deno.readFile(join(dir, name))).metadata;
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
        return null;
      }
    };
    const fin = await meta("final.safetensors");
    if (fin && fin.epoch !== String(info.lastEpoch)) {
      problems.push(
        `final.safetensors holds epoch ${fin.epoch}, config.json says ${info.lastEpoch}`,
      );
    }
    const opt = await meta("optimizer.safetensors");
    if (opt && opt.step !== String(info.step)) {
      problems.push(`optimizer.safetensors holds step ${opt.step}, config.json says ${info.step}`);
    }
    if (info.best) {
      const best = await meta("best.safetensors");
      if (best && best.epoch !== String(info.best.epoch)) {
        problems.push(
          `best.safetensors holds epoch ${best.epoch}, config.json says ${info.best.epoch}`,
        );
      }
    }
    try {
      const history = parseMetrics(await Deno.readFile(join(dir, "metrics.jsonl")), dir);
      checkHistory(history, info.lastEpoch, "metrics.jsonl");
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (problems.length) {
      throw new RunDirError(
        `cannot resume ${dir}: it was written by an older version (no ${MANIFEST_FILE}) and its ` +
          `files disagree, so it cannot be resumed exactly:\n` +
          problems.map((p) => `  - ${p}`).join("\n") +
          `\nEvaluate it as it is (deno task eval --checkpoint ${dir}), or start a new run.`,
      );
    }
    const files: Record<string, ManifestEntry> = {};
    for (const name of RUN_FILES) {
      try {
        const bytes = await Deno.readFile(join(dir, name));
        files[name] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      generation: 1,
      epoch: info.lastEpoch,
      step: info.step,
      status: info.status,
      committed: new Date().toISOString(),
      files,
    };
    await durableWrite(
      join(dir, MANIFEST_FILE),
      new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
      "",
    );
    this.manifest = manifest;
    this.#onInfo(
      `note: ${dir} had no ${MANIFEST_FILE} (older version); its files agree, wrote one`,
    );
  }

  /**
   * The committed weights and AdamW state of the run being continued,
   * verified (sha256, shapes, epoch and step metadata).
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * // Type-checked, not run: it needs a trained run (`deno task train`).
   * async function _example() {
   *   const run = await RunDir.open("checkpoints/latest");
   *   const { weight, step } = await run.loadState([256, 1024]);
   *   console.log(weight.length, step);
   *   run.release();
   * }
   * ```
   */
  async loadState(shape: [number, number]): Promise<TrainState> {
    const m = this.manifest;
    if (!m || !this.info) throw new RunDirError(`${this.dir}: no committed run to load`);
    const read = async (name: string, tensors: string[]) => {
      const path = join(this.dir, name);
      let file;
      try {
        file = decodeSafetensors(await this.#readVerified(name));
      } catch (err) {
        throw new RunDirError(`${path}: ${(err as Error).message}`);
      }
      for (const t of tensors) {
        const got = file.tensors[t]?.shape;
        if (!got || got.join(",") !== shape.join(",")) {
          throw new RunDirError(
            `${path}: tensor "${t}" has shape [${got ?? "missing"}], expected [${shape}]`,
          );
        }
      }
      return file;
    };
    const fin = await read("final.safetensors", ["weight"]);
    const opt = await read("optimizer.safetensors", ["m", "v"]);
    if (fin.metadata.epoch !== String(m.epoch) || opt.metadata.step !== String(m.step)) {
      throw new RunDirError(
        `${this.dir}: final.safetensors (epoch ${fin.metadata.epoch}) and optimizer.safetensors ` +
          `(step ${opt.metadata.step}) do not match ${MANIFEST_FILE} (epoch ${m.epoch}, step ${m.step})`,
      );
    }
    return {
      weight: fin.tensors.weight.data,
      m: opt.tensors.m.data,
      v: opt.tensors.v.data,
      step: m.step,
    };
  }

  /**
   * Commit a completed epoch: `final.safetensors` and `optimizer.safetensors`
   * from `state`, `best.safetensors` when `isBest`, `config.json` (with
   * `lastEpoch` and `step` set from the arguments) and `metrics.jsonl` (which
   * must end at `epoch`, each epoch once). Returns the paths written.
   *
   * @example
   * ```ts
   * import { RunDir, type TrainState } from "./run_dir.ts";
   * // Type-checked, not run: it needs run, state, info from a real run.
   * async function _example(run: RunDir, state: TrainState, info: import("./checkpoint.ts").RunInfo) {
   *   await run.commitEpoch({ epoch: 1, state, info, history: [{ epoch: 0, valLoss: 2 }, { epoch: 1, valLoss: 1 }], isBest: true });
   * }
   * ```
   */
  async commitEpoch(c: {
    epoch: number;
    state: TrainState;
    info: RunInfo;
    history: EpochRecord[];
    isBest: boolean;
  }): Promise<{ final: string; best?: string }> {
    const { epoch, state, info } = c;
    const continuing = !(this.#fresh && this.#commits === 0) && this.manifest;
    if (continuing && epoch <= this.manifest!.epoch) {
      throw new RunDirError(
        `${this.dir}: epoch ${epoch} is already committed (the run is at epoch ${
          this.manifest!.epoch
        })`,
      );
    }
    checkHistory(c.history, epoch, join(this.dir, "metrics.jsonl"));
    const { outDim, inDim } = info.head;
    for (const [k, a] of [["weight", state.weight], ["m", state.m], ["v", state.v]] as const) {
      if (a.length !== outDim * inDim) {
        throw new RunDirError(
          `commitEpoch: ${k} has ${a.length} values, expected ${outDim}x${inDim}`,
        );
      }
    }
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RunDirError(`commitEpoch: step must be a non-negative integer, got ${state.step}`);
    }
    info.lastEpoch = epoch;
    info.step = state.step;
    const shape = [outDim, inDim];
    const fingerprint = info.encoder.fingerprint;
    const files = new Map<string, Uint8Array>();
    if (c.isBest) {
      files.set(
        "best.safetensors",
        encodeSafetensors({ weight: { dtype: "F32", shape, data: state.weight } }, {
          format: CHECKPOINT_FORMAT,
          epoch: String(epoch),
          fingerprint,
          select: info.best?.select ?? info.config.select,
          value: String(info.best?.value),
        }),
      );
    }
    files.set(
      "final.safetensors",
      encodeSafetensors({ weight: { dtype: "F32", shape, data: state.weight } }, {
        format: CHECKPOINT_FORMAT,
        epoch: String(epoch),
        fingerprint,
        status: info.status,
      }),
    );
    files.set(
      "optimizer.safetensors",
      encodeSafetensors({
        m: { dtype: "F32", shape, data: state.m },
        v: { dtype: "F32", shape, data: state.v },
      }, { format: CHECKPOINT_FORMAT, step: String(state.step) }),
    );
    files.set("config.json", runInfoBytes(info));
    files.set("metrics.jsonl", metricsBytes(c.history));
    await this.#commit(epoch, state.step, info.status, files, [
      "interrupted.safetensors",
      "report.html",
    ]);
    return {
      final: join(this.dir, "final.safetensors"),
      best: c.isBest ? join(this.dir, "best.safetensors") : undefined,
    };
  }

  /**
   * Commit a new status for the epoch already committed: `config.json`
   * (status `interrupted`, `failed` or `complete`), and optionally the
   * weights at the interrupting step (`interrupted.safetensors`, a
   * convenience: resume always uses `final` + `optimizer`) and
   * `report.html`. Returns the paths written.
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * // Type-checked, not run: it needs run, info from a real run.
   * async function _example(run: RunDir, info: import("./checkpoint.ts").RunInfo) {
   *   info.status = "complete";
   *   await run.commitStatus(info, { report: "<html></html>" });
   * }
   * ```
   */
  async commitStatus(
    info: RunInfo,
    extra: {
      interrupted?: { weight: Float32Array; epoch: number; step: number };
      report?: string;
    } = {},
  ): Promise<{ interrupted?: string; report?: string }> {
    const m = this.manifest;
    if (!m || (this.#fresh && this.#commits === 0)) {
      throw new RunDirError(`${this.dir}: no epoch committed yet; nothing to mark ${info.status}`);
    }
    info.lastEpoch = m.epoch;
    info.step = m.step;
    const files = new Map<string, Uint8Array>();
    if (extra.interrupted) {
      const w = extra.interrupted;
      files.set(
        "interrupted.safetensors",
        encodeSafetensors(
          { weight: { dtype: "F32", shape: [info.head.outDim, info.head.inDim], data: w.weight } },
          {
            format: CHECKPOINT_FORMAT,
            epoch: String(w.epoch),
            step: String(w.step),
            fingerprint: info.encoder.fingerprint,
            status: "interrupted",
          },
        ),
      );
    }
    if (extra.report !== undefined) {
      files.set("report.html", new TextEncoder().encode(extra.report));
    }
    files.set("config.json", runInfoBytes(info));
    await this.#commit(m.epoch, m.step, info.status, files, []);
    return {
      interrupted: extra.interrupted ? join(this.dir, "interrupted.safetensors") : undefined,
      report: extra.report !== undefined ? join(this.dir, "report.html") : undefined,
    };
  }

  /** Stage `files`, flip the manifest, move the files into place, clean up. */
  async #commit(
    epoch: number,
    step: number,
    status: Manifest["status"],
    files: Map<string, Uint8Array>,
    drop: string[],
  ): Promise<void> {
    if (!this.#lock) throw new RunDirError(`${this.dir}: the run directory was released`);
    const dir = this.dir;
    const gen = (this.manifest?.generation ?? 0) + 1;
    const carry = !(this.#fresh && this.#commits === 0) && this.manifest;
    const entries: Record<string, ManifestEntry> = {};
    if (carry) {
      for (const [name, e] of Object.entries(this.manifest!.files)) {
        if (!drop.includes(name)) entries[name] = e;
      }
    }
    const staged: string[] = [];
    try {
      for (const [name, bytes] of files) {
        const path = join(dir, name + NEXT_SUFFIX);
        await durableWrite(path, bytes, `${gen}:tmp:${name}`);
        staged.push(path);
        pause(`${gen}:staged:${name}`);
        entries[name] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
      }
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        generation: gen,
        epoch,
        step,
        status,
        committed: new Date().toISOString(),
        files: entries,
      };
      await durableWrite(
        join(dir, MANIFEST_FILE),
        new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"),
        `${gen}:tmp:${MANIFEST_FILE}`,
      );
      this.manifest = manifest;
    } catch (err) {
      for (const p of staged) await removeIfExists(p).catch(() => {});
      const kept = this.manifest && carry
        ? `; ${dir} still holds epoch ${this.manifest.epoch} (its last commit)`
        : "";
      throw new RunDirError(
        `could not save epoch ${epoch} to ${dir}: ${(err as Error).message}${kept}`,
      );
    }
    this.#commits++;
    await syncDir(dir);
    pause(`${gen}:flipped`);
    // Committed. Renaming and cleaning up can be redone by the next open.
    for (const name of files.keys()) {
      await Deno.rename(join(dir, name + NEXT_SUFFIX), join(dir, name));
      pause(`${gen}:renamed:${name}`);
    }
    for (const name of RUN_FILES) {
      if (!(name in this.manifest!.files)) await removeIfExists(join(dir, name));
    }
    await syncDir(dir);
    pause(`${gen}:cleaned`);
  }

  /**
   * Point `checkpoints/latest` at this run when it is a directory directly
   * inside the repo's `checkpoints/` (however the path was spelled:
   * `./checkpoints/x`, an absolute path, a trailing slash). Returns a line
   * for the user saying what happened, including when `latest` was not moved.
   *
   * @example
   * ```ts
   * import { RunDir } from "./run_dir.ts";
   * // Type-checked, not run: it needs run from a real run.
   * async function _example(run: RunDir) {
   *   console.log(await run.pointLatest());
   * }
   * ```
   */
  async pointLatest(root = "checkpoints"): Promise<string> {
    const name = latestName(this.dir, root);
    if (name) {
      await updateLatest(root, name);
      return `${root}/latest -> ${name}`;
    }
    let current = "";
    try {
      current = (await Deno.readTextFile(join(root, "latest"))).trim();
    } catch { /* none */ }
    return `${root}/latest not moved: ${this.dir} is not a directory directly inside ${root}/` +
      (current ? ` (latest still names ${current})` : "");
  }
}

/**
 * The name `checkpoints/latest` should hold for a run in `dir`, or null when
 * `dir` is not directly inside `root` (after normalising `.`, `..`, repeated
 * and trailing slashes, absolute vs relative, and symlinks where readable).
 *
 * @example
 * ```ts
 * import { latestName } from "./run_dir.ts";
 * if (JSON.stringify(latestName("./checkpoints/run1/")) !== JSON.stringify("run1")) throw new Error(`got ${JSON.stringify(latestName("./checkpoints/run1/"))}`);
 * if (JSON.stringify(latestName("/tmp/run1")) !== JSON.stringify(null)) throw new Error(`got ${JSON.stringify(latestName("/tmp/run1"))}`);
 * ```
 */
export function latestName(dir: string, root = "checkpoints"): string | null {
  const abs = normalizePath(dir);
  const rootAbs = normalizePath(root);
  const name = abs.split("/").pop()!;
  if (!name || name === "latest") return null;
  if (dirname(abs) === rootAbs) return name;
  try {
    if (Deno.realPathSync(dirname(abs)) === Deno.realPathSync(rootAbs)) return name;
  } catch { /* not readable, or missing */ }
  return null;
}

/**
 * An absolute, normalised path (`.` and `..` resolved, no repeated or
 * trailing slashes), relative paths taken from `cwd`.
 *
 * @example
 * ```ts
 * import { normalizePath } from "./run_dir.ts";
 * if (JSON.stringify(normalizePath("./a//b/../c/", "/repo")) !== JSON.stringify("/repo/a/c")) throw new Error(`got ${JSON.stringify(normalizePath("./a//b/../c/", "/repo"))}`);
 * ```
 */
export function normalizePath(path: string, cwd?: string): string {
  let base = "";
  if (!path.startsWith("/")) {
    try {
      base = cwd ?? Deno.cwd();
    } catch {
      base = "/.";
    }
  }
  const out: string[] = [];
  for (const part of `${base}/${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

// ---------------------------------------------------------------------------
// helpers

function runInfoBytes(info: RunInfo): Uint8Array {
  info.updated = new Date().toISOString();
  return new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n");
}

function metricsBytes(history: EpochRecord[]): Uint8Array {
  return new TextEncoder().encode(history.map((r) => JSON.stringify(r)).join("\n") + "\n");
}

function parseMetrics(bytes: Uint8Array, dir: string): EpochRecord[] {
  const path = join(dir, "metrics.jsonl");
  return new TextDecoder().decode(bytes).split("\n").filter((l) => l.trim() !== "").map(
    (line, i) => {
      try {
        return JSON.parse(line) as EpochRecord;
      } catch {
        throw new RunDirError(`${path}: line ${i + 1} is not valid JSON`);
      }
    },
  );
}

/** Epochs strictly increasing, ending exactly at `epoch`. */
function checkHistory(history: EpochRecord[], epoch: number, path: string): void {
  for (let i = 1; i < history.length; i++) {
    if (!(history[i].epoch > history[i - 1].epoch)) {
      throw new RunDirError(
        `${path}: epoch ${history[i].epoch} follows epoch ${history[i - 1].epoch} (line ${i + 1})`,
      );
    }
  }
  const last = history.at(-1)?.epoch;
  if (last !== epoch) {
    throw new RunDirError(`${path} ends at epoch ${last}, the run is at epoch ${epoch}`);
  }
}

function isRunFile(name: string): boolean {
  return (RUN_FILES as readonly string[]).includes(name);
}

/** `<owned file>.<pid>.<8 hex>.tmp`: a temporary file of an atomic write. */
function isTmpName(name: string): boolean {
  const m = name.match(/^(.*)\.\d+\.[0-9a-f]{8}\.tmp$/);
  if (!m) return false;
  const base = m[1].endsWith(NEXT_SUFFIX) ? m[1].slice(0, -NEXT_SUFFIX.length) : m[1];
  return isRunFile(base) || base === MANIFEST_FILE;
}

function isOwnedName(name: string): boolean {
  return name === LOCK_FILE || isRunFile(name) || isTmpName(name) ||
    (name.endsWith(NEXT_SUFFIX) && isRunFile(name.slice(0, -NEXT_SUFFIX.length)));
}

function trimSlashes(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function removeIfExists(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** mkdir -p, returning the directories it created, deepest first. */
async function makeDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; d !== "." && d !== "/" && d !== ""; d = dirname(d)) {
    try {
      const st = await Deno.stat(d);
      if (!st.isDirectory) throw new RunDirError(`${d} exists and is not a directory`);
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      missing.push(d);
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  return missing;
}

async function removeDirs(dirs: string[]): Promise<void> {
  for (const d of dirs) await Deno.remove(d).catch(() => {});
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Write `bytes` to `path` through a temporary file that is flushed to disk
 * (fdatasync) before the rename, so a crash leaves the old or the new file.
 */
async function durableWrite(path: string, bytes: Uint8Array, point: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      const half = bytes.length >> 1;
      await writeAll(file, bytes.subarray(0, half));
      if (point) pause(point);
      await writeAll(file, bytes.subarray(half));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** fsync a directory so that renames in it are durable (best effort). */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch { /* not permitted or not supported: renames are still atomic */ }
}

function pause(point: string): void {
  pausePoint(PAUSE_ENV, point);
}

function asRunDirError(err: unknown, dir: string): Error {
  if (err instanceof ManifestError) {
    return new RunDirError(
      `cannot resume ${dir}: ${err.message}. Start a new run (without --resume, or another --out)`,
    );
  }
  return err as Error;
}
