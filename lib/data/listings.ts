/**
 * Listings to index: one per line (plain text, or JSONL with `text`, an
 * optional `id` and metadata), or the listings of a native dataset with
 * their generated `features` as metadata.
 *
 * @module
 */
import { checkInputFile, sha256Hex } from "../core/fs.ts";
import { isBlankText } from "./text_input.ts";

/** A metadata value: a string, a number, a boolean, or a list of strings. */
export type MetaValue = string | number | boolean | string[];

/** One listing: a stable id, its text and its metadata. */
export interface Listing {
  /** Stable id (the file's `id`, or a hash of the text). */
  id: string;
  /** The listing's text, as embedded. */
  text: string;
  /** Metadata columns for filters (`city`, `price`, …). */
  meta: Record<string, MetaValue>;
}

/**
 * Names that cannot be metadata fields (they are columns of the index table).
 *
 * @example
 * ```ts
 * import { RESERVED_FIELDS } from "./listings.ts";
 * if (JSON.stringify(RESERVED_FIELDS.includes("vector")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(RESERVED_FIELDS.includes("vector"))}`);
 * ```
 */
export const RESERVED_FIELDS: readonly string[] = [
  "id",
  "text",
  "meta",
  "vector",
  "base",
  "_rowid",
  "_distance",
];

/** Which listings of a dataset to take. */
export type DatasetListings = "positives" | "all";

/**
 * The id of a listing without an explicit one: the first 16 hex digits of
 * the SHA-256 of its text, so re-indexing the same text gives the same id.
 *
 * @example
 * ```ts
 * import { textId } from "./listings.ts";
 * if (JSON.stringify((await textId("phòng trọ q10")).length) !== JSON.stringify(16)) throw new Error(`got ${JSON.stringify((await textId("phòng trọ q10")).length)}`);
 * ```
 */
export async function textId(text: string): Promise<string> {
  return (await sha256Hex(text)).slice(0, 16);
}

/**
 * Check and convert one metadata value. Errors name `where` and the field.
 *
 * @example
 * ```ts
 * import { metaValue } from "./listings.ts";
 * if (JSON.stringify(metaValue(["máy lạnh"], "x.jsonl: line 1", "amenities")) !== JSON.stringify(["máy lạnh"])) throw new Error(`got ${JSON.stringify(metaValue(["máy lạnh"], "x.jsonl: line 1", "amenities"))}`);
 * ```
 */
export function metaValue(v: unknown, where: string, field: string): MetaValue | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`${where}: field "${field}": not a finite number`);
    return v;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  throw new Error(
    `${where}: field "${field}": metadata must be a string, a number, a boolean or a list of ` +
      `strings, got ${Array.isArray(v) ? "a list with non-strings" : typeof v}`,
  );
}

function checkFieldName(name: string, where: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name)) {
    throw new Error(
      `${where}: field "${name}": metadata names must be identifiers (letters, digits, _), ` +
        `so that --where filters can name them`,
    );
  }
}

/**
 * Read listings from a file:
 *
 * - `.json`: a native dataset; its listings (`which`: the unique positives,
 *   or every unique listing including hard negatives), with `features` as
 *   metadata and ids from the text;
 * - otherwise one listing per line: a plain line is a listing text; a line
 *   starting with `{` is JSON with a non-empty string `text`, an optional
 *   string `id`, optional `features` (flattened into the metadata) and any
 *   other fields as metadata.
 *
 * Ids must be unique within the file; a repeated text without ids is kept
 * once. Errors name the file, the line (or example) and the field.
 *
 * @example
 * ```ts
 * import { readListings } from "./listings.ts";
 * await Deno.writeTextFile("/tmp/l.jsonl", '{"id":"a","text":"phòng trọ q10","city":"Hồ Chí Minh"}\n');
 * const [l] = await readListings("/tmp/l.jsonl");
 * console.log(l.id, l.meta.city); // a Hồ Chí Minh
 * ```
 */
export async function readListings(
  path: string,
  which: DatasetListings = "positives",
): Promise<Listing[]> {
  let bytes: Uint8Array;
  try {
    await checkInputFile(path);
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`listings file not found: ${path}`);
    throw err;
  }
  const raw = decodeUtf8(bytes, path);
  const out = path.endsWith(".json")
    ? await datasetListings(path, raw, which)
    : isFlagEmbedding(raw)
    ? await flagListings(path, raw, which)
    : await lineListings(path, raw);
  if (out.length === 0) throw new Error(`${path}: no listings`);
  return out;
}

/** True when the first non-empty line is a FlagEmbedding record (`query` and `pos`). */
function isFlagEmbedding(raw: string): boolean {
  const first = raw.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
  if (!first.startsWith("{")) return false;
  try {
    const obj = JSON.parse(first);
    return typeof obj?.query === "string" && Array.isArray(obj?.pos);
  } catch {
    return false;
  }
}

/** The listings of a FlagEmbedding JSONL dataset: its `pos` texts, and with `all` its `neg` too. */
async function flagListings(path: string, raw: string, which: DatasetListings): Promise<Listing[]> {
  const out: Listing[] = [];
  const seen = new Set<string>();
  const lines = raw.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const where = `${path}: line ${i + 1}`;
    let obj: { pos?: unknown; neg?: unknown };
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
    }
    const fields = which === "all" ? ["pos", "neg"] as const : ["pos"] as const;
    for (const field of fields) {
      const list = obj?.[field] ?? [];
      if (!Array.isArray(list)) throw new Error(`${where}: field "${field}" must be a list`);
      for (let j = 0; j < list.length; j++) {
        const text = list[j];
        if (typeof text !== "string" || text.trim() === "") {
          throw new Error(`${where}: ${field}[${j}] must be a non-empty string`);
        }
        if (seen.has(text)) continue;
        seen.add(text);
        out.push({ id: await textId(text), text, meta: {} });
      }
    }
  }
  return out;
}

/** Strict UTF-8 (a listing with U+FFFD where bytes were would be indexed wrong); errors name the line. */
function decodeUtf8(bytes: Uint8Array, path: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    let line = 1, start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i === bytes.length || bytes[i] === 0x0a) {
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(start, i));
        } catch {
          throw new Error(`${path}: line ${line}: not valid UTF-8 (save the file as UTF-8)`);
        }
        line++;
        start = i + 1;
      }
    }
    throw new Error(`${path}: not valid UTF-8 (save the file as UTF-8)`);
  }
}

async function lineListings(path: string, raw: string): Promise<Listing[]> {
  const out: Listing[] = [];
  const seen = new Map<string, number>();
  const lineOf: number[] = [];
  const lines = raw.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    const where = `${path}: line ${i + 1}`;
    let listing: Listing;
    if (line.startsWith("{")) {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(line);
      } catch (err) {
        throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
      }
      if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
        throw new Error(`${where}: expected a JSON object`);
      }
      const text = obj.text;
      if (typeof text !== "string" || isBlankText(text)) {
        throw new Error(
          `${where}: field "text" must be a non-empty string` +
            (typeof text === "string" && text !== ""
              ? ` (it holds only invisible characters)`
              : ""),
        );
      }
      if (obj.id !== undefined && (typeof obj.id !== "string" || obj.id === "")) {
        throw new Error(`${where}: field "id" must be a non-empty string`);
      }
      const meta: Record<string, MetaValue> = {};
      const fields: [string, unknown][] = [];
      for (const [k, v] of Object.entries(obj)) {
        if (k === "id" || k === "text") continue;
        if (k === "features" && typeof v === "object" && v !== null && !Array.isArray(v)) {
          fields.push(...Object.entries(v));
        } else fields.push([k, v]);
      }
      for (const [k, v] of fields) {
        if (RESERVED_FIELDS.includes(k)) {
          throw new Error(`${where}: field "${k}" is reserved (${RESERVED_FIELDS.join(", ")})`);
        }
        checkFieldName(k, where);
        const mv = metaValue(v, where, k);
        if (mv !== undefined) meta[k] = mv;
      }
      listing = { id: (obj.id as string | undefined) ?? await textId(text), text, meta };
    } else {
      if (isBlankText(line)) {
        throw new Error(`${where}: the line holds only invisible characters`);
      }
      listing = { id: await textId(line), text: line, meta: {} };
    }
    const prev = seen.get(listing.id);
    if (prev !== undefined) {
      const first = `line ${lineOf[prev]}`;
      if (out[prev].text !== listing.text) {
        throw new Error(
          `${where}: field "id": "${listing.id}" repeats ${first} with another text`,
        );
      }
      const canon = (m: Record<string, MetaValue>) =>
        JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      if (canon(out[prev].meta) !== canon(listing.meta)) {
        throw new Error(
          `${where}: listing "${listing.id}" repeats ${first} with the same text but other ` +
            `metadata (${JSON.stringify(listing.meta)} against ${
              JSON.stringify(out[prev].meta)
            }): ` +
            `keep one of the two lines`,
        );
      }
      continue; // the same listing twice
    }
    seen.set(listing.id, out.length);
    lineOf.push(i + 1);
    out.push(listing);
  }
  return out;
}

async function datasetListings(
  path: string,
  raw: string,
  which: DatasetListings,
): Promise<Listing[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  const examples = Array.isArray(doc) ? doc : (doc as { examples?: unknown })?.examples;
  if (!Array.isArray(examples)) throw new Error(`${path}: field "examples" must be a list`);
  const out: Listing[] = [];
  const seen = new Set<string>();
  const add = async (item: unknown, where: string) => {
    const text = typeof item === "string" ? item : (item as { text?: unknown })?.text;
    if (typeof text !== "string" || text.trim() === "") {
      throw new Error(`${where}: field "text" must be a non-empty string`);
    }
    if (seen.has(text)) return;
    seen.add(text);
    const meta: Record<string, MetaValue> = {};
    const features = typeof item === "object" ? (item as { features?: unknown }).features : null;
    if (features && typeof features === "object" && !Array.isArray(features)) {
      for (const [k, v] of Object.entries(features)) {
        checkFieldName(k, where);
        if (RESERVED_FIELDS.includes(k)) continue;
        const mv = metaValue(v, where, `features.${k}`);
        if (mv !== undefined) meta[k] = mv;
      }
    }
    out.push({ id: await textId(text), text, meta });
  };
  for (let i = 0; i < examples.length; i++) {
    const ex = examples[i] as { positive?: unknown; negatives?: unknown };
    await add(ex?.positive, `${path}: example ${i}: positive`);
    if (which === "all" && Array.isArray(ex?.negatives)) {
      for (let j = 0; j < ex.negatives.length; j++) {
        await add(ex.negatives[j], `${path}: example ${i}: negatives[${j}]`);
      }
    }
  }
  return out;
}

/**
 * The unique query texts of a native dataset (`.json`), in order; `[]` for
 * other files. Used to measure ANN recall on real queries.
 *
 * @example
 * ```ts
 * import { readDatasetQueries } from "./listings.ts";
 * if (JSON.stringify((await readDatasetQueries("data/gen-data-set.json")).length > 0) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify((await readDatasetQueries("data/gen-data-set.json")).length > 0)}`);
 * ```
 */
export async function readDatasetQueries(path: string): Promise<string[]> {
  if (!path.endsWith(".json")) return [];
  const doc = JSON.parse(await Deno.readTextFile(path));
  const examples = Array.isArray(doc) ? doc : doc?.examples;
  if (!Array.isArray(examples)) return [];
  const seen = new Set<string>();
  for (const ex of examples) {
    if (typeof ex?.query === "string" && ex.query.trim() !== "") seen.add(ex.query);
  }
  return [...seen];
}
