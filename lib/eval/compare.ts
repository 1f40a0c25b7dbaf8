/**
 * One evaluation that compares every way of producing and storing vectors on
 * the same queries and corpus: the base encoder, a PCA of it (the cheap
 * baseline), trained heads at each trained dimension (Matryoshka prefixes),
 * each stored as fp32, int8 or binary (with and without re-scoring).
 * `deno task eval --compare` prints it; `lib/report/compare_plot.ts` draws it.
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
import { initBackend } from "../core/backend.ts";
import { type Example, normalizeQuery } from "../data/dataset.ts";
import { type EmbeddingTable, lookup, type RetrievalTask } from "./evaluation.ts";
import * as tf from "../core/tf.ts";
import { choleskyQRFactor, l2Normalize } from "../head/head.ts";
import { type Metrics, rankingMetrics } from "./metrics.ts";
import { buildModel, DataType, floatTensor, node, valueInfo } from "../core/onnx_build.ts";
import { loadOrt, type Ort } from "../core/ort.ts";
import { buildIndex, type Quantization, searchIndex } from "./quantize.ts";
import { Rng } from "../core/rng.ts";

/**
 * One way to turn base embeddings into search vectors.
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
 */
export interface StorageVariant {
  /** How vectors are stored: fp32, int8 or binary. */
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
 * if (JSON.stringify(storageVariants(4).map((v) => v.quantization)) !== JSON.stringify(["fp32", "int8", "binary", "binary"])) throw new Error(`got ${JSON.stringify(storageVariants(4).map((v) => v.quantization))}`);
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
 * // Type-checked, not run: it needs row from a real run.
 * async function _example(row: CompareRow) {
 *   console.log(row.label, row.metrics["mrr@10"], row.bytesPerVector);
 * }
 * ```
 */
export interface CompareRow {
  /** `base`, `pca`, `head` or another head's label. */
  method: string;
  /** Vector dimension. */
  dim: number;
  /** Storage of the vectors. */
  quantization: Quantization;
  /** Binary re-scoring multiplier (0: none). */
  rescore: number;
  /** `method-dim quantization[+rescore]`, e.g. `head-64 binary+rescore×4`. */
  label: string;
  /** Retrieval metrics of this row. */
  metrics: Metrics;
  /** Bytes per stored vector. */
  bytesPerVector: number;
  /** Milliseconds per query: project + search, batched over the evaluation queries. */
  msPerQuery: number;
}

/**
 * Extra columns of {@linkcode pcaFit}'s iterated block beyond the `k` kept:
 * with Rayleigh–Ritz, the top-`k` subspace converges at the rate
 * `λ(k+p+1)/λ(k)` per iteration instead of `λ(k+1)/λ(k)`.
 */
export const PCA_OVERSAMPLE = 32;

/**
 * Default subspace iterations of {@linkcode pcaFit}. On this repo's data
 * (6,158 × 1024 training texts, k = 256 + 32) 6 iterations give PCA-256,
 * -128 and -64 val MRR@10 0.1151, 0.0953, 0.0789, against 0.1152, 0.0953,
 * 0.0789 for 30 iterations of a 512-column block (converged).
 */
export const PCA_ITERATIONS = 6;

/** A PCA basis of base embeddings: {@linkcode pcaFit}'s result. */
export interface PcaBasis {
  /** Mean of the fitted rows `[inDim]` (float32 sums; subtracted before projecting). */
  mean: Float64Array;
  /** Principal directions, orthonormal rows `[k, inDim]`, by decreasing variance. */
  directions: Float32Array;
  /** Directions kept. */
  k: number;
  /** Subspace iterations run. */
  iterations: number;
  /** Columns of the iterated block (`k` plus the oversampling). */
  block: number;
}

type OrtSession = import("onnxruntime-node").InferenceSession;
let pcaSessions:
  | Promise<{ ort: Ort; cov: OrtSession; step: OrtSession; ritz: OrtSession; rotate: OrtSession }>
  | undefined;

/**
 * Two ONNX Runtime graphs: the covariance `XcᵀXc / denom`, and one step of
 * subspace iteration with Cholesky QR (`q = zs·R⁻¹`, `z = C·q`, `zs` = `z`
 * with unit columns, `G = zsᵀzs` in float64), the Rayleigh–Ritz matrix
 * `H = qᵀCq` (float64) and a plain matmul (rotating the basis).
 */
/**
 * The PCA sessions run a few times per training run: no memory arena, so the
 * covariance of thousands of rows is not kept reserved for the rest of the process.
 */
const ONE_OFF = { enableCpuMemArena: false, enableMemPattern: false } as const;

function loadPcaSessions() {
  pcaSessions ??= (async () => {
    const ort = await loadOrt(); // telemetry off first (see lib/core/ort.ts)
    const F = DataType.FLOAT;
    const cov = await ort.InferenceSession.create(
      buildModel({
        name: "pca_covariance",
        nodes: [
          node("ReduceMean", ["x"], ["mean"], { axes: { ints: [0] }, keepdims: { int: 1 } }),
          node("Sub", ["x", "mean"], ["xc"]),
          node("Gemm", ["xc", "xc"], ["s"], { transA: { int: 1 } }),
          node("Div", ["s", "denom"], ["c"]),
        ],
        inputs: [valueInfo("x", F, ["n", "dim"]), valueInfo("denom", F, [])],
        outputs: [valueInfo("c", F, ["dim", "dim"]), valueInfo("mean", F, [1, "dim"])],
      }),
      ONE_OFF,
    );
    const step = await ort.InferenceSession.create(
      buildModel({
        name: "pca_subspace_step",
        nodes: [
          node("MatMul", ["zs", "rinv"], ["q"]),
          node("MatMul", ["c", "q"], ["z"]),
          node("ReduceL2", ["z"], ["norm"], { axes: { ints: [0] }, keepdims: { int: 1 } }),
          node("Add", ["norm", "tiny"], ["norm_safe"]),
          node("Div", ["z", "norm_safe"], ["zs_next"]),
          node("Cast", ["zs_next"], ["zd"], { to: { int: DataType.DOUBLE } }),
          node("Transpose", ["zd"], ["zdt"]),
          node("MatMul", ["zdt", "zd"], ["gram"]),
        ],
        initializers: [floatTensor("tiny", [], new Float32Array([1e-30]))],
        inputs: [
          valueInfo("c", F, ["dim", "dim"]),
          valueInfo("zs", F, ["dim", "k"]),
          valueInfo("rinv", F, ["k", "k"]),
        ],
        outputs: [
          valueInfo("q", F, ["dim", "k"]),
          valueInfo("zs_next", F, ["dim", "k"]),
          valueInfo("gram", DataType.DOUBLE, ["k", "k"]),
        ],
      }),
      ONE_OFF,
    );
    const ritz = await ort.InferenceSession.create(
      buildModel({
        name: "pca_rayleigh_ritz",
        nodes: [
          node("MatMul", ["c", "q"], ["cq"]),
          node("Cast", ["q"], ["qd"], { to: { int: DataType.DOUBLE } }),
          node("Cast", ["cq"], ["cqd"], { to: { int: DataType.DOUBLE } }),
          node("Transpose", ["qd"], ["qdt"]),
          node("MatMul", ["qdt", "cqd"], ["h"]),
        ],
        inputs: [valueInfo("c", F, ["dim", "dim"]), valueInfo("q", F, ["dim", "b"])],
        outputs: [valueInfo("h", DataType.DOUBLE, ["b", "b"])],
      }),
      ONE_OFF,
    );
    const rotate = await ort.InferenceSession.create(
      buildModel({
        name: "pca_rotate",
        nodes: [node("MatMul", ["q", "v"], ["y"])],
        inputs: [valueInfo("q", F, ["dim", "b"]), valueInfo("v", F, ["b", "k"])],
        outputs: [valueInfo("y", F, ["dim", "k"])],
      }),
      ONE_OFF,
    );
    return { ort, cov, step, ritz, rotate };
  })();
  return pcaSessions;
}

/**
 * Fit PCA of row-major `[n, inDim]` embeddings once at `k` dims, on ONNX
 * Runtime: mean and centred covariance `C` (float32) plus `pcaDirections`' tiny ridge;
 * seeded subspace iteration `Q ← orth(C Q)` on a block of `k + oversample`
 * columns (Cholesky QR: matmuls in float32, the Gram matrix in float64, one
 * extra pass for float32 orthonormality); then Rayleigh–Ritz: the block is
 * rotated onto the eigenvectors of `QᵀCQ` (float64, {@linkcode symmetricEigen})
 * and the top `k` kept, by decreasing variance. The top-`d` subspace then
 * converges at the rate `λ(b+1)/λ(d)` per iteration, so every prefix of the
 * directions is the PCA at that dim: fit once at the largest dim.
 *
 * @example
 * ```ts
 * import { pcaFit } from "./compare.ts";
 * const x = new Float32Array([1, 2, 2, 4.1, 3, 6, 4, 7.9]); // 4 points in 2-D
 * console.log((await pcaFit(x, 2, 1)).directions); // ≈ ±[0.45, 0.89]
 * ```
 */
export async function pcaFit(
  fit: Float32Array,
  inDim: number,
  k: number,
  opts: { seed?: number; iterations?: number; oversample?: number } = {},
): Promise<PcaBasis> {
  const n = fit.length / inDim;
  if (!Number.isInteger(n) || n < 2) {
    throw new RangeError(`pcaFit: fit data of ${fit.length} values is not >= 2 rows of ${inDim}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > inDim) {
    throw new RangeError(`pcaFit: k=${k} is not in 1..${inDim}`);
  }
  const iterations = opts.iterations ?? PCA_ITERATIONS;
  const b = Math.min(inDim, k + (opts.oversample ?? PCA_OVERSAMPLE));
  const { ort, cov, step, ritz, rotate } = await loadPcaSessions();
  const t = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
  const covOut = await cov.run({
    x: t(fit, [n, inDim]),
    denom: t(new Float32Array([n - 1]), []),
  });
  const c = new Float32Array(covOut.c.data as Float32Array);
  const mean = Float64Array.from(covOut.mean.data as Float32Array);
  covOut.c.dispose();
  covOut.mean.dispose();
  let trace = 0;
  for (let i = 0; i < inDim; i++) trace += c[i * inDim + i];
  const ridge = Math.max(trace / inDim, 1e-30) * 1e-6;
  for (let i = 0; i < inDim; i++) c[i * inDim + i] += ridge;
  const eye = (m: number) => {
    const e = new Float32Array(m * m);
    for (let i = 0; i < m; i++) e[i * m + i] = 1;
    return e;
  };
  const cT = t(c, [inDim, inDim]);
  const identity = t(eye(inDim), [inDim, inDim]);
  // Start block [inDim, b]: seeded standard normals (any basis of a random
  // subspace will do: the first step multiplies it by C and orthonormalises).
  const rng = new Rng(opts.seed ?? 42);
  let zs: Float32Array = new Float32Array(inDim * b);
  for (let r = 0; r < b; r++) {
    for (let d = 0; d < inDim; d++) zs[d * b + r] = rng.normal();
  }
  let rinv: Float32Array = eye(b);
  let q: Float32Array = zs;
  // Steps: `iterations` with C, one more Cholesky QR pass (C = I) for
  // float32 orthonormality, then one run that applies it (the final q).
  const steps = iterations + 2;
  for (let it = 0; it < steps; it++) {
    const out = await step.run({
      c: it < iterations ? cT : identity,
      zs: t(zs, [inDim, b]),
      rinv: t(rinv, [b, b]),
    });
    q = new Float32Array(out.q.data as Float32Array);
    zs = new Float32Array(out.zs_next.data as Float32Array);
    const g = new Float64Array(out.gram.data as Float64Array);
    for (const v of Object.values(out)) v.dispose();
    if (it < steps - 1) rinv = choleskyQRFactor(g, b);
  }
  // Rayleigh–Ritz: eigenvectors of H = qᵀCq order the block by variance.
  const ritzOut = await ritz.run({ c: cT, q: t(q, [inDim, b]) });
  const h = new Float64Array(ritzOut.h.data as Float64Array);
  ritzOut.h.dispose();
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < i; j++) h[i * b + j] = h[j * b + i] = (h[i * b + j] + h[j * b + i]) / 2;
  }
  const eig = symmetricEigen(h, b);
  const vk = new Float32Array(b * k);
  for (let r = 0; r < b; r++) {
    for (let col = 0; col < k; col++) vk[r * k + col] = eig.vectors[r * b + col];
  }
  const rotOut = await rotate.run({ q: t(q, [inDim, b]), v: t(vk, [b, k]) });
  const y = rotOut.y.data as Float32Array;
  const directions = new Float32Array(k * inDim);
  for (let d = 0; d < inDim; d++) {
    for (let r = 0; r < k; r++) directions[r * inDim + d] = y[d * k + r];
  }
  rotOut.y.dispose();
  return { mean, directions, k, iterations, block: b };
}

/**
 * The PCA baseline at `dim`: centre on the fit rows' mean, project onto the
 * top `dim` principal directions (`pcaFit`), L2-normalise. Pass `opts.basis`
 * (a {@linkcode pcaFit} at `k ≥ dim`) to reuse one fit for several dims;
 * otherwise it fits at `dim` with a `2·dim`-column block (at least
 * `dim + PCA_OVERSAMPLE`). Call `dispose()` when done.
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
  /** Subspace iterations of the fit (default 30), or a fit to take a prefix of. */
  opts: { iterations?: number; basis?: PcaBasis } = {},
): Promise<CompareMethod> {
  await initBackend("auto");
  // Alone, a doubled block: the top-`dim` subspace converges at λ(2·dim+1)/λ(dim)
  // per iteration, so a fit at each dim matches the prefix of one fit at a larger dim.
  const basis = opts.basis ??
    await pcaFit(fit, inDim, dim, {
      seed,
      iterations: opts.iterations,
      oversample: Math.max(PCA_OVERSAMPLE, dim),
    });
  if (basis.k < dim || basis.mean.length !== inDim) {
    throw new RangeError(
      `pcaMethod: the basis has ${basis.k} directions of ${basis.mean.length}, need ${dim} of ${inDim}`,
    );
  }
  const mean = basis.mean;
  const proj = linearProjector(basis.directions.subarray(0, dim * inDim), inDim, dim);
  return {
    method: "pca",
    dim,
    project: (x, rows) => {
      const xc = new Float32Array(rows * inDim);
      for (let i = 0; i < rows * inDim; i++) xc[i] = x[i] - mean[i % inDim];
      return proj.project(xc, rows);
    },
    dispose: proj.dispose,
  };
}

/**
 * `x ↦ normalize(x·Wᵀ)` for a weight given as rows `[outDim, inDim]`
 * (PyTorch layout), on tfjs in batches: the head's projection without
 * building a `ProjectionHead` (whose orthogonal init costs a Gram–Schmidt).
 * Call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { initBackend } from "../core/backend.ts";
 * import { linearProjector } from "./compare.ts";
 * await initBackend("cpu");
 * const p = linearProjector(new Float32Array([1, 0, 0, 0, 1, 0]), 3, 2);
 * const out = p.project(new Float32Array([3, 4, 5]), 1);
 * p.dispose();
 * if (Math.abs(out[0] - 0.6) > 1e-6 || Math.abs(out[1] - 0.8) > 1e-6) throw new Error(`${out}`);
 * ```
 */
export function linearProjector(
  weight: Float32Array,
  inDim: number,
  outDim: number,
  batchSize = 4096,
): { project(x: Float32Array, rows: number): Float32Array; dispose(): void } {
  if (weight.length !== inDim * outDim) {
    throw new RangeError(
      `linearProjector: weight has ${weight.length} values, expected ${outDim} × ${inDim}`,
    );
  }
  const wt = new Float32Array(inDim * outDim); // [inDim, outDim]
  for (let r = 0; r < outDim; r++) {
    for (let c = 0; c < inDim; c++) wt[c * outDim + r] = weight[r * inDim + c];
  }
  const w = tf.tensor2d(wt, [inDim, outDim]);
  return {
    project: (x, rows) => {
      if (x.length !== rows * inDim) {
        throw new RangeError(`linearProjector: ${x.length} values is not ${rows} rows of ${inDim}`);
      }
      const out = new Float32Array(rows * outDim);
      for (let start = 0; start < rows; start += batchSize) {
        const m = Math.min(batchSize, rows - start);
        const y = tf.tidy(() =>
          l2Normalize(
            tf.matMul(tf.tensor2d(x.subarray(start * inDim, (start + m) * inDim), [m, inDim]), w),
          )
        );
        out.set(y.dataSync() as Float32Array, start * outDim);
        y.dispose();
      }
      return out;
    },
    dispose: () => w.dispose(),
  };
}

/**
 * The row label: `method-dim quantization`, plus `+rescore×N`.
 *
 * @example
 * ```ts
 * import { rowLabel } from "./compare.ts";
 * const label = rowLabel("head", 64, { quantization: "binary", rescore: 4 });
 * if (label !== "head-64 binary+rescore×4") throw new Error(label);
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
 * // Type-checked, not run: it needs task, table from a real run.
 * async function _example(task: import("./evaluation.ts").RetrievalTask, table: import("./evaluation.ts").EmbeddingTable) {
 *   const rows = await compareMethods({
 *     task, table, variants: storageVariants(4),
 *     methods: [{ method: "base", dim: table.dim, project: (x) => x }],
 *   });
 *   console.log(rows.map((r) => r.label));
 * }
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
 * // Type-checked, not run: it needs rows from a real run.
 * async function _example(rows: import("./compare.ts").CompareRow[]) {
 *   console.log(formatCompareTable(rows));
 * }
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
 * if (JSON.stringify(trainOverlap(["phòng q10", "nhà q3"], train)) !== JSON.stringify(1)) throw new Error(`got ${JSON.stringify(trainOverlap(["phòng q10", "nhà q3"], train))}`);
 * ```
 */
export function trainOverlap(
  queries: readonly string[],
  trainExamples: readonly Example[],
): number {
  const seen = new Set(trainExamples.map((e) => normalizeQuery(e.query)));
  return queries.filter((q) => seen.has(normalizeQuery(q))).length;
}

/**
 * Eigen-decomposition of a real symmetric `n×n` matrix (row-major, float64;
 * not modified): Householder tridiagonalisation and the implicit QL method
 * (EISPACK `tred2`/`tql2`, as in JAMA). Eigenvalues in decreasing order,
 * eigenvectors as the matching columns of `vectors` (row-major `n×n`).
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./compare.ts";
 * const { values } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
 * if (Math.abs(values[0] - 3) > 1e-12 || Math.abs(values[1] - 1) > 1e-12) throw new Error(`${values}`);
 * ```
 */
export function symmetricEigen(
  a: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) {
    throw new RangeError(`symmetricEigen: ${a.length} values is not ${n}×${n}`);
  }
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(v, d, e, n);
  // QL rotates pairs of eigenvector columns: keep them as contiguous rows.
  const vt = new Float64Array(n * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) vt[c * n + r] = v[r * n + c];
  tql2(vt, d, e, n);
  const order = Array.from(d.keys()).sort((i, j) => d[j] - d[i]);
  const values = Float64Array.from(order, (i) => d[i]);
  const vectors = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    const src = order[c] * n;
    for (let r = 0; r < n; r++) vectors[r * n + c] = vt[src + r];
  }
  return { values, vectors };
}

/** Householder reduction to tridiagonal form (JAMA `tred2`), in place. */
function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

/**
 * Implicit QL on the tridiagonal form (JAMA `tql2`), in place; `Vt` holds
 * the eigenvectors as rows (the transpose of JAMA's `V`).
 */
function tql2(Vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error(`symmetricEigen: no convergence at eigenvalue ${l}`);
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1, c2 = c, c3 = c;
        const el1 = e[l + 1];
        let s = 0, s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n, ri1 = ri + n;
          for (let k = 0; k < n; k++) {
            h = Vt[ri1 + k];
            Vt[ri1 + k] = s * Vt[ri + k] + c * h;
            Vt[ri + k] = c * Vt[ri + k] - s * h;
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}
