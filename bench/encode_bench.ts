/**
 * Encode throughput of the offline default model over the dataset's unique
 * texts: cold (ONNX encode, no cache) and warm (everything read from the
 * embedding cache). texts/s = texts / (time per iteration).
 *
 * Run: `deno task bench` (or `deno bench ... bench/encode_bench.ts`).
 *
 * @module
 */
import { embedTexts } from "../lib/cache.ts";
import { loadDataset, uniqueTexts } from "../lib/dataset.ts";
import { ensureDefaultModel } from "../lib/default_model.ts";
import { loadEncoder } from "../lib/encoder.ts";

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
