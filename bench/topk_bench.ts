/**
 * Cost of exact top-k search (`lib/metrics.ts` `topK`) over 100k documents,
 * at 256-d (projected) and 1024-d (base). Per-query cost = reported time per
 * iteration / number of queries in the batch.
 *
 * Run: `deno task bench` (or `deno bench --allow-read=. --allow-env --allow-sys bench/topk_bench.ts`).
 *
 * @module
 */
import { topK } from "../lib/metrics.ts";
import { Rng } from "../lib/rng.ts";

const ND = 100_000;
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

for (const dim of [256, 1024]) {
  const rng = new Rng(dim);
  const docs = randomUnit(rng, ND, dim);
  for (const nq of [1, 64, 256]) {
    const queries = randomUnit(rng, nq, dim);
    Deno.bench({
      name: `topK 100k docs x ${dim}-d, batch of ${nq} ${nq === 1 ? "query" : "queries"}, k=${K}`,
      group: `${dim}-d`,
      n: nq === 1 ? 10 : 3,
      warmup: 1,
      async fn(b) {
        b.start();
        await topK(queries, nq, docs, ND, dim, K);
        b.end();
      },
    });
  }
}
