/**
 * Base encoder vs projected head on a retrieval task built from examples:
 * the proof that the head makes search better. Used by the trainer (each
 * epoch), `deno task eval` and the notebooks.
 *
 * @module
 */
import type { Example } from "../data/dataset.ts";
import {
  evaluateRetrieval,
  type FeatureErrors,
  featureErrors,
  type Metrics,
  rankingMetrics,
  type TopKResult,
} from "./metrics.ts";

/** Queries, a corpus of listings, and each query's relevant corpus ids. */
export interface RetrievalTask {
  /** Unique query texts. */
  queries: string[];
  /** Unique listing texts: every positive and hard negative, then any extra corpus. */
  docs: string[];
  /** For each query, the corpus ids of its positives. */
  relevant: number[][];
}

/**
 * Build the retrieval task of some examples. The corpus is every unique
 * listing text of the examples (positives and hard negatives) plus
 * `extraDocs`. A query's relevant documents are its positives: one, or
 * several when the same query text appears in several examples.
 *
 * @example
 * ```ts
 * import { retrievalTask } from "./evaluation.ts";
 * const task = retrievalTask([
 *   { id: 0, query: "q", positive: "p", negatives: [{ text: "n", weight: 2, differs: ["price"] }] },
 * ]);
 * if (JSON.stringify(task) !== JSON.stringify({ queries: ["q"], docs: ["p", "n"], relevant: [[0]] })) throw new Error(`got ${JSON.stringify(task)}`);
 * ```
 */
export function retrievalTask(examples: Example[], extraDocs: string[] = []): RetrievalTask {
  const docIndex = new Map<string, number>();
  const docs: string[] = [];
  const addDoc = (text: string) => {
    let i = docIndex.get(text);
    if (i === undefined) {
      i = docs.length;
      docIndex.set(text, i);
      docs.push(text);
    }
    return i;
  };
  const queryIndex = new Map<string, number>();
  const queries: string[] = [];
  const relevant: number[][] = [];
  for (const ex of examples) {
    let qi = queryIndex.get(ex.query);
    if (qi === undefined) {
      qi = queries.length;
      queryIndex.set(ex.query, qi);
      queries.push(ex.query);
      relevant.push([]);
    }
    const d = addDoc(ex.positive);
    if (!relevant[qi].includes(d)) relevant[qi].push(d);
    for (const n of ex.negatives) addDoc(n.text);
  }
  for (const t of extraDocs) addDoc(t);
  return { queries, docs, relevant };
}

/**
 * Copy the given rows of a row-major `[n, dim]` matrix into `out` (a new
 * matrix by default; no allocation when `out` is given), starting at row
 * `offset` of `out`. The one row gather of the project.
 *
 * @example
 * ```ts
 * import { gatherRows } from "./evaluation.ts";
 * const m = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 rows of 2
 * if (JSON.stringify(Array.from(gatherRows(m, 2, [2, 0]))) !== JSON.stringify([5, 6, 1, 2])) throw new Error(`got ${gatherRows(m, 2, [2, 0])}`);
 * ```
 */
export function gatherRows(
  src: Float32Array,
  dim: number,
  rows: ArrayLike<number>,
  out: Float32Array = new Float32Array(rows.length * dim),
  offset = 0,
): Float32Array {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    out.set(src.subarray(r * dim, r * dim + dim), (offset + i) * dim);
  }
  return out;
}

/** Embeddings looked up by text: a row-major matrix and a text → row map. */
export interface EmbeddingTable {
  /** Embedding dimension. */
  dim: number;
  /** Row-major `[rows, dim]`. */
  data: Float32Array;
  /** Text → its row in `data`. */
  rowOf: Map<string, number>;
}

/**
 * The rows of `texts` in `table`, as a new matrix. Throws if a text is missing.
 *
 * @example
 * ```ts
 * import { lookup } from "./evaluation.ts";
 * const t = { dim: 1, data: new Float32Array([7, 8]), rowOf: new Map([["a", 0], ["b", 1]]) };
 * if (JSON.stringify(Array.from(lookup(t, ["b"]))) !== JSON.stringify([8])) throw new Error(`got ${lookup(t, ["b"])}`);
 * ```
 */
export function lookup(table: EmbeddingTable, texts: string[]): Float32Array {
  const rows = texts.map((t) => {
    const r = table.rowOf.get(t);
    if (r === undefined) throw new Error(`no embedding for text: ${t.slice(0, 60)}`);
    return r;
  });
  return gatherRows(table.data, table.dim, rows);
}

/** Base vs projected comparison on one retrieval task. */
export interface Comparison {
  /** Metrics of the base encoder. */
  base: Metrics;
  /** Metrics of the head. */
  projected: Metrics;
  /** Per feature: the share of single-feature hard negatives that outrank their positive. */
  perFeature: { base: FeatureErrors; projected: FeatureErrors };
  /** Queries evaluated. */
  nQueries: number;
  /** Listings searched. */
  nDocs: number;
}

/**
 * Evaluate the base encoder (cosine on its own vectors) and the head
 * (cosine on projected vectors) on the same task, plus the per-feature
 * hard-negative error analysis.
 *
 * @example
 * ```ts
 * import { compareBaseAndHead, retrievalTask } from "./evaluation.ts";
 * // Type-checked, not run: it needs examples, table, project from a real run.
 * async function _example(examples: import("../data/dataset.ts").Example[], table: import("./evaluation.ts").EmbeddingTable, project: (x: Float32Array, n: number) => Float32Array) {
 *   const cmp = await compareBaseAndHead({ examples, task: retrievalTask(examples), table, project, outDim: 256 });
 *   console.log(cmp.base["mrr@10"], cmp.projected["mrr@10"]);
 * }
 * ```
 */
export async function compareBaseAndHead(input: {
  examples: Example[];
  task: RetrievalTask;
  table: EmbeddingTable;
  /** The head: normalised `[n, outDim]` rows of `base` (sync, or async such as onnxruntime). */
  project: (base: Float32Array, n: number) => Float32Array | Promise<Float32Array>;
  outDim: number;
  k?: number;
  /**
   * Search used for both sides instead of exact fp32 top-k (e.g. a quantised
   * index from `lib/eval/quantize.ts`); the per-feature errors stay fp32.
   */
  search?: (
    queries: Float32Array,
    nq: number,
    docs: Float32Array,
    nd: number,
    dim: number,
    k: number,
  ) => Promise<TopKResult>;
}): Promise<Comparison> {
  const { task, table, project, outDim, examples } = input;
  const k = input.k ?? 10;
  const nq = task.queries.length, nd = task.docs.length;
  const evaluate = async (queryVecs: Float32Array, docVecs: Float32Array, dim: number) => {
    if (!input.search) {
      return await evaluateRetrieval({
        queryVecs,
        docVecs,
        dim,
        nq,
        nd,
        relevant: task.relevant,
        k,
      });
    }
    const r = await input.search(queryVecs, nq, docVecs, nd, dim, k);
    return rankingMetrics(r.indices, r.k, task.relevant);
  };
  const baseQ = lookup(table, task.queries);
  const baseD = lookup(table, task.docs);
  const base = await evaluate(baseQ, baseD, table.dim);
  const projQ = await project(baseQ, nq);
  const projD = await project(baseD, nd);
  const projected = await evaluate(projQ, projD, outDim);
  // Per-feature errors: look vectors up by text in the two spaces.
  const baseOf = new Map<string, Float32Array>();
  const projOf = new Map<string, Float32Array>();
  task.queries.forEach((t, i) => {
    baseOf.set(t, baseQ.subarray(i * table.dim, (i + 1) * table.dim));
    projOf.set(t, projQ.subarray(i * outDim, (i + 1) * outDim));
  });
  task.docs.forEach((t, i) => {
    baseOf.set(t, baseD.subarray(i * table.dim, (i + 1) * table.dim));
    projOf.set(t, projD.subarray(i * outDim, (i + 1) * outDim));
  });
  return {
    base,
    projected,
    perFeature: {
      base: featureErrors({ examples, vectorOf: (t) => baseOf.get(t)! }),
      projected: featureErrors({ examples, vectorOf: (t) => projOf.get(t)! }),
    },
    nQueries: nq,
    nDocs: nd,
  };
}
