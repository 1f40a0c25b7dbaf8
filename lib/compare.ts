/**
 * One evaluation that compares every way of producing and storing vectors on
 * the same queries and corpus: the base encoder, a PCA of it (the cheap
 * baseline), trained heads at each trained dimension (Matryoshka prefixes),
 * each stored as fp32, int8 or binary (with and without re-scoring).
 * `deno task eval --compare` prints it; `lib/compare_plot.ts` draws it.
 *
 * Query latency is the wall time to project the batch of evaluation queries
 * and search the corpus with them, divided by the number of queries (the
 * encoder's own time is the same for every row and is left out; the corpus
 * side — projecting and quantising the listings — is index building, also
 * left out). It is measured on whatever machine runs it; compare rows of one
 * run, not runs. Each row is timed `repeats` times (default 5) and the
 * median is reported.
 *
 * @module
 */
import { initBackend } from "./backend.ts";
import { type Example, normalizeQuery } from "./dataset.ts";
import { type EmbeddingTable, lookup, type RetrievalTask } from "./evaluation.ts";
import { pcaDirections, ProjectionHead } from "./head.ts";
import { type Metrics, rankingMetrics } from "./metrics.ts";
import { buildIndex, type Quantization, searchIndex } from "./quantize.ts";

/**
 * One way to turn base embeddings into search vectors.
 *
 * @example
 * ```ts
 * import type { CompareMethod } from "./compare.ts";
 * const base: CompareMethod = { method: "base", dim: 1024, project: (x) => x };
 * console.log(base.method);
 * ```
 */
export interface CompareMethod {
  /** Line label in tables and plots, e.g. `base`, `pca`, `head`, `head (mined)`. */
  method: string;
  /** Output dimension. */
  dim: number;
  /** Base embeddings `[n, inDim]` → normalised `[n, dim]` vectors. */
  project: (base: Float32Array, n: number) => Float32Array;
  /** Release tensors, if any. */
  dispose?: () => void;
}

/**
 * A storage variant: a quantisation, with re-scoring (binary) or not.
 *
 * @example
 * ```ts
 * import type { StorageVariant } from "./compare.ts";
 * const v: StorageVariant = { quantization: "binary", rescore: 4 };
 * console.log(v);
 * ```
 */
export interface StorageVariant {
  quantization: Quantization;
  /** Re-score `rescore × k` Hamming candidates with fp32 (binary only); 0: off. */
  rescore: number;
}

/**
 * The storage variants of the comparison: fp32, int8, binary, and binary
 * re-scored from `rescore × k` candidates (when `rescore > 0`).
 *
 * @example
 * ```ts
 * import { storageVariants } from "./compare.ts";
 * console.log(storageVariants(4).map((v) => v.quantization)); // ["fp32", "int8", "binary", "binary"]
 * ```
 */
export function storageVariants(rescore = 4): StorageVariant[] {
  const v: StorageVariant[] = [
    { quantization: "fp32", rescore: 0 },
    { quantization: "int8", rescore: 0 },
    { quantization: "binary", rescore: 0 },
  ];
  if (rescore > 0) v.push({ quantization: "binary", rescore });
  return v;
}

/**
 * One row of the comparison.
 *
 * @example
 * ```ts
 * import type { CompareRow } from "./compare.ts";
 * declare const row: CompareRow;
 * console.log(row.label, row.metrics["mrr@10"], row.bytesPerVector);
 * ```
 */
export interface CompareRow {
  method: string;
  dim: number;
  quantization: Quantization;
  /** Binary re-scoring multiplier (0: none). */
  rescore: number;
  /** `method-dim quantization[+rescore]`, e.g. `head-64 binary+rescore×4`. */
  label: string;
  metrics: Metrics;
  bytesPerVector: number;
  /** Milliseconds per query: project + search, batched over the evaluation queries. */
  msPerQuery: number;
}

/**
 * A PCA baseline: the top-`dim` principal directions of `fit` (row-major
 * `[n, inDim]` base embeddings, e.g. the training split's texts), applied as
 * `normalise((x − mean) · Pᵀ)`. Centering is part of the baseline, so it is
 * the strongest linear unsupervised projection of that size. Call
 * `dispose()` when done.
 *
 * @example
 * ```ts
 * import { pcaMethod } from "./compare.ts";
 * const fit = new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0]); // 4 rows of 3
 * const m = await pcaMethod(fit, 3, 2);
 * console.log(m.method, m.dim, m.project(fit.subarray(0, 3), 1).length); // pca 2 2
 * m.dispose?.();
 * ```
 */
export async function pcaMethod(
  fit: Float32Array,
  inDim: number,
  dim: number,
  seed = 42,
  /** Subspace iterations of `pcaDirections` (default its own, 30). */
  opts: { iterations?: number } = {},
): Promise<CompareMethod> {
  await initBackend("auto");
  const n = fit.length / inDim;
  const dirs = pcaDirections(fit, inDim, dim, { seed, iterations: opts.iterations }); // [dim, inDim]
  const mean = new Float64Array(inDim);
  for (let i = 0; i < n; i++) for (let d = 0; d < inDim; d++) mean[d] += fit[i * inDim + d];
  for (let d = 0; d < inDim; d++) mean[d] /= n;
  // Projection on the head's matmul kernel: centre in JS, then x·Pᵀ and L2-normalise.
  const head = ProjectionHead.create({ inDim, outDim: dim, seed: 0 });
  head.setWeight(dirs);
  return {
    method: "pca",
    dim,
    project: (x, rows) => {
      const xc = new Float32Array(rows * inDim);
      for (let i = 0; i < rows * inDim; i++) xc[i] = x[i] - mean[i % inDim];
      return head.project(xc, rows);
    },
    dispose: () => head.dispose(),
  };
}

/**
 * The row label: `method-dim quantization`, plus `+rescore×N`.
 *
 * @example
 * ```ts
 * import { rowLabel } from "./compare.ts";
 * console.log(rowLabel("head", 64, { quantization: "binary", rescore: 4 })); // head-64 binary+rescore×4
 * ```
 */
export function rowLabel(method: string, dim: number, v: StorageVariant): string {
  return `${method}-${dim} ${v.quantization}${v.rescore > 0 ? `+rescore×${v.rescore}` : ""}`;
}

/**
 * Evaluate every method in every storage variant on one retrieval task (the
 * same queries, corpus and relevance for all rows).
 *
 * @example
 * ```ts
 * import { compareMethods, storageVariants } from "./compare.ts";
 * declare const task: import("./evaluation.ts").RetrievalTask;
 * declare const table: import("./evaluation.ts").EmbeddingTable;
 * const rows = await compareMethods({
 *   task, table, variants: storageVariants(4),
 *   methods: [{ method: "base", dim: table.dim, project: (x) => x }],
 * });
 * console.log(rows.map((r) => r.label));
 * ```
 */
export async function compareMethods(input: {
  task: RetrievalTask;
  table: EmbeddingTable;
  methods: CompareMethod[];
  variants: StorageVariant[];
  k?: number;
  /** Timed runs per row; the median is reported (default 5). */
  repeats?: number;
}): Promise<CompareRow[]> {
  const { task, table } = input;
  const k = input.k ?? 10;
  const repeats = Math.max(1, input.repeats ?? 5);
  const nq = task.queries.length, nd = task.docs.length;
  const baseQ = lookup(table, task.queries);
  const baseD = lookup(table, task.docs);
  const rows: CompareRow[] = [];
  for (const m of input.methods) {
    const docs = m.project(baseD, nd);
    if (docs.length !== nd * m.dim) {
      throw new RangeError(
        `compare: method ${m.method} gave ${docs.length / nd}-d vectors, not ${m.dim}`,
      );
    }
    for (const v of input.variants) {
      const index = buildIndex(docs, nd, m.dim, v.quantization, { keepFloat: v.rescore > 0 });
      // Warm-up (first use of the wasm kernels), then the timed run.
      await searchIndex(index, m.project(baseQ.subarray(0, table.dim), 1), 1, {
        k,
        rescore: v.rescore,
      });
      // The median of `repeats` timed runs (the machine may be shared).
      const times: number[] = [];
      let r!: Awaited<ReturnType<typeof searchIndex>>;
      for (let rep = 0; rep < repeats; rep++) {
        const t0 = performance.now();
        const q = m.project(baseQ, nq);
        r = await searchIndex(index, q, nq, { k, rescore: v.rescore });
        times.push(performance.now() - t0);
      }
      const ms = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
      rows.push({
        method: m.method,
        dim: m.dim,
        quantization: v.quantization,
        rescore: v.rescore,
        label: rowLabel(m.method, m.dim, v),
        metrics: rankingMetrics(r.indices, r.k, task.relevant),
        bytesPerVector: index.bytesPerVector,
        msPerQuery: ms / Math.max(1, nq),
      });
    }
  }
  return rows;
}

/**
 * The comparison as an aligned plain-text (Markdown-compatible) table:
 * method, dim, storage, R@1, R@10, MRR@10, nDCG@10, bytes/vector, ms/query.
 *
 * @example
 * ```ts
 * import { formatCompareTable } from "./compare.ts";
 * declare const rows: import("./compare.ts").CompareRow[];
 * console.log(formatCompareTable(rows));
 * ```
 */
export function formatCompareTable(rows: CompareRow[], digits = 4): string {
  const table = [[
    "method",
    "dim",
    "storage",
    "R@1",
    "R@10",
    "MRR@10",
    "nDCG@10",
    "bytes/vector",
    "ms/query",
  ]];
  for (const r of rows) {
    table.push([
      r.method,
      String(r.dim),
      `${r.quantization}${r.rescore > 0 ? `+rescore×${r.rescore}` : ""}`,
      r.metrics["recall@1"].toFixed(digits),
      r.metrics["recall@10"].toFixed(digits),
      r.metrics["mrr@10"].toFixed(digits),
      r.metrics["ndcg@10"].toFixed(digits),
      String(r.bytesPerVector),
      r.msPerQuery.toFixed(3),
    ]);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]) =>
    "| " +
    row.map((cell, c) => c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])).join(" | ") +
    " |";
  const sep = "| " +
    widths.map((w, c) => c < 3 ? "-".repeat(w) : "-".repeat(w - 1) + ":").join(" | ") + " |";
  return [line(table[0]), sep, ...table.slice(1).map(line)].join("\n");
}

/**
 * How many of the evaluated queries a head saw in training: the queries
 * (normalised as the split does) that occur in `trainExamples`. Heads
 * compared on one split must each report 0, or the comparison is unfair.
 *
 * @example
 * ```ts
 * import { trainOverlap } from "./compare.ts";
 * const train = [{ id: 0, query: "Phòng  Q10", positive: "p", negatives: [] }];
 * console.log(trainOverlap(["phòng q10", "nhà q3"], train)); // 1
 * ```
 */
export function trainOverlap(
  queries: readonly string[],
  trainExamples: readonly Example[],
): number {
  const seen = new Set(trainExamples.map((e) => normalizeQuery(e.query)));
  return queries.filter((q) => seen.has(normalizeQuery(q))).length;
}
