/**
 * The `--compare` table for one trained head, from its weights (the trainer
 * at the end of training, notebook 03): base 1024, PCA of the base at each of
 * the head's trained dims (fitted on a capped, seeded sample of training
 * texts), and the head at each trained dim (Matryoshka prefixes), each as
 * fp32, int8, binary and binary re-scored. Plus a conclusion computed from
 * the rows, for reports and notebooks. `deno task eval --compare` builds the
 * same table from checkpoints (and a second head).
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import {
  type CompareMethod,
  compareMethods,
  type CompareRow,
  linearProjector,
  PCA_ITERATIONS,
  pcaFit,
  pcaMethod,
  storageVariants,
} from "./compare.ts";
import { prefixNormalize } from "../head/dims.ts";
import { type EmbeddingTable, lookup, type RetrievalTask } from "./evaluation.ts";
import type { Metrics } from "./metrics.ts";
import { Rng } from "../core/rng.ts";

/**
 * Default cap on the texts the PCA baseline is fitted on (a seeded sample
 * above it). This repo's training split (6,158 texts) is fitted whole: on
 * it, fitting 1,000 texts lowered PCA-64's val MRR@10 from 0.080 to 0.070.
 */
export const PCA_FIT_MAX_TEXTS = 8000;

/**
 * Subspace iterations of the PCA fit at `dim` ({@linkcode pcaFit}: one fit at
 * the largest dim, Rayleigh–Ritz on an oversampled block, so the smaller dims
 * are its prefixes): {@linkcode PCA_ITERATIONS} at every dim. The former
 * per-dim fits without Rayleigh–Ritz needed 15–30 iterations each.
 *
 * @example
 * ```ts
 * import { pcaIterations } from "./compare_head.ts";
 * if (JSON.stringify([pcaIterations(64), pcaIterations(256)]) !== JSON.stringify([6, 6])) throw new Error(`got ${JSON.stringify([pcaIterations(64), pcaIterations(256)])}`);
 * ```
 */
export function pcaIterations(_dim: number): number {
  return PCA_ITERATIONS;
}

/**
 * Compare methods for a head given as weights `[outDim, inDim]` (PyTorch
 * layout): one method per dim in `dims` (each a prefix of the output,
 * renormalised), sharing one projection. Call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { headMethods } from "./compare_head.ts";
 * const w = new Float32Array([1, 0, 0, 0, 1, 0]); // 2 × 3
 * const h = await headMethods(w, 3, 2, [2, 1]);
 * if (JSON.stringify(h.methods.map((m) => `${m.method}-${m.dim}`)) !== JSON.stringify(["head-2", "head-1"])) throw new Error(`got ${JSON.stringify(h.methods.map((m) => `${m.method}-${m.dim}`))}`);
 * h.dispose();
 * ```
 */
export async function headMethods(
  weight: Float32Array,
  inDim: number,
  outDim: number,
  dims: readonly number[],
  label = "head",
): Promise<{ methods: CompareMethod[]; dispose(): void }> {
  if (weight.length !== inDim * outDim) {
    throw new RangeError(
      `headMethods: weight has ${weight.length} values, expected ${outDim} × ${inDim}`,
    );
  }
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1 || d > outDim) {
      throw new RangeError(`headMethods: dim ${d} is not in 1..${outDim}`);
    }
  }
  await initBackend("auto");
  const head = linearProjector(weight, inDim, outDim);
  const methods = dims.map((d): CompareMethod => ({
    method: label,
    dim: d,
    project: (x, n) => {
      const y = head.project(x, n);
      return d === outDim ? y : prefixNormalize(y, n, outDim, d);
    },
  }));
  return { methods, dispose: head.dispose };
}

/**
 * At most `max` of `texts`, a seeded sample in their original order (all of
 * them when there are no more than `max`).
 *
 * @example
 * ```ts
 * import { sampleTexts } from "./compare_head.ts";
 * if (JSON.stringify(sampleTexts(["a", "b", "c"], 5)) !== JSON.stringify(["a", "b", "c"])) throw new Error(`got ${JSON.stringify(sampleTexts(["a", "b", "c"], 5))}`);
 * if (JSON.stringify(sampleTexts(["a", "b", "c"], 2, 1).length) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(sampleTexts(["a", "b", "c"], 2, 1).length)}`);
 * ```
 */
export function sampleTexts(texts: readonly string[], max: number, seed = 42): string[] {
  if (texts.length <= max) return [...texts];
  const idx = new Rng(seed).shuffle(texts.map((_, i) => i)).slice(0, Math.max(0, max));
  return idx.sort((a, b) => a - b).map((i) => texts[i]);
}

/** Input of {@linkcode compareHead}. */
export interface CompareHeadInput {
  /** Queries, corpus and relevance (e.g. the validation split). */
  task: RetrievalTask;
  /** Base embeddings of the task's texts and of `fitTexts`. */
  table: EmbeddingTable;
  /** Candidate texts for fitting the PCA baseline (the training split's unique texts). */
  fitTexts: readonly string[];
  /** Head weight `[outDim, inDim]` (PyTorch layout). */
  weight: Float32Array;
  /** The head's output dimension. */
  outDim: number;
  /** The head's trained dims (`trainedDims(info)`; `[outDim]` without Matryoshka). */
  dims: readonly number[];
  /** Cap on the PCA fit texts (a seeded sample); default {@linkcode PCA_FIT_MAX_TEXTS}. */
  maxFitTexts?: number;
  /** PCA subspace iterations, called with the largest dim (the one fit); default {@linkcode pcaIterations}. */
  pcaIterations?: (dim: number) => number;
  /** Binary re-scoring multiplier (default 4; 0: no re-scored rows). */
  rescore?: number;
  /** Timed runs per row, the median reported (default 1: the latency column is informational). */
  repeats?: number;
  /** Seed of the PCA fit sample and its start (default 42). */
  seed?: number;
}

/** Result of {@linkcode compareHead}. */
export interface HeadComparison {
  /** One row per method, dim and storage. */
  rows: CompareRow[];
  /**
   * PCA fit: texts used, of how many candidates, subspace iterations per fit
   * (one, at the largest dim: the others are its prefixes) and the iterated
   * block's columns (absent: not recorded).
   */
  pcaFit: {
    texts: number;
    of: number;
    iterations: { dim: number; iterations: number }[];
    block?: number;
  };
  /** Queries evaluated. */
  queries: number;
  /** Listings searched. */
  docs: number;
}

/**
 * The comparison rows for one head: base, PCA at each trained dim, the head
 * at each trained dim, × fp32/int8/binary(+rescore).
 *
 * @example
 * ```ts
 * import { compareHead } from "./compare_head.ts";
 * // Type-checked, not run: it needs task, table, weight from a real run.
 * async function _example(task: import("./evaluation.ts").RetrievalTask, table: import("./evaluation.ts").EmbeddingTable, weight: Float32Array) {
 *   const c = await compareHead({ task, table, fitTexts: task.docs, weight, outDim: 256, dims: [256, 64] });
 *   console.log(c.rows.length); // 4 variants × (base + 2 PCA + 2 head) = 20
 * }
 * ```
 */
export async function compareHead(input: CompareHeadInput): Promise<HeadComparison> {
  const { task, table } = input;
  const inDim = table.dim;
  const dims = [...new Set(input.dims)].sort((a, b) => b - a);
  const fitTexts = sampleTexts(
    [...new Set(input.fitTexts)],
    input.maxFitTexts ?? PCA_FIT_MAX_TEXTS,
    input.seed ?? 42,
  );
  if (fitTexts.length < 2) {
    throw new RangeError(`compareHead: the PCA baseline needs at least 2 fit texts`);
  }
  const fit = lookup(table, fitTexts);
  const iterationsAt = input.pcaIterations ?? pcaIterations;
  const methods: CompareMethod[] = [{ method: "base", dim: inDim, project: (x) => x }];
  const disposers: (() => void)[] = [];
  try {
    // One fit at the largest dim; the smaller dims are its prefixes.
    const basis = await pcaFit(fit, inDim, dims[0], {
      seed: input.seed ?? 42,
      iterations: iterationsAt(dims[0]),
    });
    for (const d of dims) {
      const m = await pcaMethod(fit, inDim, d, input.seed ?? 42, { basis });
      if (m.dispose) disposers.push(m.dispose);
      methods.push(m);
    }
    const head = await headMethods(input.weight, inDim, input.outDim, dims);
    disposers.push(head.dispose);
    methods.push(...head.methods);
    const rows = await compareMethods({
      task,
      table,
      methods,
      variants: storageVariants(input.rescore ?? 4),
      repeats: input.repeats ?? 1,
    });
    return {
      rows,
      pcaFit: {
        texts: fitTexts.length,
        of: new Set(input.fitTexts).size,
        iterations: [{ dim: dims[0], iterations: basis.iterations }],
        block: basis.block,
      },
      queries: task.queries.length,
      docs: task.docs.length,
    };
  } finally {
    disposers.forEach((f) => f());
  }
}

const storage = (r: CompareRow) => `${r.quantization}${r.rescore > 0 ? "+rescore" : ""}`;
const name = (r: CompareRow) => `${r.method}-${r.dim} ${storage(r)}`;

/**
 * A few sentences that read the comparison (computed from the rows, never
 * written by hand): the head's best row against base 1024 fp32, the head
 * against PCA at the same dim and storage, and the smallest index (without
 * re-scoring, which keeps the fp32 vectors as well) that still matches base fp32. Empty when the rows lack a base fp32 row.
 *
 * @example
 * ```ts
 * import { compareConclusion } from "./compare_head.ts";
 * // Type-checked, not run: it needs rows from a real run.
 * async function _example(rows: import("./compare.ts").CompareRow[]) {
 *   console.log(compareConclusion(rows).join(" "));
 * }
 * ```
 */
export function compareConclusion(rows: CompareRow[], metric: keyof Metrics = "mrr@10"): string[] {
  const base = rows.find((r) => r.method === "base" && r.quantization === "fp32");
  if (!base) return [];
  const v = (r: CompareRow) => r.metrics[metric];
  const f = (x: number) => x.toFixed(4);
  const out: string[] = [];
  const heads = rows.filter((r) => r.method !== "base" && r.method !== "pca");
  if (heads.length) {
    const best = heads.reduce((a, b) =>
      v(b) > v(a) || (v(b) === v(a) && b.bytesPerVector < a.bytesPerVector) ? b : a
    );
    const d = v(best) - v(base);
    out.push(
      `The best head row, ${name(best)} (${best.bytesPerVector} bytes/vector), has ${metric} ${
        f(v(best))
      }: ${d >= 0 ? "+" : ""}${f(d)} against base-${base.dim} fp32 (${
        f(v(base))
      }, ${base.bytesPerVector} bytes/vector), at ${
        (base.bytesPerVector / best.bytesPerVector).toFixed(1)
      }× less storage.`,
    );
    let wins = 0, pairs = 0;
    const losses: string[] = [];
    for (const h of heads) {
      const p = rows.find((r) =>
        r.method === "pca" && r.dim === h.dim && r.quantization === h.quantization &&
        r.rescore === h.rescore
      );
      if (!p) continue;
      pairs++;
      if (v(h) > v(p)) wins++;
      else losses.push(`${h.dim} ${storage(h)}`);
    }
    if (pairs) {
      out.push(
        wins === pairs
          ? `The head beats PCA of the base at the same dim and storage in all ${pairs} pairs.`
          : `The head beats PCA of the base at the same dim and storage in ${wins} of ${pairs} pairs; PCA is as good or better at ${
            losses.join(", ")
          }.`,
      );
    }
  }
  // Re-scored binary rows keep the fp32 vectors too, so they do not count as smaller.
  const atLeast = rows.filter((r) => r !== base && r.rescore === 0 && v(r) >= v(base))
    .sort((a, b) => a.bytesPerVector - b.bytesPerVector || v(b) - v(a));
  out.push(
    atLeast.length
      ? `The smallest index with ${metric} at least base fp32's is ${name(atLeast[0])}: ${
        atLeast[0].bytesPerVector
      } bytes/vector (${f(v(atLeast[0]))}).`
      : `No smaller index (re-scored binary aside) reaches base fp32's ${metric}.`,
  );
  return out;
}

/**
 * Notes for a report's comparison section: the conclusion
 * ({@linkcode compareConclusion}) and how the table was made (queries,
 * listings, the PCA fit sample, where latency was measured).
 *
 * @example
 * ```ts
 * import { comparisonNotes } from "./compare_head.ts";
 * const notes = comparisonNotes({
 *   rows: [],
 *   pcaFit: { texts: 5000, of: 5000, iterations: [{ dim: 256, iterations: 15 }] },
 *   queries: 93,
 *   docs: 900,
 * });
 * if (!notes.some((n) => n.includes("all 5000 unique training-split texts"))) throw new Error(notes.join("\n"));
 * ```
 */
export function comparisonNotes(c: HeadComparison, metric: keyof Metrics = "mrr@10"): string[] {
  const sample = c.pcaFit.texts < c.pcaFit.of
    ? `a seeded sample of ${c.pcaFit.texts} of the ${c.pcaFit.of} unique training-split texts (capped to keep this cheap)`
    : `all ${c.pcaFit.of} unique training-split texts`;
  return [
    ...compareConclusion(c.rows, metric),
    `${c.queries} validation queries against ${c.docs} listings, the same for every row. ` +
    `PCA is fitted on ${sample}, with ${
      c.pcaFit.iterations.map((i) => `${i.iterations} subspace iterations at ${i.dim}-d`).join(", ")
    }${
      c.pcaFit.block
        ? ` (a ${c.pcaFit.block}-column block, then Rayleigh–Ritz; smaller dims are its leading directions)`
        : ""
    }. ms/query: projecting and searching the batch of queries, ` +
    `per query, measured on this machine when the table was made (encoder time excluded).`,
  ];
}
