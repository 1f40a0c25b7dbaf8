import { assert, assertEquals, assertNotEquals, assertStringIncludes } from "./assert.ts";
import { cacheDir, embedTexts, readCache } from "../lib/cache.ts";
import { loadEncoder } from "../lib/encoder.ts";
import { writeTinyModel } from "./tiny_model.ts";

const TEXTS = ["phòng trọ quận 10", "q10 wc riêng", "chung cư mini bình thạnh", "giá rẻ 3tr5"];

async function setup() {
  const { dir } = await writeTinyModel({ pooling: "mean" });
  const encoder = await loadEncoder(dir);
  const cacheRoot = await Deno.makeTempDir({ prefix: "emb-cache-" });
  const warnings: string[] = [];
  const opts = { cacheRoot, onWarning: (m: string) => warnings.push(m) };
  return { encoder, cacheRoot, warnings, opts, modelDir: dir };
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
    assertEquals(read.cache.index.count, 5);
    assertEquals(warnings, []);
  } finally {
    await encoder.dispose();
  }
});

Deno.test("cache: a truncated vectors file is detected, reported and rebuilt", async () => {
  const { encoder, opts, warnings, cacheRoot } = await setup();
  try {
    const first = await embedTexts(encoder, TEXTS, opts);
    const vectors = `${cacheDir(cacheRoot, encoder.fingerprint)}/vectors.f32`;
    const bytes = await Deno.readFile(vectors);
    await Deno.writeFile(vectors, bytes.subarray(0, bytes.length - 7));
    const again = await embedTexts(encoder, TEXTS, opts);
    assertEquals(warnings.length, 1);
    assertStringIncludes(warnings[0], vectors);
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

Deno.test("cache: flipped bytes and a broken index are detected", async () => {
  const { encoder, opts, warnings, cacheRoot } = await setup();
  try {
    await embedTexts(encoder, TEXTS, opts);
    const dir = cacheDir(cacheRoot, encoder.fingerprint);
    const bytes = await Deno.readFile(`${dir}/vectors.f32`);
    bytes[5] ^= 0xff;
    await Deno.writeFile(`${dir}/vectors.f32`, bytes);
    const r1 = await embedTexts(encoder, TEXTS, opts);
    assertEquals(r1.misses, 4);
    assertStringIncludes(warnings[0], "checksum mismatch");

    await Deno.writeTextFile(`${dir}/index.json`, '{"version": 1, "count": ');
    const r2 = await embedTexts(encoder, TEXTS, opts);
    assertEquals(r2.misses, 4);
    assertStringIncludes(warnings[1], `${dir}/index.json`);
    assertStringIncludes(warnings[1], "not valid JSON");

    await Deno.remove(`${dir}/index.json`);
    const r3 = await embedTexts(encoder, TEXTS, opts);
    assertEquals(r3.misses, 4);
    assertStringIncludes(warnings[2], "file missing");
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
