/**
 * Search cost of quantised indexes (`lib/quantize.ts`) over 100k documents
 * at 256-d and 64-d, batch of 64 queries, k = 10, in one group per dim with
 * the fp32 exact `topK` as the baseline: fp32, int8 (dequantised codes on the
 * same matmul kernel), binary (Hamming + popcount in TypeScript), binary with
 * re-scoring of 4×k candidates. Per-query cost = time per iteration / 64.
 *
 * Run: `deno task bench` (or `deno bench --allow-read=. --allow-env --allow-sys bench/quantize_bench.ts`).
 *
 * @module
 */
import { buildIndex, type Quantization, searchIndex } from "../lib/quantize.ts";
import { Rng } from "../lib/rng.ts";

const ND = 100_000;
const NQ = 64;
const K = 10;

function randomUnit(rng: Rng, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let t = 0; t < dim; t++) {
      const v = rng.next() - 0.5;
      out[i * dim + t] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let t = 0; t < dim; t++) out[i * dim + t] *= inv;
  }
  return out;
}

for (const dim of [256, 64]) {
  const rng = new Rng(dim + 1);
  const docs = randomUnit(rng, ND, dim);
  const queries = randomUnit(rng, NQ, dim);
  const variants: [Quantization, number][] = [["fp32", 0], ["int8", 0], ["binary", 0], [
    "binary",
    4,
  ]];
  for (const [q, rescore] of variants) {
    const index = buildIndex(docs, ND, dim, q, { keepFloat: rescore > 0 });
    Deno.bench({
      name: `${q}${
        rescore ? `+rescore×${rescore}` : ""
      } 100k docs × ${dim}-d (${index.bytesPerVector} B/vector), ${NQ} queries, k=${K}`,
      group: `${dim}-d`,
      baseline: q === "fp32",
      n: 3,
      warmup: 1,
      async fn(b) {
        b.start();
        await searchIndex(index, queries, NQ, { k: K, rescore });
        b.end();
      },
    });
  }
}
