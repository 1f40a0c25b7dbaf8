import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertNotEquals,
  assertStringIncludes,
} from "./assert.ts";
import {
  cacheDir,
  embedTexts,
  MAX_SEGMENTS,
  QUERY_CACHE_MAX,
  readCache,
  writeCache,
} from "../lib/encoder/cache.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { writeTinyModel } from "./tiny_model.ts";
import { fixtureTexts, slowEncoder } from "./slow_encoder.ts";

const TEXTS = ["phòng trọ quận 10", "q10 wc riêng", "chung cư mini bình thạnh", "giá rẻ 3tr5"];

async function setup() {
  const { dir } = await writeTinyModel({ pooling: "mean" });
  const encoder = await loadEncoder(dir);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const warnings: string[] = [];
  const opts = { cacheRoot, onWarning: (m: string) => warnings.push(m) };
  return { encoder, cacheRoot, warnings, opts, modelDir: dir };
}

async function segments(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".seg")) out.push(e.name);
  return out.sort();
}

Deno.test("cache: miss then hit, input order, duplicates, appending", async () => {
  const { encoder, opts, warnings, cacheRoot } = await setup();
  try {
    const direct = await encoder.encode(TEXTS);
    const first = await embedTexts(encoder, TEXTS, opts);
    assertEquals([first.hits, first.misses], [0, 4]);
    assertEquals(first.data, direct.data);
    const second = await embedTexts(encoder, TEXTS, opts);
    assertEquals([second.hits, second.misses], [4, 0]);
    assertEquals(second.data, direct.data);
    // Reordered with a duplicate and one new text: only the new one is encoded.
    const mixed = [TEXTS[2], "phòng trọ mới", TEXTS[0], TEXTS[2]];
    const third = await embedTexts(encoder, mixed, opts);
    assertEquals([third.hits, third.misses], [2, 1]);
    const dim = encoder.dim;
    assertEquals(third.data.subarray(0, dim), direct.data.subarray(2 * dim, 3 * dim));
    assertEquals(third.data.subarray(2 * dim, 3 * dim), direct.data.subarray(0, dim));
    assertEquals(third.data.subarray(3 * dim, 4 * dim), direct.data.subarray(2 * dim, 3 * dim));
    const read = await readCache(
      cacheDir(cacheRoot, encoder.fingerprint),
      dim,
      encoder.fingerprint,
    );
    assert(read.status === "ok");
    assertEquals(read.cache.texts.length, 5);
    assertEquals(warnings, []);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: a new text appends a segment and leaves the existing one untouched", async () => {
  const { encoder, opts, cacheRoot } = await setup();
  try {
    await embedTexts(encoder, TEXTS, opts);
    const dir = cacheDir(cacheRoot, encoder.fingerprint);
    const [seg] = await segments(dir);
    const before = await Deno.readFile(`${dir}/${seg}`);
    const ino = (await Deno.stat(`${dir}/${seg}`)).ino;
    const r = await embedTexts(encoder, [...TEXTS, "phòng trọ mới"], opts);
    assertEquals([r.hits, r.misses], [4, 1]);
    const after = await segments(dir);
    assertEquals(after.length, 2);
    assertEquals(await Deno.readFile(`${dir}/${seg}`), before);
    assertEquals((await Deno.stat(`${dir}/${seg}`)).ino, ino);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: a truncated segment is detected, reported and rebuilt", async () => {
  const { encoder, opts, warnings, cacheRoot } = await setup();
  try {
    const first = await embedTexts(encoder, TEXTS, opts);
    const dir = cacheDir(cacheRoot, encoder.fingerprint);
    const [seg] = await segments(dir);
    const bytes = await Deno.readFile(`${dir}/${seg}`);
    await Deno.writeFile(`${dir}/${seg}`, bytes.subarray(0, bytes.length - 7));
    const again = await embedTexts(encoder, TEXTS, opts);
    assertEquals(warnings.length, 1);
    assertStringIncludes(warnings[0], `${dir}/${seg}`);
    assertStringIncludes(warnings[0], "expected");
    assertEquals([again.hits, again.misses], [0, 4]);
    assertEquals(again.data, first.data);
    // Rebuilt: the next run hits again without warnings.
    const third = await embedTexts(encoder, TEXTS, opts);
    assertEquals([third.hits, third.misses, warnings.length], [4, 0, 1]);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: swapped texts, flipped vector bytes and a broken header are detected", async () => {
  const { encoder, opts, warnings, cacheRoot } = await setup();
  const dir = cacheDir(cacheRoot, encoder.fingerprint);
  const swap = ["aaaa bbbb", "cccc dddd"];
  try {
    const good = await embedTexts(encoder, swap, opts);
    // Swap the two texts inside the segment: same length, still valid JSON.
    let [seg] = await segments(dir);
    const bytes = await Deno.readFile(`${dir}/${seg}`);
    const s = new TextDecoder("latin1").decode(bytes);
    const a = s.indexOf('"aaaa bbbb"'), c = s.indexOf('"cccc dddd"');
    assert(a > 0 && c > 0);
    const enc = new TextEncoder();
    bytes.set(enc.encode('"cccc dddd"'), a);
    bytes.set(enc.encode('"aaaa bbbb"'), c);
    await Deno.writeFile(`${dir}/${seg}`, bytes);
    const r1 = await embedTexts(encoder, swap, opts);
    assertEquals(r1.misses, 2);
    assertEquals(r1.data, good.data); // re-encoded, never the swapped rows
    assertStringIncludes(warnings[0], `${dir}/${seg}`);
    assertStringIncludes(warnings[0], "checksum mismatch");

    [seg] = await segments(dir);
    const b2 = await Deno.readFile(`${dir}/${seg}`);
    b2[b2.length - 40] ^= 0xff; // a vector byte
    await Deno.writeFile(`${dir}/${seg}`, b2);
    const r2 = await embedTexts(encoder, swap, opts);
    assertEquals(r2.misses, 2);
    assertStringIncludes(warnings[1], "checksum mismatch");

    [seg] = await segments(dir);
    const b3 = await Deno.readFile(`${dir}/${seg}`);
    b3.set(enc.encode("{{"), 12); // header JSON
    await Deno.writeFile(`${dir}/${seg}`, b3);
    const r3 = await embedTexts(encoder, swap, opts);
    assertEquals(r3.misses, 2);
    assertStringIncludes(warnings[2], "header is not valid JSON");
    assertEquals(warnings.length, 3);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: a changed model gets a new fingerprint and its own cache", async () => {
  const a = await setup();
  const { dir: otherDir } = await writeTinyModel({ pooling: "mean", shift: 0.5 });
  const other = await loadEncoder(otherDir);
  try {
    assertNotEquals(a.encoder.fingerprint, other.fingerprint);
    const r1 = await embedTexts(a.encoder, TEXTS, a.opts);
    const r2 = await embedTexts(other, TEXTS, a.opts);
    assertEquals([r1.misses, r2.misses], [4, 4]);
    assertNotEquals(r1.data, r2.data);
    // Same files in another folder: same fingerprint, so the cache is shared.
    const copy = await Deno.makeTempDir({ prefix: "tiny-copy-" });
    for (const f of ["model.onnx", "tokenizer.json", "encoder.json"]) {
      await Deno.copyFile(`${a.modelDir}/${f}`, `${copy}/${f}`);
    }
    const same = await loadEncoder(copy);
    assertEquals(same.fingerprint, a.encoder.fingerprint);
    const r3 = await embedTexts(same, TEXTS, a.opts);
    assertEquals([r3.hits, r3.misses], [4, 0]);
    await same.dispose();
  } finally {
    await a.encoder.dispose();
    await other.dispose();
  }
});

Deno.test("cache: truncated texts are remembered across runs", async () => {
  const { dir } = await writeTinyModel({ pooling: "mean", maxLength: 4 });
  const encoder = await loadEncoder(dir);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  try {
    const r1 = await embedTexts(encoder, ["phòng", ...TEXTS], { cacheRoot });
    assertEquals(r1.truncated, 4); // every text of TEXTS has more than 2 words
    const r2 = await embedTexts(encoder, [TEXTS[0], "phòng"], { cacheRoot });
    assertEquals([r2.hits, r2.truncated], [2, 1]);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: queries go to a separate bounded store, never into the corpus", async () => {
  const enc = slowEncoder(0);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const dir = cacheDir(cacheRoot, enc.fingerprint);
  const corpus = fixtureTexts("doc", 10);
  await embedTexts(enc, corpus, { cacheRoot });
  const corpusSegs = await segments(dir);
  const q = await embedTexts(enc, ["q1"], { cacheRoot, store: "query" });
  assertEquals([q.hits, q.misses], [0, 1]);
  const q2 = await embedTexts(enc, ["q1"], { cacheRoot, store: "query" });
  assertEquals([q2.hits, q2.misses], [1, 0]);
  assertEquals(q2.data, q.data);
  assertEquals(await segments(dir), corpusSegs); // corpus untouched
  const c = await readCache(dir, enc.dim, enc.fingerprint);
  assert(c.status === "ok");
  assertEquals(c.cache.texts, corpus);
  // Many distinct queries: the store stays bounded and keeps the newest.
  for (let i = 0; i < 40; i++) {
    await embedTexts(enc, fixtureTexts(`q-${i}-`, 60), { cacheRoot, store: "query" });
  }
  const qs = await readCache(`${dir}/queries`, enc.dim, enc.fingerprint);
  assert(qs.status === "ok");
  assertLess(qs.cache.texts.length, QUERY_CACHE_MAX + 16 * 60 + 1);
  assertLess(qs.cache.segments, 18);
  assert(qs.cache.texts.includes("q-39-59"));
  assert(!qs.cache.texts.includes("q1"));
  // "none" reads and writes nothing.
  const n = await embedTexts(enc, ["never-cached"], { cacheRoot, store: "none" });
  assertEquals(n.misses, 1);
  const again = await embedTexts(enc, ["never-cached"], { cacheRoot, store: "none" });
  assertEquals(again.misses, 1);
  assertEquals(await segments(dir), corpusSegs);
});

Deno.test("cache: past MAX_SEGMENTS the smaller half is merged, verified, nothing lost", async () => {
  const enc = slowEncoder(0);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const dir = cacheDir(cacheRoot, enc.fingerprint);
  for (let i = 0; i <= MAX_SEGMENTS; i++) {
    await embedTexts(enc, fixtureTexts(`t${i}-`, 3), { cacheRoot });
  }
  // The run that made the 65th segment merged the smaller half (33 of them) into one.
  assertEquals((await segments(dir)).length, MAX_SEGMENTS + 1 - 33 + 1);
  const all = Array.from({ length: MAX_SEGMENTS + 1 }, (_, i) => fixtureTexts(`t${i}-`, 3)).flat();
  const r = await embedTexts(enc, all, { cacheRoot });
  assertEquals([r.hits, r.misses], [all.length, 0]);
  assertEquals(r.data, (await enc.encode(all)).data);
});

Deno.test("cache: a version-1 cache is migrated, a broken one is reported and rebuilt", async () => {
  const enc = slowEncoder(0);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const dir = cacheDir(cacheRoot, enc.fingerprint);
  const texts = ["x", "y"];
  const vec = (await enc.encode(texts)).data;
  const bytes = new Uint8Array(vec.buffer);
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const v1 = {
    version: 1,
    fingerprint: enc.fingerprint,
    model: enc.name,
    dim: enc.dim,
    count: 2,
    vectorsBytes: bytes.length,
    vectorsSha256: sha,
    texts,
    truncated: [],
  };
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/vectors.f32`, bytes);
  await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(v1));
  const warnings: string[] = [];
  const r = await embedTexts(enc, texts, { cacheRoot, onWarning: (m) => warnings.push(m) });
  assertEquals([r.hits, r.misses], [2, 0]);
  assertStringIncludes(warnings[0], "migrated 2 texts from the version-1 format");
  assertEquals((await segments(dir)).length, 1);
  // A v1 cache that fails its checksum is removed with a warning naming the file.
  const root2 = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const dir2 = cacheDir(root2, enc.fingerprint);
  await Deno.mkdir(dir2, { recursive: true });
  bytes[3] ^= 1;
  await Deno.writeFile(`${dir2}/vectors.f32`, bytes);
  await Deno.writeTextFile(`${dir2}/index.json`, JSON.stringify(v1));
  const w2: string[] = [];
  const r2 = await embedTexts(enc, texts, { cacheRoot: root2, onWarning: (m) => w2.push(m) });
  assertEquals(r2.misses, 2);
  assertStringIncludes(w2[0], `${dir2}/vectors.f32`);
  assertStringIncludes(w2[0], "checksum mismatch");
});

Deno.test("cache: writeCache appends; collect:false fills without returning vectors", async () => {
  const enc = slowEncoder(0);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const dir = cacheDir(cacheRoot, enc.fingerprint);
  await writeCache(dir, {
    fingerprint: enc.fingerprint,
    model: enc.name,
    dim: enc.dim,
    texts: ["a"],
    truncated: [],
    vectors: (await enc.encode(["a"])).data,
  });
  const plans: unknown[] = [];
  const r = await embedTexts(enc, ["a", "b"], {
    cacheRoot,
    collect: false,
    onPlan: (p) => plans.push(p),
  });
  assertEquals([r.hits, r.misses, r.data.length], [1, 1, 0]);
  assertEquals(plans, [{ total: 2, cached: 1, toEncode: 1 }]);
});

function runWriter(root: string, prefix: string, count: number, delay: number, from = 0) {
  return new Deno.Command("deno", {
    args: [
      "run",
      `--allow-read=${root}`,
      `--allow-write=${root}`,
      new URL("./slow_encoder.ts", import.meta.url).pathname,
      root,
      prefix,
      String(count),
      String(delay),
      String(from),
    ],
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("cache: concurrent writers lose nothing and corrupt nothing", async () => {
  const enc = slowEncoder(0);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  // Four processes, overlapping texts (w0 and w1 share 100 texts), written at the same time.
  const procs = [
    runWriter(cacheRoot, "t", 300, 2, 0),
    runWriter(cacheRoot, "t", 300, 3, 200),
    runWriter(cacheRoot, "u", 250, 2, 0),
    runWriter(cacheRoot, "v", 250, 1, 0),
  ].map((c) => c.spawn());
  const outs = await Promise.all(procs.map((p) => p.output()));
  for (const o of outs) {
    assert(o.success, new TextDecoder().decode(o.stderr));
    assertStringIncludes(new TextDecoder().decode(o.stdout), "done");
  }
  const all = [...fixtureTexts("t", 500), ...fixtureTexts("u", 250), ...fixtureTexts("v", 250)];
  const warnings: string[] = [];
  const r = await embedTexts(enc, all, { cacheRoot, onWarning: (m) => warnings.push(m) });
  assertEquals([r.hits, r.misses, warnings], [1000, 0, []]);
  assertEquals(r.data, (await enc.encode(all)).data);
});

Deno.test("cache: a writer killed mid-way keeps its flushed chunks; the next run resumes", async () => {
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const enc = slowEncoder(0);
  const dir = cacheDir(cacheRoot, enc.fingerprint);
  const child = runWriter(cacheRoot, "k", 2000, 10).spawn();
  // Wait until a few chunks are on disk, then SIGKILL it mid-encode.
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const n = await segments(dir).catch(() => []);
    if (n.length >= 3) break;
  }
  child.kill("SIGKILL");
  const st = await child.output();
  assert(!st.success);
  assertNotEquals(new TextDecoder().decode(st.stdout).includes("done"), true);
  const plans: { total: number; cached: number; toEncode: number }[] = [];
  const all = fixtureTexts("k", 2000);
  const r = await embedTexts(enc, all, { cacheRoot, onPlan: (p) => plans.push(p) });
  assertGreater(plans[0].cached, 0);
  assertGreater(plans[0].toEncode, 0);
  assertEquals(plans[0].cached + plans[0].toEncode, 2000);
  assertEquals(r.data, (await enc.encode(all)).data);
  const again = await embedTexts(enc, all, { cacheRoot });
  assertEquals([again.hits, again.misses], [2000, 0]);
});
