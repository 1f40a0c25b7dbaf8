/**
 * SentencePiece-exact tokenisation: the ids of a Unigram model trained with
 * XLM-R's `nmt_nfkc` rule (tests/fixtures/spm/vi-unigram.model), converted to
 * `tokenizer.json` as Hugging Face's XLMRobertaConverter does, against the ids
 * Google's SentencePiece gives (tests/fixtures/spm/reference.json, made by
 * dev/spm_reference.py): every dataset text, a stress set of hard cases
 * (VNI-style split tone marks, NFD, ZWJ, NBSP, full-width and compatibility
 * characters, controls, emoji, other scripts) and 5,000 seeded random mixes.
 */
import { assert, assertEquals } from "./assert.ts";
import {
  convertSentencePiece,
  parseSentencePieceModel,
  SpmNormalizer,
  spmToHfId,
} from "../lib/encoder/sentencepiece.ts";
import { sha256Hex } from "../lib/core/fs.ts";
import { TextTokenizer } from "../lib/encoder/tokenizer.ts";

const DIR = "tests/fixtures/spm";
const fixture = (async () => {
  const bytes = await Deno.readFile(`${DIR}/vi-unigram.model`);
  const ref = JSON.parse(await Deno.readTextFile(`${DIR}/reference.json`));
  assertEquals(await sha256Hex(bytes), ref.model_sha256, "the model is the one the ids came from");
  const model = parseSentencePieceModel(bytes, `${DIR}/vi-unigram.model`);
  return { model, ref, tok: new TextTokenizer(convertSentencePiece(model)) };
})();

/** The dataset's unique texts in the order dev/spm_reference.py takes them. */
async function datasetTexts(): Promise<{ texts: string[]; sha256: string }> {
  const raw = await Deno.readFile("data/gen-data-set.json");
  const doc = JSON.parse(new TextDecoder().decode(raw));
  const seen = new Set<string>();
  const texts: string[] = [];
  const text = (x: string | { text: string }) => typeof x === "string" ? x : x.text;
  for (const ex of doc.examples) {
    for (const t of [ex.query, text(ex.positive), ...ex.negatives.map(text)]) {
      if (!seen.has(t)) seen.add(t), texts.push(t);
    }
  }
  return { texts, sha256: await sha256Hex(raw) };
}

function content(tok: TextTokenizer, text: string): number[] {
  return tok.encode(text, 1_000_000).ids.slice(1, -1); // without <s> and </s>
}

Deno.test("sentencepiece: the model file parses (pieces, types, nmt_nfkc charsmap)", async () => {
  const { model, tok } = await fixture;
  assertEquals(model.pieces.slice(0, 3).map((p) => p.type), ["unknown", "control", "control"]);
  assertEquals(model.normalizer.name, "nmt_nfkc");
  assert(model.normalizer.precompiledCharsmap.length > 1000);
  assert(tok.fast, "the converted tokenizer takes the fast SentencePiece path");
});

for (const set of ["stress", "mixes"] as const) {
  Deno.test(`sentencepiece: ids equal SentencePiece's on the ${set} set`, async () => {
    const { ref, tok } = await fixture;
    const { texts, ids } = ref.sets[set] as { texts: string[]; ids: number[][] };
    const bad: string[] = [];
    for (let i = 0; i < texts.length; i++) {
      const got = content(tok, texts[i]).join(" ");
      const want = ids[i].map(spmToHfId).join(" ");
      if (got !== want) bad.push(`${JSON.stringify(texts[i])}: got ${got}, SentencePiece ${want}`);
    }
    assertEquals(bad.slice(0, 5), [], `${bad.length} of ${texts.length} differ`);
    assert(texts.length >= 400);
  });
}

Deno.test("sentencepiece: ids equal SentencePiece's on every dataset text", async () => {
  const { ref, tok } = await fixture;
  const { texts, sha256 } = await datasetTexts();
  assertEquals(
    sha256,
    ref.sets.dataset.sha256,
    "data/gen-data-set.json is the one the ids came from",
  );
  const want: string[] = ref.sets.dataset.idsSha256;
  assertEquals(texts.length, want.length);
  const toSpm = (id: number) => (id === 3 ? 0 : id === 0 ? 1 : id === 2 ? 2 : id - 1);
  let bad = 0, first = "";
  for (let i = 0; i < texts.length; i++) {
    const h = (await sha256Hex(content(tok, texts[i]).map(toSpm).join(","))).slice(0, 16);
    if (h !== want[i]) bad++, first ||= texts[i];
  }
  assertEquals(bad, 0, `${bad} of ${texts.length} differ; first: ${first}`);
});

Deno.test("sentencepiece: the normaliser keeps VNI-style split tone marks and ZWJ as SentencePiece does", async () => {
  const { model } = await fixture;
  const n = new SpmNormalizer(model.normalizer.precompiledCharsmap);
  // ê + U+0323 (VNI-style "ệ") is not composed: NFKC over the whole text would give "ệ".
  assertEquals([...n.normalize("bê\u0323n")].length, 5);
  assertEquals("bê\u0323n".normalize("NFKC"), "bện");
  assertEquals(n.normalize("a\u200db"), "▁a\u200db");
  assertEquals(n.normalize("  Ｑ１０   giá  "), "▁Q10▁giá");
  assertEquals(n.normalize(" \t "), "");
});
