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
import { createHash } from "node:crypto";
import { checkInputFile, exists } from "../core/fs.ts";
import { Rng } from "../core/rng.ts";

/**
 * A hard negative with its resolved weight (≥ 0) and the features in which it differs.
 */
export interface Negative {
  /** The negative listing's text. */
  text: string;
  /** Its weight in the loss (from `neg_weights`, or the weight config and `differs`). */
  weight: number;
  /** Features in which it differs from the positive (empty when unlabelled). */
  differs: string[];
}

/**
 * One training example: a query, its positive passage and its hard negatives.
 */
export interface Example {
  /** Position in the loaded dataset (0-based, in file order). */
  id: number;
  /** The query text. */
  query: string;
  /** The listing that satisfies it. */
  positive: string;
  /** Hard negatives, with weights. */
  negatives: Negative[];
}

/**
 * A loaded dataset.
 *
 * @example
 * ```ts
 * import { type Dataset, loadDataset } from "./dataset.ts";
 * const ds: Dataset = await loadDataset("data/gen-data-set.json");
 * if (ds.format !== "native" || ds.examples.length !== 1000) throw new Error(`${ds.format} ${ds.examples.length}`);
 * ```
 */
export interface Dataset {
  /** The file it was read from. */
  path: string;
  /** The project's JSON, or FlagEmbedding JSONL. */
  format: "native" | "flagembedding";
  /** Every example, in file order. */
  examples: Example[];
  /** Hex SHA-256 of the file's bytes (identifies the data in caches and checkpoints). */
  sha256: string;
}

/**
 * Feature name → weight of a hard negative differing in that feature, e.g. `{ district: 2.5 }`.
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
  /** An error naming `file`, the record (index or line) and the field. */
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

/**
 * The largest finite float32 value. Weights are used as float32 in training: a larger weight
 * (e.g. `1e300`, finite in JSON) would become Infinity there, so it is rejected on load.
 *
 * @example
 * ```ts
 * import { FLOAT32_MAX } from "./dataset.ts";
 * if (JSON.stringify(FLOAT32_MAX) !== JSON.stringify(3.4028234663852886e+38)) throw new Error(`got ${JSON.stringify(FLOAT32_MAX)}`);
 * ```
 */
export const FLOAT32_MAX = 3.4028234663852886e38;

function isWeight(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 && v <= FLOAT32_MAX;
}

function weightProblem(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v) && v > FLOAT32_MAX) {
    return `must be at most ${FLOAT32_MAX} (the float32 maximum; it would become Infinity in ` +
      `training), got the number ${v}`;
  }
  return `must be a finite number >= 0, got ${describe(v)}`;
}

/** Only whitespace and invisible format characters (zero-width space/joiners, BOM, soft hyphen…). */
const BLANK = /^[\s\p{Cf}]*$/u;

function blankProblem(s: string): string {
  return s.length > 0 && s.trim() !== ""
    ? "has only zero-width or invisible characters (e.g. U+200B), no visible text"
    : "is empty";
}

/**
 * The features the generator and the committed weight config know. A weight-config key is
 * accepted when the data uses it or it is one of these; anything else (e.g. a typo such as
 * `distrct`) is an error.
 *
 * @example
 * ```ts
 * import { STANDARD_FEATURES } from "./dataset.ts";
 * if (JSON.stringify(STANDARD_FEATURES.includes("district")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(STANDARD_FEATURES.includes("district"))}`);
 * ```
 */
export const STANDARD_FEATURES: readonly string[] = [
  "city",
  "district",
  "price",
  "room_type",
  "landmark",
  "amenities",
  "area",
  "rules",
];

/** Where each config returned by {@link loadWeightConfig} came from (for error messages). */
const weightFiles = new WeakMap<WeightConfig, string>();

/** Line/column of a character offset, for JSON syntax errors. */
function lineOf(text: string, message: string, firstLine = 1): string {
  const m = message.match(/position (\d+)/);
  if (!m) return "";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length + firstLine - 1;
  const col = pos - before.lastIndexOf("\n");
  return ` at line ${line}, column ${col}`;
}

/**
 * Load and validate a weight config: a flat, non-empty JSON object mapping feature names to
 * finite numbers ≥ 0 that fit in float32.
 *
 * @example
 * ```ts
 * import { loadWeightConfig } from "./dataset.ts";
 * const w = await loadWeightConfig("data/weight-config.json");
 * if (JSON.stringify(w.district) !== JSON.stringify(2.5)) throw new Error(`got ${JSON.stringify(w.district)}`);
 * ```
 */
export async function loadWeightConfig(path: string): Promise<WeightConfig> {
  let bytes: Uint8Array;
  await checkInputFile(path);
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DatasetError(path, null, null, "file not found");
    }
    throw err;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") throw new DatasetError(path, null, null, "file is empty");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const bare = findBareNonFinite(text);
    if (bare) {
      throw new DatasetError(
        path,
        null,
        pathAt(text, bare.offset).path,
        `${bare.token} is not valid JSON${lineOf(text, `position ${bare.offset}`)}: ` +
          "write a finite number",
      );
    }
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
    if (!isWeight(v)) throw new DatasetError(path, null, k, `weight ${weightProblem(v)}`);
    out[k] = v;
  }
  if (Object.keys(out).length === 0) {
    throw new DatasetError(
      path,
      null,
      null,
      `the weight config is empty ({}); give at least one feature weight, e.g. ` +
        `{"district": 2.5} (features: ${STANDARD_FEATURES.join(", ")})`,
    );
  }
  weightFiles.set(out, path);
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
 * if (JSON.stringify(negativeWeight(undefined, ["price", "district"], w)) !== JSON.stringify(2.5)) throw new Error(`got ${JSON.stringify(negativeWeight(undefined, ["price", "district"], w))}`);
 * if (JSON.stringify(negativeWeight(0.5, ["district"], w)) !== JSON.stringify(0.5)) throw new Error(`got ${JSON.stringify(negativeWeight(0.5, ["district"], w))}`);
 * if (JSON.stringify(negativeWeight(undefined, [], w)) !== JSON.stringify(1)) throw new Error(`got ${JSON.stringify(negativeWeight(undefined, [], w))}`);
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
 * import { loadWeightConfig } from "./dataset.ts";
 * const opts: LoadDatasetOptions = { weights: await loadWeightConfig("data/weight-config.json") };
 * const { examples } = await loadDataset("data/gen-data-set.json", opts);
 * if (examples.length !== 1000) throw new Error(`${examples.length} examples`);
 * ```
 */
export interface LoadDatasetOptions {
  /**
   * The weight config resolving `differs` to weights and defining the known features. Default:
   * {@link DEFAULT_WEIGHT_CONFIG} when that file exists, else `{}` (then any non-empty
   * `differs` without an explicit weight is an error). Every key must be a feature the data uses
   * or one of {@link STANDARD_FEATURES} (a typo such as `distrct` is an error).
   */
  weights?: WeightConfig;
  /** The file the weights came from, for error messages (known already for configs from
   * {@link loadWeightConfig}). */
  weightsFile?: string;
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

/**
 * The first bare `NaN`, `Infinity` or `-Infinity` token outside strings in `text` (JSON has no
 * such literals; JavaScript's JSON.parse rejects them without saying where).
 */
function findBareNonFinite(text: string): { offset: number; token: string } | null {
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22) {
        if (text.charCodeAt(i) === 0x5c) i++;
        i++;
      }
    } else if (ch === 0x4e /* N */ && text.startsWith("NaN", i)) {
      return { offset: i, token: "NaN" };
    } else if (ch === 0x49 /* I */ && text.startsWith("Infinity", i)) {
      const neg = i > 0 && text[i - 1] === "-";
      return { offset: neg ? i - 1 : i, token: neg ? "-Infinity" : "Infinity" };
    }
  }
  return null;
}

/**
 * The JSON path (e.g. `negatives[1].weight`) at character `pos` of one JSON value, by scanning
 * strings and nesting up to `pos`; `path` is null at the top level. `afterKey` is true when the
 * position follows a complete key/value (a syntax error "after this field").
 */
function pathAt(text: string, pos: number): { path: string | null } {
  type Frame = { obj: boolean; key: string | null; index: number; expectKey: boolean };
  const stack: Frame[] = [];
  for (let i = 0; i < pos && i < text.length; i++) {
    const ch = text[i];
    const top = stack[stack.length - 1];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (top?.obj && top.expectKey) {
        try {
          top.key = JSON.parse(text.slice(i, j + 1));
        } catch { /* keep */ }
      }
      i = j;
    } else if (ch === "{" || ch === "[") {
      stack.push({ obj: ch === "{", key: null, index: 0, expectKey: ch === "{" });
    } else if (ch === "}" || ch === "]") {
      stack.pop();
    } else if (ch === ":" && top?.obj) {
      top.expectKey = false;
    } else if (ch === "," && top) {
      if (top.obj) top.expectKey = true;
      else top.index++;
    }
  }
  let path = "";
  // The outermost frame is the record itself: its keys start the path.
  stack.forEach((f, d) => {
    if (f.obj) {
      if (f.key !== null) path += d === 0 ? f.key : `.${f.key}`;
    } else if (d > 0) path += `[${f.index}]`;
  });
  return { path: path === "" ? null : path };
}

/** Parse one record's JSON; a syntax error names the record, the field and the line. */
function parseRecord(
  text: string,
  file: string,
  record: number,
  kind: "example" | "line",
  firstLine: number,
): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const bare = findBareNonFinite(text);
    if (bare) {
      const at = lineOf(text, `position ${bare.offset}`, firstLine);
      throw new DatasetError(
        file,
        record,
        pathAt(text, bare.offset).path,
        `${bare.token} is not valid JSON${at}: write a finite number, or drop the field`,
        kind,
      );
    }
    const m = msg.match(/position (\d+)/);
    const field = m ? pathAt(text, Number(m[1])).path : null;
    throw new DatasetError(
      file,
      record,
      field,
      `invalid JSON${lineOf(text, msg, firstLine)}${
        field !== null ? " (after this field)" : ""
      }: ${msg}`,
      kind,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming reader

const CHUNK = 1 << 20;

/** Read a file in chunks, hashing every byte; `onChunk` sees each chunk in order. */
async function streamFile(
  path: string,
  onChunk: (bytes: Uint8Array) => void,
): Promise<{ sha256: string; size: number }> {
  let file: Deno.FsFile;
  await checkInputFile(path);
  try {
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new DatasetError(path, null, null, "file not found");
    }
    throw err;
  }
  const hash = createHash("sha256");
  let size = 0;
  try {
    const buf = new Uint8Array(CHUNK);
    while (true) {
      const n = await file.read(buf);
      if (n === null) break;
      const part = buf.subarray(0, n);
      hash.update(part);
      size += n;
      onChunk(part);
    }
  } finally {
    file.close();
  }
  return { sha256: hash.digest("hex"), size };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Each unique string once: the first instance seen is the one kept. */
class Interner {
  #map = new Map<string, string>();
  get size(): number {
    return this.#map.size;
  }
  of(s: string): string {
    const c = this.#map.get(s);
    if (c !== undefined) return c;
    this.#map.set(s, s);
    return s;
  }
}

const EMPTY_DIFFERS: string[] = Object.freeze([]) as unknown as string[];

/** Shared state of one load: the interned texts and differs lists, features used. */
class LoadContext {
  texts = new Interner();
  #differs = new Map<string, string[]>();
  features = new Set<string>();
  /** text → the shared Negative(s) with that text (one per distinct weight and differs list). */
  #negatives = new Map<string, Negative | Negative[]>();
  constructor(
    readonly path: string,
    readonly weights: WeightConfig,
    readonly weightsFile?: string,
  ) {}
  differs(list: string[]): string[] {
    if (list.length === 0) return EMPTY_DIFFERS;
    for (const f of list) this.features.add(f);
    const key = list.join("\u0000");
    let d = this.#differs.get(key);
    if (d === undefined) this.#differs.set(key, d = Object.freeze(list) as string[]);
    return d;
  }
  /**
   * One shared (read-only) Negative per distinct (text, weight, interned differs): examples
   * that repeat a hard negative point at one object, so memory grows with distinct negatives,
   * not with lines.
   */
  negative(text: string, weight: number, differs: string[]): Negative {
    const t = this.texts.of(text);
    const have = this.#negatives.get(t);
    const list = have === undefined ? [] : Array.isArray(have) ? have : [have];
    for (const n of list) if (n.weight === weight && n.differs === differs) return n;
    const n: Negative = { text: t, weight, differs };
    if (have === undefined) this.#negatives.set(t, n);
    else if (Array.isArray(have)) have.push(n);
    else this.#negatives.set(t, [have, n]);
    return n;
  }
}

const BOM = [0xef, 0xbb, 0xbf];
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeRecord(
  bytes: Uint8Array,
  file: string,
  record: number,
  kind: "example" | "line",
): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new DatasetError(file, record, null, "is not valid UTF-8", kind);
  }
}

/**
 * Load and validate a dataset: `.jsonl` files are read as FlagEmbedding JSONL; other files as
 * the native JSON format (an object with `examples`, or a bare array of examples), unless their
 * content is JSONL (one JSON object per line), which is then read as JSONL. See
 * `data/README.md` for both formats.
 *
 * Both formats are streamed: the file is read in 1 MiB chunks, cut into records (lines, or the
 * elements of the `examples` array) and each record is parsed and validated on its own, so the
 * file is never held in memory as one string. Texts are interned: every distinct text is one
 * string instance shared by all examples that use it.
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
  const ctx = new LoadContext(path, weights, opts.weightsFile);
  const examples: Example[] = [];
  let format: Dataset["format"] = path.toLowerCase().endsWith(".jsonl")
    ? "flagembedding"
    : "native";
  let reader: ((bytes: Uint8Array) => void) | undefined;
  let finish: (() => void) | undefined;
  let head: Uint8Array[] = [];
  let headBytes = 0;
  let sawContent = false;

  const start = (first: Uint8Array) => {
    // Decide the format from the extension, or from the content for non-.jsonl files.
    if (format === "native" && looksLikeJsonl(first)) format = "flagembedding";
    const r = format === "flagembedding" ? jsonlReader(ctx, examples) : nativeReader(ctx, examples);
    reader = r.push;
    finish = r.end;
  };
  const { sha256 } = await streamFile(path, (chunk) => {
    if (!sawContent) {
      // Skip a leading BOM; buffer until the first line is complete (or 64 KiB) to detect JSONL.
      head.push(chunk.slice());
      headBytes += chunk.length;
      let all = concat(head);
      if (all.length >= 3 && all[0] === BOM[0] && all[1] === BOM[1] && all[2] === BOM[2]) {
        all = all.subarray(3);
      }
      const firstNl = secondLineEnd(all);
      if (firstNl < 0 && headBytes < 64 * 1024) {
        head = [all];
        headBytes = all.length;
        return;
      }
      sawContent = true;
      head = [];
      start(all);
      reader!(all);
      return;
    }
    reader!(chunk);
  });
  if (!sawContent) {
    const all = concat(head);
    const rest = all.length >= 3 && all[0] === BOM[0] && all[1] === BOM[1] && all[2] === BOM[2]
      ? all.subarray(3)
      : all;
    start(rest);
    reader!(rest);
  }
  finish!();
  if (examples.length === 0) throw new DatasetError(path, null, null, "no examples");
  checkWeightKeys(ctx, opts.weightsFile);
  return { path, format, examples, sha256 };
}

/** End of the second line (index of its "\n"), or -1 if there is none yet. */
function secondLineEnd(b: Uint8Array): number {
  const a = b.indexOf(0x0a);
  return a < 0 ? -1 : b.indexOf(0x0a, a + 1);
}

/**
 * JSONL content: the first non-empty line is a complete JSON object and the next line starts
 * another object (a native file starts with `[`, `{` alone, or `{"version"/"examples"`).
 */
function looksLikeJsonl(first: Uint8Array): boolean {
  const text = new TextDecoder().decode(first.subarray(0, 64 * 1024));
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  if (lines.length < 2 || !lines[0].startsWith("{") || !lines[1].startsWith("{")) return false;
  try {
    const v = JSON.parse(lines[0]);
    return typeof v === "object" && v !== null && !Array.isArray(v) && !("examples" in v);
  } catch {
    return false;
  }
}

function checkWeightKeys(ctx: LoadContext, weightsFile?: string): void {
  const file = weightsFile ?? weightFiles.get(ctx.weights) ?? "the weight config";
  for (const key of Object.keys(ctx.weights)) {
    if (ctx.features.has(key) || STANDARD_FEATURES.includes(key)) continue;
    const found = [...ctx.features].sort();
    const near = [...new Set([...found, ...STANDARD_FEATURES])]
      .filter((f) => editDistance(f, key) <= 2);
    throw new DatasetError(
      file,
      null,
      key,
      `unknown feature "${key}": no negative in ${ctx.path} differs in it and it is not a ` +
        `standard feature${
          near.length ? ` (did you mean ${near.map((n) => `"${n}"`).join(" or ")}?)` : ""
        }; ` +
        `features in the data: ${found.length ? found.join(", ") : "none"}; standard: ${
          STANDARD_FEATURES.join(", ")
        }`,
    );
  }
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

/** A push reader: bytes in, examples out. */
interface Reader {
  push(bytes: Uint8Array): void;
  end(): void;
}

/**
 * The largest JSONL line or native example, in bytes: a bound on what one record
 * may hold in memory (a file without line breaks is refused, not read whole).
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

function tooLong(ctx: LoadContext, record: number, kind: "line" | "example"): DatasetError {
  return new DatasetError(
    ctx.path,
    record,
    null,
    `${kind} is longer than ${MAX_RECORD_BYTES / 1024 / 1024} MiB (the limit of one record)`,
    kind,
  );
}

function jsonlReader(ctx: LoadContext, out: Example[]): Reader {
  let carry: Uint8Array[] = [];
  let carryBytes = 0;
  let lineNo = 0;
  let any = false;
  const line = (bytes: Uint8Array) => {
    lineNo++;
    let n = bytes.length;
    if (n > 0 && bytes[n - 1] === 0x0d) n--;
    const text = decodeRecord(bytes.subarray(0, n), ctx.path, lineNo, "line");
    if (text.trim() === "") return;
    any = true;
    parseJsonlRecord(ctx, lineNo, parseRecord(text, ctx.path, lineNo, "line", lineNo), out);
  };
  return {
    push(bytes) {
      let s = 0;
      while (true) {
        const nl = bytes.indexOf(0x0a, s);
        if (nl < 0) break;
        if (carryBytes + nl - s > MAX_RECORD_BYTES) throw tooLong(ctx, lineNo + 1, "line");
        if (carry.length > 0) {
          carry.push(bytes.subarray(s, nl));
          line(concat(carry));
          carry = [];
          carryBytes = 0;
        } else line(bytes.subarray(s, nl));
        s = nl + 1;
      }
      if (s < bytes.length) {
        carryBytes += bytes.length - s;
        if (carryBytes > MAX_RECORD_BYTES) throw tooLong(ctx, lineNo + 1, "line");
        carry.push(bytes.slice(s));
      }
    },
    end() {
      if (carry.length > 0) line(concat(carry));
      if (!any) throw new DatasetError(ctx.path, null, null, "file is empty");
    },
  };
}

function parseJsonlRecord(ctx: LoadContext, lineNo: number, rec: unknown, out: Example[]): void {
  const path = ctx.path;
  const fail = (field: string | null, problem: string): never => {
    throw new DatasetError(path, lineNo, field, problem, "line");
  };
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
    fail(null, `expected a JSON object, got ${describe(rec)}`);
  }
  const r = rec as Record<string, unknown>;
  if (typeof r.query !== "string") fail("query", `expected a string, got ${describe(r.query)}`);
  if (BLANK.test(r.query as string)) fail("query", blankProblem(r.query as string));
  if (!Array.isArray(r.pos)) fail("pos", `expected an array of strings, got ${describe(r.pos)}`);
  const pos = r.pos as unknown[];
  if (pos.length === 0) fail("pos", "is empty (need at least one positive)");
  pos.forEach((p, k) => {
    if (typeof p !== "string") fail(`pos[${k}]`, `expected a string, got ${describe(p)}`);
    if (BLANK.test(p as string)) fail(`pos[${k}]`, blankProblem(p as string));
  });
  const neg = r.neg ?? [];
  if (!Array.isArray(neg)) fail("neg", `expected an array of strings, got ${describe(neg)}`);
  (neg as unknown[]).forEach((n, k) => {
    if (typeof n !== "string") fail(`neg[${k}]`, `expected a string, got ${describe(n)}`);
    if (BLANK.test(n as string)) fail(`neg[${k}]`, blankProblem(n as string));
  });
  let nw: unknown[] | undefined;
  if (r.neg_weights !== undefined) {
    if (!Array.isArray(r.neg_weights)) {
      fail("neg_weights", `expected an array of numbers, got ${describe(r.neg_weights)}`);
    }
    nw = r.neg_weights as unknown[];
    if (nw.length !== (neg as unknown[]).length) {
      fail("neg_weights", `has ${nw.length} entries but "neg" has ${(neg as unknown[]).length}`);
    }
    nw.forEach((w, k) => {
      if (!isWeight(w)) fail(`neg_weights[${k}]`, weightProblem(w));
    });
  }
  // One negatives array per line, shared by the examples of its positives (read-only).
  const negatives = (neg as string[]).map((t, k): Negative =>
    ctx.negative(t, nw ? (nw[k] as number) : 1.0, EMPTY_DIFFERS)
  );
  const query = ctx.texts.of(r.query as string);
  for (const p of pos as string[]) {
    out.push({ id: out.length, query, positive: ctx.texts.of(p), negatives });
  }
}

/**
 * Native JSON, streamed: a byte scanner finds the elements of the examples array (the top-level
 * array, or the array under the top-level key "examples"), and each element is parsed on its own.
 * Everything outside the elements (the "skeleton", with each element replaced by `0` and its
 * line breaks kept) is parsed at the end, which checks the top-level structure and `version`.
 */
function nativeReader(ctx: LoadContext, out: Example[]): Reader {
  let depth = 0;
  let inStr = false;
  let esc = false;
  let arrDepth = -1; // depth inside the examples array, or -1
  let expectKey = false; // at depth 1 of a top-level object
  let keyBytes: number[] | null = null;
  let lastKey: string | null = null;
  let elem: Uint8Array[] | null = null; // bytes of the current element
  let elemFrom = 0; // start of the current element in the current chunk
  let elemLine = 1;
  let line = 1; // lines seen outside example strings
  let elemNewlines = 0; // line breaks inside examples (counted when each ends)
  let record = 0;
  let topSeen = false;
  const skeleton: number[] = [];
  let skeletonChunks: string[] = [];
  const SKELETON_MAX = 16 << 20;
  let skeletonSize = 0;
  const flushSkeleton = () => {
    if (skeleton.length === 0) return;
    skeletonChunks.push(String.fromCharCode(...skeleton.splice(0)));
  };
  const addSkeleton = (b: number) => {
    if (++skeletonSize > SKELETON_MAX) {
      throw new DatasetError(ctx.path, null, null, "more than 16 MiB outside the examples array");
    }
    skeleton.push(b);
    if (skeleton.length >= 8192) flushSkeleton();
  };
  const endElement = (bytes: Uint8Array) => {
    const text = decodeRecord(bytes, ctx.path, record, "example");
    const rec = parseRecord(text, ctx.path, record, "example", elemLine);
    out.push(parseNativeRecord(ctx, record, rec));
    record++;
    addSkeleton(0x30); // "0"
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
      addSkeleton(0x0a);
      elemNewlines++;
    }
  };
  return {
    push(bytes) {
      elemFrom = 0;
      const n = bytes.length;
      for (let i = 0; i < n; i++) {
        if (inStr && elem !== null) {
          // Fast path: a string inside an example; only its end matters here.
          let j = i;
          if (esc) {
            esc = false;
            j++;
          }
          while (j < n) {
            const c = bytes[j];
            if (c === 0x22) break;
            j += c === 0x5c ? 2 : 1;
          }
          if (j >= n) {
            esc = j > n; // a backslash was the last byte: its escaped byte is in the next chunk
            break;
          }
          inStr = false;
          i = j;
          continue;
        }
        const b = bytes[i];
        if (b === 0x0a && elem === null) line++;
        const inElem = elem !== null;
        if (inStr) {
          if (esc) esc = false;
          else if (b === 0x5c) esc = true;
          else if (b === 0x22) {
            inStr = false;
            if (keyBytes) {
              try {
                lastKey = JSON.parse(new TextDecoder().decode(new Uint8Array([...keyBytes, 0x22])));
              } catch {
                lastKey = null;
              }
              keyBytes = null;
            }
          }
          if (keyBytes && inStr) keyBytes.push(b);
          if (!inElem) addSkeleton(b);
          continue;
        }
        // Outside strings.
        if (inElem && depth === arrDepth && (b === 0x2c || b === 0x5d)) {
          // "," or "]" ends the element.
          elem!.push(bytes.subarray(elemFrom, i));
          const all = concat(elem!);
          elem = null;
          endElement(all);
        }
        if (elem === null && depth === arrDepth && b > 0x20 && b !== 0x2c && b !== 0x5d) {
          elem = [];
          elemFrom = i;
          elemLine = line + elemNewlines;
        }
        if (b === 0x22) {
          inStr = true;
          if (depth === 1 && expectKey && arrDepth < 0) keyBytes = [0x22];
        } else if (b === 0x7b || b === 0x5b) {
          if (!topSeen) {
            topSeen = true;
            if (b === 0x5b) arrDepth = 1;
            else expectKey = true;
          } else if (depth === 1 && arrDepth < 0 && b === 0x5b && lastKey === "examples") {
            arrDepth = 2;
          }
          depth++;
        } else if (b === 0x7d || b === 0x5d) {
          if (depth === arrDepth && b === 0x5d) arrDepth = -1;
          depth--;
        } else if (depth === 1 && b === 0x3a) {
          expectKey = false;
        } else if (depth === 1 && b === 0x2c) {
          expectKey = true;
        }
        if (elem === null) addSkeleton(b);
      }
      if (elem !== null) {
        elem.push(bytes.slice(elemFrom));
        let n = 0;
        for (const part of elem) n += part.length;
        if (n > MAX_RECORD_BYTES) throw tooLong(ctx, record, "example");
      }
    },
    end() {
      if (elem !== null) {
        // Unterminated array: parse what there is, so the error names the record.
        const all = concat(elem);
        elem = null;
        endElement(all);
      }
      flushSkeleton();
      const text = skeletonChunks.join("");
      skeletonChunks = [];
      if (text.trim() === "" && record === 0) {
        throw new DatasetError(ctx.path, null, null, "file is empty");
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        const msg = (err as Error).message;
        throw new DatasetError(ctx.path, null, null, `invalid JSON${lineOf(text, msg)}: ${msg}`);
      }
      checkNativeTop(ctx.path, value);
    },
  };
}

/** The top level of a native file: a bare array, or an object with `version` and `examples`. */
function checkNativeTop(path: string, value: unknown): void {
  if (Array.isArray(value)) return;
  if (typeof value === "object" && value !== null) {
    const obj = value as Record<string, unknown>;
    if (obj.version !== undefined && obj.version !== 1) {
      throw new DatasetError(path, null, "version", `unsupported version ${describe(obj.version)}`);
    }
    if (!Array.isArray(obj.examples)) {
      const hint = "query" in obj && "pos" in obj
        ? ` (this looks like a FlagEmbedding JSONL record: the format comes from the extension, ` +
          `so name the file .jsonl)`
        : "";
      throw new DatasetError(
        path,
        null,
        "examples",
        `expected an array of examples, got ${describe(obj.examples)}${hint}`,
      );
    }
    return;
  }
  throw new DatasetError(
    path,
    null,
    null,
    `expected an object with "examples" or an array of examples, got ${describe(value)}`,
  );
}

function parseNativeRecord(ctx: LoadContext, index: number, rec: unknown): Example {
  const { path, weights } = ctx;
  const fail = (field: string | null, problem: string): never => {
    throw new DatasetError(path, index, field, problem);
  };
  if (typeof rec !== "object" || rec === null || Array.isArray(rec)) {
    fail(null, `expected an example object, got ${describe(rec)}`);
  }
  const r = rec as Record<string, unknown>;
  if (typeof r.query !== "string") fail("query", `expected a string, got ${describe(r.query)}`);
  const query = r.query as string;
  if (BLANK.test(query)) fail("query", blankProblem(query));

  let positive: string;
  const p = r.positive;
  if (typeof p === "string") {
    positive = p;
    if (BLANK.test(positive)) fail("positive", blankProblem(positive));
  } else if (typeof p === "object" && p !== null && !Array.isArray(p)) {
    const t = (p as Record<string, unknown>).text;
    if (typeof t !== "string") fail("positive.text", `expected a string, got ${describe(t)}`);
    positive = t as string;
    if (BLANK.test(positive)) fail("positive.text", blankProblem(positive));
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
      if (BLANK.test(n)) fail(f, blankProblem(n));
      return ctx.negative(n, 1.0, EMPTY_DIFFERS);
    }
    if (typeof n !== "object" || n === null || Array.isArray(n)) {
      return fail(f, `expected a string or an object with "text", got ${describe(n)}`);
    }
    const o = n as Record<string, unknown>;
    if (typeof o.text !== "string") fail(`${f}.text`, `expected a string, got ${describe(o.text)}`);
    if (BLANK.test(o.text as string)) fail(`${f}.text`, blankProblem(o.text as string));
    const d = o.differs ?? [];
    if (!Array.isArray(d)) fail(`${f}.differs`, `expected an array of strings, got ${describe(d)}`);
    const differs = (d as unknown[]).map((x, k) => {
      if (typeof x !== "string") {
        return fail(`${f}.differs[${k}]`, `expected a string, got ${describe(x)}`);
      }
      if (!Object.hasOwn(weights, x)) {
        const known = Object.keys(weights);
        const file = ctx.weightsFile ?? weightFiles.get(weights);
        const near = known.filter((kk) => editDistance(kk, x) <= 2);
        return fail(
          `${f}.differs[${k}]`,
          `unknown feature "${x}" (not in the weight config${file ? ` ${file}` : ""}; known: ${
            known.length ? known.join(", ") : "none, no weight config loaded"
          })${near.length ? `; is "${near[0]}" in the weight config a typo of "${x}"?` : ""}`,
        );
      }
      return x;
    });
    if (o.weight !== undefined && !isWeight(o.weight)) fail(`${f}.weight`, weightProblem(o.weight));
    const weight = negativeWeight(o.weight as number | undefined, differs, weights);
    return ctx.negative(o.text as string, weight, ctx.differs(differs));
  });
  return {
    id: index,
    query: ctx.texts.of(query),
    positive: ctx.texts.of(positive!),
    negatives,
  };
}

/**
 * The key under which copies of the same query are grouped: NFC, lowercase, trimmed, runs of
 * whitespace collapsed to one space.
 *
 * @example
 * ```ts
 * import { normalizeQuery } from "./dataset.ts";
 * if (JSON.stringify(normalizeQuery("  Phòng   trọ Q10 ")) !== JSON.stringify("phòng trọ q10")) throw new Error(`got ${JSON.stringify(normalizeQuery("  Phòng   trọ Q10 "))}`);
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
 * if (JSON.stringify(queryGroups(ex)) !== JSON.stringify([0, 0])) throw new Error(`got ${JSON.stringify(queryGroups(ex))}`);
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
 * // held out by query: the README's split (900 training and 100 validation examples)
 * if (train.length !== 900 || val.length !== 100) throw new Error(`${train.length} / ${val.length}`);
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
 * if (batchCount(900, 128) !== 8) throw new Error("7 full batches + one of 4 rows");
 * if (batchCount(129, 128) !== 1) throw new Error("the 1-row remainder is dropped");
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
 * if (JSON.stringify(uniqueTexts([{ id: 0, query: "q", positive: "p", negatives: [] }], opts)) !== JSON.stringify(["q"])) throw new Error(`got ${JSON.stringify(uniqueTexts([{ id: 0, query: "q", positive: "p", negatives: [] }], opts))}`);
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
 * if (JSON.stringify(uniqueTexts(ex)) !== JSON.stringify(["q", "p"])) throw new Error(`got ${JSON.stringify(uniqueTexts(ex))}`);
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
