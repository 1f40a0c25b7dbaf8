/** Small synthetic retrieval data for tests of lib/eval/compare_head.ts and the report. */
import type { EmbeddingTable, RetrievalTask } from "../lib/eval/evaluation.ts";
import { Rng } from "../lib/core/rng.ts";

/** 40 docs in 16-d; each of 12 queries is a noisy copy of doc i (its positive). */
export function syntheticTask(): { task: RetrievalTask; table: EmbeddingTable; fit: string[] } {
  const dim = 16, nd = 40, nq = 12, nf = 60;
  const rng = new Rng(7);
  const texts: string[] = [];
  const vecs: number[][] = [];
  const unit = (v: number[]) => {
    const s = Math.hypot(...v);
    return v.map((x) => x / s);
  };
  const docs: number[][] = [];
  for (let i = 0; i < nd; i++) {
    docs.push(unit(Array.from({ length: dim }, () => rng.normal())));
    texts.push(`doc ${i}`);
    vecs.push(docs[i]);
  }
  for (let q = 0; q < nq; q++) {
    texts.push(`query ${q}`);
    vecs.push(unit(docs[q].map((x) => x + 0.6 * rng.normal())));
  }
  for (let f = 0; f < nf; f++) {
    texts.push(`fit ${f}`);
    vecs.push(unit(Array.from({ length: dim }, () => rng.normal())));
  }
  const data = new Float32Array(texts.length * dim);
  vecs.forEach((v, i) => data.set(v, i * dim));
  return {
    task: {
      queries: texts.slice(nd, nd + nq),
      docs: texts.slice(0, nd),
      relevant: Array.from({ length: nq }, (_, q) => [q]),
    },
    table: { dim, data, rowOf: new Map(texts.map((t, i) => [t, i])) },
    fit: texts.slice(nd + nq),
  };
}

/** The identity on the first `out` of `dim` inputs, `[out, dim]`. */
export function prefixWeight(out: number, dim: number): Float32Array {
  const w = new Float32Array(out * dim);
  for (let o = 0; o < out; o++) w[o * dim + o] = 1;
  return w;
}
