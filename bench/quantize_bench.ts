/**
 * Search cost of quantised indexes (`lib/eval/quantize.ts`) over 100k documents
 * at 256-d and 64-d, batch of 64 queries, k = 10, in one group per dim with
 * the fp32 exact `topK` as the baseline: fp32, int8 (dequantised codes on the
 * same matmul kernel), binary (Hamming + popcount in TypeScript), binary with
 * re-scoring of 4×k candidates. Per-query cost = time per iteration / 64.
 * Before the Deno.bench groups, a table of the binary search beside faiss
 * IndexBinaryFlat (`bench/hamming_peer.py`, Debian's python3-faiss, 1 thread)
 * measured in the same run, for 1 query and batches of 64.
 *
 * Run: `deno task bench` (or `deno bench --allow-read=. --allow-env --allow-sys bench/quantize_bench.ts`).
 *
 * @module
 */
import { buildIndex, type Quantization, searchIndex } from "../lib/eval/quantize.ts";
import { Rng } from "../lib/core/rng.ts";
import { printTable, type Row, runPythonPeer, time } from "./peers.ts";

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

// Binary search beside faiss IndexBinaryFlat, same run.
{
  const cases = [256, 64].flatMap((dim) => [1, NQ].map((nq) => ({ dim, nq })));
  const ours = new Map<string, number>();
  const measure = async () => {
    for (const c of cases) {
      const rng = new Rng(c.dim + 7);
      const index = buildIndex(randomUnit(rng, ND, c.dim), ND, c.dim, "binary");
      const queries = randomUnit(rng, c.nq, c.dim);
      const t = await time(() => searchIndex(index, queries, c.nq, { k: K }), c.nq === 1 ? 20 : 5);
      const key = `${c.dim}/${c.nq}`;
      ours.set(key, Math.min(t.median, ours.get(key) ?? Infinity));
    }
  };
  await measure(); // before the peer and after it: the machine's load drifts
  const peer = await runPythonPeer("hamming_peer.py", ["--docs", String(ND)], 1);
  await measure();
  const rows: Row[] = cases.map((c) => {
    const l = peer.ok ? peer.lines.find((x) => x.dim === c.dim && x.nq === c.nq) : undefined;
    return {
      what: `binary top-${K} of ${ND / 1000}k × ${c.dim} bits, ${
        c.nq === 1 ? "1 query" : `${c.nq} queries/batch (per query)`
      }`,
      ours: "hammingTopK (WebAssembly popcnt)",
      oursMs: ours.get(`${c.dim}/${c.nq}`)! / c.nq,
      peer: l ? `${l.lib} (1 thread)` : peer.ok ? "no peer line" : `peer skipped: ${peer.why}`,
      peerMs: l ? (l.median_ms as number) / c.nq : undefined,
    };
  });
  printTable("Binary (Hamming) search, ms per query (medians)", rows);
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
