/**
 * One writer per run directory: `<dir>/.lock`, a file naming its holder
 * (PID, host, start time, command) and held with an OS advisory lock
 * (`flock`, through `Deno.FsFile.tryLock`). The kernel drops the lock when
 * the holder dies however it dies, so a lock file left by a killed process
 * is recognised as stale, reported and taken over; PID reuse cannot fool it.
 * Advisory locks are per host: processes on two machines sharing a network
 * file system are not kept apart.
 *
 * @module
 */
import { join } from "../core/fs.ts";

/** Name of the lock file inside a run directory. */
export const LOCK_FILE = ".lock";

/** The contents of `.lock`. */
export interface LockInfo {
  /** Process id of the holder. */
  pid: number;
  /** Host of the holder (a lock from another host is never taken over). */
  hostname: string;
  /** When the lock was taken (ISO 8601). */
  started: string;
  /** The holder's command line. */
  command: string;
}

/** Another live process (or this one) holds the run directory's lock. */
export class RunLockedError extends Error {
  /** The holder, as its lock file names it (null when it could not be read). */
  holder: LockInfo | null;
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string, holder: LockInfo | null) {
    super(message);
    this.name = "RunLockedError";
    this.holder = holder;
  }
}

/** Directories locked by this process: a second lock in the same process is refused too. */
const HELD = new Set<string>();

/**
 * The lock of one run directory, held by this process.
 *
 * @example
 * ```ts
 * import { RunLock } from "./run_lock.ts";
 * await Deno.mkdir("/tmp/example-lock", { recursive: true });
 * const lock = await RunLock.acquire("/tmp/example-lock");
 * lock.release();
 * ```
 */
export class RunLock {
  /** The run directory. */
  readonly dir: string;
  /** `<dir>/.lock`. */
  readonly path: string;
  #file: Deno.FsFile | null;

  private constructor(dir: string, path: string, file: Deno.FsFile) {
    this.dir = dir;
    this.path = path;
    this.#file = file;
    HELD.add(dir);
  }

  /**
   * Take the lock of an existing directory, at once or not at all: a live
   * holder gives {@link RunLockedError} naming it; a stale lock file is
   * reported through `onInfo` and taken over.
   *
   * @example
   * ```ts
   * import { RunLock, RunLockedError } from "./run_lock.ts";
   * try {
   *   const lock = await RunLock.acquire("/tmp/example-lock", { command: "demo" });
   *   lock.release();
   * } catch (err) {
   *   if (err instanceof RunLockedError) console.log(err.holder?.pid);
   * }
   * ```
   */
  static async acquire(
    dir: string,
    opts: {
      command?: string;
      onInfo?: (message: string) => void;
      /** What the holder does, for the message (default "training"). */
      what?: string;
    } = {},
  ): Promise<RunLock> {
    const what = opts.what ?? "training";
    const other = what === "training" ? "choose another --out directory" : "try again then";
    const path = join(dir, LOCK_FILE);
    if (HELD.has(dir)) {
      throw new RunLockedError(
        `${dir} is in use by this process (PID ${Deno.pid}); ${other}`,
        null,
      );
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const file = await Deno.open(path, { read: true, write: true, create: true });
      if (!file.tryLockSync(true)) {
        file.close();
        const holder = await readLockInfo(path);
        throw new RunLockedError(
          `${dir} is in use by another ${what}: ${describeHolder(holder)} ` +
            `(lock ${path}). Wait for it to finish, stop it, or ${other}`,
          holder,
        );
      }
      // The lock must still be the file at `path` (a releasing holder unlinks it).
      let same = false;
      try {
        same = (await file.stat()).ino === (await Deno.stat(path)).ino;
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          file.close();
          throw err;
        }
      }
      if (!same) {
        file.close();
        continue;
      }
      const previous = parseLockInfo(new TextDecoder().decode(await readAll(file)));
      if (previous) {
        (opts.onInfo ?? ((m: string) => console.error(m)))(
          `note: ${path} was left by ${
            describeHolder(previous)
          }, which is no longer running (stale lock); taking it over`,
        );
      }
      const me: LockInfo = {
        pid: Deno.pid,
        hostname: hostname(),
        started: new Date().toISOString(),
        command: opts.command ?? defaultCommand(),
      };
      await file.truncate(0);
      await file.seek(0, Deno.SeekMode.Start);
      const bytes = new TextEncoder().encode(JSON.stringify(me) + "\n");
      for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
      await file.syncData();
      return new RunLock(dir, path, file);
    }
    throw new Error(`${path}: could not take the lock (it kept changing); try again`);
  }

  /** True until {@link RunLock.release}. */
  get held(): boolean {
    return this.#file !== null;
  }

  /**
   * Remove the lock file and drop the lock (idempotent, synchronous so that
   * it can run on exit).
   *
   * @example
   * ```ts
   * import { RunLock } from "./run_lock.ts";
   * // Type-checked, not run: it needs lock from a real run.
   * async function _example(lock: RunLock) {
   *   lock.release();
   * }
   * ```
   */
  release(): void {
    if (!this.#file) return;
    try {
      Deno.removeSync(this.path);
    } catch { /* already gone */ }
    try {
      this.#file.close();
    } catch { /* closed */ }
    this.#file = null;
    HELD.delete(this.dir);
  }
}

async function readAll(file: Deno.FsFile): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  let total = 0;
  await file.seek(0, Deno.SeekMode.Start);
  while (total < 1 << 16) {
    const n = await file.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

function defaultCommand(): string {
  let main = "";
  try {
    main = Deno.mainModule.replace(/^file:\/\//, "");
  } catch { /* none */ }
  return [main, ...Deno.args].join(" ").slice(0, 2000);
}

function parseLockInfo(text: string): LockInfo | null {
  if (!text.trim()) return null;
  try {
    const v = JSON.parse(text);
    if (typeof v?.pid === "number") return v as LockInfo;
  } catch { /* unreadable */ }
  return { pid: NaN, hostname: "?", started: "?", command: text.slice(0, 200) };
}

async function readLockInfo(path: string): Promise<LockInfo | null> {
  // The holder may have created the file an instant ago and not written it yet.
  for (let i = 0; i < 5; i++) {
    try {
      const info = parseLockInfo(await Deno.readTextFile(path));
      if (info) return info;
    } catch { /* gone or unreadable */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  return null;
}

function describeHolder(h: LockInfo | null): string {
  if (!h) return "a process that has not yet written its PID";
  return `PID ${h.pid} on ${h.hostname}, started ${h.started}` +
    (h.command ? `, command: ${h.command}` : "");
}
