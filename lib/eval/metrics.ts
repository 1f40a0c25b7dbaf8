/**
 * Retrieval evaluation: exact top-k search over normalised vectors, rank
 * metrics (Recall@1/5/10, MRR@10, nDCG@10), per-feature error analysis on
 * hard negatives, and plain-text tables for the CLI.
 *
 * `topK` scores blocks of documents against blocks of queries with one
 * onnxruntime call per block: `Gemm` (`docs[chunk, d] · queries[nq, d]ᵀ`, MLAS,
 * all cores; the inputs are passed without a copy) and ONNX `TopK` (the
 * block's k best per query, ties by lower index), so only `k × nq` values
 * come back to JS, where a bounded min-heap per query merges the blocks.
 * Blocks are as large as keeps a score block under ~4M values, so one query
 * scans 100k documents in one call. {@link SearchIndex} does the same over a
 * corpus stored transposed once. `bench/topk_bench.ts` prints both with
 * numpy/torch beside them. The search is `async` (onnxruntime).
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { loadOrt } from "../core/ort.ts";
import { buildModel, DataType, node, valueInfo } from "../core/onnx_build.ts";

type OrtModule = typeof import("onnxruntime-node");
/** onnxruntime and the score session, created on first use (the rank metrics don't need them). */
let scorer: Promise<{ ort: OrtModule; session: Ort.InferenceSession }> | undefined;
function loadScorer(): Promise<{ ort: OrtModule; session: Ort.InferenceSession }> {
  scorer ??= (async () => {
    const ort = await loadOrt(); // telemetry off first (see lib/core/ort.ts)
    const session = await ort.InferenceSession.create(
      buildModel({
        name: "topk_scores",
        nodes: [
          node("Gemm", ["docs", "queries"], ["scores"], { transB: { int: 1 } }),
          // The block's k best per query (column), best first; ties: lower index first.
          node("TopK", ["scores", "k"], ["values", "indices"], {
            axis: { int: 0 },
            largest: { int: 1 },
            sorted: { int: 1 },
          }),
        ],
        inputs: [
          valueInfo("docs", DataType.FLOAT, ["n", "dim"]),
          valueInfo("queries", DataType.FLOAT, ["nq", "dim"]),
          valueInfo("k", DataType.INT64, [1]),
        ],
        outputs: [
          valueInfo("values", DataType.FLOAT, ["kb", "nq"]),
          valueInfo("indices", DataType.INT64, ["kb", "nq"]),
        ],
      }),
      {
        executionProviders: ["cpu"],
        graphOptimizationLevel: "all",
        intraOpNumThreads: Math.max(1, navigator.hardwareConcurrency || 1),
        logSeverityLevel: 3,
      },
    );
    return { ort, session };
  })();
  return scorer;
}

/** Result of {@linkcode topK}: row-major `[nq, k]` doc indices and scores, best first. */
export interface TopKResult {
  /** The number of columns: `min(k, nd)`. */
  k: number;
  /** Document indices, row-major `[nq, k]`, descending score, ties by lower index. */
  indices: Int32Array;
  /** Dot-product scores matching `indices`. */
  scores: Float32Array;
}

/** The five rank metrics reported everywhere in the project. */
// A type alias (not an interface) so that it is assignable to `Record<string, number>`.
export type Metrics = {
  /** Share of relevant docs at rank 1. */
  "recall@1": number;
  /** Share of relevant docs in the top 5. */
  "recall@5": number;
  /** Share of relevant docs in the top 10. */
  "recall@10": number;
  /** Mean reciprocal rank of the first relevant doc, 0 beyond rank 10. */
  "mrr@10": number;
  /** Binary nDCG over the top 10. */
  "ndcg@10": number;
};

/**
 * The metric keys, in display order.
 *
 * @example
 * ```ts
 * import { METRIC_KEYS } from "./metrics.ts";
 * if (METRIC_KEYS.join(", ") !== "recall@1, recall@5, recall@10, mrr@10, ndcg@10") throw new Error();
 * ```
 */
export const METRIC_KEYS: readonly (keyof Metrics)[] = [
  "recall@1",
  "recall@5",
  "recall@10",
  "mrr@10",
  "ndcg@10",
];

/** Values per score block (documents × queries of one Gemm call). */
const SCORE_BLOCK = 1 << 22;
/** Queries per Gemm call. */
const QUERY_BLOCK = 256;

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`topK: ${name} must be an integer ≥ ${min}, got ${v}`);
  }
}

/**
 * Exact brute-force top-k search by dot product (cosine similarity for
 * normalised vectors).
 *
 * - `queries` is row-major `[nq, dim]`, `docs` row-major `[nd, dim]`.
 * - Results are row-major `[nq, k']` with `k' = min(k, nd)`: when `k > nd` the
 *   result is clamped to the whole corpus (`result.k` says how many columns).
 * - Order: descending score; equal scores are broken by the lower doc index.
 * - Errors: `k` not a positive integer, `nd = 0` ("empty corpus"), or array
 *   lengths that do not match `nq * dim` / `nd * dim`.
 *
 * Runs on onnxruntime (CPU), whatever the tfjs backend.
 *
 * @example
 * ```ts
 * import { topK } from "./metrics.ts";
 * const docs = new Float32Array([1, 0, 0, 1, 0.6, 0.8]); // 3 docs, dim 2
 * const q = new Float32Array([0, 1]);                     // 1 query
 * const r = await topK(q, 1, docs, 3, 2, 2);
 * if (JSON.stringify(Array.from(r.indices)) !== JSON.stringify([1, 2])) throw new Error(`got ${r.indices}`);
 * ```
 */
export async function topK(
  queries: Float32Array,
  nq: number,
  docs: Float32Array,
  nd: number,
  dim: number,
  k: number,
): Promise<TopKResult> {
  if (!Number.isInteger(k) || k <= 0) {
    throw new RangeError(`topK: k must be a positive integer, got ${k}`);
  }
  checkCount("dim", dim, 1);
  checkCount("nq", nq, 0);
  checkCount("nd", nd, 0);
  if (nd === 0) throw new RangeError("topK: empty corpus (nd = 0): nothing to search");
  if (queries.length !== nq * dim) {
    throw new RangeError(
      `topK: queries has length ${queries.length}, expected nq * dim = ${nq} * ${dim} = ${
        nq * dim
      } (dimension mismatch?)`,
    );
  }
  if (docs.length !== nd * dim) {
    throw new RangeError(
      `topK: docs has length ${docs.length}, expected nd * dim = ${nd} * ${dim} = ${
        nd * dim
      } (dimension mismatch?)`,
    );
  }
  const kk = Math.min(k, nd);
  const heapScore = new Float32Array(nq * kk);
  const heapIdx = new Int32Array(nq * kk);
  const heapSize = new Int32Array(nq);
  const threshold = new Float32Array(nq).fill(-Infinity);
  if (nq > 0) {
    await scoreAll(queries, nq, docs, nd, dim, kk, heapScore, heapIdx, heapSize, threshold);
  }
  return { k: kk, ...sortHeaps(nq, kk, heapScore, heapIdx, heapSize) };
}

async function scoreAll(
  queries: Float32Array,
  nq: number,
  docs: Float32Array,
  nd: number,
  dim: number,
  k: number,
  heapScore: Float32Array,
  heapIdx: Int32Array,
  heapSize: Int32Array,
  threshold: Float32Array,
): Promise<void> {
  const { ort, session } = await loadScorer();
  for (let q0 = 0; q0 < nq; q0 += QUERY_BLOCK) {
    const qn = Math.min(QUERY_BLOCK, nq - q0);
    const qt = new ort.Tensor("float32", queries.subarray(q0 * dim, (q0 + qn) * dim), [qn, dim]);
    const chunk = Math.max(1024, Math.floor(SCORE_BLOCK / qn));
    for (let d0 = 0; d0 < nd; d0 += chunk) {
      const n = Math.min(chunk, nd - d0);
      const kb = Math.min(k, n);
      const out = await session.run({
        docs: new ort.Tensor("float32", docs.subarray(d0 * dim, (d0 + n) * dim), [n, dim]),
        queries: qt,
        k: new ort.Tensor("int64", BigInt64Array.from([BigInt(kb)]), [1]),
      });
      // [kb, qn]: rank r of query i at r * qn + i.
      pushCandidates(
        out.values.data as Float32Array,
        out.indices.data as BigInt64Array,
        kb,
        d0,
        q0,
        qn,
        k,
        { heapScore, heapIdx, heapSize, threshold },
        qn,
        1,
      );
      out.values.dispose();
      out.indices.dispose();
    }
  }
}

/** Queries per matmul of a {@link SearchIndex} (a score block is `[64, nd]`). */
const INDEX_QUERY_BLOCK = 64;

let indexSession: Promise<Ort.InferenceSession> | undefined;
function loadIndexSession(): Promise<Ort.InferenceSession> {
  indexSession ??= (async () => {
    const { ort } = await loadScorer();
    return await ort.InferenceSession.create(
      buildModel({
        name: "index_scores",
        nodes: [
          node("MatMul", ["queries", "docs_t"], ["scores"]),
          node("TopK", ["scores", "k"], ["values", "indices"], {
            axis: { int: 1 },
            largest: { int: 1 },
            sorted: { int: 1 },
          }),
        ],
        inputs: [
          valueInfo("queries", DataType.FLOAT, ["nq", "dim"]),
          valueInfo("docs_t", DataType.FLOAT, ["dim", "n"]),
          valueInfo("k", DataType.INT64, [1]),
        ],
        outputs: [
          valueInfo("values", DataType.FLOAT, ["nq", "kb"]),
          valueInfo("indices", DataType.INT64, ["nq", "kb"]),
        ],
      }),
      {
        executionProviders: ["cpu"],
        graphOptimizationLevel: "all",
        intraOpNumThreads: Math.max(1, navigator.hardwareConcurrency || 1),
        logSeverityLevel: 3,
      },
    );
  })();
  return indexSession;
}

/**
 * An exact top-k index over a fixed corpus: the documents are stored once,
 * transposed (`[dim, nd]`), so that a block of up to 64 queries is scored
 * with one plain `queries · docsᵀ` matmul over the whole corpus (for one
 * query a matrix-vector product that streams the corpus once, where
 * {@link topK}, which takes the documents as they are, computes
 * `docs · queryᵀ` in blocks; measured ~2x faster for a single query in
 * `bench/topk_bench.ts`). Same results as
 * {@link topK} (descending score, ties by lower index); it costs a copy of the
 * corpus (same size) and one transposition at build time.
 *
 * @example
 * ```ts
 * import { SearchIndex } from "./metrics.ts";
 * const index = new SearchIndex(new Float32Array([1, 0, 0, 1, 0.6, 0.8]), 3, 2);
 * const r = await index.search(new Float32Array([0, 1]), 1, 2);
 * if (JSON.stringify(Array.from(r.indices)) !== JSON.stringify([1, 2])) throw new Error(`got ${r.indices}`);
 * ```
 */
export class SearchIndex {
  /** Number of documents. */
  readonly nd: number;
  /** Dimension. */
  readonly dim: number;
  #docsT: Float32Array;

  /** An index over `nd` unit documents of `dim` values (row-major `docs`). */
  constructor(docs: Float32Array, nd: number, dim: number) {
    checkCount("dim", dim, 1);
    checkCount("nd", nd, 1);
    if (docs.length !== nd * dim) {
      throw new RangeError(
        `SearchIndex: docs has length ${docs.length}, expected nd * dim = ${nd} * ${dim}`,
      );
    }
    this.nd = nd;
    this.dim = dim;
    const t = new Float32Array(dim * nd);
    for (let j = 0; j < nd; j++) {
      const off = j * dim;
      for (let c = 0; c < dim; c++) t[c * nd + j] = docs[off + c];
    }
    this.#docsT = t;
  }

  /**
   * The `k` best documents of each query (row-major `[nq, dim]`), exactly
   * as {@link topK} returns them.
   *
   * @example
   * ```ts
   * import { SearchIndex } from "./metrics.ts";
   * // Type-checked, not run: it needs index, queries from a real run.
   * async function _example(index: SearchIndex, queries: Float32Array) {
   *   const { indices, scores } = await index.search(queries, queries.length / index.dim, 10);
   * }
   * ```
   */
  async search(queries: Float32Array, nq: number, k: number): Promise<TopKResult> {
    if (!Number.isInteger(k) || k <= 0) {
      throw new RangeError(`SearchIndex.search: k must be a positive integer, got ${k}`);
    }
    checkCount("nq", nq, 0);
    if (queries.length !== nq * this.dim) {
      throw new RangeError(
        `SearchIndex.search: queries has length ${queries.length}, expected nq * dim = ${nq} * ${this.dim} (dimension mismatch?)`,
      );
    }
    const kk = Math.min(k, this.nd);
    const heapScore = new Float32Array(nq * kk);
    const heapIdx = new Int32Array(nq * kk);
    const heapSize = new Int32Array(nq);
    const threshold = new Float32Array(nq).fill(-Infinity);
    if (nq > 0) {
      const session = await loadIndexSession();
      const { ort } = await loadScorer();
      const docsT = new ort.Tensor("float32", this.#docsT, [this.dim, this.nd]);
      const kTensor = new ort.Tensor("int64", BigInt64Array.from([BigInt(kk)]), [1]);
      for (let q0 = 0; q0 < nq; q0 += INDEX_QUERY_BLOCK) {
        const qn = Math.min(INDEX_QUERY_BLOCK, nq - q0);
        const qt = new ort.Tensor(
          "float32",
          queries.subarray(q0 * this.dim, (q0 + qn) * this.dim),
          [qn, this.dim],
        );
        const out = await session.run({ queries: qt, docs_t: docsT, k: kTensor });
        // [qn, kk]: rank r of query i at i * kk + r.
        pushCandidates(
          out.values.data as Float32Array,
          out.indices.data as BigInt64Array,
          kk,
          0,
          q0,
          qn,
          kk,
          { heapScore, heapIdx, heapSize, threshold },
          1,
          kk,
        );
        out.values.dispose();
        out.indices.dispose();
      }
    }
    return { k: kk, ...sortHeaps(nq, kk, heapScore, heapIdx, heapSize) };
  }
}

/** The per-query bounded heaps of a search. */
interface Heaps {
  heapScore: Float32Array;
  heapIdx: Int32Array;
  heapSize: Int32Array;
  threshold: Float32Array;
}

/**
 * Feed one block's candidates into the heaps: for query `q0 + i`, rank `r`
 * (best first, ties by lower index, as ONNX `TopK` returns them) has score
 * `values[r * rankStride + i * queryStride]` and doc `d0 + indices[…]`. A
 * block's docs all have higher indices than earlier blocks', so a candidate
 * equal to the current worst loses the tie, and the first candidate that
 * does not beat the threshold ends that query's list.
 */
function pushCandidates(
  values: Float32Array,
  indices: BigInt64Array,
  kb: number,
  d0: number,
  q0: number,
  nQ: number,
  k: number,
  h: Heaps,
  rankStride: number,
  queryStride: number,
): void {
  const { heapScore, heapIdx, heapSize, threshold } = h;
  for (let i = 0; i < nQ; i++) {
    const q = q0 + i;
    const base = q * k;
    let th = threshold[q];
    let size = heapSize[q];
    for (let r = 0; r < kb; r++) {
      const at = r * rankStride + i * queryStride;
      const s = values[at];
      if (s !== s) continue; // NaN (a NaN input vector): never a result, wherever TopK put it
      if (!(s > th)) break;
      const idx = d0 + Number(indices[at]);
      if (size < k) {
        siftUp(heapScore, heapIdx, base, size, s, idx);
        size++;
        if (size === k) th = heapScore[base];
      } else {
        siftDown(heapScore, heapIdx, base, k, s, idx);
        th = heapScore[base];
      }
    }
    threshold[q] = th;
    heapSize[q] = size;
  }
}

/** `a` ranks worse than `b`: lower score, or equal score and higher index. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}

function siftUp(
  hs: Float32Array,
  hi: Int32Array,
  base: number,
  pos: number,
  s: number,
  idx: number,
) {
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!worse(s, idx, hs[base + parent], hi[base + parent])) break;
    hs[base + pos] = hs[base + parent];
    hi[base + pos] = hi[base + parent];
    pos = parent;
  }
  hs[base + pos] = s;
  hi[base + pos] = idx;
}

/** Replace the root (the worst) with (s, idx) and restore the heap. */
function siftDown(
  hs: Float32Array,
  hi: Int32Array,
  base: number,
  size: number,
  s: number,
  idx: number,
) {
  let pos = 0;
  for (;;) {
    const l = 2 * pos + 1;
    if (l >= size) break;
    let c = l;
    const r = l + 1;
    if (r < size && worse(hs[base + r], hi[base + r], hs[base + l], hi[base + l])) c = r;
    if (!worse(hs[base + c], hi[base + c], s, idx)) break;
    hs[base + pos] = hs[base + c];
    hi[base + pos] = hi[base + c];
    pos = c;
  }
  hs[base + pos] = s;
  hi[base + pos] = idx;
}

function sortHeaps(
  nq: number,
  k: number,
  heapScore: Float32Array,
  heapIdx: Int32Array,
  heapSize: Int32Array,
): { indices: Int32Array; scores: Float32Array } {
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  const order: number[] = [];
  for (let q = 0; q < nq; q++) {
    const base = q * k;
    const size = heapSize[q];
    order.length = 0;
    for (let i = 0; i < size; i++) order.push(base + i);
    order.sort((a, b) => heapScore[b] - heapScore[a] || heapIdx[a] - heapIdx[b]);
    for (let i = 0; i < size; i++) {
      indices[base + i] = heapIdx[order[i]];
      scores[base + i] = heapScore[order[i]];
    }
  }
  return { indices, scores };
}

/**
 * Rank metrics averaged over queries.
 *
 * `rankings` is row-major `[nq, k]` doc ids (best first; `-1` = no result).
 * `relevant` is either one relevant doc id per query (`Int32Array` or
 * `number[]`), or a set of relevant ids per query (`number[][]`).
 *
 * - Recall@n = |relevant ∩ top n| / |relevant| (0 or 1 with one relevant doc).
 * - MRR@10 = 1 / rank of the first relevant doc within the top 10, else 0.
 * - nDCG@10 (binary) = Σ_{hits at rank r ≤ 10} 1/log2(r+1), divided by the
 *   ideal DCG Σ_{r=1}^{min(|relevant|,10)} 1/log2(r+1). With one relevant doc at
 *   rank r this is 1/log2(r+1).
 *
 * Cutoffs beyond `k` only see the `k` columns given (fine when `k` was clamped
 * to a corpus smaller than 10). A query with no relevant ids is an error.
 *
 * @example
 * ```ts
 * import { rankingMetrics } from "./metrics.ts";
 * // 2 queries, k = 3: relevant doc at rank 1, then at rank 3
 * const m = rankingMetrics(new Int32Array([7, 1, 2, 4, 5, 9]), 3, new Int32Array([7, 9]));
 * if (m["recall@1"] !== 0.5 || Math.abs(m["mrr@10"] - (1 + 1 / 3) / 2) > 1e-12) throw new Error(JSON.stringify(m));
 * ```
 */
export function rankingMetrics(
  rankings: Int32Array,
  k: number,
  relevant: number[][] | number[] | Int32Array,
): Metrics {
  if (!Number.isInteger(k) || k <= 0) {
    throw new RangeError(`rankingMetrics: k must be a positive integer, got ${k}`);
  }
  if (rankings.length % k !== 0) {
    throw new RangeError(
      `rankingMetrics: rankings length ${rankings.length} is not a multiple of k = ${k}`,
    );
  }
  const nq = rankings.length / k;
  if (relevant.length !== nq) {
    throw new RangeError(
      `rankingMetrics: ${nq} ranked queries but ${relevant.length} relevant entries`,
    );
  }
  const sums: Metrics = { "recall@1": 0, "recall@5": 0, "recall@10": 0, "mrr@10": 0, "ndcg@10": 0 };
  if (nq === 0) return sums;
  const depth = Math.min(k, 10);
  for (let q = 0; q < nq; q++) {
    const rel = relevant[q];
    const relSet = new Set<number>(typeof rel === "number" ? [rel] : rel);
    if (relSet.size === 0) {
      throw new RangeError(`rankingMetrics: query ${q} has no relevant documents`);
    }
    for (const id of relSet) {
      if (!Number.isInteger(id) || id < 0) {
        throw new RangeError(`rankingMetrics: query ${q} has an invalid relevant id ${id}`);
      }
    }
    const seen = new Set<number>();
    let hits1 = 0, hits5 = 0, hits10 = 0, dcg = 0, rr = 0;
    for (let r = 0; r < depth; r++) {
      const id = rankings[q * k + r];
      if (id < 0 || seen.has(id) || !relSet.has(id)) continue;
      seen.add(id);
      if (r < 1) hits1++;
      if (r < 5) hits5++;
      hits10++;
      dcg += 1 / Math.log2(r + 2);
      if (rr === 0) rr = 1 / (r + 1);
    }
    let idcg = 0;
    for (let r = 0; r < Math.min(relSet.size, 10); r++) idcg += 1 / Math.log2(r + 2);
    sums["recall@1"] += hits1 / relSet.size;
    sums["recall@5"] += hits5 / relSet.size;
    sums["recall@10"] += hits10 / relSet.size;
    sums["mrr@10"] += rr;
    sums["ndcg@10"] += dcg / idcg;
  }
  for (const key of METRIC_KEYS) sums[key] /= nq;
  return sums;
}

/** Input of {@linkcode evaluateRetrieval}. */
export interface EvaluateInput {
  /** Row-major `[nq, dim]` query vectors (normalised). */
  queryVecs: Float32Array;
  /** Row-major `[nd, dim]` document vectors (normalised). */
  docVecs: Float32Array;
  /** Vector dimension. */
  dim: number;
  /** Number of queries. */
  nq: number;
  /** Number of documents. */
  nd: number;
  /** One relevant doc index per query, or a set of them per query. */
  relevant: number[][] | number[] | Int32Array;
  /** Search depth (default 10; the @10 metrics need ≥ 10 unless the corpus is smaller). */
  k?: number;
}

/**
 * Search every query with {@linkcode topK} and compute {@linkcode rankingMetrics}.
 *
 * @example
 * ```ts
 * import { evaluateRetrieval } from "./metrics.ts";
 * const m = await evaluateRetrieval({
 *   queryVecs: new Float32Array([1, 0]), docVecs: new Float32Array([0, 1, 1, 0]),
 *   dim: 2, nq: 1, nd: 2, relevant: [1],
 * });
 * if (JSON.stringify(m["recall@1"]) !== JSON.stringify(1)) throw new Error(`got ${JSON.stringify(m["recall@1"])}`);
 * ```
 */
export async function evaluateRetrieval(input: EvaluateInput): Promise<Metrics> {
  const { queryVecs, docVecs, dim, nq, nd, relevant, k = 10 } = input;
  const r = await topK(queryVecs, nq, docVecs, nd, dim, k);
  return rankingMetrics(r.indices, r.k, relevant);
}

/** Per-feature hard-negative error counts (see {@linkcode featureErrors}). */
export type FeatureErrors = Record<string, { total: number; errors: number; rate: number }>;

/** Input of {@linkcode featureErrors}. */
export interface FeatureErrorsInput {
  /** Examples with their hard negatives; `differs` names the features a negative changes. */
  examples: {
    query: string;
    positive: string;
    negatives: { text: string; differs: string[] }[];
  }[];
  /** Unit vector of a text; `role` picks the query or document encoding. */
  vectorOf: (text: string, role: "query" | "doc") => Float32Array;
}

/**
 * Error analysis by feature: for each hard negative that differs from its
 * positive in exactly one feature (`differs.length === 1`), count whether the
 * negative scores at least as high as the positive against the query (an
 * "error": the model cannot tell that feature apart). Keys are sorted.
 *
 * @example
 * ```ts
 * import { featureErrors } from "./metrics.ts";
 * const vecs: Record<string, number[]> = { q: [1, 0], p: [0.8, 0.6], n: [1, 0] };
 * const out = featureErrors({
 *   examples: [{ query: "q", positive: "p", negatives: [{ text: "n", differs: ["price"] }] }],
 *   vectorOf: (t) => new Float32Array(vecs[t]),
 * });
 * if (JSON.stringify(out.price) !== JSON.stringify({ total: 1, errors: 1, rate: 1 })) throw new Error(`got ${JSON.stringify(out.price)}`);
 * ```
 */
export function featureErrors(input: FeatureErrorsInput): FeatureErrors {
  const counts = new Map<string, { total: number; errors: number }>();
  input.examples.forEach((ex, i) => {
    const single = ex.negatives.filter((n) => n.differs.length === 1);
    if (single.length === 0) return;
    const q = input.vectorOf(ex.query, "query");
    const p = input.vectorOf(ex.positive, "doc");
    const pos = dot(q, p, i, "positive");
    for (const neg of single) {
      const s = dot(q, input.vectorOf(neg.text, "doc"), i, "negative");
      const c = counts.get(neg.differs[0]) ?? { total: 0, errors: 0 };
      c.total++;
      if (s >= pos) c.errors++;
      counts.set(neg.differs[0], c);
    }
  });
  const out: FeatureErrors = {};
  for (const f of [...counts.keys()].sort()) {
    const c = counts.get(f)!;
    out[f] = { total: c.total, errors: c.errors, rate: c.total ? c.errors / c.total : 0 };
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array, example: number, what: string): number {
  if (a.length !== b.length) {
    throw new RangeError(
      `featureErrors: example ${example}: ${what} vector has dim ${b.length}, query has ${a.length}`,
    );
  }
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Options of {@linkcode formatMetricsTable}. */
export interface MetricsTableOptions {
  /** Header of the base column (default "base (1024-d)"). */
  baseLabel?: string;
  /** Header of the projected column (default "projected (256-d)"). */
  projectedLabel?: string;
  /** Decimals (default 4). */
  digits?: number;
}

function alignTable(rows: string[][], rightFrom = 1): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => c < rightFrom ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))
      .join(" | ");
  const sep = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join("\n");
}

function signed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  return x >= 0 && !s.startsWith("-") ? `+${s}` : s;
}

/**
 * Aligned plain-text table `metric | base (1024-d) | projected (256-d) | Δ`.
 * Rows: the {@linkcode METRIC_KEYS} present, then any other keys; a value
 * missing on one side shows as "-".
 *
 * @example
 * ```ts
 * import { formatMetricsTable } from "./metrics.ts";
 * const base = { "recall@1": 0.5, "recall@5": 0.7, "recall@10": 0.8, "mrr@10": 0.6, "ndcg@10": 0.65 };
 * const proj = { ...base, "recall@1": 0.6 };
 * console.log(formatMetricsTable(base, proj));
 * ```
 */
export function formatMetricsTable(
  base: Record<string, number>,
  projected: Record<string, number>,
  opts: MetricsTableOptions = {},
): string {
  const d = opts.digits ?? 4;
  const rows = [[
    "metric",
    opts.baseLabel ?? "base (1024-d)",
    opts.projectedLabel ?? "projected (256-d)",
    "Δ",
  ]];
  for (const key of metricKeysOf(base, projected)) {
    const b = base[key], p = projected[key];
    const has = (x: number | undefined): x is number => typeof x === "number";
    rows.push([
      key,
      has(b) ? b.toFixed(d) : "-",
      has(p) ? p.toFixed(d) : "-",
      has(b) && has(p) ? signed(p - b, d) : "-",
    ]);
  }
  return alignTable(rows);
}

/**
 * The metric names of one or more metric records: {@linkcode METRIC_KEYS}
 * first (those present), then any other keys in order of appearance.
 *
 * @example
 * ```ts
 * import { metricKeysOf } from "./metrics.ts";
 * if (JSON.stringify(metricKeysOf({ "mrr@10": 0.5, "recall@1": 0.4, "map": 0.3 })) !== JSON.stringify(["recall@1", "mrr@10", "map"])) throw new Error(`got ${JSON.stringify(metricKeysOf({ "mrr@10": 0.5, "recall@1": 0.4, "map": 0.3 }))}`);
 * ```
 */
export function metricKeysOf(...records: Record<string, number>[]): string[] {
  const seen = new Set(records.flatMap((r) => Object.keys(r)));
  return [
    ...METRIC_KEYS.filter((k) => seen.has(k)),
    ...[...seen].filter((k) => !(METRIC_KEYS as readonly string[]).includes(k)),
  ];
}

/**
 * Aligned plain-text table of {@linkcode featureErrors}: `feature | total |
 * errors | rate`, or, given a second result, `feature | total | base rate |
 * projected rate | Δ` (features of either side; missing counts shown as "-").
 *
 * @example
 * ```ts
 * import { formatFeatureTable } from "./metrics.ts";
 * console.log(formatFeatureTable({ price: { total: 4, errors: 1, rate: 0.25 } }));
 * ```
 */
export function formatFeatureTable(
  base: FeatureErrors,
  projected?: FeatureErrors,
  opts: MetricsTableOptions = {},
): string {
  const d = opts.digits ?? 4;
  if (!projected) {
    const rows = [["feature", "total", "errors", "rate"]];
    for (const [f, c] of Object.entries(base)) {
      rows.push([f, String(c.total), String(c.errors), c.rate.toFixed(d)]);
    }
    return alignTable(rows);
  }
  const rows = [[
    "feature",
    "total",
    `${opts.baseLabel ?? "base"} error rate`,
    `${opts.projectedLabel ?? "projected"} error rate`,
    "Δ",
  ]];
  const features = [...new Set([...Object.keys(base), ...Object.keys(projected)])].sort();
  for (const f of features) {
    const b = base[f], p = projected[f];
    rows.push([
      f,
      String((b ?? p).total),
      b ? b.rate.toFixed(d) : "-",
      p ? p.rate.toFixed(d) : "-",
      b && p ? signed(p.rate - b.rate, d) : "-",
    ]);
  }
  return alignTable(rows);
}
