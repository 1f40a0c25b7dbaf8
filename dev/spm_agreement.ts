/**
 * The tokenizer agreement table: for a reference made by dev/spm_reference.py
 * (default: the committed fixture), how many texts of each set get exactly
 * SentencePiece's ids from this project's tokenizer (the SentencePiece path)
 * and from `@huggingface/tokenizers`' own pipeline (its approximate
 * `Precompiled` normaliser), with the time each takes.
 *
 * `deno run --allow-read dev/spm_agreement.ts [DIR]`, e.g. after
 * `/usr/bin/python3 dev/spm_reference.py --mixes 20000 --seed 7 --out /tmp/spm20k`.
 *
 * @module
 */
import {
  convertSentencePiece,
  parseSentencePieceModel,
  spmToHfId,
} from "../lib/encoder/sentencepiece.ts";
import { TextTokenizer } from "../lib/encoder/tokenizer.ts";

const dir = Deno.args[0] ?? "tests/fixtures/spm";
const model = parseSentencePieceModel(await Deno.readFile(`${dir}/vi-unigram.model`));
const ref = JSON.parse(await Deno.readTextFile(`${dir}/reference.json`));
const json = convertSentencePiece(model);
const rows: string[] = [];
for (const set of ["stress", "mixes"]) {
  const { texts, ids } = ref.sets[set] as { texts: string[]; ids: number[][] };
  const want = ids.map((x) => x.map(spmToHfId).join());
  const tok = new TextTokenizer(json);
  let t = performance.now();
  const exact = texts.filter((s, i) => tok.encode(s, 1e6).ids.slice(1, -1).join() === want[i]);
  const exactMs = performance.now() - t;
  t = performance.now();
  const lib = texts.filter((s, i) => tok.referenceIds(s).slice(1, -1).join() === want[i]);
  const libMs = performance.now() - t;
  const pct = (n: number) => `${(100 * n / texts.length).toFixed(1)} %`;
  rows.push(
    `| ${set} | ${texts.length} | ${exact.length} (${pct(exact.length)}) | ${
      exactMs.toFixed(0)
    } ms | ` +
      `${lib.length} (${pct(lib.length)}) | ${libMs.toFixed(0)} ms |`,
  );
}
console.log(`reference: ${dir} (${ref.about}; seed ${ref.seed})\n`);
console.log("| set | texts | this project | time | @huggingface/tokenizers | time |");
console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
