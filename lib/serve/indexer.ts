/** The file in a local index folder that names its checkpoint and model (for the launcher). */
export const INDEX_PATHS_FILE = "paths.json";

/**
 * Build or update a listings index: encode the listings through the
 * embedding cache, project them with a checkpoint's head, and upsert them
 * into a {@link VectorStore}; above a size threshold, build an ANN index and
 * measure its recall@10 against the exact scan.
 *
 * Also the shared "query side": {@link loadQueryHead} loads the head an
 * index was built with and verifies it against the index.
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import { embedTexts } from "../encoder/cache.ts";
import { loadCheckpoint, type LoadedCheckpoint, resolveRunDir } from "../run/checkpoint.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { describeEncoder, type Encoder, loadEncoder } from "../encoder/encoder.ts";
import { atomicWriteJson, isRemoteUri, join, sha256Hex } from "../core/fs.ts";
import { ProjectionHead } from "../head/head.ts";
import { RunLock } from "../run/run_lock.ts";
import type { Listing } from "../data/listings.ts";
import {
  type AnnInfo,
  type AnnKind,
  annRecall,
  inferColumns,
  type UpsertResult,
  VectorStore,
} from "./vector_store.ts";

/**
 * Default location of the index.
 *
 * @example
 * ```ts
 * import { DEFAULT_INDEX_DIR } from "./indexer.ts";
 * if (JSON.stringify(DEFAULT_INDEX_DIR) !== JSON.stringify("data/index")) throw new Error(`got ${JSON.stringify(DEFAULT_INDEX_DIR)}`);
 * ```
 */
export const DEFAULT_INDEX_DIR = "data/index";
/**
 * Default row count from which `--ann auto` builds an ANN index.
 *
 * @example
 * ```ts
 * import { DEFAULT_ANN_THRESHOLD } from "./indexer.ts";
 * if (JSON.stringify(DEFAULT_ANN_THRESHOLD) !== JSON.stringify(20000)) throw new Error(`got ${JSON.stringify(DEFAULT_ANN_THRESHOLD)}`);
 * ```
 */
export const DEFAULT_ANN_THRESHOLD = 20_000;

/**
 * SHA-256 of a checkpoint's weights file (`<dir>/<which>.safetensors`).
 *
 * @example
 * ```ts ignore
 * import { checkpointSha256 } from "./indexer.ts";
 * console.log(await checkpointSha256("checkpoints/latest", "best"));
 * ```
 */
export async function checkpointSha256(dir: string, which: string): Promise<string> {
  const path = join(await resolveRunDir(dir), `${which}.safetensors`);
  return sha256Hex(await Deno.readFile(path));
}

/** A head loaded for queries, with what identifies it. */
export interface QueryHead {
  /** The loaded, verified checkpoint. */
  checkpoint: LoadedCheckpoint;
  /** The checkpoint path as given (recorded in the index). */
  path: string;
  /** SHA-256 of its weights file (recorded in the index). */
  sha256: string;
  /** Project `[n, inDim]` base vectors to unit `[n, outDim]` vectors. */
  project(base: Float32Array, n: number): Float32Array;
  /** Free the head's tensors. */
  dispose(): void;
}

/**
 * Load a checkpoint's head for projecting (the tfjs backend is initialised).
 *
 * @example
 * ```ts ignore
 * import { loadQueryHead } from "./indexer.ts";
 * const head = await loadQueryHead("checkpoints/latest", "best", encoder.fingerprint);
 * const v = head.project(base, 1);
 * ```
 */
export async function loadQueryHead(
  path: string,
  which: "best" | "final",
  fingerprint: string,
  opts: { force?: boolean; onWarning?: (m: string) => void } = {},
): Promise<QueryHead> {
  const checkpoint = await loadCheckpoint(path, {
    which,
    fingerprint,
    force: opts.force,
    onWarning: opts.onWarning,
  });
  const sha256 = await checkpointSha256(path, which);
  await initBackend("auto");
  const head = ProjectionHead.create({
    inDim: checkpoint.inDim,
    outDim: checkpoint.outDim,
    seed: 0,
  });
  head.setWeight(checkpoint.weight);
  return {
    checkpoint,
    path,
    sha256,
    project: (base, n) => head.project(base, n),
    dispose: () => head.dispose(),
  };
}

/** Up to `n` items of `xs`, evenly spaced (all of them when there are fewer). */
function evenlySpaced<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]);
}

/** Options of {@link indexListings}. */
export interface IndexOptions {
  /** The listings to index. */
  listings: Listing[];
  /** Index location (directory or LanceDB URI). */
  index?: string;
  /** The run whose head projects the vectors. */
  checkpoint: string;
  /** Which weights (default `best`). */
  which?: "best" | "final";
  /** Encoder directory (default: the checkpoint's, else the offline default). */
  model?: string;
  /** Embedding cache root (default `data/cache`). */
  cacheRoot?: string;
  /** Remove rows whose id is not among `listings`. */
  deleteMissing?: boolean;
  /** Ids to delete after the upsert. */
  deleteIds?: string[];
  /** Start a new table (required to change the head or the encoder). */
  rebuild?: boolean;
  /** Store base vectors too (default true). */
  base?: boolean;
  /** The ANN index: a kind, `auto` (by row count) or `none` (exact scan). */
  ann?: AnnKind | "auto" | "none";
  /** Rows from which `auto` builds an ANN index. */
  annThreshold?: number;
  /** IVF partitions probed per query. */
  nprobes?: number;
  /** Candidates re-ranked with full vectors = k × refineFactor. */
  refineFactor?: number;
  /** Queries for the recall measurement (default 100). */
  recallSample?: number;
  /**
   * Query texts for the recall measurement (e.g. a dataset's queries; up to
   * `recallSample`, evenly spaced). Without them, indexed listings are the queries.
   */
  queries?: string[];
  /** Index even if the encoder fingerprint differs from the run's. */
  force?: boolean;
  /** Progress lines. */
  onLog?: (line: string) => void;
  /** Warnings. */
  onWarning?: (line: string) => void;
}

/** What {@link indexListings} did. */
export interface IndexReport {
  /** The index location. */
  index: string;
  /** True when this run created the index. */
  created: boolean;
  /** Listings encoded. */
  encoded: number;
  /** Listings whose embeddings came from the cache. */
  cached: number;
  /** Rows inserted, updated and deleted by the upsert. */
  upsert: UpsertResult;
  /** Rows deleted by `deleteIds`. */
  deletedById: number;
  /** Rows in the index afterwards. */
  rows: number;
  /** Seconds per phase. */
  seconds: { encode: number; project: number; write: number; ann: number; total: number };
  /** The ANN index built, or null (exact scan). */
  ann: AnnInfo | null;
  /** Recall@10 of the ANN index against the exact scan on a query sample, with timings. */
  recall: { recall: number; annMs: number; exactMs: number; queries: number } | null;
  /** Milliseconds per query of the exact scan (without an ANN index). */
  exactMs: number | null;
}

/**
 * Index listings with a checkpoint's head. An existing index built with
 * another head or encoder is refused unless `rebuild`.
 *
 * @example
 * ```ts ignore
 * import { indexListings } from "./indexer.ts";
 * import { readListings } from "../data/listings.ts";
 * const r = await indexListings({ listings: await readListings("data/gen-data-set.json"), checkpoint: "checkpoints/latest" });
 * console.log(r.rows, r.ann?.kind ?? "exact");
 * ```
 */
export async function indexListings(opts: IndexOptions): Promise<IndexReport> {
  const t0 = performance.now();
  const log = opts.onLog ?? (() => {});
  const uri = opts.index ?? DEFAULT_INDEX_DIR;
  const which = opts.which ?? "best";
  const { readRunInfo } = await import("../run/checkpoint.ts");
  const info = await readRunInfo(opts.checkpoint);
  const modelDir = opts.model ?? (info.config.model || await ensureDefaultModel());
  const encoder: Encoder = await loadEncoder(modelDir);
  const head = await loadQueryHead(opts.checkpoint, which, encoder.fingerprint, opts);
  if (head.checkpoint.inDim !== encoder.dim) {
    throw new Error(
      `${opts.checkpoint}: the head expects ${head.checkpoint.inDim}-d input, encoder "${encoder.name}" gives ${encoder.dim}-d`,
    );
  }
  const listings = opts.listings;
  // Metadata of two types in one field is an error naming the listings, before any encoding.
  inferColumns(listings);
  const askedAnn = opts.ann ?? "auto";
  if (
    askedAnn !== "auto" && askedAnn !== "none" && listings.length < 256 && !opts.deleteIds?.length
  ) {
    // A new table of these listings would be too small: say so before anything is written.
    const existing = !opts.rebuild && await VectorStore.exists(uri)
      ? await VectorStore.open(uri).then((s) => s.count().finally(() => s.close()))
      : 0;
    if (existing + listings.length < 256) {
      throw new Error(
        `--ann ${askedAnn}: an ANN index needs at least 256 listings, the index would hold at ` +
          `most ${existing + listings.length}; use --ann none (an exact scan is fast at this size)`,
      );
    }
  }
  log(`${describeEncoder(encoder)}; head ${head.checkpoint.dir} (${head.checkpoint.outDim}-d)`);
  log(`Listings: ${listings.length}`);
  const texts = listings.map((l) => l.text);
  let t = performance.now();
  const emb = await embedTexts(encoder, texts, {
    cacheRoot: opts.cacheRoot,
    onWarning: opts.onWarning,
  });
  const sampleSize = opts.recallSample ?? 100;
  const queryTexts = evenlySpaced(opts.queries ?? [], sampleSize);
  const queryEmb = queryTexts.length
    ? await embedTexts(encoder, queryTexts, {
      cacheRoot: opts.cacheRoot,
      onWarning: opts.onWarning,
    })
    : null;
  await encoder.dispose();
  const encodeS = (performance.now() - t) / 1000;
  t = performance.now();
  const projected = head.project(emb.data, listings.length);
  const projectedQueries = queryEmb ? head.project(queryEmb.data, queryTexts.length) : null;
  head.dispose();
  const projectS = (performance.now() - t) / 1000;
  const dim = head.checkpoint.outDim;
  const withBase = opts.base ?? true;

  t = performance.now();
  // One writer per local index: a second one waits for nothing and says who holds it.
  let lock: RunLock | undefined;
  if (!isRemoteUri(uri)) {
    await Deno.mkdir(uri, { recursive: true });
    lock = await RunLock.acquire(uri, { what: "indexing", onInfo: opts.onWarning });
  }
  const exists = !opts.rebuild && await VectorStore.exists(uri);
  if (!exists && !opts.rebuild && !isRemoteUri(uri)) {
    const leftover = await Deno.stat(join(uri, "listings.lance")).then(() => true, () => false);
    if (leftover) {
      lock?.release();
      throw new Error(
        `${uri} holds a listings table but no index_meta table (an interrupted first index, or ` +
          `a removed index_meta.lance), so what it holds cannot be verified. Start it anew with ` +
          `--rebuild`,
      );
    }
  }
  let store: VectorStore;
  try {
    store = exists
      ? await VectorStore.open(uri, { write: true, verify: true, onInfo: opts.onWarning })
      : await createStore();
  } catch (err) {
    lock?.release();
    throw err;
  }
  if (exists) {
    store.checkCompatible({ fingerprint: encoder.fingerprint, checkpointSha256: head.sha256 });
    if (withBase && store.info.baseDim === 0) {
      (opts.onWarning ?? console.warn)(
        `warning: ${uri} holds no base vectors; base vectors are not stored (--rebuild to add them)`,
      );
    }
    const cols = inferColumns(listings);
    const extra = Object.keys(cols).filter((c) => !(c in store.info.columns));
    if (extra.length) {
      (opts.onWarning ?? console.warn)(
        `warning: metadata field(s) ${extra.join(", ")} are not columns of ${uri}: kept in the ` +
          `listing's metadata but not filterable (--rebuild to add them)`,
      );
    }
  }
  function createStore(): Promise<VectorStore> {
    return VectorStore.create(uri, {
      checkpoint: { path: head.checkpoint.dir, which, sha256: head.sha256 },
      encoder: {
        name: encoder.name,
        dir: encoder.dir,
        fingerprint: encoder.fingerprint,
        dim: encoder.dim,
      },
      dim,
      baseDim: withBase ? encoder.dim : 0,
      columns: inferColumns(listings),
    });
  }
  try {
    const storeBase = store.info.baseDim > 0;
    const rows = listings.map((l, i) => ({
      ...l,
      vector: projected.subarray(i * dim, (i + 1) * dim),
      base: storeBase ? emb.data.subarray(i * emb.dim, (i + 1) * emb.dim) : undefined,
    }));
    // Every change below is one uncommitted LanceDB version; readers keep the
    // old index until the single `commit` at the end switches them over.
    const upsert = await store.upsert(rows, { deleteMissing: opts.deleteMissing, commit: false });
    // A plain-JSON note of the paths the index names, for `scripts/launch.ts`
    // (it grants `serve` read access to them). Not used to load anything: the
    // index's own metadata table is what `serve` verifies and uses.
    if (!isRemoteUri(uri)) {
      await atomicWriteJson(join(uri, INDEX_PATHS_FILE), {
        checkpoint: store.info.checkpoint?.path ?? null,
        model: store.info.encoder.dir,
      });
    }
    const deletedById = await store.deleteIds(opts.deleteIds ?? [], { commit: false });
    const count = await store.count();
    const writeS = (performance.now() - t) / 1000;
    log(
      `Index ${uri}: ${exists ? "updated" : "created"}; ${upsert.inserted} inserted, ` +
        `${upsert.updated} replaced, ${upsert.deleted + deletedById} deleted; ${count} listings ` +
        `(${writeS.toFixed(2)} s)`,
    );

    // ANN: build above the threshold (or when asked for), rebuild after changes.
    const want = opts.ann ?? "auto";
    const threshold = opts.annThreshold ?? DEFAULT_ANN_THRESHOLD;
    const kind: AnnKind | null = want === "none"
      ? null
      : want === "auto"
      ? (count >= threshold ? "ivf_flat" : null)
      : want;
    const changed = upsert.inserted + upsert.updated + upsert.deleted + deletedById > 0;
    let annS = 0;
    if (kind === null) {
      if (store.info.ann) await store.dropAnn({ commit: false });
      log(
        want === "none"
          ? "ANN index: none (--ann none); queries scan every row exactly"
          : `ANN index: none (${count} listings < --ann-threshold ${threshold}); queries scan every row exactly`,
      );
    } else if (
      !store.info.ann || store.info.ann.kind !== kind || changed ||
      (opts.nprobes !== undefined && opts.nprobes !== store.info.ann.nprobes) ||
      (opts.refineFactor !== undefined && opts.refineFactor !== store.info.ann.refineFactor)
    ) {
      const a = performance.now();
      const built = await store.buildAnn(kind, {
        commit: false,
        ...(opts.nprobes !== undefined ? { nprobes: opts.nprobes } : {}),
        ...(opts.refineFactor !== undefined ? { refineFactor: opts.refineFactor } : {}),
      });
      annS = (performance.now() - a) / 1000;
      log(
        `ANN index: ${built.kind}, ${
          built.kind === "hnsw_sq"
            ? `ef ${built.ef}`
            : `${built.partitions} partitions, nprobes ${built.nprobes}`
        }${built.refineFactor ? `, refine ×${built.refineFactor}` : ""} (built in ${
          annS.toFixed(2)
        } s)`,
      );
    } else log(`ANN index: ${kind}, unchanged`);
    await store.commit();

    // Recall and latency on a sample of queries (or of the indexed vectors used as queries).
    const od = head.checkpoint.outDim;
    const sample = projectedQueries
      ? queryTexts.map((_, i) => projectedQueries.subarray(i * od, (i + 1) * od))
      : await store.sampleVectors(sampleSize);
    const what = projectedQueries ? "queries of the dataset" : "listings of the index as queries";
    let recall: IndexReport["recall"] = null;
    let exactMs: number | null = null;
    if (store.info.ann) {
      recall = await annRecall(store, sample, 10);
      log(
        `ANN recall@10 vs exact: ${recall.recall.toFixed(4)} on ${recall.queries} queries ` +
          `(${what}); latency ${recall.annMs.toFixed(2)} ms ANN vs ` +
          `${recall.exactMs.toFixed(2)} ms exact per query`,
      );
    } else if (sample.length) {
      const a = performance.now();
      for (const q of sample) await store.search(q, { k: 10, exact: true });
      exactMs = (performance.now() - a) / sample.length;
      log(`Exact top-10 latency: ${exactMs.toFixed(2)} ms per query (${sample.length} queries)`);
    }
    return {
      index: uri,
      created: !exists,
      encoded: emb.misses,
      cached: emb.hits,
      upsert,
      deletedById,
      rows: count,
      seconds: {
        encode: encodeS,
        project: projectS,
        write: writeS,
        ann: annS,
        total: (performance.now() - t0) / 1000,
      },
      ann: store.info.ann,
      recall,
      exactMs,
    };
  } finally {
    store.close();
    lock?.release();
  }
}
