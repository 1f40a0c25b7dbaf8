/**
 * Training data: loading and validating the native JSON format and FlagEmbedding's JSONL, the
 * weight config, a seeded query-grouped train/validation split, a seeded fixed-shape batch
 * iterator, and the list of unique texts for the embedding cache.
 *
 * The formats are documented in `data/README.md`. Every input error is a {@link DatasetError}
 * naming the file, the record (example index for `.json`, line number for `.jsonl`) and the field.
 *
 * @module
 */
import { exists, sha256Hex } from "./fs.ts";
import { Rng } from "./rng.ts";

/**
 * A hard negative with its resolved weight (≥ 0) and the features in which it differs.
 *
 * @example
 * ```ts
 * import type { Negative } from "./dataset.ts";
 * const n: Negative = { text: "Cho thuê phòng trọ q3", weight: 2.5, differs: ["district"] };
 * console.log(n.weight);
 * ```
 */
export interface Negative {
  text: string;
  weight: number;
  differs: string[];
}

/**
 * One training example: a query, its positive passage and its hard negatives.
 *
 * @example
 * ```ts
 * import type { Example } from "./dataset.ts";
 * const e: Example = { id: 0, query: "phong tro q10", positive: "Phòng trọ Q.10", negatives: [] };
 * console.log(e.query);
 * ```
 */
export interface Example {
  /** Position in the loaded dataset (0-based, in file order). */
  id: number;
  query: string;
  positive: string;
  negatives: Negative[];
}

/**
 * A loaded dataset.
 *
 * @example
 * ```ts
 * import { type Dataset, loadDataset } from "./dataset.ts";
 * const ds: Dataset = await loadDataset("data/gen-data-set.json");
 * console.log(ds.format, ds.examples.length);
 * ```
 */
export interface Dataset {
  path: string;
  format: "native" | "flagembedding";
  examples: Example[];
  /** Hex SHA-256 of the file's bytes (identifies the data in caches and checkpoints). */
  sha256: string;
}

/**
 * Feature name → weight of a hard negative differing in that feature, e.g. `{ district: 2.5 }`.
 *
 * @example
 * ```ts
 * import type { WeightConfig } from "./dataset.ts";
 * const w: WeightConfig = { district: 2.5, price: 2.0 };
 * console.log(w.district);
 * ```
 */
export type WeightConfig = Record<string, number>;

/**
 * The committed weight config, used by {@link loadDataset} when no `weights` are given.
 *
 * @example
 * ```ts
 * import { DEFAULT_WEIGHT_CONFIG, loadWeightConfig } from "./dataset.ts";
 * console.log(await loadWeightConfig(DEFAULT_WEIGHT_CONFIG));
 * ```
 */
export const DEFAULT_WEIGHT_CONFIG = "data/weight-config.json";

/**
 * An error in a data or config file. The message names the file, the record and the field;
 * the same information is available as fields.
 *
 * @example
 * ```ts
 * import { DatasetError, loadDataset } from "./dataset.ts";
 * try {
 *   await loadDataset("/tmp/missing-or-bad.json", { weights: {} });
 * } catch (err) {
 *   if (err instanceof DatasetError) console.log(err.file, err.record, err.field);
 * }
 * ```
 */
export class DatasetError extends Error {
  /** The file being read. */
  readonly file: string;
  /**
   * The record: example index (0-based) for native JSON, line number (1-based) for JSONL, or
   * null when the problem concerns the whole file.
   */
  readonly record: number | null;
  /** The offending field (e.g. `negatives[2].weight`), or null for whole-file problems. */
  readonly field: string | null;
  constructor(
    file: string,
    record: number | null,
    field: string | null,
    problem: string,
    recordKind: "example" | "line" = "example",
  ) {
    const where = [file];
    if (record !== null) where.push(`${recordKind} ${record}`);
    if (field !== null) where.push(`field "${field}"`);
    super(`${where.join(": ")}: ${problem}`);
    this.name = "DatasetError";
    this.file = file;
    this.record = record;
    this.field = field;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.slice(0, 40))}`;
  if (typeof v === "number") return `the number ${v}`;
  return `a ${typeof v}`;
}

function isWeight(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DatasetError(path, null, null, "file not found");
    }
    throw err;
  }
}

/** Line/column of a character offset, for JSON syntax errors. */
function lineOf(text: string, message: string): string {
  const m = message.match(/position (\d+)/);
  if (!m) return "";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return ` at line ${line}, column ${col}`;
}

/**
 * Load and validate a weight config: a flat JSON object mapping feature names to finite
 * numbers ≥ 0.
 *
 * @example
 * ```ts
 * import { loadWeightConfig } from "./dataset.ts";
 * const w = await loadWeightConfig("data/weight-config.json");
 * console.log(w.district); // 2.5
 * ```
 */
export async function loadWeightConfig(path: string): Promise<WeightConfig> {
  const text = new TextDecoder().decode(await readBytes(path));
  if (text.trim() === "") throw new DatasetError(path, null, null, "file is empty");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    throw new DatasetError(path, null, null, `invalid JSON${lineOf(text, msg)}: ${msg}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DatasetError(
      path,
      null,
      null,
      `expected a flat JSON object of feature weights, got ${describe(value)}`,
    );
  }
  const out: WeightConfig = {};
  for (const [k, v] of Object.entries(value)) {
    if (!isWeight(v)) {
      throw new DatasetError(
        path,
        null,
        k,
        `weight must be a finite number >= 0, got ${describe(v)}`,
      );
    }
    out[k] = v;
  }
  return out;
}

/**
 * The weight of a negative: its explicit weight if it has one, else the largest weight among its
 * `differs` features, else 1.0.
 *
 * @example
 * ```ts
 * import { negativeWeight } from "./dataset.ts";
 * const w = { district: 2.5, price: 2.0 };
 * console.log(negativeWeight(undefined, ["price", "district"], w)); // 2.5
 * console.log(negativeWeight(0.5, ["district"], w)); // 0.5
 * console.log(negativeWeight(undefined, [], w)); // 1
 * ```
 */
export function negativeWeight(
  explicit: number | undefined,
  differs: readonly string[],
  weights: WeightConfig,
): number {
  if (explicit !== undefined) return explicit;
  if (differs.length === 0) return 1.0;
  return Math.max(...differs.map((d) => weights[d] ?? 1.0));
}

/**
 * Options of {@link loadDataset}.
 *
 * @example
 * ```ts
 * import { loadDataset, type LoadDatasetOptions } from "./dataset.ts";
 * const opts: LoadDatasetOptions = { weights: { district: 2.5 } };
 * console.log((await loadDataset("data/gen-data-set.json", opts)).examples.length);
 * ```
 */
export interface LoadDatasetOptions {
  /**
   * The weight config resolving `differs` to weights and defining the known features. Default:
   * {@link DEFAULT_WEIGHT_CONFIG} when that file exists, else `{}` (then any non-empty
   * `differs` without an explicit weight is an error).
   */
  weights?: WeightConfig;
}

/**
 * Load and validate a dataset: `.jsonl` files are read as FlagEmbedding JSONL, anything else as
 * the native JSON format (an object with `examples`, or a bare array of examples). See
 * `data/README.md` for both formats.
 *
 * FlagEmbedding records (`{"query", "pos": [..], "neg": [..], "neg_weights"?: [..]}`) become one
 * example per entry of `pos` (all sharing the query, so they stay on one side of the split and
 * mask each other in a batch); negative `i` gets `neg_weights[i]` or 1.0 and `differs: []`.
 *
 * @example
 * ```ts
 * import { loadDataset } from "./dataset.ts";
 * const ds = await loadDataset("data/gen-data-set.json");
 * console.log(ds.examples.length, ds.format, ds.sha256.slice(0, 12));
 * ```
 */
export async function loadDataset(path: string, opts: LoadDatasetOptions = {}): Promise<Dataset> {
  let weights = opts.weights;
  if (weights === undefined) {
    weights = (await exists(DEFAULT_WEIGHT_CONFIG))
      ? await loadWeightConfig(DEFAULT_WEIGHT_CONFIG)
      : {};
  }
  const bytes = await readBytes(path);
  const sha256 = await sha256Hex(bytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new DatasetError(path, null, null, "file is not valid UTF-8");
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new DatasetError(path, null, null, "file is empty");
  const isJsonl = path.toLowerCase().endsWith(".jsonl");
  const examples = isJsonl ? parseJsonl(path, text) : parseNative(path, text, weights);
  if (examples.length === 0) throw new DatasetError(path, null, null, "no examples");
  return { path, format: isJsonl ? "flagembedding" : "native", examples, sha256 };
}

/**
 * Which example (index in the examples array) and which key a JSON syntax error at `pos` falls
 * in, by scanning the text up to `pos` (strings, nesting, commas). Nulls when unknown.
 */
function locateSyntaxError(
  text: string,
  pos: number,
): { record: number | null; field: string | null } {
  const stack: string[] = [];
  let examplesDepth = -1; // stack length inside the examples array
  let record = -1;
  let field: string | null = null;
  let lastKey: string | null = null; // last key seen at depth 1 of a top-level object
  for (let i = 0; i < pos && i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= pos) break;
      let k = j + 1;
      while (k < text.length && /\s/.test(text[k])) k++;
      if (text[k] === ":") {
        let key: string | null = null;
        try {
          key = JSON.parse(text.slice(i, j + 1));
        } catch { /* keep null */ }
        if (stack.length === 1) lastKey = key;
        if (examplesDepth >= 0 && stack.length > examplesDepth) field = key;
      }
      i = j;
    } else if (ch === "{" || ch === "[") {
      if (stack.length === 0 && ch === "[") {
        examplesDepth = 1;
      } else if (stack.length === 1 && stack[0] === "{" && ch === "[" && lastKey === "examples") {
        examplesDepth = 2;
      }
      stack.push(ch);
      if (stack.length === examplesDepth + 1 && examplesDepth >= 0) {
        record = Math.max(record, 0);
        field = null;
      }
    } else if (ch === "}" || ch === "]") {
      if (stack.length === examplesDepth) examplesDepth = -1;
      stack.pop();
    } else if (ch === "," && examplesDepth >= 0 && stack.length === examplesDepth) {
      record = Math.max(record, 0) + 1;
      field = null;
    }
  }
  if (examplesDepth < 0 || record < 0) return { record: null, field: null };
  return { record, field };
}

function parseNative(path: string, text: string, weights: WeightConfig): Example[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = msg.match(/position (\d+)/);
    const at = m ? locateSyntaxError(text, Number(m[1])) : { record: null, field: null };
    throw new DatasetError(
      path,
      at.record,
      at.field,
      `invalid JSON${lineOf(text, msg)}${at.field !== null ? " (after this field)" : ""}: ${msg}`,
    );
  }
  let records: unknown[];
  if (Array.isArray(value)) {
    records = value;
  } else if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>;
    if (obj.version !== undefined && obj.version !== 1) {
      throw new DatasetError(path, null, "version", `unsupported version ${describe(obj.version)}`);
    }
    if (!Array.isArray(obj.examples)) {
      throw new DatasetError(
        path,
        null,
        "examples",
        `expected an array of examples, got ${describe(obj.examples)}`,
      );
    }
    records = obj.examples;
  } else {
    throw new DatasetError(
      path,
      null,
      null,
      `expected an object with "examples" or an array of examples, got ${describe(value)}`,
    );
  }
  return records.map((r, i) => parseNativeRecord(path, i, r, weights));
}

function parseNativeRecord(
  path: string,
  index: number,
  rec: unknown,
  weights: WeightConfig,
): Example {
  const fail = (field: string | null, problem: string): never => {
    throw new DatasetError(path, index, field, problem);
  };
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
    fail(null, `expected an example object, got ${describe(rec)}`);
  }
  const r = rec as Record<string, unknown>;
  if (typeof r.query !== "string") fail("query", `expected a string, got ${describe(r.query)}`);
  const query = r.query as string;
  if (query.trim() === "") fail("query", "is empty");

  let positive: string;
  const p = r.positive;
  if (typeof p === "string") {
    positive = p;
    if (positive.trim() === "") fail("positive", "is empty");
  } else if (typeof p === "object" && p !== null && !Array.isArray(p)) {
    const t = (p as Record<string, unknown>).text;
    if (typeof t !== "string") fail("positive.text", `expected a string, got ${describe(t)}`);
    positive = t as string;
    if (positive.trim() === "") fail("positive.text", "is empty");
  } else {
    return fail(
      "positive",
      `expected a string or an object with "text", got ${describe(p)}`,
    );
  }

  const negs = r.negatives ?? [];
  if (!Array.isArray(negs)) fail("negatives", `expected an array, got ${describe(negs)}`);
  const negatives = (negs as unknown[]).map((n, j): Negative => {
    const f = `negatives[${j}]`;
    if (typeof n === "string") {
      if (n.trim() === "") fail(f, "is empty");
      return { text: n, weight: 1.0, differs: [] };
    }
    if (typeof n !== "object" || n === null || Array.isArray(n)) {
      return fail(f, `expected a string or an object with "text", got ${describe(n)}`);
    }
    const o = n as Record<string, unknown>;
    if (typeof o.text !== "string") fail(`${f}.text`, `expected a string, got ${describe(o.text)}`);
    if ((o.text as string).trim() === "") fail(`${f}.text`, "is empty");
    const d = o.differs ?? [];
    if (!Array.isArray(d)) fail(`${f}.differs`, `expected an array of strings, got ${describe(d)}`);
    const differs = (d as unknown[]).map((x, k) => {
      if (typeof x !== "string") {
        return fail(`${f}.differs[${k}]`, `expected a string, got ${describe(x)}`);
      }
      if (!Object.hasOwn(weights, x)) {
        const known = Object.keys(weights);
        return fail(
          `${f}.differs[${k}]`,
          `unknown feature "${x}" (not in the weight config; known: ${
            known.length ? known.join(", ") : "none, no weight config loaded"
          })`,
        );
      }
      return x;
    });
    if (o.weight !== undefined && !isWeight(o.weight)) {
      fail(`${f}.weight`, `must be a finite number >= 0, got ${describe(o.weight)}`);
    }
    const weight = negativeWeight(o.weight as number | undefined, differs, weights);
    return { text: o.text as string, weight, differs };
  });
  return { id: index, query, positive: positive!, negatives };
}

function parseJsonl(path: string, text: string): Example[] {
  const out: Example[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "") continue;
    const lineNo = i + 1;
    const fail = (field: string | null, problem: string): never => {
      throw new DatasetError(path, lineNo, field, problem, "line");
    };
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      fail(null, `invalid JSON: ${(err as Error).message}`);
    }
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
      fail(null, `expected a JSON object, got ${describe(rec)}`);
    }
    const r = rec as Record<string, unknown>;
    if (typeof r.query !== "string") fail("query", `expected a string, got ${describe(r.query)}`);
    if ((r.query as string).trim() === "") fail("query", "is empty");
    if (!Array.isArray(r.pos)) fail("pos", `expected an array of strings, got ${describe(r.pos)}`);
    const pos = r.pos as unknown[];
    if (pos.length === 0) fail("pos", "is empty (need at least one positive)");
    pos.forEach((p, k) => {
      if (typeof p !== "string") fail(`pos[${k}]`, `expected a string, got ${describe(p)}`);
      if ((p as string).trim() === "") fail(`pos[${k}]`, "is empty");
    });
    const neg = r.neg ?? [];
    if (!Array.isArray(neg)) fail("neg", `expected an array of strings, got ${describe(neg)}`);
    (neg as unknown[]).forEach((n, k) => {
      if (typeof n !== "string") fail(`neg[${k}]`, `expected a string, got ${describe(n)}`);
      if ((n as string).trim() === "") fail(`neg[${k}]`, "is empty");
    });
    let nw: unknown[] | undefined;
    if (r.neg_weights !== undefined) {
      if (!Array.isArray(r.neg_weights)) {
        fail("neg_weights", `expected an array of numbers, got ${describe(r.neg_weights)}`);
      }
      nw = r.neg_weights as unknown[];
      if (nw.length !== (neg as unknown[]).length) {
        fail(
          "neg_weights",
          `has ${nw.length} entries but "neg" has ${(neg as unknown[]).length}`,
        );
      }
      nw.forEach((w, k) => {
        if (!isWeight(w)) {
          fail(`neg_weights[${k}]`, `must be a finite number >= 0, got ${describe(w)}`);
        }
      });
    }
    const negatives = (neg as string[]).map((t, k): Negative => ({
      text: t,
      weight: nw ? (nw[k] as number) : 1.0,
      differs: [],
    }));
    for (const p of pos as string[]) {
      out.push({
        id: out.length,
        query: r.query as string,
        positive: p,
        negatives: negatives.map((n) => ({ ...n, differs: [] })),
      });
    }
  }
  return out;
}

/**
 * The key under which copies of the same query are grouped: NFC, lowercase, trimmed, runs of
 * whitespace collapsed to one space.
 *
 * @example
 * ```ts
 * import { normalizeQuery } from "./dataset.ts";
 * console.log(normalizeQuery("  Phòng   trọ Q10 ")); // "phòng trọ q10"
 * ```
 */
export function normalizeQuery(q: string): string {
  return q.normalize("NFC").toLowerCase().trim().replace(/\s+/g, " ");
}

/**
 * Query-group id of every example: examples whose normalised queries are equal share an id.
 * Ids are assigned 0, 1, 2, … in order of first appearance.
 *
 * @example
 * ```ts
 * import { queryGroups } from "./dataset.ts";
 * const ex = [
 *   { id: 0, query: "q10", positive: "a", negatives: [] },
 *   { id: 1, query: "Q10 ", positive: "b", negatives: [] },
 * ];
 * console.log(queryGroups(ex)); // [0, 0]
 * ```
 */
export function queryGroups(examples: readonly Example[]): number[] {
  const ids = new Map<string, number>();
  return examples.map((e) => {
    const k = normalizeQuery(e.query);
    let id = ids.get(k);
    if (id === undefined) ids.set(k, id = ids.size);
    return id;
  });
}

/**
 * Options of {@link splitDataset}.
 *
 * @example
 * ```ts
 * import type { SplitOptions } from "./dataset.ts";
 * const opts: SplitOptions = { valFraction: 0.2, seed: 1 };
 * console.log(opts);
 * ```
 */
export interface SplitOptions {
  /** Target fraction of examples in validation, in [0, 1) (default 0.1). */
  valFraction?: number;
  /** Seed of the group shuffle (default 42). */
  seed?: number;
}

/**
 * Seeded train/validation split that keeps every copy of the same (normalised) query on one
 * side. Query groups are shuffled with `Rng(seed)` and moved to validation until it holds at
 * least `round(valFraction · n)` examples (with `valFraction > 0` and at least two groups,
 * both sides are non-empty). Both sides keep the input order. Deterministic.
 *
 * @example
 * ```ts
 * import { loadDataset, splitDataset } from "./dataset.ts";
 * const { examples } = await loadDataset("data/gen-data-set.json");
 * const { train, val } = splitDataset(examples, { valFraction: 0.1, seed: 42 });
 * console.log(train.length, val.length);
 * ```
 */
export function splitDataset(
  examples: readonly Example[],
  opts: SplitOptions = {},
): { train: Example[]; val: Example[] } {
  const valFraction = opts.valFraction ?? 0.1;
  const seed = opts.seed ?? 42;
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new RangeError(`splitDataset: valFraction must be in [0, 1), got ${valFraction}`);
  }
  const groups = queryGroups(examples);
  const nGroups = groups.reduce((m, g) => Math.max(m, g + 1), 0);
  const size = new Array<number>(nGroups).fill(0);
  for (const g of groups) size[g]++;
  const order = new Rng(seed).shuffle(Array.from({ length: nGroups }, (_, i) => i));
  let target = Math.round(valFraction * examples.length);
  if (valFraction > 0 && nGroups >= 2) target = Math.max(target, 1);
  const inVal = new Uint8Array(nGroups);
  let nVal = 0;
  for (const g of order) {
    if (nVal >= target) break;
    if (nVal + size[g] >= examples.length) continue; // keep train non-empty
    inVal[g] = 1;
    nVal += size[g];
  }
  const train: Example[] = [];
  const val: Example[] = [];
  examples.forEach((e, i) => (inVal[groups[i]] ? val : train).push(e));
  return { train, val };
}

/**
 * One fixed-shape training batch (B rows, K negatives per row).
 *
 * @example
 * ```ts
 * import { type Batch, batches } from "./dataset.ts";
 * const ex = [0, 1].map((id) => ({ id, query: `q${id}`, positive: `p${id}`, negatives: [] }));
 * const [b]: Batch[] = [...batches(ex, { batchSize: 2, negatives: 1, seed: 0, epoch: 0 })];
 * console.log(b.weights); // Float32Array [0, 0] (padding)
 * ```
 */
export interface Batch {
  /** Length B. */
  queries: string[];
  /** Length B. */
  positives: string[];
  /** Length B·K, row-major: row `i`'s negatives are `negatives[i*K .. i*K+K)`. */
  negatives: string[];
  /** Length B·K, aligned with `negatives`. */
  weights: Float32Array;
  /** Query-group id per row; rows with equal ids are each other's false negatives. */
  positiveIds: number[];
  /** `Example.id` per row. */
  exampleIds: number[];
}

/**
 * Options of {@link batches}.
 *
 * @example
 * ```ts
 * import type { BatchOptions } from "./dataset.ts";
 * const opts: BatchOptions = { batchSize: 32, negatives: 7, seed: 42, epoch: 0, fill: "mask" };
 * console.log(opts);
 * ```
 */
export interface BatchOptions {
  /** Rows per batch (B ≥ 1). */
  batchSize: number;
  /** Hard negatives per row (K ≥ 0). */
  negatives: number;
  /** Seed; the shuffle depends on (seed, epoch). */
  seed: number;
  /** Epoch number (0-based). */
  epoch: number;
  /**
   * How a row with fewer than K negatives is filled: `"resample"` (default) draws K from its own
   * negatives repeated `ceil(K/n)` times, without replacement, like FlagEmbedding's
   * `train_group_size` (duplicates keep their weight); `"mask"` keeps each negative once and pads
   * with weight-0 copies of its first negative, which are exactly neutral in the weighted loss.
   */
  fill?: "resample" | "mask";
}

/** Mix (seed, epoch) into one 32-bit seed. */
function epochSeed(seed: number, epoch: number): number {
  let h = (seed >>> 0) ^ Math.imul((epoch >>> 0) + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * How many batches {@link batches} yields for `n` examples: full batches of
 * `batchSize`, plus the last partial one unless it has a single row (a
 * one-row batch has no in-batch negatives).
 *
 * @example
 * ```ts
 * import { batchCount } from "./dataset.ts";
 * console.log(batchCount(900, 128)); // 8 (7 full + one of 4 rows)
 * console.log(batchCount(129, 128)); // 1 (the 1-row remainder is dropped)
 * ```
 */
export function batchCount(n: number, batchSize: number): number {
  const full = Math.floor(n / batchSize);
  const rest = n - full * batchSize;
  return full + (rest >= 2 ? 1 : 0);
}

/**
 * Seeded iterator over fixed-shape batches for one epoch. The examples are shuffled with a seed
 * derived from (seed, epoch) and cut into batches of `batchSize` rows. The last, partial batch
 * is kept (with fewer rows) unless it has fewer than 2 rows, which is dropped: a 1-row batch has
 * no in-batch negatives. `positiveIds` are query-group ids computed over `examples` (see
 * {@link queryGroups}).
 *
 * Every row gets exactly K negatives: with more than K, K are sampled without replacement; with
 * fewer, see {@link BatchOptions.fill}; with none, the row is padded with its own positive text
 * at weight 0 (neutral).
 *
 * @example
 * ```ts
 * import { batches, loadDataset } from "./dataset.ts";
 * const { examples } = await loadDataset("data/gen-data-set.json");
 * for (const b of batches(examples, { batchSize: 32, negatives: 4, seed: 42, epoch: 0 })) {
 *   console.log(b.queries.length, b.negatives.length, b.weights.length); // 32 128 128
 *   break;
 * }
 * ```
 */
export function* batches(examples: readonly Example[], opts: BatchOptions): Generator<Batch> {
  const { batchSize: B, negatives: K, seed, epoch } = opts;
  const fill = opts.fill ?? "resample";
  if (!Number.isInteger(B) || B < 1) {
    throw new RangeError(`batches: batchSize must be an integer >= 1, got ${B}`);
  }
  if (!Number.isInteger(K) || K < 0) {
    throw new RangeError(`batches: negatives must be an integer >= 0, got ${K}`);
  }
  if (fill !== "resample" && fill !== "mask") {
    throw new RangeError(`batches: fill must be "resample" or "mask", got ${String(fill)}`);
  }
  const groups = queryGroups(examples);
  const rng = new Rng(epochSeed(seed, epoch));
  const order = rng.shuffle(Array.from({ length: examples.length }, (_, i) => i));
  const count = batchCount(order.length, B);
  for (let start = 0; start < count * B; start += B) {
    const rows = order.slice(start, start + B);
    const n = rows.length;
    const batch: Batch = {
      queries: [],
      positives: [],
      negatives: [],
      weights: new Float32Array(n * K),
      positiveIds: [],
      exampleIds: [],
    };
    rows.forEach((idx, r) => {
      const e = examples[idx];
      batch.queries.push(e.query);
      batch.positives.push(e.positive);
      batch.positiveIds.push(groups[idx]);
      batch.exampleIds.push(e.id);
      const picked = pickNegatives(e, K, fill, rng);
      picked.forEach((neg, k) => {
        batch.negatives.push(neg.text);
        batch.weights[r * K + k] = neg.weight;
      });
    });
    yield batch;
  }
}

function pickNegatives(
  e: Example,
  K: number,
  fill: "resample" | "mask",
  rng: Rng,
): { text: string; weight: number }[] {
  const negs = e.negatives;
  const n = negs.length;
  if (K === 0) return [];
  if (n === 0) return Array.from({ length: K }, () => ({ text: e.positive, weight: 0 }));
  if (n >= K) return rng.shuffle([...negs]).slice(0, K);
  if (fill === "mask") {
    const out = negs.map((x) => ({ text: x.text, weight: x.weight }));
    while (out.length < K) out.push({ text: negs[0].text, weight: 0 });
    return out;
  }
  const reps = Math.ceil(K / n);
  const pool: Negative[] = [];
  for (let i = 0; i < reps; i++) pool.push(...negs);
  return rng.shuffle(pool).slice(0, K);
}

/**
 * Options of {@link uniqueTexts}.
 *
 * @example
 * ```ts
 * import { uniqueTexts, type UniqueTextsOptions } from "./dataset.ts";
 * const opts: UniqueTextsOptions = { kind: "queries" };
 * console.log(uniqueTexts([{ id: 0, query: "q", positive: "p", negatives: [] }], opts)); // ["q"]
 * ```
 */
export interface UniqueTextsOptions {
  /** Which texts: `"all"` (default), `"queries"`, or `"passages"` (positives and negatives). */
  kind?: "all" | "queries" | "passages";
}

/**
 * Every distinct text of the examples (queries, positives, negatives; exact string equality) in
 * order of first appearance, for filling the embedding cache. `kind` restricts to queries or
 * passages, e.g. when queries are encoded with a prefix.
 *
 * @example
 * ```ts
 * import { uniqueTexts } from "./dataset.ts";
 * const ex = [{ id: 0, query: "q", positive: "p", negatives: [{ text: "p", weight: 1, differs: [] }] }];
 * console.log(uniqueTexts(ex)); // ["q", "p"]
 * ```
 */
export function uniqueTexts(examples: readonly Example[], opts: UniqueTextsOptions = {}): string[] {
  const kind = opts.kind ?? "all";
  const seen = new Set<string>();
  const add = (t: string) => seen.add(t);
  for (const e of examples) {
    if (kind !== "passages") add(e.query);
    if (kind !== "queries") {
      add(e.positive);
      for (const n of e.negatives) add(n.text);
    }
  }
  return [...seen];
}
