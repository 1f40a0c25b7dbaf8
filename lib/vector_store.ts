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
 * exact in-memory search. Every write is one LanceDB commit (a new table
 * version), so a reader never sees half of it.
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
import type { Listing, MetaValue } from "./listings.ts";

/**
 * Format tag of {@link IndexInfo}.
 *
 * @example
 * ```ts
 * import { INDEX_FORMAT } from "./vector_store.ts";
 * console.log(INDEX_FORMAT); // "phongtro-index/v1"
 * ```
 */
export const INDEX_FORMAT = "phongtro-index/v1";
/**
 * Name of the listings table.
 *
 * @example
 * ```ts
 * import { LISTINGS_TABLE } from "./vector_store.ts";
 * console.log(LISTINGS_TABLE); // "listings"
 * ```
 */
export const LISTINGS_TABLE = "listings";
/**
 * Name of the table holding {@link IndexInfo}.
 *
 * @example
 * ```ts
 * import { META_TABLE } from "./vector_store.ts";
 * console.log(META_TABLE); // "index_meta"
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
 * console.log(ANN_KINDS.includes("ivf_pq")); // true
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
 * console.log(annKindFor("int8")); // "hnsw_sq"
 * ```
 */
export function annKindFor(quantize: "fp32" | "int8" | "binary"): AnnKind {
  return quantize === "fp32" ? "ivf_flat" : quantize === "int8" ? "hnsw_sq" : "ivf_rq";
}

/** The ANN index of the `vector` column and how it is queried. */
export interface AnnInfo {
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
  format: typeof INDEX_FORMAT;
  created: string;
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
  ann: AnnInfo | null;
}

/**
 * A query against an index that was built with another head or encoder.
 *
 * @example
 * ```ts
 * import { IndexMismatchError } from "./vector_store.ts";
 * console.log(new IndexMismatchError("x").name); // "IndexMismatchError"
 * ```
 */
export class IndexMismatchError extends Error {
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
 * console.log(new FilterError("x").name); // "FilterError"
 * ```
 */
export class FilterError extends Error {
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
  vector: Float32Array;
  base?: Float32Array;
}

/** One search hit. */
export interface IndexHit {
  rank: number;
  id: string;
  text: string;
  /** Cosine similarity (dot product of unit vectors). */
  score: number;
  meta: Record<string, MetaValue>;
}

/** Options of {@link VectorStore.search}. */
export interface SearchOptions {
  k: number;
  /** `vector` (the head, default) or `base`. */
  column?: "vector" | "base";
  /** SQL filter on the metadata columns, e.g. `city = 'Hà Nội'`. */
  where?: string;
  /** Scan every row (ignore the ANN index). */
  exact?: boolean;
  /** Override the stored nprobes / refine factor / ef. */
  nprobes?: number;
  refineFactor?: number;
  ef?: number;
}

/** The counts of one {@link VectorStore.upsert}. */
export interface UpsertResult {
  inserted: number;
  updated: number;
  deleted: number;
  rows: number;
}

/**
 * Infer the typed metadata columns of some listings. A field that holds
 * values of two types is an error naming the field and the listing ids.
 *
 * @example
 * ```ts
 * import { inferColumns } from "./vector_store.ts";
 * console.log(inferColumns([{ id: "a", text: "x", meta: { city: "Hà Nội", price: 3 } }]));
 * // { city: "string", price: "number" }
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
 * console.log(sqlString("Hà Nội's")); // 'Hà Nội''s'
 * ```
 */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/**
 * A LanceDB-backed index of listings. Open an existing one with
 * {@link VectorStore.open}, make a new one with {@link VectorStore.create}.
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
 * console.log(hits[0].id, hits[0].score); // a 1
 * store.close();
 * ```
 */
export class VectorStore {
  private constructor(
    /** Where the database lives (a directory or a LanceDB URI). */
    readonly uri: string,
    private db: lancedb.Connection,
    private table: lancedb.Table,
    /** What the index was built with. */
    public info: IndexInfo,
  ) {}

  /**
   * Open an existing index. A missing or foreign one is an error naming the URI.
   *
   * @example
   * ```ts ignore
   * import { VectorStore } from "./vector_store.ts";
   * const store = await VectorStore.open("data/index");
   * console.log(store.info.dim, await store.count());
   * ```
   */
  static async open(uri: string): Promise<VectorStore> {
    const db = await (await loadLance()).connect(uri);
    const names = await db.tableNames();
    if (!names.includes(LISTINGS_TABLE) || !names.includes(META_TABLE)) {
      db.close();
      throw new Error(
        `${uri}: no listings index here (tables ${LISTINGS_TABLE} and ${META_TABLE} are ` +
          `missing; found: ${names.join(", ") || "none"}). Build one with deno task index.`,
      );
    }
    const info = await readInfo(db, uri);
    const table = await db.openTable(LISTINGS_TABLE);
    return new VectorStore(uri, db, table, info);
  }

  /**
   * True when `uri` holds an index.
   *
   * @example
   * ```ts ignore
   * const ok = await VectorStore.exists("data/index");
   * ```
   */
  static async exists(uri: string): Promise<boolean> {
    const db = await (await loadLance()).connect(uri);
    try {
      const names = await db.tableNames();
      return names.includes(LISTINGS_TABLE) && names.includes(META_TABLE);
    } finally {
      db.close();
    }
  }

  /**
   * Create an empty index (replacing whatever tables `uri` holds).
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
    init: Omit<IndexInfo, "format" | "created" | "updated" | "ann">,
  ): Promise<VectorStore> {
    const now = new Date().toISOString();
    const info: IndexInfo = {
      format: INDEX_FORMAT,
      created: now,
      updated: now,
      ...init,
      ann: null,
    };
    for (const k of Object.keys(info.columns)) {
      if (["id", "text", "meta", "vector", "base"].includes(k)) {
        throw new Error(`metadata field "${k}" is reserved`);
      }
    }
    const db = await (await loadLance()).connect(uri);
    const table = await db.createEmptyTable(LISTINGS_TABLE, listingsSchema(info), {
      mode: "overwrite",
    });
    await writeInfo(db, info);
    return new VectorStore(uri, db, table, info);
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
    return this.table.countRows(where);
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
   * removed (a sync of the whole corpus). One LanceDB commit.
   *
   * @example
   * ```ts ignore
   * const r = await store.upsert(rows, { deleteMissing: true });
   * console.log(r.inserted, r.updated, r.deleted, r.rows);
   * ```
   */
  async upsert(rows: IndexRow[], opts: { deleteMissing?: boolean } = {}): Promise<UpsertResult> {
    if (rows.length === 0) {
      const before = await this.count();
      if (opts.deleteMissing && before > 0) await this.table.delete("true");
      return {
        inserted: 0,
        updated: 0,
        deleted: opts.deleteMissing ? before : 0,
        rows: await this.count(),
      };
    }
    let builder = this.table.mergeInsert("id")
      .whenMatchedUpdateAll({ where: "target.text <> source.text OR target.meta <> source.meta" })
      .whenNotMatchedInsertAll();
    if (opts.deleteMissing) builder = builder.whenNotMatchedBySourceDelete();
    const r = await builder.execute(this.toArrow(rows));
    return {
      inserted: r.numInsertedRows,
      updated: r.numUpdatedRows,
      deleted: r.numDeletedRows,
      rows: await this.count(),
    };
  }

  /**
   * Delete rows by id; returns how many went.
   *
   * @example
   * ```ts ignore
   * const gone = await store.deleteIds(["p-1", "p-2"]);
   * ```
   */
  async deleteIds(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const before = await this.count();
    await this.table.delete(`id IN (${ids.map(sqlString).join(", ")})`);
    return before - await this.count();
  }

  private toArrow(rows: IndexRow[]): arrow.Table {
    const cols = Object.keys(this.info.columns);
    const objs = rows.map((r) => {
      if (r.vector.length !== this.info.dim) {
        throw new Error(
          `listing "${r.id}": vector has ${r.vector.length} values, index dim is ${this.info.dim}`,
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
        o.base = r.base;
      }
      return o;
    });
    return lance().makeArrowTable(objs, { schema: listingsSchema(this.info) });
  }

  /**
   * The `k` nearest listings to a unit `query` vector, best first.
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
      throw err;
    }
    return rows.map((r, i) => ({
      rank: i + 1,
      id: r.id as string,
      text: r.text as string,
      // dot: 1 − q·d; l2: |q − d|² = 2 − 2 q·d for unit vectors.
      score: metric === "dot" ? 1 - (r._distance as number) : 1 - (r._distance as number) / 2,
      meta: JSON.parse(r.meta as string),
    }));
  }

  /**
   * Build (or rebuild) the ANN index of the `vector` column and record its
   * parameters. Defaults: partitions ≈ √rows (at least 1), nprobes = ⌈partitions/8⌉
   * (at least 20, LanceDB's default), refine factor 10 for quantised kinds.
   *
   * @example
   * ```ts ignore
   * const ann = await store.buildAnn("ivf_flat");
   * console.log(ann.partitions, ann.seconds);
   * ```
   */
  async buildAnn(kind: AnnKind, opts: Partial<AnnInfo> = {}): Promise<AnnInfo> {
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
    await this.table.createIndex("vector", { config, replace: true });
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
    await this.setInfo({ ann });
    return ann;
  }

  /**
   * Remove the ANN index (queries scan exactly).
   *
   * @example
   * ```ts ignore
   * await store.dropAnn();
   * ```
   */
  async dropAnn(): Promise<void> {
    for (const idx of await this.table.listIndices()) {
      if (idx.columns.includes("vector")) await this.table.dropIndex(idx.name);
    }
    await this.setInfo({ ann: null });
  }

  /**
   * Update fields of the stored {@link IndexInfo}.
   *
   * @example
   * ```ts ignore
   * await store.setInfo({ ann: null });
   * ```
   */
  async setInfo(patch: Partial<IndexInfo>): Promise<void> {
    this.info = { ...this.info, ...patch, updated: new Date().toISOString() };
    await writeInfo(this.db, this.info);
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

async function writeInfo(db: lancedb.Connection, info: IndexInfo): Promise<void> {
  await db.createTable(
    META_TABLE,
    lance().makeArrowTable([{ key: "index", json: JSON.stringify(info) }], { schema: META_SCHEMA }),
    { mode: "overwrite" },
  );
}

async function readInfo(db: lancedb.Connection, uri: string): Promise<IndexInfo> {
  const t = await db.openTable(META_TABLE);
  const rows = await t.query().toArray();
  t.close();
  const row = rows.find((r) => r.key === "index");
  if (!row) throw new Error(`${uri}: table ${META_TABLE} has no "index" row`);
  let info: IndexInfo;
  try {
    info = JSON.parse(row.json as string);
  } catch (err) {
    throw new Error(`${uri}: table ${META_TABLE}: invalid JSON: ${(err as Error).message}`);
  }
  if (info?.format !== INDEX_FORMAT) {
    throw new Error(
      `${uri}: table ${META_TABLE}: field "format" is ${JSON.stringify(info?.format)}, ` +
        `expected "${INDEX_FORMAT}"`,
    );
  }
  for (const f of ["encoder", "dim", "baseDim", "columns"] as const) {
    if (info[f] === undefined) {
      throw new Error(`${uri}: table ${META_TABLE}: field "${f}" is missing`);
    }
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
