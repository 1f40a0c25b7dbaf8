/**
 * The embedding cache: each unique text is encoded once per model
 * fingerprint. A cache lives in `<cacheRoot>/<fingerprint>/`:
 *
 * - `vectors.f32`: raw little-endian float32 rows, `[count, dim]`;
 * - `index.json`: `{ version, fingerprint, model, dim, count, vectorsBytes,
 *   vectorsSha256, texts, truncated }` (`texts[i]` is row `i`; `truncated`
 *   lists rows whose text was cut to the model's maxLength).
 *
 * Both files are replaced atomically (`vectors.f32` first, then the index
 * that vouches for it). On load the sizes and the SHA-256 of the vector bytes
 * are checked; a missing, truncated or corrupt cache is reported (a warning
 * naming the file and the problem) and rebuilt, never used.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Embeddings, EncodeOptions, Encoder } from "./encoder.ts";
import { atomicWrite, atomicWriteJson, join } from "./fs.ts";

/**
 * Default cache root.
 *
 * @example
 * ```ts
 * import { cacheDir, DEFAULT_CACHE_ROOT } from "./cache.ts";
 * console.log(cacheDir(DEFAULT_CACHE_ROOT, "0123abcd")); // "data/cache/0123abcd"
 * ```
 */
export const DEFAULT_CACHE_ROOT = "data/cache";

/**
 * Format version of `index.json`.
 *
 * @example
 * ```ts
 * import { CACHE_VERSION } from "./cache.ts";
 * console.log(CACHE_VERSION); // 1
 * ```
 */
export const CACHE_VERSION = 1;

/** `index.json` of a cache folder. */
export interface CacheIndex {
  version: number;
  fingerprint: string;
  model: string;
  dim: number;
  count: number;
  vectorsBytes: number;
  vectorsSha256: string;
  texts: string[];
  truncated: number[];
}

/** A cache read from disk. */
export interface LoadedCache {
  index: CacheIndex;
  vectors: Float32Array;
}

/** The result of {@link readCache}: a cache, nothing, or a problem to report. */
export type CacheReadResult =
  | { status: "ok"; cache: LoadedCache }
  | { status: "empty" }
  | { status: "corrupt"; file: string; problem: string };

/** Options of {@link embedTexts}. */
export interface EmbedTextsOptions {
  /** Cache root (default "data/cache"). */
  cacheRoot?: string;
  /** Progress of encoding the misses (texts done, texts to encode). */
  onProgress?: (done: number, total: number) => void;
  /** Batch size for encoding misses. */
  batchSize?: number;
  /** Where warnings go (default `console.warn`). */
  onWarning?: (message: string) => void;
}

/** The result of {@link embedTexts}. */
export interface CachedEmbeddings extends Embeddings {
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
 * console.log(cacheDir("data/cache", "abc123")); // "data/cache/abc123"
 * ```
 */
export function cacheDir(cacheRoot: string, fingerprint: string): string {
  if (!/^[0-9a-f]{8,128}$/.test(fingerprint)) {
    throw new Error(`cache: fingerprint must be lowercase hex, got "${fingerprint}"`);
  }
  return join(cacheRoot, fingerprint);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readOrNull(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Read and verify the cache in `dir` for an encoder of dimension `dim` and
 * `fingerprint`. Never throws for bad content: it returns what is wrong.
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
  const indexPath = join(dir, "index.json");
  const vectorsPath = join(dir, "vectors.f32");
  const [indexBytes, vectorBytes] = await Promise.all([
    readOrNull(indexPath),
    readOrNull(vectorsPath),
  ]);
  if (indexBytes === null && vectorBytes === null) return { status: "empty" };
  if (indexBytes === null) return { status: "corrupt", file: indexPath, problem: "file missing" };
  if (vectorBytes === null) {
    return { status: "corrupt", file: vectorsPath, problem: "file missing" };
  }
  let index: CacheIndex;
  try {
    index = JSON.parse(new TextDecoder().decode(indexBytes));
  } catch (err) {
    return {
      status: "corrupt",
      file: indexPath,
      problem: `not valid JSON (${(err as Error).message})`,
    };
  }
  const bad = (problem: string) => ({ status: "corrupt" as const, file: indexPath, problem });
  if (typeof index !== "object" || index === null) return bad("not a JSON object");
  if (index.version !== CACHE_VERSION) {
    return bad(`version ${index.version}, expected ${CACHE_VERSION}`);
  }
  if (index.fingerprint !== fingerprint) {
    return bad(`fingerprint ${index.fingerprint} ≠ ${fingerprint}`);
  }
  if (index.dim !== dim) return bad(`dim ${index.dim}, the model has ${dim}`);
  if (!Number.isInteger(index.count) || index.count < 0) return bad(`bad count ${index.count}`);
  if (!Array.isArray(index.texts) || index.texts.length !== index.count) {
    return bad(`texts has ${index.texts?.length} entries, count says ${index.count}`);
  }
  if (!Array.isArray(index.truncated)) return bad("truncated is not a list");
  const expected = index.count * dim * 4;
  if (index.vectorsBytes !== expected) {
    return bad(`vectorsBytes ${index.vectorsBytes} ≠ ${expected}`);
  }
  if (vectorBytes.length !== expected) {
    return {
      status: "corrupt",
      file: vectorsPath,
      problem:
        `${vectorBytes.length} bytes, expected ${expected} (${index.count} × ${dim} float32)`,
    };
  }
  if (sha256(vectorBytes) !== index.vectorsSha256) {
    return { status: "corrupt", file: vectorsPath, problem: "checksum mismatch (SHA-256)" };
  }
  const vectors = new Float32Array(vectorBytes.buffer, vectorBytes.byteOffset, index.count * dim);
  return { status: "ok", cache: { index, vectors } };
}

/**
 * Write a cache folder: `vectors.f32`, then `index.json` (both atomic).
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
): Promise<CacheIndex> {
  const bytes = new Uint8Array(c.vectors.buffer, c.vectors.byteOffset, c.vectors.byteLength);
  const index: CacheIndex = {
    version: CACHE_VERSION,
    fingerprint: c.fingerprint,
    model: c.model,
    dim: c.dim,
    count: c.texts.length,
    vectorsBytes: bytes.length,
    vectorsSha256: sha256(bytes),
    texts: c.texts,
    truncated: c.truncated,
  };
  if (c.vectors.length !== c.texts.length * c.dim) {
    throw new Error(`writeCache: ${c.vectors.length} values for ${c.texts.length} × ${c.dim}`);
  }
  await atomicWrite(join(dir, "vectors.f32"), bytes);
  await atomicWriteJson(join(dir, "index.json"), index);
  return index;
}

/**
 * Embed texts through the cache: unique texts already cached for this
 * encoder's fingerprint are read (one read of each cache file, a hash
 * lookup), the rest are encoded once and appended. Results are in input
 * order. A corrupt cache is reported through `onWarning` and rebuilt.
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
  const dim = encoder.dim;
  const dir = cacheDir(root, encoder.fingerprint);
  const read = await readCache(dir, dim, encoder.fingerprint);
  let cachedTexts: string[] = [];
  let cachedVectors: Float32Array = new Float32Array(0);
  let cachedTruncated: number[] = [];
  if (read.status === "ok") {
    cachedTexts = read.cache.index.texts;
    cachedVectors = read.cache.vectors;
    cachedTruncated = read.cache.index.truncated;
  } else if (read.status === "corrupt") {
    warn(
      `warning: embedding cache ${read.file} is unusable (${read.problem}); ` +
        "ignoring it and rebuilding the cache",
    );
  }
  const row = new Map<string, number>();
  cachedTexts.forEach((t, i) => row.set(t, i));
  const truncatedRows = new Set(cachedTruncated);

  const unique = new Set(texts);
  const missing: string[] = [];
  let hits = 0;
  for (const t of unique) {
    if (row.has(t)) hits++;
    else missing.push(t);
  }

  let vectors = cachedVectors;
  let extraTruncated = 0;
  if (missing.length > 0) {
    const encodeOpts: EncodeOptions = { onProgress: opts.onProgress };
    if (opts.batchSize !== undefined) encodeOpts.batchSize = opts.batchSize;
    const enc = await encoder.encode(missing, encodeOpts);
    if (enc.dim !== dim || enc.data.length !== missing.length * dim) {
      throw new Error(
        `cache: encoder returned [${
          enc.data.length / enc.dim
        }, ${enc.dim}], expected [${missing.length}, ${dim}]`,
      );
    }
    // Which texts were truncated (lib/encoder.ts reports the indices; another
    // encoder may only give a count, which then applies to this call only).
    const newTruncated = (enc as { truncatedIndices?: number[] }).truncatedIndices ?? [];
    extraTruncated = enc.truncated - newTruncated.length;
    const base = cachedTexts.length;
    if (base === 0) {
      vectors = enc.data; // nothing cached: no copy
    } else {
      vectors = new Float32Array((base + missing.length) * dim);
      vectors.set(cachedVectors);
      vectors.set(enc.data, base * dim);
    }
    const allTexts = cachedTexts.concat(missing);
    missing.forEach((t, i) => row.set(t, base + i));
    for (const i of newTruncated) truncatedRows.add(base + i);
    await writeCache(dir, {
      fingerprint: encoder.fingerprint,
      model: encoder.name,
      dim,
      texts: allTexts,
      truncated: [...truncatedRows].sort((a, b) => a - b),
      vectors,
    });
  }

  // The cache rows are often exactly the requested texts in order (a warm run
  // over the same data): return them without a copy (large corpora: half the memory).
  let data: Float32Array;
  if (vectors.length === texts.length * dim && texts.every((t, i) => row.get(t) === i)) {
    data = vectors;
  } else {
    data = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => {
      const r = row.get(t)!;
      data.set(vectors.subarray(r * dim, (r + 1) * dim), i * dim);
    });
  }
  let truncated = extraTruncated;
  for (const t of unique) if (truncatedRows.has(row.get(t)!)) truncated++;
  return { dim, data, hits, misses: missing.length, truncated };
}
