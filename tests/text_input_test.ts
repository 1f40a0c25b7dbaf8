import { assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { parseTexts, readTexts } from "../lib/data/text_input.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";

Deno.test("text_input: lines and JSONL (text or query), blank lines skipped", () => {
  assertEquals(
    parseTexts('phòng trọ q10\n\n{"text": "căn hộ q7"}\r\n{"query": "ccmn cầu giấy"}\n', "f.txt"),
    ["phòng trọ q10", "căn hộ q7", "ccmn cầu giấy"],
  );
});

Deno.test("text_input: errors name the source and the line", () => {
  const bad = assertThrows(() => parseTexts('ok\n{"text": 5}\n', "q.jsonl"));
  assertStringIncludes((bad as Error).message, "q.jsonl: line 2");
  const json = assertThrows(() => parseTexts("ok\n{oops\n", "q.jsonl"));
  assertStringIncludes((json as Error).message, "line 2: invalid JSON");
  const empty = assertThrows(() => parseTexts("\n  \n", "stdin"));
  assertStringIncludes((empty as Error).message, "stdin: no texts");
});

Deno.test("text_input: readTexts reads a file; a missing one is named", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, "a\nb\n");
  assertEquals(await readTexts(path), ["a", "b"]);
  await Deno.remove(path);
  const err = await readTexts(path).then(() => new Error("no error"), (e: Error) => e);
  assertStringIncludes(err.message, `${path}: file not found`);
});

Deno.test("search --queries - reads queries from stdin (one JSON line per query)", async () => {
  await ensureDefaultModel();
  const cache = await Deno.makeTempDir({ prefix: "search-stdin-" });
  try {
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-read=.,/tmp",
        `--allow-write=${cache}`,
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
        "scripts/search.ts",
        "--base",
        "--k",
        "2",
        "--json",
        "--cache-root",
        cache,
        "--checkpoint", // no run there: --base uses the default model, whatever checkpoints/latest is
        cache,
        "--queries",
        "-",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode('phòng trọ q10\n{"query": "căn hộ mini quận 7"}\n'));
    await w.close();
    const out = await child.output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assertEquals(lines.map((l) => l.query), ["phòng trọ q10", "căn hộ mini quận 7"]);
    for (const l of lines) assertEquals(l.results.length, 2);
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
});
