import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { embedTexts } from "../lib/encoder/cache.ts";
import { saveWeight } from "./run_fixtures.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { checkpointSha256, indexListings, loadQueryHead } from "../lib/serve/indexer.ts";
import { readListings } from "../lib/data/listings.ts";
import { topK } from "../lib/eval/metrics.ts";
import { VectorStore } from "../lib/serve/vector_store.ts";
import { runScript } from "./fixtures.ts";
import { defaultDataIndex, taskPermissions } from "./serve_fixtures.ts";

const fixture = defaultDataIndex();

Deno.test("index: the default data in LanceDB gives the same top-10 as the exact in-memory search (ANN off)", async () => {
  const fx = await fixture;
  const listings = await readListings("data/gen-data-set.json", "all");
  assertEquals(fx.report.rows, listings.length);
  assertEquals(fx.report.ann, null);
  const encoder = await loadEncoder();
  const head = await loadQueryHead(fx.run, "best", encoder.fingerprint);
  const docs = await embedTexts(encoder, listings.map((l) => l.text), { cacheRoot: fx.cache });
  assertEquals(docs.misses, 0); // indexing went through the cache
  const dv = head.project(docs.data, listings.length);
  const ds = JSON.parse(await Deno.readTextFile("data/gen-data-set.json"));
  const queries: string[] = ds.examples.slice(0, 300).filter((_: unknown, i: number) =>
    i % 15 === 0
  )
    .map((e: { query: string }) => e.query);
  const qe = await embedTexts(encoder, queries, { cacheRoot: fx.cache });
  await encoder.dispose();
  const qv = head.project(qe.data, queries.length);
  const ref = await topK(qv, queries.length, dv, listings.length, head.checkpoint.outDim, 10);
  head.dispose();
  const store = await VectorStore.open(fx.index);
  try {
    for (let i = 0; i < queries.length; i++) {
      const hits = await store.search(qv.subarray(i * 256, (i + 1) * 256), { k: 10 });
      const want = Array.from(ref.indices.subarray(i * 10, (i + 1) * 10), (j) => listings[j].id);
      assertEquals(hits.map((h) => h.id), want, `query ${i}: ${queries[i]}`);
      hits.forEach((h, r) => assert(Math.abs(h.score - ref.scores[i * 10 + r]) < 1e-5));
    }
  } finally {
    store.close();
  }
});

Deno.test("index CLI + search --index: the same ranked lines as search over the cache; --where filters", async () => {
  const fx = await fixture;
  const q = "phòng trọ q10 dưới 3tr5 có máy lạnh";
  const plain = await runScript("search.ts", [
    q,
    "--data",
    "data/gen-data-set.json",
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--k",
    "10",
  ]);
  assertEquals(plain.code, 0, plain.stderr);
  const viaIndex = await runScript("search.ts", [
    q,
    "--index",
    fx.index,
    "--cache-root",
    fx.cache,
    "--k",
    "10",
  ]);
  assertEquals(viaIndex.code, 0, viaIndex.stderr);
  const ranked = (s: string) => s.split("\n").filter((l) => /^\s*\d+\. /.test(l));
  assertEquals(ranked(plain.stdout).length, 10);
  assertEquals(ranked(viaIndex.stdout), ranked(plain.stdout));
  assertStringIncludes(viaIndex.stdout, `Index: ${fx.index}`);
  const hn = await runScript("search.ts", [
    q,
    "--index",
    fx.index,
    "--cache-root",
    fx.cache,
    "--k",
    "5",
    "--where",
    "city = 'Hà Nội'",
    "--json",
  ]);
  assertEquals(hn.code, 0, hn.stderr);
  const out = JSON.parse(hn.stdout);
  assertEquals(out.results.length, 5);
  for (const r of out.results) assertEquals(r.meta.city, "Hà Nội");
  const bad = await runScript("search.ts", [
    q,
    "--index",
    fx.index,
    "--cache-root",
    fx.cache,
    "--where",
    "colour = 'x'",
  ]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "No field named colour");
  const noIndex = await runScript("search.ts", [
    q,
    "--checkpoint",
    fx.run,
    "--where",
    "city = 'x'",
  ]);
  assertEquals(noIndex.code, 2);
  assertStringIncludes(noIndex.stderr, "--where needs --index");
});

Deno.test("index: a query or an update with another head is refused, naming the index's checkpoint", async () => {
  const fx = await fixture;
  // Another head: the same run with perturbed weights (so another sha256).
  const other = `${fx.dir}/other`;
  await Deno.mkdir(other, { recursive: true });
  for (const f of ["config.json", "final.safetensors"]) {
    await Deno.copyFile(`${fx.run}/${f}`, `${other}/${f}`);
  }
  const w = new Float32Array(256 * 1024).map((_, i) => Math.sin(i));
  await saveWeight(other, "best", w, 256, 1024, { epoch: "0" });
  assert(await checkpointSha256(other, "best") !== await checkpointSha256(fx.run, "best"));
  const r = await runScript("search.ts", [
    "phòng q10",
    "--index",
    fx.index,
    "--checkpoint",
    other,
    "--cache-root",
    fx.cache,
  ]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `the index holds vectors of the head ${fx.run}`);
  assertStringIncludes(r.stderr, `--checkpoint ${fx.run}`);
  const up = await runScript("index.ts", [
    "--listings",
    "data/gen-data-set.json",
    "--index",
    fx.index,
    "--checkpoint",
    other,
    "--cache-root",
    fx.cache,
  ]);
  assertEquals(up.code, 1);
  assertStringIncludes(up.stderr, "--rebuild");
  // --base queries involve no head, only the encoder: allowed.
  const base = await runScript("search.ts", [
    "phòng q10",
    "--index",
    fx.index,
    "--base",
    "--cache-root",
    fx.cache,
    "--k",
    "2",
  ]);
  assertEquals(base.code, 0, base.stderr);
});

Deno.test("index CLI (task permissions): JSONL listings upsert by id, --delete-missing syncs, --delete removes; bad input names the line", async () => {
  const fx = await fixture;
  const file = `${fx.dir}/listings.jsonl`;
  const index = `${fx.dir}/jsonl-index`;
  const rows = [
    { id: "a", text: "Phòng trọ Q10 giá 3tr, máy lạnh", city: "Hồ Chí Minh", price: 3 },
    { id: "b", text: "Chung cư mini Cầu Giấy 5tr, ban công", city: "Hà Nội", price: 5 },
    { id: "c", text: "Nhà nguyên căn Gò Vấp 9tr", city: "Hồ Chí Minh", price: 9 },
  ];
  const write = (rs: unknown[]) =>
    Deno.writeTextFile(file, rs.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const runIndex = (...extra: string[]) =>
    runScript("index.ts", [
      "--index",
      index,
      "--checkpoint",
      fx.run,
      "--cache-root",
      fx.cache,
      "--json",
      ...extra,
    ], { permissions: perms });
  const run = (...extra: string[]) => runIndex("--listings", file, ...extra);
  // The index task's own permissions, plus the test's temp dir.
  const perms = taskPermissions("index", { read: fx.dir, write: fx.dir });
  await write(rows);
  let r = await run();
  assertEquals(r.code, 0, r.stderr);
  let rep = JSON.parse(r.stdout);
  assertEquals([rep.upsert.inserted, rep.rows, rep.created], [3, 3, true]);
  // b changes, d is new, c is gone from the file.
  await write([rows[0], { ...rows[1], text: "Chung cư mini Cầu Giấy 4tr5, ban công" }, {
    id: "d",
    text: "Sleepbox Q1 1tr5",
    city: "Hồ Chí Minh",
    price: 1.5,
  }]);
  r = await run();
  rep = JSON.parse(r.stdout);
  assertEquals([rep.upsert.inserted, rep.upsert.updated, rep.upsert.deleted, rep.rows], [
    1,
    1,
    0,
    4,
  ]);
  r = await run("--delete-missing");
  rep = JSON.parse(r.stdout);
  assertEquals([rep.upsert.inserted, rep.upsert.updated, rep.upsert.deleted, rep.rows], [
    0,
    0,
    1,
    3,
  ]);
  r = await run("--delete", "d,zz");
  rep = JSON.parse(r.stdout);
  assertEquals([rep.deletedById, rep.rows], [1, 3 - 1]);
  const store = await VectorStore.open(index);
  const hits = await store.search(new Float32Array(256).fill(1 / 16), { k: 10, exact: true });
  assertEquals(hits.map((h) => h.id).sort(), ["a", "b"]);
  assertEquals(hits.find((h) => h.id === "b")!.text, "Chung cư mini Cầu Giấy 4tr5, ban công");
  store.close();
  // --delete alone deletes only: no default listings are upserted first.
  const del = await runIndex("--delete", "a");
  assertEquals(del.code, 0, del.stderr);
  rep = JSON.parse(del.stdout);
  assertEquals([rep.upsert.inserted, rep.upsert.updated, rep.deletedById, rep.rows], [0, 0, 1, 1]);
  await Deno.writeTextFile(file, '{"id": "a", "text": "x"}\n{"id": "b"}\n');
  const bad = await run();
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, 'line 2: field "text" must be a non-empty string');
});

Deno.test("index: above the threshold an ANN index is built and its recall is measured", async () => {
  const fx = await fixture;
  const index = `${fx.dir}/ann-index`;
  const report = await indexListings({
    listings: await readListings("data/gen-data-set.json", "all"),
    index,
    checkpoint: fx.run,
    cacheRoot: fx.cache,
    annThreshold: 1000,
    base: false,
    recallSample: 20,
  });
  assertEquals(report.ann?.kind, "ivf_flat");
  assert(report.recall !== null && report.recall.queries === 20);
  assert(report.recall.recall >= 0.9, `recall ${report.recall.recall}`);
  const store = await VectorStore.open(index);
  assertEquals(store.info.baseDim, 0);
  store.close();
});
