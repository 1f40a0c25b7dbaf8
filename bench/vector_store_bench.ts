/**
 * One query's top-10 over 50k synthetic 256-d listings (200 clusters):
 * the exact in-memory scan (`lib/eval/metrics.ts` `topK`, the peer), LanceDB's
 * exact scan, and LanceDB with each ANN index. Setup prints the table
 * creation and index build times and each index's recall@10 against the
 * exact scan on 50 queries (noisy copies of corpus vectors).
 *
 * Run: `deno task bench` (or `deno bench --allow-read=.,/tmp --allow-write=/tmp --allow-ffi
 * --allow-env --allow-sys bench/vector_store_bench.ts`). Only `ivf_flat` by default:
 * `BENCH_ANN=all` adds `hnsw_sq` and `ivf_pq`, which take 1–3 minutes each to build on 2 cores.
 *
 * @module
 */
import { topK } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";
import { type AnnKind, annRecall, type IndexRow, VectorStore } from "../lib/serve/vector_store.ts";

const N = 50_000, DIM = 256, K = 10;

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

const rng = new Rng(17);
const centres = Array.from(
  { length: 200 },
  () => Float32Array.from({ length: DIM }, () => rng.normal()),
);
const data = new Float32Array(N * DIM);
for (let i = 0; i < N; i++) {
  const c = centres[Math.floor(rng.next() * centres.length)];
  data.set(unit(c.map((x) => x + 0.5 * rng.normal())), i * DIM);
}
const queries = Array.from(
  { length: 50 },
  (_, i) =>
    unit(data.slice(i * 997 * DIM, (i * 997 + 1) * DIM).map((x) => x + 0.05 * rng.normal())),
);
const rows: IndexRow[] = Array.from({ length: N }, (_, i) => ({
  id: `d${i}`,
  text: `listing ${i}`,
  meta: {},
  vector: data.subarray(i * DIM, (i + 1) * DIM),
}));

const kinds: AnnKind[] = ["ivf_flat"];
let all = false;
try {
  all = Deno.env.get("BENCH_ANN") === "all";
} catch { /* no env permission: default */ }
if (all) kinds.push("hnsw_sq", "ivf_pq");

async function makeStore(kind: AnnKind | null): Promise<VectorStore> {
  const dir = await Deno.makeTempDir({ prefix: "vector-bench-" });
  let t = performance.now();
  const store = await VectorStore.create(dir, {
    checkpoint: null,
    encoder: { name: "synthetic", dir: "-", fingerprint: "00", dim: DIM },
    dim: DIM,
    baseDim: 0,
    columns: {},
  });
  await store.upsert(rows);
  const createS = (performance.now() - t) / 1000;
  if (!kind) {
    console.log(`LanceDB table ${N} x ${DIM}-d: created in ${createS.toFixed(2)} s`);
    return store;
  }
  t = performance.now();
  const ann = await store.buildAnn(kind);
  const r = await annRecall(store, queries, K);
  console.log(
    `${kind}: built in ${
      ((performance.now() - t) / 1000).toFixed(2)
    } s (${ann.partitions} partitions, ` +
      `nprobes ${ann.nprobes}, refine ${ann.refineFactor}); recall@10 ${r.recall.toFixed(4)}; ` +
      `${r.annMs.toFixed(2)} ms ANN vs ${r.exactMs.toFixed(2)} ms exact per query`,
  );
  return store;
}

const exact = await makeStore(null);
const stores = new Map<AnnKind, VectorStore>();
for (const k of kinds) stores.set(k, await makeStore(k));
let qi = 0;
const next = () => queries[qi++ % queries.length];

Deno.bench({
  name: "in-memory exact topK (peer)",
  group: "top-10 of 50k x 256-d",
  baseline: true,
  n: 20,
}, async () => {
  await topK(next(), 1, data, N, DIM, K);
});
Deno.bench({ name: "LanceDB exact scan", group: "top-10 of 50k x 256-d", n: 20 }, async () => {
  await exact.search(next(), { k: K, exact: true });
});
for (const [kind, store] of stores) {
  Deno.bench({ name: `LanceDB ${kind}`, group: "top-10 of 50k x 256-d", n: 50 }, async () => {
    await store.search(next(), { k: K });
  });
}
