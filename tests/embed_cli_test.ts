import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { runScript, smallDataset } from "./fixtures.ts";
import { createProgress, formatDuration, Progress } from "../lib/cli/progress.ts";

Deno.test("deno task embed: first run encodes, second run encodes 0 texts", async () => {
  const { data, cache } = await smallDataset(24, 3);
  const args = ["--data", data, "--cache", cache, "--batch-size", "8"];
  const first = await runScript("embed.ts", args);
  assertEquals(first.code, 0, first.stderr);
  const lines = first.stdout.trim().split("\n");
  assertMatch(lines[0], /^Model: lexical-1024 \(offline lexical stand-in, NOT BGE-M3/);
  const m = first.stdout.match(/hits (\d+), misses (\d+)/);
  assert(m, first.stdout);
  assertEquals(Number(m[1]), 0);
  const texts = Number(m[2]);
  assert(texts > 24, `expected more unique texts than examples, got ${texts}`);
  assertStringIncludes(first.stdout, `Encoded ${texts} texts`);

  const second = await runScript("embed.ts", args);
  assertEquals(second.code, 0, second.stderr);
  assertMatch(second.stdout.split("\n")[0], /^Model: lexical-1024/);
  assertStringIncludes(second.stdout, `hits ${texts}, misses 0`);
  assertStringIncludes(second.stdout, "Encoded 0 texts");
  assertEquals(second.stderr, "");
});

Deno.test("deno task embed: a partly filled cache is resumed and reported", async () => {
  const small = await smallDataset(6, 3);
  const big = await smallDataset(24, 3); // same seed: the 6 examples' texts are among them
  const first = await runScript("embed.ts", ["--data", small.data, "--cache", big.cache]);
  assertEquals(first.code, 0, first.stderr);
  assertStringIncludes(first.stdout, "texts to encode (none cached yet)");
  const second = await runScript("embed.ts", ["--data", big.data, "--cache", big.cache]);
  assertEquals(second.code, 0, second.stderr);
  const m = second.stdout.match(/resumed: (\d+) of (\d+) texts already cached; encoding (\d+)/);
  assert(m, second.stdout);
  assert(Number(m[1]) > 0 && Number(m[3]) > 0);
  assertEquals(Number(m[1]) + Number(m[3]), Number(m[2]));
});

Deno.test("deno task embed: a missing model folder names the path and how to get it", async () => {
  const { data, cache } = await smallDataset(4, 1);
  const r = await runScript("embed.ts", [
    "--data",
    data,
    "--cache",
    cache,
    "--model",
    "/tmp/nope/bge-m3",
  ]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "/tmp/nope/bge-m3");
  assertStringIncludes(r.stderr, "deno task fetch-model");
});

Deno.test("progress bar: done/total, rate, ETA and suffix; silent when disabled", () => {
  let t = 0;
  const out: string[] = [];
  const bar = new Progress(100, {
    label: "embed",
    unit: "texts",
    enabled: true,
    intervalMs: 0,
    write: (s) => out.push(s),
    now: () => t,
  });
  t = 2000;
  bar.update(50, "loss 0.12");
  const line = out.at(-1)!;
  assertStringIncludes(line, "50/100");
  assertStringIncludes(line, "25.0 texts/s");
  assertStringIncludes(line, "ETA 0:02");
  assertStringIncludes(line, "loss 0.12");
  bar.finish();
  assert(out.at(-1)!.endsWith("\n"));
  const quiet: string[] = [];
  const off = new Progress(10, { enabled: false, write: (s) => quiet.push(s) });
  off.update(5);
  off.finish();
  assertEquals(quiet, []);
  assertEquals(formatDuration(3725), "1:02:05");
});

Deno.test("createProgress: total from update, idempotent done", () => {
  const out: string[] = [];
  const bar = createProgress({ enabled: true, intervalMs: 0, write: (s) => out.push(s) });
  bar.done(); // nothing shown yet: nothing to finish
  assertEquals(out, []);
  bar.update(3, 10, "loss 1.0");
  assertStringIncludes(out.at(-1)!, "3/10");
  bar.done();
  bar.done();
  assertEquals(out.filter((s) => s.endsWith("\n")).length, 1);
  bar.update(1, 20);
  assertStringIncludes(out.at(-1)!, "1/20");
});
