/**
 * Encode throughput of the offline default model over the dataset's unique
 * texts: cold (ONNX encode, no cache) and warm (everything read from the
 * embedding cache). texts/s = texts / (time per iteration).
 *
 * Group "phases": where a cold encode's time goes: the ONNX runs alone (the
 * baseline), tokenising with this project's fast path and with
 * `@huggingface/tokenizers`, and the whole `encode`.
 *
 * Run: `deno task bench` (or `deno bench ... bench/encode_bench.ts`).
 *
 * @module
 */
import { embedTexts } from "../lib/encoder/cache.ts";
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { loadOrt } from "../lib/core/ort.ts";
import { TextTokenizer } from "../lib/encoder/tokenizer.ts";

const encoder = await loadEncoder(await ensureDefaultModel());
const texts = uniqueTexts((await loadDataset("data/gen-data-set.json")).examples);
const warmRoot = await Deno.makeTempDir({ prefix: "encode-bench-warm-" });
await embedTexts(encoder, texts, { cacheRoot: warmRoot }); // fill the warm cache (and open ORT)

Deno.bench({
  name: `cold: encode ${texts.length} texts (no cache, batch 32)`,
  group: "encode",
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    await encoder.encode(texts, { batchSize: 32 });
  },
});

Deno.bench({
  name: `cold: encode ${texts.length} texts (no cache, batch 128)`,
  group: "encode",
  n: 5,
  warmup: 1,
  async fn() {
    await encoder.encode(texts, { batchSize: 128 });
  },
});

Deno.bench({
  name: `warm: embedTexts ${texts.length} texts (all cache hits)`,
  group: "encode",
  n: 20,
  warmup: 2,
  async fn() {
    const r = await embedTexts(encoder, texts, { cacheRoot: warmRoot });
    if (r.misses !== 0) throw new Error(`warm cache missed ${r.misses} texts`);
  },
});

// ---- Where the time of a cold encode goes (issue #11.5: tokeniser vs ORT) ----
// The same length-sorted batches of 32 as `encode`, run on their own session,
// are the baseline; tokenising is compared against it.
const ort = await loadOrt();
const tokJson = JSON.parse(await Deno.readTextFile(`${encoder.dir}/tokenizer.json`));
const maxLength = encoder.config.maxLength;
const ids = texts.map((t) => new TextTokenizer(tokJson).encode(t, maxLength).ids);
const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
const feeds: Record<string, import("onnxruntime-node").Tensor>[] = [];
for (let i = 0; i < order.length; i += 32) {
  const rows = order.slice(i, i + 32);
  const len = ids[rows[rows.length - 1]].length;
  const inputIds = new BigInt64Array(rows.length * len).fill(1n);
  const mask = new BigInt64Array(rows.length * len);
  rows.forEach((r, k) =>
    ids[r].forEach((id, j) => {
      inputIds[k * len + j] = BigInt(id);
      mask[k * len + j] = 1n;
    })
  );
  feeds.push({
    input_ids: new ort.Tensor("int64", inputIds, [rows.length, len]),
    attention_mask: new ort.Tensor("int64", mask, [rows.length, len]),
  });
}
const session = await ort.InferenceSession.create(`${encoder.dir}/model.onnx`, {
  graphOptimizationLevel: "all",
  logSeverityLevel: 3,
});
const output = encoder.config.pooling.startsWith("output:")
  ? encoder.config.pooling.slice("output:".length)
  : "last_hidden_state";

Deno.bench({
  name: `ORT session.run only: the ${feeds.length} batches of ${texts.length} texts`,
  group: "phases",
  baseline: true,
  n: 5,
  warmup: 1,
  async fn() {
    for (const f of feeds) await session.run(f, [output]);
  },
});

Deno.bench({
  name: `tokenise ${texts.length} texts: this project (fresh tokenizer, cold word memo)`,
  group: "phases",
  n: 5,
  warmup: 1,
  fn() {
    const tok = new TextTokenizer(tokJson);
    for (const t of texts) tok.encode(t, maxLength);
  },
});

const hf = new TextTokenizer(tokJson).hf;
Deno.bench({
  name: `tokenise ${texts.length} texts: @huggingface/tokenizers (the peer)`,
  group: "phases",
  n: 3,
  warmup: 1,
  fn() {
    for (const t of texts) hf.encode(t);
  },
});

Deno.bench({
  name: `full encode of ${texts.length} texts (tokenise + feeds + run + pool), batch 32`,
  group: "phases",
  n: 5,
  warmup: 1,
  async fn() {
    await encoder.encode(texts, { batchSize: 32 });
  },
});
