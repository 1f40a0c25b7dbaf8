/**
 * The tokenizer's fast path (memoised Unigram, issue #11.5) gives the same ids
 * as `@huggingface/tokenizers` on every text of the dataset, for the default
 * model's tokenizer and for a 250,002-piece XLM-R-shaped one.
 */
import { assert, assertEquals } from "./assert.ts";
import { buildShapeTokenizer } from "../lib/encoder/bge_shape.ts";
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { collectTexts, ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { buildLexicalTokenizer, loadTokenizer, TextTokenizer } from "../lib/encoder/tokenizer.ts";

const datasetTexts = uniqueTexts((await loadDataset("data/gen-data-set.json")).examples);
const EDGE_CASES = [
  "",
  " ",
  "\t\n",
  "a",
  "PHÒNG TRỌ Q.10 giá 3tr5/tháng!!",
  "☃☃ ☃ phòng ☃x☃ 😀😀", // unknown characters: runs of <unk> fuse, across words too
  "<s> phòng </s> <pad> <unk> <mask>", // added tokens in the text: the library's path
  "Ｑ１０ ｆｕｌｌｗｉｄｔｈ ﬁ", // NFKC
  "e\u0301 o\u0302\u0300 (combining marks)",
  "phòng trọ q10 ".repeat(800),
];

function assertSameIds(tok: TextTokenizer, texts: string[], label: string) {
  let differ = 0;
  let first = "";
  for (const text of texts) {
    const fast = tok.encode(text, Number.MAX_SAFE_INTEGER).ids;
    const ref = tok.referenceIds(text);
    if (fast.length !== ref.length || fast.some((v, i) => v !== ref[i])) {
      if (differ++ === 0) first = `${JSON.stringify(text)}: ${fast} vs ${ref}`;
    }
  }
  assertEquals(differ, 0, `${label}: ${differ} of ${texts.length} texts differ, e.g. ${first}`);
}

Deno.test("tokenizer: fast path = @huggingface/tokenizers on the whole dataset (default model)", async () => {
  const tok = await loadTokenizer(await ensureDefaultModel());
  assert(tok.fast, "the default model's tokenizer takes the fast path");
  assertSameIds(tok, [...datasetTexts, ...EDGE_CASES], "lexical-1024");
  // Memoised words: a second pass gives the same ids.
  assertSameIds(tok, datasetTexts.slice(0, 200), "lexical-1024, second pass");
});

Deno.test("tokenizer: fast path = @huggingface/tokenizers with 250,002 XLM-R-shaped pieces", () => {
  const texts = collectTexts(JSON.parse(Deno.readTextFileSync("data/gen-data-set.json")));
  const { json } = buildShapeTokenizer(texts, 250_002);
  const tok = new TextTokenizer(json);
  assert(tok.fast);
  assertEquals(tok.padId, 1);
  assertEquals(tok.unkId, 3);
  assertSameIds(tok, [...datasetTexts, ...EDGE_CASES], "250k pieces");
});

Deno.test("tokenizer: truncation keeps <s> and </s> and maxLength ids", async () => {
  const tok = await loadTokenizer(await ensureDefaultModel());
  const long = "phòng trọ quận 10 giá rẻ ".repeat(300);
  const t = tok.encode(long, 512);
  assert(t.truncated);
  assertEquals(t.ids.length, 512);
  assertEquals([t.ids[0], t.ids[511]], [0, 2]);
  assertEquals(t.ids.slice(0, 511), tok.referenceIds(long).slice(0, 511));
  const short = tok.encode("phòng trọ", 512);
  assert(!short.truncated);
});

Deno.test("tokenizer: a 10 MB text is cut to maxLength with the library's ids", async () => {
  const tok = await loadTokenizer(await ensureDefaultModel());
  const unit = "Phòng trọ Q10 giá rẻ, có máy lạnh ☃ wc riêng. ";
  const huge = unit.repeat(Math.ceil(10_000_000 / unit.length));
  const t = tok.encode(huge, 512);
  assert(t.truncated);
  assertEquals(t.ids.length, 512);
  const ref = tok.referenceIds(unit.repeat(40)); // a prefix long enough for 510 content ids
  assertEquals(t.ids.slice(0, 511), ref.slice(0, 511));
  assertEquals(t.ids[511], 2);
});

Deno.test("tokenizer: models other than Unigram use the library unchanged", () => {
  const { json } = buildLexicalTokenizer(["phòng trọ"]);
  const vocab = Object.fromEntries(
    (json.model as { vocab: [string, number][] }).vocab.map(([p], i) => [p, i]),
  );
  const wordLevel = { ...json, model: { type: "WordLevel", vocab, unk_token: "<unk>" } };
  const tok = new TextTokenizer(wordLevel);
  assert(!tok.fast);
  assertEquals(tok.encode("phòng trọ", 512).ids, tok.referenceIds("phòng trọ"));
});
