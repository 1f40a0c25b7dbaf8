import { assert, assertEquals, assertLess, assertStringIncludes } from "./assert.ts";
import {
  buildDefaultModel,
  buildDefaultModelFiles,
  collectTexts,
  DEFAULT_MODEL_DIR,
  embeddingTable,
  ensureDefaultModel,
} from "../lib/encoder/default_model.ts";
import { countInitializerParams } from "../lib/core/onnx_build.ts";

const FILES = ["encoder.json", "tokenizer.json", "model.onnx", "README.md"];

Deno.test("default model: two builds give identical bytes, equal to the committed model", async () => {
  const a = await Deno.makeTempDir({ prefix: "lexical-a-" });
  const b = await Deno.makeTempDir({ prefix: "lexical-b-" });
  const ba = await buildDefaultModel(a);
  await buildDefaultModel(b);
  for (const f of FILES) {
    const x = await Deno.readFile(`${a}/${f}`);
    const y = await Deno.readFile(`${b}/${f}`);
    assertEquals(x.length, y.length, f);
    assert(x.every((v, i) => v === y[i]), `${f} differs between two builds`);
    const committed = await Deno.readFile(`${DEFAULT_MODEL_DIR}/${f}`);
    assert(
      committed.length === x.length && committed.every((v, i) => v === x[i]),
      `${DEFAULT_MODEL_DIR}/${f} differs from a fresh build of data/gen-data-set.json: ` +
        "run `deno task build-model` and commit the result",
    );
  }
  const model = await Deno.readFile(`${a}/model.onnx`);
  assertLess(model.length, 20e6);
  assertEquals(countInitializerParams(model), ba.vocabSize * 1024 + 2);
});

Deno.test("default model: XLM-R conventions in tokenizer.json and encoder.json", async () => {
  const dir = await ensureDefaultModel();
  const tok = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer.json`));
  assertEquals(tok.model.type, "Unigram");
  assertEquals(tok.model.vocab.slice(0, 4).map((v: [string, number]) => v[0]), [
    "<s>",
    "<pad>",
    "</s>",
    "<unk>",
  ]);
  assertEquals(tok.model.unk_id, 3);
  assertEquals(tok.normalizer.normalizers.map((n: { type: string }) => n.type), [
    "NFKC",
    "Lowercase",
  ]);
  assertEquals(tok.pre_tokenizer.pretokenizers[1].type, "Metaspace");
  assertEquals(tok.post_processor.type, "TemplateProcessing");
  assertEquals(tok.decoder.type, "Metaspace");
  const cfg = JSON.parse(await Deno.readTextFile(`${dir}/encoder.json`));
  assertEquals(cfg, {
    name: "lexical-1024",
    dim: 1024,
    pooling: "output:sentence_embedding",
    normalize: true,
    maxLength: 512,
  });
  assertStringIncludes(await Deno.readTextFile(`${dir}/README.md`), "NOT BGE-M3");
});

Deno.test("default model: whole words score above character splits", () => {
  const { files } = buildDefaultModelFiles(["phòng trọ phòng q10"], { dim: 8 });
  const tok = JSON.parse(new TextDecoder().decode(files["tokenizer.json"]));
  const score = new Map<string, number>(tok.model.vocab);
  const chars = [..."▁phòng"].reduce((s, c) => s + (score.get(c) ?? -Infinity), 0);
  assert(score.get("▁phòng")! > chars);
  assert(score.get("▁phòng")! > score.get("▁")! + score.get("p")!);
});

Deno.test("default model: special and punctuation rows are zero, others unit", () => {
  const pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁phòng", ",", "ợ"];
  const t = embeddingTable(pieces, 16);
  const norms = pieces.map((_, i) => Math.hypot(...t.subarray(i * 16, (i + 1) * 16)));
  assertEquals(norms.map((n) => Math.round(n * 1e5) / 1e5), [0, 0, 0, 1, 0, 1, 0, 1]);
  // A piece keeps its vector whatever else is in the vocabulary.
  const t2 = embeddingTable(["▁phòng"], 16);
  assertEquals(t2, t.slice(5 * 16, 6 * 16));
});

Deno.test("default model: ensureDefaultModel builds a missing model and keeps an existing one", async () => {
  const dir = `${await Deno.makeTempDir({ prefix: "ensure-" })}/lexical-1024`;
  assertEquals(await ensureDefaultModel(dir), dir);
  const st = await Deno.stat(`${dir}/model.onnx`);
  assertEquals(await ensureDefaultModel(dir), dir);
  assertEquals((await Deno.stat(`${dir}/model.onnx`)).mtime, st.mtime);
});

Deno.test("collectTexts walks every query and text string", () => {
  const json = {
    version: 1,
    examples: [
      {
        query: "q1",
        positive: { text: "p1", features: { city: "x" } },
        negatives: [{ text: "n1" }],
      },
      { query: "q2", positive: { text: "p2" }, negatives: [] },
    ],
  };
  assertEquals(collectTexts(json), ["q1", "p1", "n1", "q2", "p2"]);
});
