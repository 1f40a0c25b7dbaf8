/**
 * VNI-style input, measured: the validation queries of the dataset, as typed
 * (NFC) and with their tone marks split off (`ệ` → `ê` + U+0323, what VNI-style
 * keyboards and "Unicode tổ hợp" produce).
 *
 * 1. Tokens: with a SentencePiece `Precompiled` tokenizer (the nmt_nfkc test
 *    model of tests/fixtures/spm, the normaliser BGE-M3 has), how many split
 *    queries get the same ids as the query as typed, with the encoder's
 *    `inputNormalization` on (`nfc`, the default) and off (`none`).
 * 2. Retrieval: the queries searched against every listing of the dataset with
 *    the default encoder, both ways (base vectors, and the trained head when
 *    `checkpoints/latest` exists). The default `lexical-1024` stand-in's own
 *    tokenizer applies NFKC, so there both rows agree by construction.
 *
 * `deno run --allow-read=. --allow-ffi --allow-env --allow-sys bench/vni_input.ts`
 *
 * @module
 */
import { loadDataset, splitDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { evaluateRetrieval } from "../lib/eval/metrics.ts";
import { loadQueryHead } from "../lib/serve/indexer.ts";
import { exists } from "../lib/core/fs.ts";

const TONES = /[\u0300\u0301\u0303\u0309\u0323]/g;
/** Split tone marks off precomposed letters, keeping other marks composed (VNI-style). */
export function vniSplit(text: string): string {
  return Array.from(text.normalize("NFC"), (ch) => {
    const d = ch.normalize("NFD");
    const tones = d.match(TONES);
    return tones ? d.replace(TONES, "").normalize("NFC") + tones.join("") : ch;
  }).join("");
}

const { examples } = await loadDataset("data/gen-data-set.json");
const { val } = splitDataset(examples, { valFraction: 0.1, seed: 42 });
const docs = uniqueTexts(examples, { kind: "passages" });
const docIndex = new Map(docs.map((t, i) => [t, i]));
const relevant = val.map((ex) => docIndex.get(ex.positive)!);
const split = val.map((ex) => vniSplit(ex.query));
const changed = split.filter((q, i) => q !== val[i].query).length;
console.log(
  `${val.length} val queries (${changed} change when split), ${docs.length} listings\n`,
);
{
  const { convertSentencePiece, parseSentencePieceModel } = await import(
    "../lib/encoder/sentencepiece.ts"
  );
  const { TextTokenizer } = await import("../lib/encoder/tokenizer.ts");
  const tok = new TextTokenizer(
    convertSentencePiece(
      parseSentencePieceModel(await Deno.readFile("tests/fixtures/spm/vi-unigram.model")),
    ),
  );
  const ids = (t: string) => tok.encode(t, 512).ids.join();
  for (const mode of ["nfc", "none"] as const) {
    const prep = (t: string) => mode === "nfc" ? t.normalize("NFC") : t;
    const same = val.filter((ex, i) => ids(prep(split[i])) === ids(prep(ex.query))).length;
    console.log(
      `tokens, inputNormalization ${mode}: ${same} of ${val.length} split queries get the ids of the query as typed`,
    );
  }
  console.log();
}
const head = await exists("checkpoints/latest/config.json");
console.log(
  "| encoder input | queries | base R@1 | base MRR@10 |" +
    (head ? " head R@1 | head MRR@10 |" : ""),
);
console.log("| --- | --- | ---: | ---: |" + (head ? " ---: | ---: |" : ""));
for (const mode of ["nfc", "none"] as const) {
  const enc = await loadEncoder(undefined, { inputNormalization: mode });
  const d = await enc.encode(docs);
  const h = head
    ? await loadQueryHead("checkpoints/latest", "best", enc.fingerprint, {
      force: true,
      onWarning: () => {},
    })
    : null;
  const dh = h ? h.project(d.data, docs.length) : null;
  for (
    const [name, qs] of [["as typed (NFC)", val.map((e) => e.query)], [
      "split tone marks",
      split,
    ]] as const
  ) {
    const q = await enc.encode(qs);
    const base = await evaluateRetrieval({
      queryVecs: q.data,
      docVecs: d.data,
      dim: enc.dim,
      nq: qs.length,
      nd: docs.length,
      relevant,
    });
    let cells = `| ${mode} | ${name} | ${base["recall@1"].toFixed(4)} | ${
      base["mrr@10"].toFixed(4)
    } |`;
    if (h && dh) {
      const m = await evaluateRetrieval({
        queryVecs: h.project(q.data, qs.length),
        docVecs: dh,
        dim: h.checkpoint.outDim,
        nq: qs.length,
        nd: docs.length,
        relevant,
      });
      cells += ` ${m["recall@1"].toFixed(4)} | ${m["mrr@10"].toFixed(4)} |`;
    }
    console.log(cells);
  }
  h?.dispose();
  await enc.dispose();
}
