/**
 * The listings index: an embedded LanceDB database (a directory, or any URI
 * LanceDB accepts) holding
 *
 * - table `listings`: `id`, `text`, `meta` (the metadata as JSON), one typed
 *   column per metadata field (for `--where` filters), `vector` (the head's
 *   L2-normalised output, `dim` float32) and, optionally, `base` (the base
 *   encoder's vector, `baseDim` float32, for base-vs-head comparisons);
 * - table `index_meta`: one row whose `json` is the {@link IndexInfo}: the
 *   checkpoint (path and SHA-256 of its weights), the encoder fingerprint, the
 *   dimensions, the metadata columns and the ANN index parameters.
 *
 * Vectors are unit length, so the search uses LanceDB's `dot` distance
 * (`1 - q·d`) and reports `score = q·d`, the same cosine similarity as the
 * exact in-memory search.
 *
 * **Atomicity.** Every LanceDB write makes a new version of its table, and
 * old versions stay readable. The {@link IndexInfo} in `index_meta` names the
 * version of `listings` it describes ({@link IndexContents}), and a reader
 * opens exactly that version. Writers change `listings` first (an upsert, a
 * rebuild's new table, an ANN index: as many versions as they need) and then
 * switch `index_meta` to the new version in one commit
 * ({@link VectorStore.commit}). A reader therefore sees the old index or the
 * new one, never an empty or half-written table, and metadata and rows never
 * disagree. A writer that was killed leaves versions past the one
 * `index_meta` names; the next writer rolls them back.
 *
 * **Verification.** {@link IndexContents} records the row count, an
 * order-independent digest of every row (id, text, metadata, vectors) and the
 * norms of the head vectors. Opening checks the version and the row count
 * (cheap); {@link VectorStore.verify} rescans every row (`--verify`); a search
 * hit whose score is impossible for unit vectors is refused. Each mismatch is
 * an {@link IndexCorruptError} naming the index.
 *
 * @module
 */
import type * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";

// LanceDB (a native module that reads NAPI_RS_* variables when it loads) is
// imported on first use, so that importing the library to encode text needs
// neither it nor its permissions.
let lanceModule: typeof lancedb | undefined;
async function loadLance(): Promise<typeof lancedb> {
  return lanceModule ??= await import("@lancedb/lancedb");
}
function lance(): typeof lancedb {
  if (!lanceModule) throw new Error("internal: LanceDB used before a connection was opened");
  return lanceModule;
}
import type { Listing, MetaValue } from "../data/listings.ts";
import { RowHash, TableDigest } from "./_index_digest.ts";
import { pausePoint } from "../core/test_hook.ts";
import { isRemoteUri } from "../core/fs.ts";

/**
 * Test hook of the index writer: when this environment variable names a
 * point (`rows`: the new rows are committed but `index_meta` is not;
 * `ann`: the ANN index too; `meta`: `index_meta` is switched), the writer
 * pauses there for up to 30 s so that a test can SIGKILL it exactly there.
 */
export const INDEX_PAUSE_ENV = "PHONGTRO_INDEX_PAUSE";

/** How far a head vector's norm may be from 1 (they are L2-normalised float32). */
const UNIT_TOLERANCE = 1e-3;

/**
 * Format tag of {@link IndexInfo}.
 *
 * @example
 * ```ts
 * import { INDEX_FORMAT } from "./vector_store.ts";
 * if (JSON.stringify(INDEX_FORMAT) !== JSON.stringify("phongtro-index/v2")) throw new Error(`got ${JSON.stringify(INDEX_FORMAT)}`);
 * ```
 */
export const INDEX_FORMAT = "phongtro-index/v2";
/**
 * Name of the listings table.
 *
 * @example
 * ```ts
 * import { LISTINGS_TABLE } from "./vector_store.ts";
 * if (JSON.stringify(LISTINGS_TABLE) !== JSON.stringify("listings")) throw new Error(`got ${JSON.stringify(LISTINGS_TABLE)}`);
 * ```
 */
export const LISTINGS_TABLE = "listings";
/**
 * Name of the table holding {@link IndexInfo}.
 *
 * @example
 * ```ts
 * import { META_TABLE } from "./vector_store.ts";
 * if (JSON.stringify(META_TABLE) !== JSON.stringify("index_meta")) throw new Error(`got ${JSON.stringify(META_TABLE)}`);
 * ```
 */
export const META_TABLE = "index_meta";

/** Types of metadata columns. */
export type MetaType = "string" | "number" | "boolean" | "string[]";

/**
 * ANN index kinds LanceDB 0.31 builds on a vector column: `ivf_flat` (IVF over full
 * vectors), `ivf_pq` (product quantisation), `hnsw_sq` (HNSW over 8-bit scalar-quantised
 * vectors), `ivf_rq` (RaBitQ, 1 bit per dimension).
 */
export type AnnKind = "ivf_flat" | "ivf_pq" | "hnsw_sq" | "ivf_rq";

/**
 * Allowed values of `--ann`.
 *
 * @example
 * ```ts
 * import { ANN_KINDS } from "./vector_store.ts";
 * if (JSON.stringify(ANN_KINDS.includes("ivf_pq")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(ANN_KINDS.includes("ivf_pq"))}`);
 * ```
 */
export const ANN_KINDS: readonly (AnnKind | "auto" | "none")[] = [
  "auto",
  "none",
  "ivf_flat",
  "ivf_pq",
  "hnsw_sq",
  "ivf_rq",
];

/**
 * The ANN index kind that stores vectors at a `--quantize` level: `fp32` → `ivf_flat`,
 * `int8` → `hnsw_sq` (8-bit scalar quantisation), `binary` → `ivf_rq` (1 bit per dimension).
 * Quantised kinds re-rank `k × refineFactor` candidates with the full vectors.
 *
 * @example
 * ```ts
 * import { annKindFor } from "./vector_store.ts";
 * if (JSON.stringify(annKindFor("int8")) !== JSON.stringify("hnsw_sq")) throw new Error(`got ${JSON.stringify(annKindFor("int8"))}`);
 * ```
 */
export function annKindFor(quantize: "fp32" | "int8" | "binary"): AnnKind {
  return quantize === "fp32" ? "ivf_flat" : quantize === "int8" ? "hnsw_sq" : "ivf_rq";
}

/** The ANN index of the `vector` column and how it is queried. */
export interface AnnInfo {
  /** `ivf_flat`, `ivf_pq` or `hnsw_sq`. */
  kind: AnnKind;
  /**
   * Distance the index was trained with: \`dot\`, or \`l2\` for \`hnsw_sq\` (LanceDB 0.31's
   * HNSW graph with \`dot\` finds < 10% of the true neighbours; on unit vectors squared L2 =
   * 2 − 2·dot ranks the same).
   */
  metric: "dot" | "l2";
  /** IVF partitions (`ivf_*`; 1 for `hnsw_sq`). */
  partitions: number;
  /** Partitions probed per query (`ivf_*`). */
  nprobes: number;
  /** Candidates re-ranked with full vectors = k × refineFactor (`ivf_pq`, `hnsw_sq`). */
  refineFactor: number;
  /** PQ sub-vectors (`ivf_pq`). */
  subVectors?: number;
  /** HNSW search breadth (`hnsw_sq`). */
  ef?: number;
  /** Rows when it was built. */
  rows: number;
  /** Seconds it took to build. */
  seconds: number;
}

/** What an index was built with; stored in table `index_meta`. */
export interface IndexInfo {
  /** Format tag, {@link INDEX_FORMAT}. */
  format: typeof INDEX_FORMAT;
  /** When the index was created (ISO 8601). */
  created: string;
  /** When it was last written (ISO 8601). */
  updated: string;
  /** The head: checkpoint directory, which weights, SHA-256 of the weights file. */
  checkpoint: { path: string; which: string; sha256: string } | null;
  /** The encoder whose vectors the head projected. */
  encoder: { name: string; dir: string; fingerprint: string; dim: number };
  /** Dimension of `vector`. */
  dim: number;
  /** Dimension of `base` (0: the table has no base vectors). */
  baseDim: number;
  /** Typed metadata columns, for filters. */
  columns: Record<string, MetaType>;
  /** The ANN index of `vector`, or null (exact scan). */
  ann: AnnInfo | null;
  /** What the `listings` table holds; verified when the index is opened. */
  contents: IndexContents;
}

/** The `listings` version an {@link IndexInfo} describes, and what that version must hold. */
export interface IndexContents {
  /** The LanceDB version of table `listings` that readers open. */
  version: number;
  /** Rows at that version. */
  rows: number;
  /** Order-independent digest of every row's id, text, metadata, vector and base vector. */
  digest: string;
  /** Smallest and largest L2 norm of the head vectors (1 up to float32 rounding). */
  norms: { min: number; max: number };
}

/**
 * An index whose rows do not match what its metadata records (a damaged file,
 * a removed manifest, non-finite vectors).
 *
 * @example
 * ```ts
 * import { IndexCorruptError } from "./vector_store.ts";
 * if (JSON.stringify(new IndexCorruptError("x").name) !== JSON.stringify("IndexCorruptError")) throw new Error(`got ${JSON.stringify(new IndexCorruptError("x").name)}`);
 * ```
 */
export class IndexCorruptError extends Error {
  /** The message names the index and what does not match. */
  constructor(message: string) {
    super(message);
    this.name = "IndexCorruptError";
  }
}

/**
 * A query against an index that was built with another head or encoder.
 *
 * @example
 * ```ts
 * import { IndexMismatchError } from "./vector_store.ts";
 * if (JSON.stringify(new IndexMismatchError("x").name) !== JSON.stringify("IndexMismatchError")) throw new Error(`got ${JSON.stringify(new IndexMismatchError("x").name)}`);
 * ```
 */
export class IndexMismatchError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "IndexMismatchError";
  }
}

/**
 * A `where` filter LanceDB could not run (unknown column, bad SQL).
 *
 * @example
 * ```ts
 * import { FilterError } from "./vector_store.ts";
 * if (JSON.stringify(new FilterError("x").name) !== JSON.stringify("FilterError")) throw new Error(`got ${JSON.stringify(new FilterError("x").name)}`);
 * ```
 */
export class FilterError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "FilterError";
  }
}

/** The useful part of a LanceDB error: without the Rust source locations and the cause chain. */
function lanceReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const cut = msg.split(/, \/\S+\.rs:\d+:\d+/)[0];
  return cut.replace(/^Failed to execute query stream: GenericFailure, lance error: /, "")
    .replace(/, _rowid.*$/, "");
}

/** A row to write: a listing with its head vector and (optionally) its base vector. */
export interface IndexRow extends Listing {
  /** The head vector (unit length). */
  vector: Float32Array;
  /** The base encoder's vector (unit length), when stored. */
  base?: Float32Array;
}

/** One search hit. */
export interface IndexHit {
  /** 1-based rank. */
  rank: number;
  /** The listing's id. */
  id: string;
  /** The listing's text. */
  text: string;
  /** Cosine similarity (dot product of unit vectors). */
  score: number;
  /** The listing's metadata. */
  meta: Record<string, MetaValue>;
}

/** Options of {@link VectorStore.search}. */
export interface SearchOptions {
  /** Hits to return. */
  k: number;
  /** `vector` (the head, default) or `base`. */
  column?: "vector" | "base";
  /** SQL filter on the metadata columns, e.g. `city = 'Hà Nội'`. */
  where?: string;
  /** Scan every row (ignore the ANN index). */
  exact?: boolean;
  /** Override the stored nprobes / refine factor / ef. */
  nprobes?: number;
  /** Candidates re-ranked with full vectors = k × refineFactor. */
  refineFactor?: number;
  /** HNSW search breadth. */
  ef?: number;
}

/** The counts of one {@link VectorStore.upsert}. */
export interface UpsertResult {
  /** New ids written. */
  inserted: number;
  /** Existing ids whose text or metadata changed. */
  updated: number;
  /** Rows deleted because their id was not upserted (`deleteMissing`). */
  deleted: number;
  /** Rows afterwards. */
  rows: number;
}

/**
 * Infer the typed metadata columns of some listings. A field that holds
 * values of two types is an error naming the field and the listing ids.
 *
 * @example
 * ```ts
 * import { inferColumns } from "./vector_store.ts";
 * const cols = inferColumns([{ id: "a", text: "x", meta: { city: "Hà Nội", price: 3 } }]);
 * if (JSON.stringify(cols) !== JSON.stringify({ city: "string", price: "number" })) throw new Error(JSON.stringify(cols));
 * ```
 */
export function inferColumns(listings: Listing[]): Record<string, MetaType> {
  const cols: Record<string, MetaType> = {};
  const firstId: Record<string, string> = {};
  for (const l of listings) {
    for (const [k, v] of Object.entries(l.meta)) {
      const t = metaType(v);
      if (cols[k] === undefined) {
        cols[k] = t;
        firstId[k] = l.id;
      } else if (cols[k] !== t) {
        throw new Error(
          `listing "${l.id}": metadata field "${k}" is a ${t}, but listing "${firstId[k]}" ` +
            `has a ${cols[k]} there`,
        );
      }
    }
  }
  return cols;
}

function metaType(v: MetaValue): MetaType {
  if (Array.isArray(v)) return "string[]";
  return typeof v as "string" | "number" | "boolean";
}

function arrowType(t: MetaType): arrow.DataType {
  switch (t) {
    case "string":
      return new arrow.Utf8();
    case "number":
      return new arrow.Float64();
    case "boolean":
      return new arrow.Bool();
    case "string[]":
      return new arrow.List(new arrow.Field("item", new arrow.Utf8(), true));
  }
}

function vectorType(dim: number): arrow.DataType {
  return new arrow.FixedSizeList(dim, new arrow.Field("item", new arrow.Float32(), true));
}

/** The Arrow schema of the listings table. */
function listingsSchema(info: IndexInfo): arrow.Schema {
  const fields = [
    new arrow.Field("id", new arrow.Utf8(), false),
    new arrow.Field("text", new arrow.Utf8(), false),
    new arrow.Field("meta", new arrow.Utf8(), false),
    ...Object.entries(info.columns).map(([k, t]) => new arrow.Field(k, arrowType(t), true)),
    new arrow.Field("vector", vectorType(info.dim), false),
  ];
  if (info.baseDim > 0) fields.push(new arrow.Field("base", vectorType(info.baseDim), false));
  return new arrow.Schema(fields);
}

const META_SCHEMA = new arrow.Schema([
  new arrow.Field("key", new arrow.Utf8(), false),
  new arrow.Field("json", new arrow.Utf8(), false),
]);

/**
 * Quote a string for a LanceDB SQL filter.
 *
 * @example
 * ```ts
 * import { sqlString } from "./vector_store.ts";
 * if (sqlString("Hà Nội's") !== "'Hà Nội''s'") throw new Error(sqlString("Hà Nội's"));
 * ```
 */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * A LanceDB-backed index of listings. Open an existing one with
 * {@link VectorStore.open}, make a new one with {@link VectorStore.create}.
 * Writes become visible to readers at {@link VectorStore.commit}, which the
 * write methods call unless told `{ commit: false }`.
 *
 * @example
 * ```ts
 * import { VectorStore } from "./vector_store.ts";
 * const store = await VectorStore.create("/tmp/index-example", {
 *   checkpoint: null,
 *   encoder: { name: "toy", dir: "-", fingerprint: "00", dim: 2 },
 *   dim: 2, baseDim: 0, columns: {},
 * });
 * await store.upsert([{ id: "a", text: "phòng trọ", meta: {}, vector: new Float32Array([1, 0]) }]);
 * const hits = await store.search(new Float32Array([1, 0]), { k: 1 });
 * if (hits[0].id !== "a" || Math.abs(hits[0].score - 1) > 1e-6) throw new Error(JSON.stringify(hits));
 * store.close();
 * ```
 */
export class VectorStore {
  private constructor(
    /** Where the database lives (a directory or a LanceDB URI). */
    readonly uri: string,
    private db: lancedb.Connection,
    private table: lancedb.Table,
    /** What the index was built with, as last committed (or about to be, after create). */
    public info: IndexInfo,
  ) {}

  /** False while the table is pinned at the committed version (opened for reading). */
  #writable = true;
  #onInfo: (m: string) => void = () => {};

  /**
   * Before the first write of a store opened for reading: move from the pinned
   * version to the latest, rolling back versions a killed writer left.
   */
  private async writable(): Promise<void> {
    if (this.#writable) return;
    const want = this.info.contents.version;
    const latest = await lanceCall(this.uri, async () => {
      const t = await this.db.openTable(LISTINGS_TABLE);
      try {
        return await t.version();
      } finally {
        t.close();
      }
    });
    if (latest !== want) {
      await lanceCall(this.uri, () => this.table.restore());
      this.#onInfo(
        `note: ${this.uri}: rolled back ${latest - want} version(s) of ${LISTINGS_TABLE} that ` +
          `an interrupted write left past the committed version ${want}`,
      );
    } else await lanceCall(this.uri, () => this.table.checkoutLatest());
    this.#writable = true;
  }

  /**
   * Open an existing index at the version its metadata names, and check that
   * version's row count. A missing or foreign index is an error naming the URI;
   * a version or row count that does not match is an {@link IndexCorruptError}.
   *
   * - `verify`: also rescan every row ({@link VectorStore.verify});
   * - `write`: open for writing: versions left past the recorded one by a
   *   killed writer are rolled back (reported through `onInfo`).
   *
   * @example
   * ```ts ignore
   * import { VectorStore } from "./vector_store.ts";
   * const store = await VectorStore.open("data/index", { verify: true });
   * console.log(store.info.dim, await store.count());
   * ```
   */
  static async open(
    uri: string,
    opts: { verify?: boolean; write?: boolean; onInfo?: (m: string) => void } = {},
  ): Promise<VectorStore> {
    // LanceDB's connect creates the folder: a local index that is not there is named first.
    if (!isRemoteUri(uri) && !await VectorStore.exists(uri)) {
      throw new Error(
        `${uri}: no listings index here (no ${LISTINGS_TABLE}.lance and ${META_TABLE}.lance). ` +
          `Build one with deno task index.`,
      );
    }
    const db = await connect(uri);
    let table: lancedb.Table | undefined;
    try {
      const names = await tableNames(db, uri);
      if (!names.includes(LISTINGS_TABLE) || !names.includes(META_TABLE)) {
        throw new Error(
          `${uri}: no listings index here (tables ${LISTINGS_TABLE} and ${META_TABLE} are ` +
            `missing; found: ${names.join(", ") || "none"}). Build one with deno task index.`,
        );
      }
      const info = await readInfo(db, uri);
      table = await lanceCall(uri, () => db.openTable(LISTINGS_TABLE));
      const want = info.contents.version;
      const latest = await lanceCall(uri, () => table!.version());
      if (want > latest) {
        throw new IndexCorruptError(
          `${uri}: ${META_TABLE} names version ${want} of table ${LISTINGS_TABLE}, but its ` +
            `latest version is ${latest} (a manifest in ${LISTINGS_TABLE}.lance/_versions was ` +
            `removed?). Rebuild it: deno task index --rebuild`,
        );
      }
      try {
        await table.checkout(want);
      } catch (err) {
        throw new IndexCorruptError(
          `${uri}: version ${want} of table ${LISTINGS_TABLE}, which ${META_TABLE} names, ` +
            `cannot be opened (${lanceReason(err)}). Rebuild it: deno task index --rebuild`,
        );
      }
      const rows = await lanceCall(uri, () => table!.countRows());
      if (rows !== info.contents.rows) {
        throw new IndexCorruptError(
          `${uri}: table ${LISTINGS_TABLE} has ${rows} rows at version ${want}, but ` +
            `${META_TABLE} records ${info.contents.rows}. Rebuild it: deno task index --rebuild`,
        );
      }
      const store = new VectorStore(uri, db, table, info);
      store.#onInfo = opts.onInfo ?? (() => {});
      store.#writable = false;
      if (opts.verify) await store.verify();
      if (opts.write) await store.writable();
      return store;
    } catch (err) {
      table?.close();
      db.close();
      throw err;
    }
  }

  /**
   * True when `uri` holds an index (both tables; not verified).
   *
   * @example
   * ```ts ignore
   * const ok = await VectorStore.exists("data/index");
   * ```
   */
  static async exists(uri: string): Promise<boolean> {
    if (!isRemoteUri(uri)) {
      for (const t of [LISTINGS_TABLE, META_TABLE]) {
        try {
          if (!(await Deno.stat(`${uri}/${t}.lance`)).isDirectory) return false;
        } catch (err) {
          if (err instanceof Deno.errors.NotFound) return false;
          throw err;
        }
      }
    }
    const db = await connect(uri);
    try {
      const names = await tableNames(db, uri);
      return names.includes(LISTINGS_TABLE) && names.includes(META_TABLE);
    } finally {
      db.close();
    }
  }

  /**
   * Start a new, empty index at `uri`. An index already there stays what
   * readers see until {@link VectorStore.commit}: the new table is written as
   * a new version beside the old one.
   *
   * @example
   * ```ts ignore
   * import { VectorStore } from "./vector_store.ts";
   * const store = await VectorStore.create("/tmp/idx", {
   *   checkpoint: null, encoder: { name: "x", dir: "-", fingerprint: "0", dim: 4 },
   *   dim: 4, baseDim: 0, columns: { city: "string" },
   * });
   * ```
   */
  static async create(
    uri: string,
    init: Omit<IndexInfo, "format" | "created" | "updated" | "ann" | "contents">,
  ): Promise<VectorStore> {
    const now = new Date().toISOString();
    const info: IndexInfo = {
      format: INDEX_FORMAT,
      created: now,
      updated: now,
      ...init,
      ann: null,
      contents: { version: 0, rows: 0, digest: new TableDigest().hex(), norms: { min: 1, max: 1 } },
    };
    for (const k of Object.keys(info.columns)) {
      if (["id", "text", "meta", "vector", "base", "_rowid", "_distance"].includes(k)) {
        throw new Error(`metadata field "${k}" is reserved`);
      }
    }
    const db = await connect(uri);
    try {
      const table = await lanceCall(
        uri,
        () => db.createEmptyTable(LISTINGS_TABLE, listingsSchema(info), { mode: "overwrite" }),
      );
      return new VectorStore(uri, db, table, info);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Rows in the table (matching `where` if given).
   *
   * @example
   * ```ts ignore
   * const n = await store.count("city = 'Hà Nội'");
   * ```
   */
  count(where?: string): Promise<number> {
    return lanceCall(this.uri, () => this.table.countRows(where));
  }

  /**
   * Refuse a query made with another encoder or head. `checkpointSha256`
   * null means a base-vector query (no head involved).
   *
   * @example
   * ```ts ignore
   * store.checkCompatible({ fingerprint: encoder.fingerprint, checkpointSha256: head.sha256 });
   * ```
   */
  checkCompatible(query: { fingerprint: string; checkpointSha256: string | null }): void {
    const e = this.info.encoder;
    if (query.fingerprint !== e.fingerprint) {
      throw new IndexMismatchError(
        `${this.uri}: the index was built with encoder "${e.name}" (fingerprint ` +
          `${e.fingerprint.slice(0, 12)}), but the query is encoded with fingerprint ` +
          `${
            query.fingerprint.slice(0, 12)
          }. Re-index with that encoder, or query with --model ${e.dir}`,
      );
    }
    const c = this.info.checkpoint;
    if (query.checkpointSha256 !== null) {
      if (!c) throw new IndexMismatchError(`${this.uri}: the index records no head checkpoint`);
      if (query.checkpointSha256 !== c.sha256) {
        throw new IndexMismatchError(
          `${this.uri}: the index holds vectors of the head ${c.path} (${c.which}, weights sha256 ` +
            `${c.sha256.slice(0, 12)}), but the query uses a head whose weights have sha256 ` +
            `${query.checkpointSha256.slice(0, 12)}. Query with --checkpoint ${c.path}, or ` +
            `re-index with deno task index --checkpoint <dir> --rebuild`,
        );
      }
    }
  }

  /**
   * Insert new listings and replace changed ones (same `id`, other text or
   * metadata); with `deleteMissing`, rows whose id is not among `rows` are
   * removed (a sync of the whole corpus). One LanceDB commit, then
   * {@link VectorStore.commit} unless `commit: false`. Vectors that are not
   * finite or not unit length are refused, naming the listing.
   *
   * @example
   * ```ts ignore
   * const r = await store.upsert(rows, { deleteMissing: true });
   * console.log(r.inserted, r.updated, r.deleted, r.rows);
   * ```
   */
  async upsert(
    rows: IndexRow[],
    opts: { deleteMissing?: boolean; commit?: boolean } = {},
  ): Promise<UpsertResult> {
    await this.writable();
    let result: UpsertResult;
    if (rows.length === 0) {
      const before = await this.count();
      if (opts.deleteMissing && before > 0) {
        await lanceCall(this.uri, () => this.table.delete("true"));
      }
      result = {
        inserted: 0,
        updated: 0,
        deleted: opts.deleteMissing ? before : 0,
        rows: await this.count(),
      };
    } else {
      const data = this.toArrow(rows);
      let builder = this.table.mergeInsert("id")
        .whenMatchedUpdateAll({ where: "target.text <> source.text OR target.meta <> source.meta" })
        .whenNotMatchedInsertAll();
      if (opts.deleteMissing) builder = builder.whenNotMatchedBySourceDelete();
      const r = await lanceCall(this.uri, () => builder.execute(data));
      result = {
        inserted: r.numInsertedRows,
        updated: r.numUpdatedRows,
        deleted: r.numDeletedRows,
        rows: await this.count(),
      };
    }
    if (opts.commit ?? true) await this.commit();
    return result;
  }

  /**
   * Delete rows by id; returns how many went. Commits unless `commit: false`.
   *
   * @example
   * ```ts ignore
   * const gone = await store.deleteIds(["p-1", "p-2"]);
   * ```
   */
  async deleteIds(ids: string[], opts: { commit?: boolean } = {}): Promise<number> {
    if (ids.length === 0) return 0;
    await this.writable();
    const before = await this.count();
    await lanceCall(
      this.uri,
      () => this.table.delete(`id IN (${ids.map(sqlString).join(", ")})`),
    );
    const gone = before - await this.count();
    if (opts.commit ?? true) await this.commit();
    return gone;
  }

  /** Rows as an Arrow table with the index's columns. */
  private toArrow(rows: IndexRow[]): arrow.Table {
    const cols = Object.keys(this.info.columns);
    const objs = rows.map((r) => {
      if (r.vector.length !== this.info.dim) {
        throw new Error(
          `listing "${r.id}": vector has ${r.vector.length} values, index dim is ${this.info.dim}`,
        );
      }
      const norm = l2(r.vector);
      if (!Number.isFinite(norm) || Math.abs(norm - 1) > UNIT_TOLERANCE) {
        throw new Error(
          `listing "${r.id}": vector has norm ${norm} (the index holds unit vectors)`,
        );
      }
      const o: Record<string, unknown> = {
        id: r.id,
        text: r.text,
        meta: JSON.stringify(r.meta),
        vector: r.vector,
      };
      for (const c of cols) {
        const v = r.meta[c];
        if (v !== undefined && metaType(v) !== this.info.columns[c]) {
          throw new Error(
            `listing "${r.id}": metadata field "${c}" is a ${metaType(v)}, the index column is a ` +
              `${this.info.columns[c]}`,
          );
        }
        o[c] = v ?? null;
      }
      if (this.info.baseDim > 0) {
        if (!r.base || r.base.length !== this.info.baseDim) {
          throw new Error(`listing "${r.id}": base vector must have ${this.info.baseDim} values`);
        }
        if (!Number.isFinite(l2(r.base))) {
          throw new Error(`listing "${r.id}": base vector has a value that is not finite`);
        }
        o.base = r.base;
      }
      return o;
    });
    return lance().makeArrowTable(objs, { schema: listingsSchema(this.info) });
  }

  /**
   * The `k` nearest listings to a unit `query` vector, best first. A hit whose
   * score no pair of unit vectors can have is an {@link IndexCorruptError}.
   *
   * @example
   * ```ts ignore
   * const hits = await store.search(q, { k: 10, where: "city = 'Hà Nội'" });
   * ```
   */
  async search(query: Float32Array, opts: SearchOptions): Promise<IndexHit[]> {
    const column = opts.column ?? "vector";
    const want = column === "vector" ? this.info.dim : this.info.baseDim;
    if (want === 0) throw new Error(`${this.uri}: the index holds no ${column} vectors`);
    if (query.length !== want) {
      throw new Error(`query has ${query.length} values, the ${column} column has ${want}`);
    }
    const ann = this.info.ann;
    const useAnn = !opts.exact && column === "vector" && ann !== null;
    const metric = useAnn ? ann.metric ?? "dot" : "dot";
    let q = this.table.vectorSearch(query).column(column).distanceType(metric).limit(opts.k)
      .select(["id", "text", "meta", "_distance"]);
    if (opts.where) q = q.where(opts.where);
    if (!useAnn) q = q.bypassVectorIndex();
    else if (ann.kind === "hnsw_sq") {
      q = q.ef(opts.ef ?? ann.ef ?? 100).refineFactor(opts.refineFactor ?? ann.refineFactor);
    } else {
      q = q.nprobes(opts.nprobes ?? ann.nprobes);
      const refine = opts.refineFactor ?? ann.refineFactor;
      if (refine > 0) q = q.refineFactor(refine);
    }
    let rows: Record<string, unknown>[];
    try {
      rows = await q.toArray();
    } catch (err) {
      if (opts.where) {
        throw new FilterError(
          `${this.uri}: the filter "${opts.where}" failed: ${lanceReason(err)}`,
        );
      }
      throw new IndexCorruptError(`${this.uri}: the search failed: ${lanceReason(err)}`);
    }
    const qNorm = l2(query);
    const hits = rows.map((r, i) => ({
      rank: i + 1,
      id: r.id as string,
      text: r.text as string,
      // dot: 1 − q·d; l2: |q − d|² = 2 − 2 q·d for unit vectors.
      score: metric === "dot" ? 1 - (r._distance as number) : 1 - (r._distance as number) / 2,
      meta: JSON.parse(r.meta as string),
    }));
    if (column === "vector") {
      // |q·d| ≤ |q| for a unit d: anything else is a damaged vector.
      const bound = qNorm * (1 + UNIT_TOLERANCE) + UNIT_TOLERANCE;
      const bad = hits.find((h) => !Number.isFinite(h.score) || Math.abs(h.score) > bound);
      if (bad) {
        throw new IndexCorruptError(
          `${this.uri}: listing "${bad.id}" scored ${bad.score}, impossible for unit vectors: ` +
            `the index is damaged. Check it with --verify, then rebuild it: ` +
            `deno task index --rebuild`,
        );
      }
    }
    return hits;
  }

  /**
   * Build (or rebuild) the ANN index of the `vector` column and record its
   * parameters. Defaults: partitions ≈ √rows (at least 1), nprobes = ⌈partitions/8⌉
   * (at least 20, LanceDB's default), refine factor 10 for quantised kinds.
   * Commits unless `commit: false`.
   *
   * @example
   * ```ts ignore
   * const ann = await store.buildAnn("ivf_flat");
   * console.log(ann.partitions, ann.seconds);
   * ```
   */
  async buildAnn(
    kind: AnnKind,
    opts: Partial<AnnInfo> & { commit?: boolean } = {},
  ): Promise<AnnInfo> {
    await this.writable();
    const rows = await this.count();
    if (rows < 256) throw new Error(`an ANN index needs at least 256 rows, the table has ${rows}`);
    const partitions = opts.partitions ??
      (kind === "hnsw_sq"
        ? 1
        : Math.max(1, Math.min(Math.round(Math.sqrt(rows)), Math.floor(rows / 256))));
    const nprobes = opts.nprobes ?? Math.min(partitions, Math.max(20, Math.ceil(partitions / 8)));
    const refineFactor = opts.refineFactor ?? (kind === "ivf_flat" ? 0 : 10);
    const t0 = performance.now();
    let config: lancedb.Index;
    let subVectors: number | undefined;
    if (kind === "ivf_flat") {
      config = lance().Index.ivfFlat({
        distanceType: "dot",
        numPartitions: partitions,
        maxIterations: 20,
      });
    } else if (kind === "ivf_pq") {
      subVectors = opts.subVectors ??
        (this.info.dim % 4 === 0
          ? this.info.dim / 4
          : this.info.dim % 8 === 0
          ? this.info.dim / 8
          : 1);
      config = lance().Index.ivfPq({
        distanceType: "dot",
        numPartitions: partitions,
        numSubVectors: subVectors,
        maxIterations: 20,
      });
    } else if (kind === "ivf_rq") {
      config = lance().Index.ivfRq({
        distanceType: "dot",
        numPartitions: partitions,
        numBits: 1,
        maxIterations: 20,
      });
    } else {
      config = lance().Index.hnswSq({ distanceType: "l2", numPartitions: partitions });
    }
    await lanceCall(this.uri, () => this.table.createIndex("vector", { config, replace: true }));
    const ann: AnnInfo = {
      kind,
      metric: kind === "hnsw_sq" ? "l2" : "dot",
      partitions,
      nprobes,
      refineFactor,
      rows,
      seconds: (performance.now() - t0) / 1000,
      ...(subVectors ? { subVectors } : {}),
      ...(kind === "hnsw_sq" ? { ef: opts.ef ?? 200 } : {}),
    };
    this.info = { ...this.info, ann };
    if (opts.commit ?? true) await this.commit();
    return ann;
  }

  /**
   * Remove the ANN index (queries scan exactly). Commits unless `commit: false`.
   *
   * @example
   * ```ts ignore
   * await store.dropAnn();
   * ```
   */
  async dropAnn(opts: { commit?: boolean } = {}): Promise<void> {
    await this.writable();
    for (const idx of await lanceCall(this.uri, () => this.table.listIndices())) {
      if (idx.columns.includes("vector")) {
        await lanceCall(this.uri, () => this.table.dropIndex(idx.name));
      }
    }
    this.info = { ...this.info, ann: null };
    if (opts.commit ?? true) await this.commit();
  }

  /**
   * Update fields of the stored {@link IndexInfo} (not its contents).
   *
   * @example
   * ```ts ignore
   * await store.setInfo({ checkpoint: { path: "checkpoints/b", which: "best", sha256 } });
   * ```
   */
  async setInfo(patch: Partial<Omit<IndexInfo, "contents">>): Promise<void> {
    this.info = { ...this.info, ...patch, contents: this.info.contents };
    await this.commit();
  }

  /**
   * Make the table's current version the index readers see: scan it (row
   * count, digest, norms), then switch `index_meta` to it in one commit.
   *
   * @example
   * ```ts ignore
   * await store.upsert(rows, { commit: false });
   * await store.deleteIds(["p-1"], { commit: false });
   * await store.commit(); // readers see both changes, or neither
   * ```
   */
  async commit(): Promise<IndexContents> {
    await this.writable();
    const version = await lanceCall(this.uri, () => this.table.version());
    const scanned = await this.scan();
    const contents: IndexContents = { version, ...scanned };
    pausePoint(INDEX_PAUSE_ENV, this.info.ann ? "ann" : "rows");
    const info = { ...this.info, contents, updated: new Date().toISOString() };
    await lanceCall(this.uri, () => writeInfo(this.db, info));
    this.info = info;
    pausePoint(INDEX_PAUSE_ENV, "meta");
    return contents;
  }

  /**
   * The cheap check of an open index, for health probes: the row count of the
   * pinned version and, for a local index, that the files of that version are
   * still there. Throws {@link IndexCorruptError} naming what is missing.
   *
   * @example
   * ```ts ignore
   * await store.check(); // throws when the index's files were removed
   * ```
   */
  async check(): Promise<void> {
    if (!isRemoteUri(this.uri)) {
      const v = BigInt(this.info.contents.version);
      const dir = `${this.uri}/${LISTINGS_TABLE}.lance/_versions`;
      const names = [`${(1n << 64n) - 1n - v}.manifest`, `${v}.manifest`];
      let found = false;
      for (const name of names) {
        try {
          await Deno.stat(`${dir}/${name}`);
          found = true;
          break;
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      if (!found) {
        throw new IndexCorruptError(
          `${this.uri}: the manifest of version ${v} of table ${LISTINGS_TABLE} is gone from ${dir}`,
        );
      }
    }
    let rows: number;
    try {
      rows = await this.table.countRows();
    } catch (err) {
      throw new IndexCorruptError(`${this.uri}: table ${LISTINGS_TABLE}: ${lanceReason(err)}`);
    }
    if (rows !== this.info.contents.rows) {
      throw new IndexCorruptError(
        `${this.uri}: ${rows} rows, ${this.info.contents.rows} recorded`,
      );
    }
  }

  /**
   * Rescan every row and compare it with what the metadata records: the row
   * count, the digest, finite unit head vectors and finite base vectors. A
   * mismatch is an {@link IndexCorruptError} naming the index.
   *
   * @example
   * ```ts ignore
   * const { rows, seconds } = await store.verify();
   * ```
   */
  async verify(): Promise<{ rows: number; seconds: number }> {
    const t0 = performance.now();
    const got = await this.scan();
    const want = this.info.contents;
    const problems: string[] = [];
    if (got.rows !== want.rows) problems.push(`${got.rows} rows, ${want.rows} recorded`);
    if (got.digest !== want.digest) problems.push("the rows' digest differs from the recorded one");
    if (problems.length) {
      throw new IndexCorruptError(
        `${this.uri}: version ${want.version} of table ${LISTINGS_TABLE} does not hold what ` +
          `${META_TABLE} records: ${problems.join("; ")}. Rebuild it: deno task index --rebuild`,
      );
    }
    return { rows: got.rows, seconds: (performance.now() - t0) / 1000 };
  }

  /** Row count, digest and norms of the table's current version; bad vectors throw. */
  private async scan(): Promise<Omit<IndexContents, "version">> {
    const digest = new TableDigest();
    let min = Infinity, max = -Infinity;
    const corrupt = (id: string, what: string) =>
      new IndexCorruptError(
        `${this.uri}: listing "${id}": ${what}. Rebuild the index: deno task index --rebuild`,
      );
    try {
      for await (const { id, text, meta, vector, base } of this.#storedRows()) {
        const h = new RowHash();
        h.string(id);
        h.string(text);
        h.string(meta);
        const n = l2(vector);
        if (!Number.isFinite(n)) throw corrupt(id, "its vector has a value that is not finite");
        if (Math.abs(n - 1) > UNIT_TOLERANCE) {
          throw corrupt(id, `its vector has norm ${n}, not 1`);
        }
        min = Math.min(min, n);
        max = Math.max(max, n);
        h.floats(vector);
        if (base) {
          if (!Number.isFinite(l2(base))) {
            throw corrupt(id, "its base vector has a value that is not finite");
          }
          h.floats(base);
        }
        digest.add(h);
      }
    } catch (err) {
      if (err instanceof IndexCorruptError) throw err;
      throw new IndexCorruptError(
        `${this.uri}: table ${LISTINGS_TABLE} cannot be read: ${lanceReason(err)}. ` +
          `Rebuild it: deno task index --rebuild`,
      );
    }
    return {
      rows: digest.rows,
      digest: digest.hex(),
      norms: digest.rows ? { min, max } : { min: 1, max: 1 },
    };
  }

  /**
   * Every row of the served version, in storage order (an export, and what
   * tests compare).
   *
   * @example
   * ```ts ignore
   * for await (const row of store.rows()) console.log(row.id, row.vector.length);
   * ```
   */
  async *rows(): AsyncGenerator<IndexRow> {
    for await (const r of this.#storedRows()) {
      yield {
        id: r.id,
        text: r.text,
        meta: JSON.parse(r.meta),
        vector: r.vector.slice(),
        ...(r.base ? { base: r.base.slice() } : {}),
      };
    }
  }

  /** The stored rows as read: `meta` as its JSON, vectors as views into the batch (no copies). */
  async *#storedRows(): AsyncGenerator<
    { id: string; text: string; meta: string; vector: Float32Array; base?: Float32Array }
  > {
    const { dim, baseDim } = this.info;
    const cols = ["id", "text", "meta", "vector", ...(baseDim > 0 ? ["base"] : [])];
    for await (const batch of this.table.query().select(cols)) {
      const ids = batch.getChild("id")!, texts = batch.getChild("text")!;
      const metas = batch.getChild("meta")!;
      const vectors = floatRows(batch.getChild("vector")!, dim);
      const bases = baseDim > 0 ? floatRows(batch.getChild("base")!, baseDim) : null;
      for (let i = 0; i < batch.numRows; i++) {
        yield {
          id: ids.get(i) as string,
          text: texts.get(i) as string,
          meta: metas.get(i) as string,
          vector: vectors.subarray(i * dim, (i + 1) * dim),
          ...(bases ? { base: bases.subarray(i * baseDim, (i + 1) * baseDim) } : {}),
        };
      }
    }
  }

  /**
   * Read `n` rows' vectors (for recall samples), evenly spaced.
   *
   * @example
   * ```ts ignore
   * const sample = await store.sampleVectors(100);
   * ```
   */
  async sampleVectors(n: number): Promise<Float32Array[]> {
    const rows = await this.table.query().select(["vector"]).toArray();
    const step = Math.max(1, Math.floor(rows.length / n));
    const out: Float32Array[] = [];
    for (let i = 0; i < rows.length && out.length < n; i += step) {
      out.push(Float32Array.from(rows[i].vector as ArrayLike<number>));
    }
    return out;
  }

  /**
   * Release the connection.
   *
   * @example
   * ```ts ignore
   * store.close();
   * ```
   */
  close(): void {
    this.table.close();
    this.db.close();
  }
}

function l2(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** The values of a non-null FixedSizeList<Float32> column of a record batch, row-major. */
function floatRows(col: arrow.Vector, dim: number): Float32Array {
  if (col.data.length === 1 && col.data[0].nullCount === 0) {
    const d = col.data[0], child = d.children[0];
    const start = child.offset + d.offset * dim;
    return (child.values as Float32Array).subarray(start, start + d.length * dim);
  }
  const out = new Float32Array(col.length * dim);
  for (let i = 0; i < col.length; i++) {
    out.set(Float32Array.from(col.get(i) as ArrayLike<number>), i * dim);
  }
  return out;
}

/**
 * Which of the index's two tables `db` holds. On object storage LanceDB's
 * table listing depends on the store's delimiter listing (S3-compatible
 * servers differ), so there each table is opened instead.
 */
async function tableNames(db: lancedb.Connection, uri: string): Promise<string[]> {
  if (!isRemoteUri(uri)) return await lanceCall(uri, () => db.tableNames());
  const found: string[] = [];
  for (const name of [LISTINGS_TABLE, META_TABLE]) {
    try {
      (await db.openTable(name)).close();
      found.push(name);
    } catch { /* not there (or unreadable: opening it again names the cause) */ }
  }
  return found;
}

async function connect(uri: string): Promise<lancedb.Connection> {
  const lancedb = await loadLance();
  return await lanceCall(uri, () => lancedb.connect(uri));
}

/** Run a LanceDB call; its errors become errors naming the index, without Rust source paths. */
async function lanceCall<T>(uri: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (
      err instanceof IndexCorruptError || err instanceof IndexMismatchError ||
      err instanceof FilterError
    ) throw err;
    const e = new Error(`${uri}: ${lanceReason(err)}`);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
}

async function writeInfo(db: lancedb.Connection, info: IndexInfo): Promise<void> {
  await db.createTable(
    META_TABLE,
    lance().makeArrowTable([{ key: "index", json: JSON.stringify(info) }], { schema: META_SCHEMA }),
    { mode: "overwrite" },
  );
}

async function readInfo(db: lancedb.Connection, uri: string): Promise<IndexInfo> {
  const t = await lanceCall(uri, () => db.openTable(META_TABLE));
  const rows = await lanceCall(uri, () => t.query().toArray());
  t.close();
  const row = rows.find((r) => r.key === "index");
  if (!row) throw new Error(`${uri}: table ${META_TABLE} has no "index" row`);
  let info: IndexInfo;
  try {
    info = JSON.parse(row.json as string);
  } catch (err) {
    throw new Error(`${uri}: table ${META_TABLE}: invalid JSON: ${(err as Error).message}`);
  }
  if ((info?.format as string) === "phongtro-index/v1") {
    throw new Error(
      `${uri}: the index was built by an older version (format phongtro-index/v1, without a ` +
        `record of its contents). Rebuild it: deno task index --rebuild`,
    );
  }
  if (info?.format !== INDEX_FORMAT) {
    throw new Error(
      `${uri}: table ${META_TABLE}: field "format" is ${JSON.stringify(info?.format)}, ` +
        `expected "${INDEX_FORMAT}"`,
    );
  }
  for (const f of ["encoder", "dim", "baseDim", "columns", "contents"] as const) {
    if (info[f] === undefined) {
      throw new Error(`${uri}: table ${META_TABLE}: field "${f}" is missing`);
    }
  }
  const c = info.contents;
  if (
    !Number.isInteger(c?.version) || !Number.isInteger(c?.rows) || typeof c?.digest !== "string"
  ) {
    throw new Error(`${uri}: table ${META_TABLE}: field "contents" is malformed`);
  }
  return info;
}

/**
 * Recall@k of the ANN index against the exact scan, over `queries`, with
 * the mean latency of each (ms per query).
 *
 * @example
 * ```ts ignore
 * const r = await annRecall(store, await store.sampleVectors(100), 10);
 * console.log(r.recall, r.annMs, r.exactMs);
 * ```
 */
export async function annRecall(
  store: VectorStore,
  queries: Float32Array[],
  k = 10,
): Promise<{ recall: number; annMs: number; exactMs: number; queries: number }> {
  let hits = 0, total = 0, annMs = 0, exactMs = 0;
  for (const q of queries) {
    let t = performance.now();
    const exact = await store.search(q, { k, exact: true });
    exactMs += performance.now() - t;
    t = performance.now();
    const ann = await store.search(q, { k });
    annMs += performance.now() - t;
    const truth = new Set(exact.map((h) => h.id));
    for (const h of ann) if (truth.has(h.id)) hits++;
    total += exact.length;
  }
  return {
    recall: total ? hits / total : 1,
    annMs: annMs / Math.max(1, queries.length),
    exactMs: exactMs / Math.max(1, queries.length),
    queries: queries.length,
  };
}
