/**
 * The embedding cache: each unique text is encoded once per model
 * fingerprint. A cache lives in `<cacheRoot>/<fingerprint>/` as append-only
 * **segment files** `seg-<time>-<pid>-<rand>.seg`, one per flushed chunk:
 *
 * ```
 * "PTHSEG02"                  8 bytes magic
 * uint32 LE H                 header length
 * header JSON (H bytes)       { version, fingerprint, model, dim, count, textsBytes }
 * texts block (textsBytes)    JSON { texts: string[], truncated: number[] }, space-padded
 * vectors                     count × dim little-endian float32 (row i is texts[i])
 * SHA-256 (32 bytes)          over "fingerprint\ndim\ncount\n" + texts block + vectors
 * ```
 *
 * - The checksum covers the text→row association: swapping two texts, a
 *   flipped byte or a truncated file makes the segment unusable; it is
 *   reported (a warning naming the file and the problem), deleted and its texts
 *   are re-encoded. Nothing unverified is ever returned.
 * - Writes append: new texts go to a new segment, written to a temporary file
 *   and renamed, so a reader never sees half a segment and nothing is rewritten.
 * - Concurrent writers are safe without a lock: every writer creates its own
 *   uniquely named segments; readers merge all segments (the first copy of a
 *   text wins; a text encoded twice by two racing processes costs only space).
 * - {@link embedTexts} flushes a segment every few seconds of encoding, so an
 *   interrupted run (Ctrl-C, kill) keeps everything up to the last flush and
 *   the next run encodes only the rest ({@link EmbedPlan}).
 * - Queries (search) go to a separate bounded store (`<dir>/queries/`, at most
 *   {@link QUERY_CACHE_MAX} texts), or to none, so they never grow the corpus cache.
 * - When a store has more than {@link MAX_SEGMENTS} segments, a writer merges
 *   the smaller half of them (streaming, verified) into one and removes the
 *   merged files (tiered: a row is rewritten O(log n) times in all).
 * - The version-1 format (`index.json` + `vectors.f32`) is migrated to a
 *   segment when it verifies, else reported and removed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { EncodeOptions, Encoder } from "./encoder.ts";
import { join } from "../core/fs.ts";

/**
 * Default cache root.
 *
 * @example
 * ```ts
 * import { cacheDir, DEFAULT_CACHE_ROOT } from "./cache.ts";
 * if (JSON.stringify(cacheDir(DEFAULT_CACHE_ROOT, "0123abcd")) !== JSON.stringify("data/cache/0123abcd")) throw new Error(`got ${JSON.stringify(cacheDir(DEFAULT_CACHE_ROOT, "0123abcd"))}`);
 * ```
 */
export const DEFAULT_CACHE_ROOT = "data/cache";

/**
 * Format version of the cache (2: segment files; 1 was `index.json` + `vectors.f32`).
 *
 * @example
 * ```ts
 * import { CACHE_VERSION } from "./cache.ts";
 * if (JSON.stringify(CACHE_VERSION) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(CACHE_VERSION)}`);
 * ```
 */
export const CACHE_VERSION = 2;

/**
 * Most texts kept in the query store; older queries are dropped when it is compacted.
 *
 * @example
 * ```ts
 * import { QUERY_CACHE_MAX } from "./cache.ts";
 * if (JSON.stringify(QUERY_CACHE_MAX) !== JSON.stringify(1024)) throw new Error(`got ${JSON.stringify(QUERY_CACHE_MAX)}`);
 * ```
 */
export const QUERY_CACHE_MAX = 1024;

/**
 * A store with more segments than this is merged into one by the next writer.
 *
 * @example
 * ```ts
 * import { MAX_SEGMENTS } from "./cache.ts";
 * if (JSON.stringify(MAX_SEGMENTS) !== JSON.stringify(64)) throw new Error(`got ${JSON.stringify(MAX_SEGMENTS)}`);
 * ```
 */
export const MAX_SEGMENTS = 64;

const MAGIC = "PTHSEG02";
/** Most texts per flushed segment (16 MiB of rows at 1024-d): bounds the memory of a flush. */
const MAX_CHUNK = 4096;
const QUERY_SEGMENTS = 16;
const TMP_MAX_AGE_MS = 60 * 60 * 1000;

/** The header of a segment file. */
export interface SegmentHeader {
  version: number;
  fingerprint: string;
  model: string;
  dim: number;
  count: number;
  textsBytes: number;
}

/** A cache read completely from disk by {@link readCache}. */
export interface LoadedCache {
  /** Texts in row order (first copy of each text over all segments). */
  texts: string[];
  /** Rows whose text was cut to the model's maxLength. */
  truncated: number[];
  /** `[texts.length, dim]` row-major. */
  vectors: Float32Array;
  /** Segment files read. */
  segments: number;
}

/** The result of {@link readCache}: a cache, nothing, or a problem to report. */
export type CacheReadResult =
  | { status: "ok"; cache: LoadedCache }
  | { status: "empty" }
  | { status: "corrupt"; file: string; problem: string };

/** What {@link embedTexts} found before encoding (reported through `onPlan`). */
export interface EmbedPlan {
  /** Unique texts asked for. */
  total: number;
  /** Unique texts found in the cache. */
  cached: number;
  /** Unique texts to encode now. */
  toEncode: number;
}

/** Options of {@link embedTexts}. */
export interface EmbedTextsOptions {
  /** Cache root (default "data/cache"). */
  cacheRoot?: string;
  /**
   * Which store: `"corpus"` (default; unbounded, for datasets and listings),
   * `"query"` (bounded to {@link QUERY_CACHE_MAX} texts, for search queries) or
   * `"none"` (encode without reading or writing any cache).
   */
  store?: "corpus" | "query" | "none";
  /** Return the vectors (default true). `false` only fills the cache (`data` is empty). */
  collect?: boolean;
  /** Called once, before any encoding, with what is cached and what is left. */
  onPlan?: (plan: EmbedPlan) => void;
  /** Progress of encoding the misses (texts done, texts to encode). */
  onProgress?: (done: number, total: number) => void;
  /** Batch size for encoding misses. */
  batchSize?: number;
  /** Where warnings go (default `console.warn`). */
  onWarning?: (message: string) => void;
  /** Seconds of encoding between two flushes to disk (default 10). */
  flushSeconds?: number;
}

/** The result of {@link embedTexts}. */
export interface CachedEmbeddings {
  /** Embedding dimension. */
  dim: number;
  /** `[texts.length, dim]` in input order (empty with `collect: false`). */
  data: Float32Array;
  /** Unique texts found in the cache. */
  hits: number;
  /** Unique texts encoded now. */
  misses: number;
  /** Unique texts truncated to the model's maxLength. */
  truncated: number;
}

/** The encoder fields the cache needs. */
export type CacheEncoder = Pick<Encoder, "name" | "dim" | "fingerprint" | "encode">;

/**
 * The cache folder of a model fingerprint.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./cache.ts";
 * if (JSON.stringify(cacheDir("data/cache", "abc123ab")) !== JSON.stringify("data/cache/abc123ab")) throw new Error(`got ${JSON.stringify(cacheDir("data/cache", "abc123ab"))}`);
 * ```
 */
export function cacheDir(cacheRoot: string, fingerprint: string): string {
  if (!/^[0-9a-f]{8,128}$/.test(fingerprint)) {
    throw new Error(`cache: fingerprint must be lowercase hex, got "${fingerprint}"`);
  }
  return join(cacheRoot, fingerprint);
}

// ---------------------------------------------------------------------------
// Segment files

class SegmentProblem extends Error {}

async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await file.read(buf.subarray(off));
    if (n === null) throw new SegmentProblem(`file ends early (truncated)`);
    off += n;
  }
}

async function writeAll(file: Deno.FsFile, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) off += await file.write(buf.subarray(off));
}

function pad4(bytes: Uint8Array): Uint8Array {
  const len = Math.ceil(bytes.length / 4) * 4;
  if (len === bytes.length) return bytes;
  const out = new Uint8Array(len).fill(0x20);
  out.set(bytes);
  return out;
}

function checksumPrefix(fingerprint: string, dim: number, count: number): Uint8Array {
  return new TextEncoder().encode(`${fingerprint}\n${dim}\n${count}\n`);
}

function asBytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** An open, header-checked segment whose vectors are not read yet. */
interface OpenSegment {
  path: string;
  header: SegmentHeader;
  texts: string[];
  truncated: number[];
  /**
   * Stream the vectors in chunks of rows, then check the checksum. Returns
   * null when it matches, else the problem. Closes the file.
   */
  readVectors(onChunk: (rowStart: number, rows: Float32Array) => void): Promise<string | null>;
  close(): void;
}

/**
 * Open a segment and check its header and texts block against `dim` and `fingerprint`.
 * Throws {@link SegmentProblem} for bad content and Deno.errors.NotFound when it is gone.
 */
async function openSegment(
  path: string,
  dim: number,
  fingerprint: string,
): Promise<OpenSegment> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    if (size < 12) throw new SegmentProblem(`${size} bytes, too short for a segment header`);
    const head = new Uint8Array(12);
    await readFull(file, head);
    if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) {
      throw new SegmentProblem(`not a cache segment (bad magic)`);
    }
    const h = new DataView(head.buffer).getUint32(8, true);
    if (h > 1 << 20 || 12 + h > size) throw new SegmentProblem(`bad header length ${h}`);
    const hb = new Uint8Array(h);
    await readFull(file, hb);
    let header: SegmentHeader;
    try {
      header = JSON.parse(new TextDecoder().decode(hb));
    } catch (err) {
      throw new SegmentProblem(`header is not valid JSON (${(err as Error).message})`);
    }
    if (typeof header !== "object" || header === null) {
      throw new SegmentProblem("header is not a JSON object");
    }
    if (header.version !== CACHE_VERSION) {
      throw new SegmentProblem(`version ${header.version}, expected ${CACHE_VERSION}`);
    }
    if (header.fingerprint !== fingerprint) {
      throw new SegmentProblem(`fingerprint ${header.fingerprint} ≠ ${fingerprint}`);
    }
    if (header.dim !== dim) throw new SegmentProblem(`dim ${header.dim}, the model has ${dim}`);
    if (!Number.isInteger(header.count) || header.count < 0) {
      throw new SegmentProblem(`bad count ${header.count}`);
    }
    if (!Number.isInteger(header.textsBytes) || header.textsBytes < 2) {
      throw new SegmentProblem(`bad textsBytes ${header.textsBytes}`);
    }
    const expected = 12 + h + header.textsBytes + header.count * dim * 4 + 32;
    if (size !== expected) {
      throw new SegmentProblem(
        `${size} bytes, expected ${expected} (${header.count} × ${dim} float32 + texts)`,
      );
    }
    const tb = new Uint8Array(header.textsBytes);
    await readFull(file, tb);
    let block: { texts: unknown; truncated: unknown };
    try {
      block = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(tb));
    } catch (err) {
      throw new SegmentProblem(`texts block is not valid JSON (${(err as Error).message})`);
    }
    const texts = block?.texts;
    const truncated = block?.truncated;
    if (!Array.isArray(texts) || texts.length !== header.count) {
      throw new SegmentProblem(
        `texts has ${(texts as [])?.length} entries, count says ${header.count}`,
      );
    }
    if (!texts.every((t) => typeof t === "string")) {
      throw new SegmentProblem("a text is not a string");
    }
    if (!Array.isArray(truncated) || !truncated.every((r) => Number.isInteger(r))) {
      throw new SegmentProblem("truncated is not a list of rows");
    }
    const hash = createHash("sha256");
    hash.update(checksumPrefix(fingerprint, dim, header.count));
    hash.update(tb);
    let closed = false;
    const close = () => {
      if (!closed) file.close();
      closed = true;
    };
    return {
      path,
      header,
      texts: texts as string[],
      truncated: truncated as number[],
      close,
      async readVectors(onChunk) {
        try {
          const rowsPer = Math.max(1, Math.floor((4 << 20) / (dim * 4)));
          const buf = new Uint8Array(Math.min(rowsPer, Math.max(1, header.count)) * dim * 4);
          for (let r = 0; r < header.count; r += rowsPer) {
            const n = Math.min(rowsPer, header.count - r);
            const part = buf.subarray(0, n * dim * 4);
            await readFull(file, part);
            hash.update(part);
            onChunk(r, new Float32Array(buf.buffer, 0, n * dim));
          }
          const sum = new Uint8Array(32);
          await readFull(file, sum);
          const want = Array.from(sum, (b) => b.toString(16).padStart(2, "0")).join("");
          return hash.digest("hex") === want ? null : "checksum mismatch (SHA-256)";
        } catch (err) {
          if (err instanceof SegmentProblem) return err.message;
          throw err;
        } finally {
          close();
        }
      },
    };
  } catch (err) {
    file.close();
    throw err;
  }
}

/** Names of the segment files of a store, oldest first (empty when the folder is missing). */
async function listSegments(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && e.name.startsWith("seg-") && e.name.endsWith(".seg")) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  return names.sort();
}

let segCounter = 0;
function segmentName(): string {
  const t = Date.now().toString(36).padStart(9, "0");
  const c = (segCounter++).toString(36).padStart(4, "0");
  return `seg-${t}-${c}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.seg`;
}

/**
 * Write a segment (tmp file, then rename). `vectors` is called once per part,
 * in row order, and must yield `texts.length × dim` values in total.
 */
async function writeSegment(
  dir: string,
  seg: { fingerprint: string; model: string; dim: number; texts: string[]; truncated: number[] },
  vectors: () => AsyncIterable<Float32Array> | Iterable<Float32Array>,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const enc = new TextEncoder();
  const count = seg.texts.length;
  const textBlock = pad4(
    enc.encode(JSON.stringify({ texts: seg.texts, truncated: seg.truncated })),
  );
  const header: SegmentHeader = {
    version: CACHE_VERSION,
    fingerprint: seg.fingerprint,
    model: seg.model,
    dim: seg.dim,
    count,
    textsBytes: textBlock.length,
  };
  const hb = pad4(enc.encode(JSON.stringify(header)));
  const head = new Uint8Array(12);
  head.set(enc.encode(MAGIC));
  new DataView(head.buffer).setUint32(8, hb.length, true);
  const name = segmentName();
  const path = join(dir, name);
  const tmp = `${path}.tmp`;
  const hash = createHash("sha256");
  hash.update(checksumPrefix(seg.fingerprint, seg.dim, count));
  hash.update(textBlock);
  const file = await Deno.open(tmp, { write: true, createNew: true });
  try {
    await writeAll(file, head);
    await writeAll(file, hb);
    await writeAll(file, textBlock);
    let values = 0;
    for await (const part of vectors()) {
      const bytes = asBytes(part);
      hash.update(bytes);
      await writeAll(file, bytes);
      values += part.length;
    }
    if (values !== count * seg.dim) {
      throw new Error(`cache: segment got ${values} values for ${count} × ${seg.dim}`);
    }
    await writeAll(file, new Uint8Array(hash.digest()));
    file.close();
    await Deno.rename(tmp, path);
  } catch (err) {
    try {
      file.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    if (err instanceof Error && /No space left on device|os error 28|ENOSPC/.test(err.message)) {
      throw new Error(
        `cannot write the embedding cache in ${dir}: no space left on the device (nothing was ` +
          `kept of this segment; free space there, or pass --cache-root DIR on another disk)`,
      );
    }
    throw err;
  }
  return name;
}

/** Remove `*.tmp` files older than an hour (left by a killed writer). */
async function removeStaleTmp(dir: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".tmp")) continue;
      const p = join(dir, e.name);
      const st = await Deno.stat(p).catch(() => null);
      if (st?.mtime && Date.now() - st.mtime.getTime() > TMP_MAX_AGE_MS) {
        await Deno.remove(p).catch(() => {});
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

async function removeQuietly(path: string): Promise<void> {
  await Deno.remove(path).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

// ---------------------------------------------------------------------------
// Version 1 migration

/** Old caches: `index.json` + `vectors.f32`. Migrated to one segment, or removed. */
async function migrateV1(
  dir: string,
  dim: number,
  fingerprint: string,
  model: string,
  warn: (m: string) => void,
): Promise<void> {
  const indexPath = join(dir, "index.json");
  const vectorsPath = join(dir, "vectors.f32");
  const read = async (p: string) => {
    try {
      return await Deno.readFile(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  };
  const [ib, vb] = await Promise.all([read(indexPath), read(vectorsPath)]);
  if (ib === null && vb === null) return;
  const drop = async (file: string, problem: string) => {
    warn(
      `warning: embedding cache ${file} (old format) is unusable (${problem}); ` +
        "removing it and rebuilding the cache",
    );
    await removeQuietly(indexPath);
    await removeQuietly(vectorsPath);
  };
  if (ib === null) return drop(indexPath, "file missing");
  if (vb === null) return drop(vectorsPath, "file missing");
  // deno-lint-ignore no-explicit-any
  let index: any;
  try {
    index = JSON.parse(new TextDecoder().decode(ib));
  } catch (err) {
    return drop(indexPath, `not valid JSON (${(err as Error).message})`);
  }
  if (index?.version !== 1) return drop(indexPath, `version ${index?.version}, expected 1`);
  if (index.fingerprint !== fingerprint || index.dim !== dim) {
    return drop(indexPath, `fingerprint/dim do not match the model`);
  }
  const texts = index.texts;
  if (
    !Array.isArray(texts) || texts.length !== index.count ||
    !texts.every((t: unknown) => typeof t === "string")
  ) {
    return drop(indexPath, "texts do not match count");
  }
  if (vb.length !== index.count * dim * 4) {
    return drop(vectorsPath, `${vb.length} bytes, expected ${index.count * dim * 4}`);
  }
  const sum = createHash("sha256").update(vb).digest("hex");
  if (sum !== index.vectorsSha256) return drop(vectorsPath, "checksum mismatch (SHA-256)");
  // The v1 checksum did not cover the text→row index, so a swap there could
  // not be detected: migrating keeps the rows as they are, which is what a
  // v1 reader would have used.
  const vectors = new Float32Array(vb.buffer, vb.byteOffset, index.count * dim);
  const truncated = Array.isArray(index.truncated) ? index.truncated : [];
  await writeSegment(dir, { fingerprint, model, dim, texts, truncated }, () => [vectors]);
  await removeQuietly(indexPath);
  await removeQuietly(vectorsPath);
  warn(`embedding cache ${dir}: migrated ${texts.length} texts from the version-1 format`);
}

// ---------------------------------------------------------------------------
// Reading a whole store (tests, small stores)

/**
 * Read and verify every segment of a store completely (for small stores and
 * tests; {@link embedTexts} streams instead). Never throws for bad content:
 * it returns the first problem found.
 *
 * @example
 * ```ts
 * import { readCache } from "./cache.ts";
 * const r = await readCache("data/cache/0123abcd", 1024, "0123abcd");
 * console.log(r.status);
 * ```
 */
export async function readCache(
  dir: string,
  dim: number,
  fingerprint: string,
): Promise<CacheReadResult> {
  const names = await listSegments(dir);
  if (names.length === 0) return { status: "empty" };
  const seen = new Map<string, number>();
  const texts: string[] = [];
  const truncated: number[] = [];
  const parts: Float32Array[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let seg: OpenSegment;
    try {
      seg = await openSegment(path, dim, fingerprint);
    } catch (err) {
      if (err instanceof SegmentProblem) {
        return { status: "corrupt", file: path, problem: err.message };
      }
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    const rows = new Float32Array(seg.header.count * dim);
    const problem = await seg.readVectors((r, v) => rows.set(v, r * dim));
    if (problem) return { status: "corrupt", file: path, problem };
    const trunc = new Set(seg.truncated);
    const keep: number[] = [];
    seg.texts.forEach((t, r) => {
      if (seen.has(t)) return;
      seen.set(t, texts.length);
      if (trunc.has(r)) truncated.push(texts.length);
      texts.push(t);
      keep.push(r);
    });
    for (const r of keep) parts.push(rows.subarray(r * dim, (r + 1) * dim));
  }
  const vectors = new Float32Array(texts.length * dim);
  parts.forEach((p, i) => vectors.set(p, i * dim));
  return { status: "ok", cache: { texts, truncated, vectors, segments: names.length } };
}

/**
 * Append one segment with `texts` and their `vectors` to the store in `dir`.
 * Returns the segment's file name.
 *
 * @example
 * ```ts
 * import { writeCache } from "./cache.ts";
 * await writeCache("/tmp/cache/0123abcd", {
 *   fingerprint: "0123abcd", model: "m", dim: 2, texts: ["a"], truncated: [],
 *   vectors: new Float32Array([1, 0]),
 * });
 * ```
 */
export async function writeCache(
  dir: string,
  c: {
    fingerprint: string;
    model: string;
    dim: number;
    texts: string[];
    truncated: number[];
    vectors: Float32Array;
  },
): Promise<string> {
  if (c.vectors.length !== c.texts.length * c.dim) {
    throw new Error(`writeCache: ${c.vectors.length} values for ${c.texts.length} × ${c.dim}`);
  }
  return await writeSegment(dir, c, () => [c.vectors]);
}

// ---------------------------------------------------------------------------
// Compaction

/**
 * Merge the segments of a store into one (streaming; each source verified
 * while it is copied) and remove the merged files. With `keepLast`, only the
 * newest `keepLast` texts are kept (the bounded query store). A source that
 * fails its checksum is reported and removed; its texts are not copied.
 */
async function compact(
  dir: string,
  enc: { dim: number; fingerprint: string; name: string },
  warn: (m: string) => void,
  keepLast?: number,
  only?: string[],
): Promise<void> {
  const { dim, fingerprint } = enc;
  const names = only ?? await listSegments(dir);
  if (names.length < 2) return;
  const segs: OpenSegment[] = [];
  try {
    for (const name of names) {
      try {
        segs.push(await openSegment(join(dir, name), dim, fingerprint));
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // merged by another writer
        if (err instanceof SegmentProblem) {
          warn(
            `warning: embedding cache ${join(dir, name)} is unusable (${err.message}); removing it`,
          );
          await removeQuietly(join(dir, name));
          continue;
        }
        throw err;
      }
    }
    // Which rows of which segment to keep: first copy of each text, newest last.
    const seen = new Set<string>();
    const keep: number[][] = segs.map(() => []);
    segs.forEach((s, i) =>
      s.texts.forEach((t, r) => {
        if (!seen.has(t)) {
          seen.add(t);
          keep[i].push(r);
        }
      })
    );
    if (keepLast !== undefined) {
      let budget = keepLast;
      for (let i = segs.length - 1; i >= 0; i--) {
        const k = keep[i];
        keep[i] = budget >= k.length ? k : k.slice(k.length - budget);
        budget -= keep[i].length;
      }
    }
    const texts: string[] = [];
    const truncated: number[] = [];
    segs.forEach((s, i) => {
      const tr = new Set(s.truncated);
      for (const r of keep[i]) {
        if (tr.has(r)) truncated.push(texts.length);
        texts.push(s.texts[r]);
      }
    });
    let failed: string | null = null;
    await writeSegment(
      dir,
      { fingerprint, model: enc.name, dim, texts, truncated },
      async function* () {
        for (let i = 0; i < segs.length; i++) {
          const rows = keep[i];
          const out: Float32Array[] = [];
          let j = 0;
          const problem = await segs[i].readVectors((r0, v) => {
            const n = v.length / dim;
            const part: number[] = [];
            while (j < rows.length && rows[j] < r0 + n) part.push(rows[j++]);
            if (part.length === n) out.push(v.slice());
            else if (part.length > 0) {
              const o = new Float32Array(part.length * dim);
              part.forEach((r, k) =>
                o.set(v.subarray((r - r0) * dim, (r - r0 + 1) * dim), k * dim)
              );
              out.push(o);
            }
          });
          if (problem) {
            failed = `${segs[i].path}: ${problem}`;
            throw new Error(failed);
          }
          yield* out;
        }
      },
    );
    for (const s of segs) await removeQuietly(s.path);
  } catch (err) {
    for (const s of segs) s.close();
    // A failed merge leaves the sources in place (the tmp file is removed).
    warn(`warning: could not merge the cache segments in ${dir} (${(err as Error).message})`);
  }
}

// ---------------------------------------------------------------------------
// embedTexts

/**
 * Embed texts through the cache: unique texts already cached for this
 * encoder's fingerprint are read (segments streamed and verified), the rest
 * are encoded once and appended in chunks (a flush every `flushSeconds`), so
 * an interrupted run keeps its work. Results are in input order. A corrupt
 * segment is reported through `onWarning`, removed and its texts re-encoded.
 *
 * @example
 * ```ts
 * import { embedTexts } from "./cache.ts";
 * import { loadEncoder } from "./encoder.ts";
 * const enc = await loadEncoder();
 * const r = await embedTexts(enc, ["phòng trọ q10", "phòng trọ q10"], { cacheRoot: "/tmp/cache" });
 * console.log(r.hits, r.misses, r.data.length / r.dim); // e.g. 0 1 2
 * await enc.dispose();
 * ```
 */
export async function embedTexts(
  encoder: CacheEncoder,
  texts: string[],
  opts: EmbedTextsOptions = {},
): Promise<CachedEmbeddings> {
  const root = opts.cacheRoot ?? DEFAULT_CACHE_ROOT;
  const warn = opts.onWarning ?? ((m: string) => console.warn(m));
  const store = opts.store ?? "corpus";
  const collect = opts.collect ?? true;
  const dim = encoder.dim;
  const fp = encoder.fingerprint;
  const base = cacheDir(root, fp);
  const dir = store === "query" ? join(base, "queries") : base;

  // First index of each unique text; `found` and `trunc` are indexed by it.
  const first = new Map<string, number>();
  const dups: number[] = [];
  texts.forEach((t, i) => {
    if (first.has(t)) dups.push(i);
    else first.set(t, i);
  });
  const data = new Float32Array(collect ? texts.length * dim : 0);
  const found = new Uint8Array(texts.length);
  const trunc = new Uint8Array(texts.length);
  let hits = 0;

  if (store !== "none") {
    if (store === "corpus") await migrateV1(dir, dim, fp, encoder.name, warn);
    for (const name of await listSegments(dir)) {
      const path = join(dir, name);
      let seg: OpenSegment;
      try {
        seg = await openSegment(path, dim, fp);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue; // merged away meanwhile
        if (!(err instanceof SegmentProblem)) throw err;
        warn(
          `warning: embedding cache ${path} is unusable (${err.message}); ` +
            "removing it and re-encoding its texts",
        );
        await removeQuietly(path);
        continue;
      }
      const take: number[] = []; // pairs: row, first index
      seg.texts.forEach((t, r) => {
        const i = first.get(t);
        if (i !== undefined && !found[i]) take.push(r, i);
      });
      if (take.length === 0) {
        seg.close();
        continue;
      }
      let k = 0;
      const problem = await seg.readVectors((r0, v) => {
        const n = v.length / dim;
        while (k < take.length && take[k] < r0 + n) {
          const r = take[k] - r0, i = take[k + 1];
          if (collect) data.set(v.subarray(r * dim, (r + 1) * dim), i * dim);
          k += 2;
        }
      });
      if (problem) {
        warn(
          `warning: embedding cache ${path} is unusable (${problem}); ` +
            "removing it and re-encoding its texts",
        );
        await removeQuietly(path);
        continue;
      }
      const tr = new Set(seg.truncated);
      for (let j = 0; j < take.length; j += 2) {
        const i = take[j + 1];
        if (found[i]) continue;
        found[i] = 1;
        hits++;
        if (tr.has(take[j])) trunc[i] = 1;
      }
    }
  }

  const missing: number[] = [];
  for (const i of first.values()) if (!found[i]) missing.push(i);
  opts.onPlan?.({ total: first.size, cached: hits, toEncode: missing.length });

  let extraTruncated = 0;
  if (missing.length > 0) {
    if (store !== "none") await removeStaleTmp(dir);
    const flushMs = (opts.flushSeconds ?? 10) * 1000;
    let chunk = Math.min(256, missing.length);
    let done = 0;
    while (done < missing.length) {
      const idx = missing.slice(done, done + chunk);
      const chunkTexts = idx.map((i) => texts[i]);
      const encodeOpts: EncodeOptions = {
        onProgress: opts.onProgress && ((d) => opts.onProgress!(done + d, missing.length)),
      };
      if (opts.batchSize !== undefined) encodeOpts.batchSize = opts.batchSize;
      const t0 = performance.now();
      const enc = await encoder.encode(chunkTexts, encodeOpts) as {
        dim: number;
        data: Float32Array;
        truncated?: number;
        truncatedIndices?: number[];
      };
      const ms = performance.now() - t0;
      if (enc.dim !== dim || enc.data.length !== idx.length * dim) {
        throw new Error(
          `cache: encoder returned [${
            enc.data.length / enc.dim
          }, ${enc.dim}], expected [${idx.length}, ${dim}]`,
        );
      }
      // Which texts were truncated (lib/encoder/encoder.ts lists the indices; another
      // encoder may only give a count, which then applies to this call only).
      const tIdx = enc.truncatedIndices ?? [];
      extraTruncated += (enc.truncated ?? 0) - tIdx.length;
      for (const j of tIdx) trunc[idx[j]] = 1;
      if (collect) {
        idx.forEach((i, j) => data.set(enc.data.subarray(j * dim, (j + 1) * dim), i * dim));
      }
      if (store !== "none") {
        await writeSegment(
          dir,
          { fingerprint: fp, model: encoder.name, dim, texts: chunkTexts, truncated: tIdx },
          () => [enc.data],
        );
      }
      done += idx.length;
      // Next chunk: about flushMs of encoding at the rate just measured.
      const rate = idx.length / Math.max(ms, 1);
      chunk = Math.max(64, Math.min(MAX_CHUNK, Math.round(rate * flushMs)));
    }
    if (store === "query") {
      const n = (await listSegments(dir)).length;
      if (n > QUERY_SEGMENTS) await compact(dir, encoder, warn, QUERY_CACHE_MAX);
    } else if (store === "corpus") {
      const names = await listSegments(dir);
      if (names.length > MAX_SEGMENTS) {
        // Tiered: merge the smaller half, so each row is rewritten O(log n) times, not once
        // per MAX_SEGMENTS flushes.
        const sized = await Promise.all(
          names.map(async (n) => ({
            n,
            size: (await Deno.stat(join(dir, n)).catch(() => null))?.size ?? 0,
          })),
        );
        sized.sort((a, b) => a.size - b.size);
        const half = sized.slice(0, Math.ceil(sized.length / 2)).map((x) => x.n).sort();
        await compact(dir, encoder, warn, undefined, half);
      }
    }
  }

  if (collect) {
    for (const i of dups) {
      const f = first.get(texts[i])!;
      data.copyWithin(i * dim, f * dim, (f + 1) * dim);
    }
  }
  let truncated = extraTruncated;
  for (const i of first.values()) if (trunc[i]) truncated++;
  return { dim, data, hits, misses: missing.length, truncated };
}
