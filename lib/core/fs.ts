/**
 * Small file-system helpers shared by every module: atomic writes and
 * existence checks.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * Write `data` to `path` atomically: the bytes go to a temporary file in the
 * same directory, which is then renamed over `path`. A reader never sees a
 * half-written file, and a crash leaves the old file intact.
 *
 * @example
 * ```ts
 * import { atomicWrite } from "./fs.ts";
 * await atomicWrite("/tmp/example.json", JSON.stringify({ ok: true }));
 * ```
 */
export async function atomicWrite(
  path: string,
  data: string | Uint8Array,
): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Write JSON (pretty-printed, trailing newline) atomically.
 *
 * @example
 * ```ts
 * import { atomicWriteJson } from "./fs.ts";
 * await atomicWriteJson("/tmp/example.json", { ok: true });
 * ```
 */
export function atomicWriteJson(path: string, value: unknown): Promise<void> {
  return atomicWrite(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * True when `path` exists (file or directory).
 *
 * @example
 * ```ts
 * import { exists } from "./fs.ts";
 * if (!await exists("/tmp") || await exists("/tmp/surely-not-here-4d2c")) throw new Error("exists");
 * ```
 */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * The directory part of a path ("." when there is none).
 *
 * @example
 * ```ts
 * import { dirname } from "./fs.ts";
 * if (JSON.stringify(dirname("a/b/c.json")) !== JSON.stringify("a/b")) throw new Error(`got ${JSON.stringify(dirname("a/b/c.json"))}`);
 * ```
 */
export function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return path.slice(0, i);
}

/**
 * Join path segments with "/", collapsing duplicate separators.
 *
 * @example
 * ```ts
 * import { join } from "./fs.ts";
 * if (JSON.stringify(join("data", "cache/", "abc")) !== JSON.stringify("data/cache/abc")) throw new Error(`got ${JSON.stringify(join("data", "cache/", "abc"))}`);
 * ```
 */
export function join(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/+/g, "/");
}

/**
 * Hex SHA-256 of some bytes or a string.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./fs.ts";
 * const hex = await sha256Hex("abc"); // the FIPS 180-2 test vector
 * if (hex !== "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") throw new Error(hex);
 * ```
 */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Hex SHA-256 of a file, read in chunks (a multi-GB model file is never held whole).
 *
 * @example
 * ```ts
 * import { sha256File } from "./fs.ts";
 * if (JSON.stringify((await sha256File("deno.json")).length) !== JSON.stringify(64)) throw new Error(`got ${JSON.stringify((await sha256File("deno.json")).length)}`);
 * ```
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** The project's root folder (the one above `lib/`), as a file path. */
export const PROJECT_ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname)
  .replace(/\/$/, "") || "/";

/**
 * A built-in default path (relative to the project root, like
 * `data/models/lexical-1024`) as the caller should open it: unchanged when the
 * working directory is the project root (every `deno task`), else resolved
 * against the project root, so that a user's own script run from another
 * folder finds the project's files.
 *
 * @example
 * ```ts
 * import { projectPath, PROJECT_ROOT } from "./fs.ts";
 * const p = projectPath("data/models/lexical-1024");
 * if (JSON.stringify(p === "data/models/lexical-1024" || p === `${PROJECT_ROOT}/data/models/lexical-1024`) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(p === "data/models/lexical-1024" || p === `${PROJECT_ROOT}/data/models/lexical-1024`)}`);
 * ```
 */
export function projectPath(rel: string): string {
  if (rel.startsWith("/")) return rel;
  try {
    if (Deno.cwd() === PROJECT_ROOT || Deno.realPathSync(".") === PROJECT_ROOT) return rel;
  } catch { /* no read access to the working directory: resolve against the project */ }
  return join(PROJECT_ROOT, rel);
}

/**
 * True for a URI with a scheme (`s3://bucket/index`, `gs://…`), i.e. not a
 * local path.
 *
 * @example
 * ```ts
 * import { isRemoteUri } from "./fs.ts";
 * if (JSON.stringify([isRemoteUri("s3://b/idx"), isRemoteUri("/tmp/idx")]) !== JSON.stringify([true, false])) throw new Error(`got ${JSON.stringify([isRemoteUri("s3://b/idx"), isRemoteUri("/tmp/idx")])}`);
 * ```
 */
export function isRemoteUri(path: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(path);
}

/**
 * A file that cannot be read as an input: missing, a folder, or not a regular
 * file (a device such as `/dev/zero`, a FIFO, a socket), links resolved first.
 *
 * @example
 * ```ts
 * import { InputFileError } from "./fs.ts";
 * if (JSON.stringify(new InputFileError("x").name) !== JSON.stringify("InputFileError")) throw new Error(`got ${JSON.stringify(new InputFileError("x").name)}`);
 * ```
 */
export class InputFileError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "InputFileError";
  }
}

/**
 * Check that `path` is a regular file before it is opened (opening a FIFO
 * blocks, reading a device never ends), following links: an
 * {@link InputFileError} names the path as given and, for a link, what it
 * points to; a missing file is `Deno.errors.NotFound`. Returns the size in bytes.
 *
 * @example
 * ```ts
 * import { checkInputFile } from "./fs.ts";
 * await Deno.writeTextFile("/tmp/input-example.txt", "phòng trọ\n");
 * const bytes = await checkInputFile("/tmp/input-example.txt"); // its size: 13 bytes of UTF-8
 * if (bytes !== 13) throw new Error(`got ${bytes}`);
 * let msg = "";
 * await checkInputFile("/tmp").catch((e) => msg = e.message);
 * console.log(msg); // /tmp: is a folder, not a file
 * ```
 */
export async function checkInputFile(path: string): Promise<number> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path); // follows links
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      const link = await Deno.lstat(path).then((s) => s.isSymlink, () => false);
      // Deno's own error class, so that callers keep their "not found" messages.
      throw new Deno.errors.NotFound(
        link ? `${path}: a link to a file that does not exist` : `${path}: file not found`,
      );
    }
    throw err;
  }
  let shown = path;
  if ((await Deno.lstat(path).catch(() => stat)).isSymlink) {
    shown = `${path} (a link to ${await Deno.realPath(path).catch(() => "?")})`;
  }
  if (stat.isDirectory) throw new InputFileError(`${shown}: is a folder, not a file`);
  if (!stat.isFile) {
    throw new InputFileError(
      `${shown}: not a regular file (a device, FIFO or socket); give a file`,
    );
  }
  return stat.size;
}
