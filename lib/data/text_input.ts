/**
 * Texts for bulk `encode` / `search` from a file or stdin: one text per line,
 * or JSONL lines with a `text` (or `query`) string. Blank lines are skipped.
 *
 * @module
 */
import { checkInputFile } from "../core/fs.ts";

/**
 * True when a text has nothing to encode: empty, or only whitespace and
 * invisible format characters (zero-width space/joiners, word joiner, BOM,
 * soft hyphen). Such a text would encode to a meaningless vector.
 *
 * @example
 * ```ts
 * import { isBlankText } from "./text_input.ts";
 * if (JSON.stringify([isBlankText(" \u200b\n"), isBlankText("phòng")]) !== JSON.stringify([true, false])) throw new Error(`got ${JSON.stringify([isBlankText(" \u200b\n"), isBlankText("phòng")])}`);
 * ```
 */
export function isBlankText(text: string): boolean {
  return text.replace(/[\s\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g, "") === "";
}

/**
 * A text as a JSON string literal with invisible characters escaped
 * (`"\u200b"`), for error messages.
 *
 * @example
 * ```ts
 * import { escapeInvisible } from "./text_input.ts";
 * const shown = escapeInvisible("a\u200b"); // quoted, the zero-width space made visible
 * if (shown !== String.raw`"a\u200b"`) throw new Error(shown);
 * ```
 */
export function escapeInvisible(text: string): string {
  return JSON.stringify(text).replace(
    /[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The path that makes {@link readTexts} read standard input.
 *
 * @example
 * ```ts
 * import { readTexts, STDIN } from "./text_input.ts";
 * // `cat queries.txt | deno run ...`: one text per line from stdin
 * async function _fromStdin(): Promise<string[]> {
 *   return await readTexts(STDIN);
 * }
 * ```
 */
export const STDIN = "-";

/**
 * Parse texts from the content of a file (`source` names it in errors):
 * lines starting with `{` are JSON objects with a non-empty string `text` or
 * `query`; other non-empty lines are texts as they are.
 *
 * @example
 * ```ts
 * import { parseTexts } from "./text_input.ts";
 * const texts = parseTexts('phòng trọ q10\n{"query": "căn hộ q7"}\n', "queries.txt");
 * if (JSON.stringify(texts) !== JSON.stringify(["phòng trọ q10", "căn hộ q7"])) throw new Error(`${texts}`);
 * ```
 */
export function parseTexts(content: string, source: string): string[] {
  const out: string[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    if (!line.startsWith("{")) return void out.push(line);
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new Error(`${source}: line ${i + 1}: invalid JSON: ${(err as Error).message}`);
    }
    const rec = obj as { text?: unknown; query?: unknown };
    const t = rec.text ?? rec.query;
    if (typeof t !== "string" || t.trim() === "") {
      throw new Error(
        `${source}: line ${i + 1}: field "text" (or "query") must be a non-empty string`,
      );
    }
    out.push(t);
  });
  if (out.length === 0) throw new Error(`${source}: no texts (empty input)`);
  return out;
}

/**
 * Read texts from a file, or from standard input when `path` is `-`
 * (see {@link parseTexts} for the format). Errors name the file and line.
 *
 * @example
 * ```ts
 * import { readTexts } from "./text_input.ts";
 * await Deno.writeTextFile("/tmp/texts.txt", "phòng trọ q10\nchung cư mini q7\n");
 * if (JSON.stringify(await readTexts("/tmp/texts.txt")) !== JSON.stringify(["phòng trọ q10", "chung cư mini q7"])) throw new Error(`got ${JSON.stringify(await readTexts("/tmp/texts.txt"))}`);
 * ```
 */
export async function readTexts(path: string): Promise<string[]> {
  if (path === STDIN) {
    const content = await new Response(Deno.stdin.readable).text();
    return parseTexts(content, "stdin");
  }
  let content: string;
  await checkInputFile(path);
  try {
    content = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  return parseTexts(content, path);
}
