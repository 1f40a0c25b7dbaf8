import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreater,
  assertLess,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { collectTexts, ensureDefaultModel } from "../lib/encoder/default_model.ts";
import {
  DEFAULT_MODEL_NAME,
  describeEncoder,
  EncoderError,
  loadEncoder,
  readEncoderConfig,
} from "../lib/encoder/encoder.ts";
import { buildModel, DataType, node, valueInfo } from "../lib/core/onnx_build.ts";
import { buildLexicalTokenizer, loadTokenizer, TextTokenizer } from "../lib/encoder/tokenizer.ts";
import { graphOutputs, poolingFromOutputs } from "../scripts/fetch_model.ts";
import { TINY_TEXTS, writeTinyModel } from "./tiny_model.ts";

const SAMPLES = [
  "Phòng trọ Quận 10, wc riêng, giá 3tr5/tháng",
  "phong tro q10 wc rieng gia re",
  "Cho thuê CCMN gần ĐH Bách Khoa, có gác lửng, 25m², điện 3.5k",
  "PHÒNG TRỌ BÌNH THẠNH GIÁ RẺ",
];

function row(data: Float32Array, dim: number, i: number): Float32Array {
  return data.subarray(i * dim, (i + 1) * dim);
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

function normalized(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / n);
}

Deno.test("tokenizer: XLM-R template, Vietnamese with and without diacritics, abbreviations", async () => {
  const tok = await loadTokenizer(await ensureDefaultModel());
  assertEquals(tok.hf.token_to_id("<s>"), 0);
  assertEquals(tok.hf.token_to_id("<pad>"), 1);
  assertEquals(tok.hf.token_to_id("</s>"), 2);
  assertEquals(tok.hf.token_to_id("<unk>"), 3);
  for (const text of SAMPLES) {
    const { ids } = tok.encode(text, 512);
    assertEquals(ids[0], 0, `<s> first in "${text}"`);
    assertEquals(ids[ids.length - 1], 2, `</s> last in "${text}"`);
    assert(!ids.includes(3), `no <unk> in "${text}": ${tok.tokens(text).join(" ")}`);
  }
  // Whole words win over character splits; case and NFKC are normalised.
  const tokens = tok.tokens("Phòng trọ Q10 wc riêng 3tr5");
  for (const piece of ["▁phòng", "▁trọ", "▁q10", "▁wc", "▁riêng", "▁3tr5"]) {
    assert(tokens.includes(piece), `${piece} in ${tokens.join(" ")}`);
  }
  assertEquals(tok.tokens("phòng"), tok.tokens("PHÒNG"));
  // Decomposed input (NFD) gives the same ids as precomposed (NFC).
  assertEquals(tok.encode("trọ".normalize("NFD"), 64).ids, tok.encode("trọ", 64).ids);
});

Deno.test("tokenizer: no <unk> for any character of the dataset", async () => {
  const tok = await loadTokenizer(await ensureDefaultModel());
  const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")));
  assertGreater(texts.length, 100);
  let bad = "";
  for (const t of texts) {
    if (tok.encode(t, 100000).ids.includes(3)) {
      bad = t;
      break;
    }
  }
  assertEquals(bad, "", "a dataset text tokenised with <unk>");
});

Deno.test("tokenizer: truncation keeps <s> and </s>", () => {
  const tok = new TextTokenizer(buildLexicalTokenizer(TINY_TEXTS).json);
  assertEquals(tok.specials, { before: 1, after: 1 });
  const full = tok.encode("phòng trọ quận 10 giá rẻ", 1000);
  assertEquals(full.truncated, false);
  const cut = tok.encode("phòng trọ quận 10 giá rẻ", 4);
  assertEquals(cut.truncated, true);
  assertEquals(cut.ids, [full.ids[0], full.ids[1], full.ids[2], 2]);
});

Deno.test("encoder: CLS pooling matches a hand computation", async () => {
  const { dir, pieces, table, dim } = await writeTinyModel({ pooling: "cls" });
  const enc = await loadEncoder(dir);
  try {
    const { data } = await enc.encode(["phòng trọ", "q10"]);
    // CLS = last_hidden_state[:, 0] = table row of <s> (id 0), L2-normalised.
    const expected = normalized(Array.from(table.subarray(0, dim)));
    for (const i of [0, 1]) {
      row(data, dim, i).forEach((x, j) => assertAlmostEquals(x, expected[j], 1e-6));
    }
    assertEquals(pieces[0], "<s>");
  } finally {
    await enc.dispose();
  }
});

Deno.test("encoder: masked mean pooling matches a hand computation (int32 + token_type_ids)", async () => {
  const { dir, pieces, table, dim } = await writeTinyModel({
    pooling: "mean",
    int32: true,
    tokenTypeIds: true,
  });
  const enc = await loadEncoder(dir);
  try {
    const { data } = await enc.encode(["phòng trọ", "phòng trọ quận 10 giá rẻ"]);
    const ids = [0, pieces.indexOf("▁phòng"), pieces.indexOf("▁trọ"), 2];
    assert(!ids.includes(-1));
    const mean = Array.from(
      { length: dim },
      (_, j) => ids.reduce((s, id) => s + table[id * dim + j], 0) / ids.length,
    );
    const expected = normalized(mean);
    // Row 0 was batched with a longer text, so it was padded: padding must not count.
    row(data, dim, 0).forEach((x, j) => assertAlmostEquals(x, expected[j], 1e-6));
  } finally {
    await enc.dispose();
  }
});

Deno.test("encoder: default model output shape, unit norm, determinism, batch invariance", async () => {
  const enc = await loadEncoder(await ensureDefaultModel());
  try {
    assertEquals(enc.name, DEFAULT_MODEL_NAME);
    assertEquals(enc.dim, 1024);
    assertStringIncludes(describeEncoder(enc), "NOT BGE-M3");
    const long = SAMPLES[2].repeat(6);
    const a = await enc.encode(SAMPLES, { batchSize: 3 });
    assertEquals(a.dim, 1024);
    assertEquals(a.data.length, SAMPLES.length * 1024);
    for (let i = 0; i < SAMPLES.length; i++) {
      assertAlmostEquals(norm(row(a.data, 1024, i)), 1, 1e-5);
    }
    const b = await enc.encode(SAMPLES, { batchSize: 3 });
    assertEquals(a.data, b.data);
    // Alone vs in a batch with longer texts.
    const alone = await enc.encode([SAMPLES[1]]);
    const mixed = await enc.encode([long, SAMPLES[0], SAMPLES[1], long + " nữa"], {
      batchSize: 8,
    });
    let maxDiff = 0;
    row(alone.data, 1024, 0).forEach((x, j) => {
      maxDiff = Math.max(maxDiff, Math.abs(x - mixed.data[2 * 1024 + j]));
    });
    assertLess(maxDiff, 1e-5);
    // Results are in input order (texts are sorted by length internally).
    assertEquals(row(mixed.data, 1024, 1), row(a.data, 1024, 0));
    // Similar texts are closer than unrelated ones (it is lexical, but not random).
    const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, j) => s + v * y[j], 0);
    const [q, near, far] = [
      row(a.data, 1024, 0),
      row(a.data, 1024, 3),
      row(a.data, 1024, 2),
    ];
    assertGreater(dot(q, near), dot(q, far));
    const params = await enc.paramCount();
    assertGreater(params, 100 * 1024);
    assertEquals(params % 1024, 2); // the table plus two epsilon scalars
  } finally {
    await enc.dispose();
  }
});

Deno.test("encoder: truncation is counted and applied", async () => {
  const { dir } = await writeTinyModel({ pooling: "mean", maxLength: 5 });
  const enc = await loadEncoder(dir);
  try {
    const r = await enc.encode([TINY_TEXTS[0], "phòng", TINY_TEXTS[1]]) as
      & Awaited<
        ReturnType<typeof enc.encode>
      >
      & { truncatedIndices: number[] };
    assertEquals(r.truncated, 2);
    assertEquals(r.truncatedIndices, [0, 2]);
    // A truncated text equals its first maxLength-2 words.
    const cut = await enc.encode(["phòng trọ quận"]);
    assertEquals(row(r.data, 4, 0), row(cut.data, 4, 0));
  } finally {
    await enc.dispose();
  }
});

Deno.test("encoder: loading is lazy and the fingerprint covers the files", async () => {
  const { dir } = await writeTinyModel();
  const a = await loadEncoder(dir);
  assertEquals(a.fingerprint.length, 64);
  await Deno.writeTextFile(
    `${dir}/encoder.json`,
    JSON.stringify({ ...(await readEncoderConfig(dir)), maxLength: 32 }),
  );
  const b = await loadEncoder(dir);
  assert(a.fingerprint !== b.fingerprint, "encoder.json change must change the fingerprint");
  await a.dispose(); // never opened a session
  await b.dispose();
});

Deno.test("encoder errors: missing folder, missing file, bad encoder.json", async () => {
  const missing = "/tmp/does-not-exist-encoder-model";
  const e1 = await assertRejects(() => loadEncoder(missing), EncoderError, missing);
  assertStringIncludes(e1.message, "deno task fetch-model");
  assertStringIncludes(e1.message, "deno task build-model");
  const e2 = await assertRejects(
    () => loadEncoder("/tmp/no-such-dir/lexical-1024"),
    EncoderError,
    "deno task build-model",
  );
  assertStringIncludes(e2.message, "/tmp/no-such-dir/lexical-1024");
  await assertRejects(() => loadEncoder("/tmp/x/bge-m3"), EncoderError, "deno task fetch-model");

  const { dir } = await writeTinyModel();
  await Deno.remove(`${dir}/tokenizer.json`);
  await assertRejects(() => loadEncoder(dir), EncoderError, `${dir}/tokenizer.json`);

  const t2 = await writeTinyModel();
  await Deno.writeTextFile(`${t2.dir}/encoder.json`, JSON.stringify({ name: "x", dim: 4 }));
  await assertRejects(() => loadEncoder(t2.dir), EncoderError, 'field "pooling"');
});

Deno.test("encoder errors: missing input, missing output, dimension mismatch", async () => {
  // A model whose input is called "tokens": the error lists what it has.
  const t1 = await writeTinyModel();
  await Deno.writeFile(
    `${t1.dir}/model.onnx`,
    buildModel({
      name: "bad",
      nodes: [node("Cast", ["tokens"], ["last_hidden_state"], { to: { int: DataType.FLOAT } })],
      inputs: [valueInfo("tokens", DataType.INT64, ["b", "s", 4])],
      outputs: [valueInfo("last_hidden_state", DataType.FLOAT, ["b", "s", 4])],
    }),
  );
  const enc1 = await loadEncoder(t1.dir);
  const e1 = await assertRejects(() => enc1.encode(["phòng"]), EncoderError, "input_ids");
  assertStringIncludes(e1.message, "tokens (int64");

  // Pooling asks for an output the model does not have.
  const t2 = await writeTinyModel({ pooling: "output:dense_vecs" });
  const enc2 = await loadEncoder(t2.dir);
  const e2 = await assertRejects(() => enc2.encode(["phòng"]), EncoderError, "dense_vecs");
  assertStringIncludes(e2.message, "sentence_embedding");
  assertStringIncludes(e2.message, "last_hidden_state");

  // encoder.json says 8, the model gives 4.
  const t3 = await writeTinyModel({ configDim: 8 });
  const enc3 = await loadEncoder(t3.dir);
  const e3 = await assertRejects(() => enc3.encode(["phòng"]), EncoderError, "dimension 4");
  assertStringIncludes(e3.message, "dim 8");
  for (const e of [enc1, enc2, enc3]) await e.dispose();
});

Deno.test("fetch-model helpers: pooling chosen from the graph outputs", async () => {
  const { dir } = await writeTinyModel();
  const outputs = graphOutputs(await Deno.readFile(`${dir}/model.onnx`));
  assertEquals(outputs, ["sentence_embedding", "last_hidden_state"]);
  assertEquals(poolingFromOutputs(outputs), "cls");
  assertEquals(poolingFromOutputs(["dense_vecs", "sparse_vecs"]), "output:dense_vecs");
});

Deno.test("encoder: token budgets and encodeChunks give the same vectors; progress reports a rate", async () => {
  const enc = await loadEncoder(await ensureDefaultModel());
  const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")))
    .slice(0, 300);
  const calls: [number, number, number | undefined][] = [];
  const ref = await enc.encode(texts, {
    batchSize: 32,
    onProgress: (done, total, rate) => calls.push([done, total, rate?.etaMs]),
  });
  assertEquals(calls[0].slice(0, 2), [0, texts.length]);
  assertEquals(calls.at(-1)!.slice(0, 2), [texts.length, texts.length]);
  assertEquals(calls.at(-1)![2], 0, "ETA 0 when done");
  assert(calls.slice(1, -1).every(([, , eta]) => eta !== undefined && eta >= 0));
  for (let i = 1; i < calls.length; i++) assert(calls[i][0] > calls[i - 1][0]);

  const budget = await enc.encode(texts, { batchSize: 64, maxBatchTokens: 256 });
  const plain = await enc.encode(texts, { batchSize: 64 });
  assertGreater(budget.timings!.batches, plain.timings!.batches);
  for (let i = 0; i < ref.data.length; i++) assertAlmostEquals(budget.data[i], ref.data[i], 1e-5);

  const chunks = [];
  for await (const c of enc.encodeChunks!(texts, { chunkSize: 128, batchSize: 32 })) chunks.push(c);
  assertEquals(chunks.map((c) => [c.start, c.count]), [[0, 128], [128, 128], [256, 44]]);
  for (const c of chunks) {
    for (let i = 0; i < c.data.length; i++) {
      assertAlmostEquals(c.data[i], ref.data[c.start * c.dim + i], 1e-5);
    }
  }
  await enc.dispose();
});

Deno.test("encoder: inputNormalization none (not the default nfc) changes the fingerprint", async () => {
  // (The default model's own tokenizer applies NFKC, so its vectors cannot show the rule;
  // bench/vni_input.ts measures it with a SentencePiece tokenizer.)
  const nfc = await loadEncoder();
  const none = await loadEncoder(undefined, { inputNormalization: "none" });
  const same = await loadEncoder(undefined, { inputNormalization: "nfc" });
  try {
    assert(nfc.fingerprint !== none.fingerprint, "the cache key changes with the input rule");
    assertEquals(same.fingerprint, nfc.fingerprint);
  } finally {
    await same.dispose();
    await nfc.dispose();
    await none.dispose();
  }
});
