/**
 * Exact top-10 search over 100k random unit documents (`lib/eval/metrics.ts`:
 * `topK`, which takes the documents as they are, and `SearchIndex`, which
 * stores them transposed once), at 256-d (projected) and 1024-d (base), for 1 query and batches
 * of 64, beside numpy and PyTorch (`bench/topk_peer.py`, OpenBLAS, 1 thread)
 * measured in the same run. Per-query cost = time per batch / batch size.
 *
 * Run: `deno task bench`.
 *
 * @module
 */
import { SearchIndex, topK } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";
import { printTable, type Row, runPythonPeer, time } from "./peers.ts";

const ND = 100_000;
const K = 10;
const BATCHES = [1, 64];

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

const cases: {
  dim: number;
  nq: number;
  docs: Float32Array;
  index: SearchIndex;
  queries: Float32Array;
}[] = [];
for (const dim of [256, 1024]) {
  const rng = new Rng(dim);
  const docs = randomUnit(rng, ND, dim);
  const index = new SearchIndex(docs, ND, dim);
  for (const nq of BATCHES) {
    cases.push({ dim, nq, docs, index, queries: randomUnit(rng, nq, dim) });
  }
}

/** Median ms per batch of topK and SearchIndex.search; the best of the rounds is kept. */
const ours = new Map<string, { topk: number; index: number }>();
async function measure() {
  for (const c of cases) {
    const runs = c.nq === 1 ? 15 : 5;
    const a = await time(() => topK(c.queries, c.nq, c.docs, ND, c.dim, K), runs);
    const b = await time(() => c.index.search(c.queries, c.nq, K), runs);
    const key = `${c.dim}/${c.nq}`;
    const prev = ours.get(key);
    ours.set(key, {
      topk: Math.min(a.median, prev?.topk ?? Infinity),
      index: Math.min(b.median, prev?.index ?? Infinity),
    });
  }
}
await measure(); // before the peer and after it: the machine's load drifts
const peer = await runPythonPeer("topk_peer.py", [
  "--docs",
  String(ND),
  "--batches",
  BATCHES.join(","),
], 1);
await measure();
const rows: Row[] = [];
for (const c of cases) {
  const { topk: mine, index } = ours.get(`${c.dim}/${c.nq}`)!;
  const what = `top-${K} of ${ND / 1000}k × ${c.dim}-d, ${
    c.nq === 1 ? "1 query" : `${c.nq} queries/batch (per query)`
  }`;
  const peers = peer.ok ? peer.lines.filter((l) => l.dim === c.dim && l.nq === c.nq) : [];
  if (!peers.length) {
    rows.push({
      what,
      ours: "topK (onnxruntime Gemm + heaps)",
      oursMs: mine / c.nq,
      peer: peer.ok ? "no peer line" : `peer skipped: ${peer.why}`,
    });
  }
  for (const l of peers) {
    for (const [ours, ms] of [["topK (docs as given)", mine], ["SearchIndex.search", index]]) {
      rows.push({
        what,
        ours: ours as string,
        oursMs: (ms as number) / c.nq,
        peer: `${l.lib} (1 thread)`,
        peerMs: (l.median_ms as number) / c.nq,
      });
    }
  }
}
printTable("Exact top-k search, ms per query (medians)", rows);

for (const c of cases) {
  Deno.bench({
    name: `topK 100k docs x ${c.dim}-d, batch of ${c.nq}, k=${K}`,
    group: `${c.dim}-d`,
    n: c.nq === 1 ? 10 : 3,
    warmup: 1,
    async fn() {
      await topK(c.queries, c.nq, c.docs, ND, c.dim, K);
    },
  });
  Deno.bench({
    name: `SearchIndex 100k docs x ${c.dim}-d, batch of ${c.nq}, k=${K}`,
    group: `${c.dim}-d`,
    n: c.nq === 1 ? 10 : 3,
    warmup: 1,
    async fn() {
      await c.index.search(c.queries, c.nq, K);
    },
  });
}
