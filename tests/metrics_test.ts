import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import {
  evaluateRetrieval,
  featureErrors,
  formatFeatureTable,
  formatMetricsTable,
  type Metrics,
  rankingMetrics,
  SearchIndex,
  topK,
} from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";
import * as tf from "../lib/core/tf.ts";

function randomUnit(rng: Rng, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let t = 0; t < dim; t++) {
      const v = rng.normal();
      out[i * dim + t] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let t = 0; t < dim; t++) out[i * dim + t] /= norm;
  }
  return out;
}

/** Reference: score everything (float32 scores), full sort, ties by lower index. */
function fullSort(
  q: Float32Array,
  nq: number,
  d: Float32Array,
  nd: number,
  dim: number,
): { idx: number[]; score: number[] }[] {
  const out = [];
  for (let i = 0; i < nq; i++) {
    const scores: number[] = [];
    for (let j = 0; j < nd; j++) {
      let s = 0;
      for (let t = 0; t < dim; t++) s += q[i * dim + t] * d[j * dim + t];
      scores.push(Math.fround(s));
    }
    const idx = scores.map((_, j) => j).sort((a, b) => scores[b] - scores[a] || a - b);
    out.push({ idx, score: idx.map((j) => scores[j]) });
  }
  return out;
}

function checkAgainstFullSort(nq: number, nd: number, dim: number, k: number, seed: number) {
  return async () => {
    const rng = new Rng(seed);
    const q = randomUnit(rng, nq, dim);
    const d = randomUnit(rng, nd, dim);
    const r = await topK(q, nq, d, nd, dim, k);
    const kk = Math.min(k, nd);
    assertEquals(r.k, kk);
    assertEquals(r.indices.length, nq * kk);
    assertEquals(r.scores.length, nq * kk);
    const ref = fullSort(q, nq, d, nd, dim);
    for (let i = 0; i < nq; i++) {
      for (let c = 0; c < kk; c++) {
        const got = r.indices[i * kk + c];
        const gotScore = r.scores[i * kk + c];
        assertAlmostEquals(gotScore, ref[i].score[c], 1e-5);
        if (c > 0) {
          const prev = r.scores[i * kk + c - 1];
          assert(prev > gotScore || (prev === gotScore && r.indices[i * kk + c - 1] < got));
        }
        // Same doc unless the reference has a near-tie at this position (float rounding order).
        if (got !== ref[i].idx[c]) {
          const near = Math.abs(ref[i].score[c] - (ref[i].score[c + 1] ?? Infinity)) < 1e-5 ||
            (c > 0 && Math.abs(ref[i].score[c] - ref[i].score[c - 1]) < 1e-5);
          assert(near, `query ${i} rank ${c}: got doc ${got}, expected ${ref[i].idx[c]}`);
        }
      }
    }
  };
}

Deno.test(
  "topK equals a full sort: 5 queries x 37 docs x 8-d, k=5",
  checkAgainstFullSort(5, 37, 8, 5, 1),
);
Deno.test(
  "topK equals a full sort: 300 queries x 5000 docs x 64-d, k=10 (several blocks)",
  checkAgainstFullSort(300, 5000, 64, 10, 2),
);
Deno.test("topK equals a full sort: 3 x 9000 x 17-d, k=1", checkAgainstFullSort(3, 9000, 17, 1, 3));
Deno.test("topK clamps k > nd to the whole corpus", checkAgainstFullSort(4, 6, 16, 10, 4));

Deno.test("topK breaks ties by the lower doc index", async () => {
  const dim = 4;
  // docs 0..9: pairs of identical vectors, across a doc-chunk boundary as well
  const rng = new Rng(7);
  const base = randomUnit(rng, 3, dim);
  const nd = 9000;
  const docs = randomUnit(rng, nd, dim);
  // make docs 5, 2, 8500 identical to base[0]; docs 4100 and 1 identical to base[1]
  for (const j of [5, 2, 8500]) docs.set(base.subarray(0, dim), j * dim);
  for (const j of [4100, 1]) docs.set(base.subarray(dim, 2 * dim), j * dim);
  const q = new Float32Array([...base.subarray(0, dim), ...base.subarray(dim, 2 * dim)]);
  const r = await topK(q, 2, docs, nd, dim, 3);
  assertEquals([...r.indices.subarray(0, 3)], [2, 5, 8500]);
  assertEquals(r.scores[0], r.scores[1]);
  assertEquals(r.scores[1], r.scores[2]);
  assertEquals([...r.indices.subarray(3, 5)], [1, 4100]);
  // all-equal scores (zero query): lowest indices win
  const z = await topK(new Float32Array(dim), 1, docs, nd, dim, 4);
  assertEquals([...z.indices], [0, 1, 2, 3]);
});

Deno.test("topK (onnxruntime) leaves the tfjs backend as it was", async () => {
  await tf.setBackend("cpu");
  const r = await topK(new Float32Array([1, 0]), 1, new Float32Array([0, 1, 1, 0]), 2, 2, 1);
  assertEquals([...r.indices], [1]);
  assertEquals(tf.getBackend(), "cpu");
});

Deno.test("topK with zero queries returns empty arrays", async () => {
  const r = await topK(new Float32Array(0), 0, new Float32Array(4), 2, 2, 3);
  assertEquals(r.k, 2);
  assertEquals(r.indices.length, 0);
});

Deno.test("topK bad inputs give clear errors", async () => {
  const d = new Float32Array(8);
  const q = new Float32Array(4);
  await assertRejects(() => topK(q, 1, new Float32Array(0), 0, 4, 5), RangeError, "empty corpus");
  await assertRejects(() => topK(q, 1, d, 2, 4, 0), RangeError, "k must be a positive integer");
  await assertRejects(() => topK(q, 1, d, 2, 4, -3), RangeError, "k must be a positive integer");
  await assertRejects(() => topK(q, 1, d, 2, 4, 1.5), RangeError, "k must be a positive integer");
  await assertRejects(() => topK(q, 1, d, 3, 4, 1), RangeError, "docs has length 8");
  await assertRejects(() => topK(q, 1, d, 2, 3, 1), RangeError, "dimension mismatch");
});

Deno.test("rankingMetrics: hand-made rankings, one relevant doc per query", () => {
  // k = 10; query 0: relevant at rank 1, query 1: rank 3, query 2: not found
  const k = 10;
  const rankings = new Int32Array(3 * k);
  for (let i = 0; i < rankings.length; i++) rankings[i] = 100 + i;
  rankings[0] = 7;
  rankings[k + 2] = 8;
  const m = rankingMetrics(rankings, k, new Int32Array([7, 8, 9]));
  assertAlmostEquals(m["recall@1"], 1 / 3, 1e-12);
  assertAlmostEquals(m["recall@5"], 2 / 3, 1e-12);
  assertAlmostEquals(m["recall@10"], 2 / 3, 1e-12);
  assertAlmostEquals(m["mrr@10"], (1 + 1 / 3 + 0) / 3, 1e-12);
  assertAlmostEquals(m["ndcg@10"], (1 + 1 / Math.log2(4) + 0) / 3, 1e-12);
  assertEquals(Object.keys(m).sort(), ["mrr@10", "ndcg@10", "recall@1", "recall@10", "recall@5"]);
});

Deno.test("rankingMetrics: ranks 6 and 10 count for @10 only; rank 11 counts for nothing", () => {
  const k = 12;
  const rankings = new Int32Array(3 * k).fill(-1);
  rankings[5] = 1; // rank 6
  rankings[k + 9] = 2; // rank 10
  rankings[2 * k + 10] = 3; // rank 11
  const m = rankingMetrics(rankings, k, [1, 2, 3]);
  assertEquals(m["recall@1"], 0);
  assertEquals(m["recall@5"], 0);
  assertAlmostEquals(m["recall@10"], 2 / 3, 1e-12);
  assertAlmostEquals(m["mrr@10"], (1 / 6 + 1 / 10) / 3, 1e-12);
  assertAlmostEquals(m["ndcg@10"], (1 / Math.log2(7) + 1 / Math.log2(11)) / 3, 1e-12);
});

Deno.test("rankingMetrics: general form with several relevant ids", () => {
  // relevant {1,2,3}; ranking [1, 9, 3, 8, 7, 2]: hits at ranks 1, 3, 6
  const rankings = new Int32Array([1, 9, 3, 8, 7, 2, 0, 0, 0, 0]);
  const m = rankingMetrics(rankings, 10, [[1, 2, 3]]);
  assertAlmostEquals(m["recall@1"], 1 / 3, 1e-12);
  assertAlmostEquals(m["recall@5"], 2 / 3, 1e-12);
  assertAlmostEquals(m["recall@10"], 1, 1e-12);
  assertAlmostEquals(m["mrr@10"], 1, 1e-12);
  const dcg = 1 + 1 / Math.log2(4) + 1 / Math.log2(7);
  const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
  assertAlmostEquals(m["ndcg@10"], dcg / idcg, 1e-12);
  assertThrows(() => rankingMetrics(rankings, 10, [[]]), RangeError, "no relevant");
  assertThrows(() => rankingMetrics(rankings, 3, [[1]]), RangeError, "multiple of k");
  assertThrows(() => rankingMetrics(rankings, 10, [[1], [2]]), RangeError, "relevant entries");
});

Deno.test("evaluateRetrieval searches and scores", async () => {
  const dim = 2;
  const docs = new Float32Array([1, 0, 0, 1, Math.SQRT1_2, Math.SQRT1_2]);
  const queries = new Float32Array([0, 1, 1, 0]);
  const m = await evaluateRetrieval({
    queryVecs: queries,
    docVecs: docs,
    dim,
    nq: 2,
    nd: 3,
    relevant: [1, 2],
  });
  // query 0 -> doc 1 at rank 1; query 1 -> doc 0, doc 2, doc 1: relevant doc 2 at rank 2
  assertAlmostEquals(m["recall@1"], 0.5, 1e-12);
  assertAlmostEquals(m["mrr@10"], (1 + 0.5) / 2, 1e-12);
  assertAlmostEquals(m["ndcg@10"], (1 + 1 / Math.log2(3)) / 2, 1e-12);
});

Deno.test("featureErrors counts single-feature negatives that outrank the positive", () => {
  const vecs: Record<string, number[]> = {
    q: [1, 0],
    p: [0.8, 0.6],
    nPrice: [0.6, 0.8], // below positive
    nDistrict: [1, 0], // above positive
    nTie: [0.8, -0.6], // equal score -> counts as an error
    nMulti: [1, 0], // differs in two features: ignored
  };
  const out = featureErrors({
    examples: [
      {
        query: "q",
        positive: "p",
        negatives: [
          { text: "nPrice", differs: ["price"] },
          { text: "nDistrict", differs: ["district"] },
          { text: "nTie", differs: ["price"] },
          { text: "nMulti", differs: ["price", "district"] },
        ],
      },
      { query: "q", positive: "p", negatives: [{ text: "nDistrict", differs: ["district"] }] },
    ],
    vectorOf: (t) => new Float32Array(vecs[t]),
  });
  assertEquals(out, {
    district: { total: 2, errors: 2, rate: 1 },
    price: { total: 2, errors: 1, rate: 0.5 },
  });
  const table = formatFeatureTable(out);
  assert(table.includes("district"));
  const two = formatFeatureTable(out, { price: { total: 2, errors: 0, rate: 0 } });
  assert(two.includes("-0.5000"), two);
});

Deno.test("formatMetricsTable aligns columns and shows signed deltas", () => {
  const base: Metrics = {
    "recall@1": 0.5,
    "recall@5": 0.7,
    "recall@10": 0.8,
    "mrr@10": 0.6,
    "ndcg@10": 0.65,
  };
  const proj: Metrics = { ...base, "recall@1": 0.625, "ndcg@10": 0.6 };
  const t = formatMetricsTable(base, proj);
  const lines = t.split("\n");
  assertEquals(lines.length, 7);
  assert(lines[0].includes("base (1024-d)") && lines[0].includes("projected (256-d)"));
  assert(lines.every((l) => l.length === lines[0].length), t);
  assert(lines[2].includes("+0.1250"), t);
  assert(lines[6].includes("-0.0500"), t);
  // loose records (e.g. from a JSON file): extra keys after the standard ones, gaps as "-"
  const loose = formatMetricsTable({ "recall@1": 0.5, map: 0.2 }, { "recall@1": 0.75 }).split("\n");
  assertEquals(loose.slice(2).map((l) => l.split("|")[0].trim()), ["recall@1", "map"]);
  assert(loose[2].includes("+0.2500") && loose[3].trim().endsWith("-"), loose.join("\n"));
});

Deno.test("topK and SearchIndex: exact ties across doc blocks and query blocks match a full sort", async () => {
  const rng = new Rng(5);
  // 300 queries (two query blocks) x 40,000 docs (three doc blocks for a 256-query block), values
  // on a 1/8 grid: every dot product is exact in float32, so there are many exact ties.
  const nd = 40_000, dim = 8, nq = 300, k = 10;
  const grid = () => Math.round((rng.next() - 0.5) * 8) / 8;
  const docs = new Float32Array(nd * dim).map(grid);
  const queries = new Float32Array(nq * dim).map(grid);
  const expected = (qi: number) => {
    const scored = Array.from({ length: nd }, (_, d) => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += queries[qi * dim + t] * docs[d * dim + t];
      return { d, s };
    });
    scored.sort((a, b) => b.s - a.s || a.d - b.d);
    return scored.slice(0, k).map((x) => x.d);
  };
  const index = new SearchIndex(docs, nd, dim);
  const a = await index.search(queries, nq, k);
  const b = await topK(queries, nq, docs, nd, dim, k);
  assertEquals(a.indices, b.indices);
  assertEquals(a.scores, b.scores);
  for (const qi of [0, 1, 137, 255, 256, 299]) {
    assertEquals([...b.indices.subarray(qi * k, qi * k + k)], expected(qi), `query ${qi}`);
  }
  const small = new SearchIndex(docs.subarray(0, 3 * dim), 3, dim);
  const c = await small.search(queries, nq, 10);
  assertEquals(c.k, 3);
  assertEquals(c.indices, (await topK(queries, nq, docs.subarray(0, 3 * dim), 3, dim, 10)).indices);
  await assertRejects(
    () => index.search(queries, nq, 0),
    RangeError,
    "k must be a positive integer",
  );
  await assertRejects(
    () => index.search(queries.subarray(1), nq, 3),
    RangeError,
    "dimension mismatch",
  );
  assertThrows(() => new SearchIndex(docs, nd + 1, dim), RangeError, "expected nd * dim");
});
