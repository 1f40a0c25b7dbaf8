/**
 * Extra search corpora: a file with one listing per line, or JSONL with a
 * `text` field per line.
 *
 * @module
 */
import { checkInputFile } from "../core/fs.ts";

/**
 * Read a corpus file. Lines that start with `{` are parsed as JSON and must
 * have a non-empty string `text`; other non-empty lines are listings as is.
 * Errors name the file and the line.
 *
 * @example
 * ```ts
 * import { readCorpus } from "./corpus.ts";
 * await Deno.writeTextFile("/tmp/corpus.txt", "phòng trọ q10\n{\"text\": \"chung cư mini\"}\n");
 * if (JSON.stringify(await readCorpus("/tmp/corpus.txt")) !== JSON.stringify(["phòng trọ q10", "chung cư mini"])) throw new Error(`got ${JSON.stringify(await readCorpus("/tmp/corpus.txt"))}`);
 * ```
 */
export async function readCorpus(path: string): Promise<string[]> {
  let text: string;
  await checkInputFile(path);
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new Error(`corpus file not found: ${path}`);
    throw err;
  }
  const out: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("{")) {
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (err) {
        throw new Error(`${path}: line ${i + 1}: invalid JSON: ${(err as Error).message}`);
      }
      const t = (obj as { text?: unknown }).text;
      if (typeof t !== "string" || t.trim() === "") {
        throw new Error(`${path}: line ${i + 1}: field "text" must be a non-empty string`);
      }
      out.push(t);
    } else out.push(line);
  });
  if (out.length === 0) throw new Error(`${path}: the corpus is empty (no listings)`);
  return out;
}
