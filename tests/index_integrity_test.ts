/**
 * Corruption tests of the index: random bytes or NaN written over a data file
 * of the listings table, a removed manifest, a removed metadata table. Each is
 * refused with an error naming the index (by `search --index --verify`, by
 * `index` before it writes, by `serve` at start-up, and for the cheap cases by
 * any open), never answered with silent wrong results.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { openSearchService } from "../lib/serve/server.ts";
import { IndexCorruptError, VectorStore } from "../lib/serve/vector_store.ts";
import { Rng } from "../lib/core/rng.ts";
import { copyTree, runScript } from "./fixtures.ts";
import { defaultDataIndex, taskPermissions } from "./serve_fixtures.ts";

const fixture = defaultDataIndex();
let copies = 0;

async function copyIndex(): Promise<string> {
  const fx = await fixture;
  const to = `${fx.dir}/damaged-${copies++}`;
  await copyTree(fx.index, to);
  return to;
}

/** The largest data file of the listings table (where the vectors are). */
async function largestDataFile(index: string): Promise<string> {
  const dir = `${index}/listings.lance/data`;
  let best = "", size = -1;
  for await (const e of Deno.readDir(dir)) {
    const s = await Deno.stat(`${dir}/${e.name}`);
    if (s.size > size) [best, size] = [`${dir}/${e.name}`, s.size];
  }
  return best;
}

/** Overwrite 64 KiB in the middle of `path` with `bytes(n)`. */
async function overwrite(path: string, bytes: (n: number) => Uint8Array): Promise<void> {
  const data = await Deno.readFile(path);
  const n = 64 * 1024;
  assert(data.length > 2 * n, `${path} is only ${data.length} bytes`);
  const at = Math.floor((data.length / 2 - n / 2) / 4) * 4;
  data.set(bytes(n), at);
  await Deno.writeFile(path, data);
}

async function searchCli(index: string, extra: string[] = []) {
  const fx = await fixture;
  return await runScript(
    "search.ts",
    ["phòng trọ q10", "--index", index, "--cache-root", fx.cache, ...extra],
    { permissions: taskPermissions("search", { read: fx.dir, write: fx.dir }) },
  );
}

async function indexCli(index: string) {
  const fx = await fixture;
  return await runScript(
    "index.ts",
    ["--index", index, "--checkpoint", fx.run, "--cache-root", fx.cache, "--recall-sample", "1"],
    { permissions: taskPermissions("index", { read: fx.dir, write: fx.dir }) },
  );
}

async function refusedEverywhere(index: string, why: RegExp): Promise<void> {
  const s = await searchCli(index, ["--verify"]);
  assertEquals(s.code, 1, s.stdout + s.stderr);
  assertStringIncludes(s.stderr, index);
  assertMatch(s.stderr, why);
  assertStringIncludes(s.stderr, "--rebuild");
  const i = await indexCli(index);
  assertEquals(i.code, 1, i.stdout + i.stderr);
  assertStringIncludes(i.stderr, index);
  assertMatch(i.stderr, why);
  let err: unknown;
  await openSearchService({ index }).then((svc) => svc.close(), (e) => (err = e));
  assert(err instanceof IndexCorruptError, `serve opened ${index}: ${err}`);
}

Deno.test("index integrity: the undamaged index verifies, and the checks see every row", async () => {
  const fx = await fixture;
  const store = await VectorStore.open(fx.index, { verify: true });
  try {
    assertEquals(store.info.contents.rows, fx.report.rows);
    let n = 0;
    for await (const _ of store.rows()) n++;
    assertEquals(n, fx.report.rows);
  } finally {
    store.close();
  }
  const s = await searchCli(fx.index, ["--verify", "--k", "3"]);
  assertEquals(s.code, 0, s.stderr);
});

Deno.test("index integrity: random bytes over 64 KiB of a data file are refused", async () => {
  const index = await copyIndex();
  const rng = new Rng(7);
  await overwrite(
    await largestDataFile(index),
    (n) => Uint8Array.from({ length: n }, () => rng.int(256)),
  );
  await refusedEverywhere(
    index,
    /does not hold what index_meta records|not finite|norm|cannot be read/,
  );
  // A plain search either refuses too (impossible scores) or answers from undamaged rows.
  const plain = await searchCli(index, ["--k", "10"]);
  if (plain.code !== 0) assertStringIncludes(plain.stderr, index);
  else {for (const m of plain.stdout.matchAll(/^\s*\d+\. (-?[\d.]+)/gm)) {
      assert(Number(m[1]) <= 1.001);
    }}
});

Deno.test("index integrity: one flipped bit (every value still finite) is refused by the digest", async () => {
  const index = await copyIndex();
  const path = await largestDataFile(index);
  const data = await Deno.readFile(path);
  data[Math.floor(data.length / 2 / 4) * 4] ^= 1; // the lowest mantissa bit of a float
  await Deno.writeFile(path, data);
  await refusedEverywhere(index, /does not hold what index_meta records: the rows' digest differs/);
});

Deno.test("index integrity: NaN written over vectors is refused", async () => {
  const index = await copyIndex();
  await overwrite(await largestDataFile(index), (n) => {
    const f = new Float32Array(n / 4).fill(NaN);
    return new Uint8Array(f.buffer);
  });
  await refusedEverywhere(index, /not finite|does not hold what index_meta records|cannot be read/);
});

Deno.test("index integrity: a removed manifest is refused on open, naming the version", async () => {
  const index = await copyIndex();
  const dir = `${index}/listings.lance/_versions`;
  const manifests = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".manifest")) manifests.push(e.name);
  // LanceDB names manifests u64::MAX − version: the smallest name is the latest version.
  manifests.sort((a, b) => (BigInt(a.split(".")[0]) < BigInt(b.split(".")[0]) ? -1 : 1));
  await Deno.remove(`${dir}/${manifests[0]}`);
  await Deno.remove(`${dir}/latest_version_hint.json`).catch(() => {});
  let err: unknown;
  await VectorStore.open(index).then((s) => s.close(), (e) => (err = e));
  assert(err instanceof IndexCorruptError, String(err));
  assertStringIncludes(err.message, index);
  assertMatch(err.message, /version \d+/);
  const s = await searchCli(index);
  assertEquals(s.code, 1);
  assertStringIncludes(s.stderr, "--rebuild");
});

Deno.test("index integrity: /health turns to 503 'damaged' when the served version's files go", async () => {
  const index = await copyIndex();
  const svc = await openSearchService({ index });
  try {
    assertEquals((await svc.health()).status, "ok");
    assert((await svc.health()).verified !== null);
    await Deno.remove(`${index}/listings.lance/_versions`, { recursive: true });
    const h = await svc.health();
    assertEquals(h.status, "damaged");
    assertStringIncludes(h.error!, index);
  } finally {
    await svc.close();
  }
});

Deno.test("index integrity: a removed index_meta is refused, and index will not silently start over", async () => {
  const index = await copyIndex();
  await Deno.remove(`${index}/index_meta.lance`, { recursive: true });
  const s = await searchCli(index);
  assertEquals(s.code, 1);
  assertStringIncludes(s.stderr, "no listings index here");
  const i = await indexCli(index);
  assertEquals(i.code, 1, i.stdout);
  assertStringIncludes(i.stderr, "--rebuild");
  assert(
    await Deno.stat(`${index}/listings.lance`).then(() => true),
    "the old table is still there",
  );
});

Deno.test("index integrity: serve and search on a missing index create nothing", async () => {
  const fx = await fixture;
  const nope = `${fx.dir}/nope/index`;
  const s = await searchCli(nope);
  assertEquals(s.code, 1);
  assertStringIncludes(s.stderr, "no listings index here");
  assertEquals(await Deno.stat(`${fx.dir}/nope`).then(() => true, () => false), false);
});
