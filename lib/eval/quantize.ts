/**
 * Quantised vectors for search: int8 (symmetric, one scale per dimension
 * fitted on the corpus) and binary (sign bits packed 32 to a word, ranked by
 * Hamming distance with popcount, optionally re-scored exactly).
 *
 * - **int8**: `scale[d] = max_i |doc[i,d]| / 127` over the corpus; a vector
 *   becomes `round(x[d] / scale[d])` clamped to [-127, 127]. Queries are
 *   quantised with the corpus scales and scored by the dot product of the
 *   dequantised codes, `Σ_d q_d c_d scale_d²`, which is what an int8 index
 *   with per-dimension scales computes. The index holds only the int8 codes;
 *   the search dequantises one block of documents at a time (16,384 rows)
 *   and scores it on the same matmul kernel as fp32, merging the blocks'
 *   top-k.
 * - **binary**: bit `d` is 1 when `x[d] > 0`. Distance is the Hamming distance
 *   (XOR + popcount); the reported score is `1 − 2·hamming/dim` (the cosine of
 *   the two ±1 vectors). Equal distances are frequent at low dims, so ties are
 *   broken by a fixed hash of the document index, never by corpus order (which
 *   would favour whatever was listed first, e.g. the positives of a dataset).
 * - **re-scoring** (binary): the `rescore` best candidates by Hamming distance
 *   are re-ranked by the exact fp32 dot product with the full-precision
 *   vectors. sentence-transformers' `semantic_search_*` re-score
 *   `rescore_multiplier × top_k` candidates with `rescore_multiplier = 4` by
 *   default; the CLIs here do the same (`--rescore 4`, 0 turns it off).
 *   The fp32 vectors then live on disk; the index in memory stays binary.
 *
 * @module
 */
import type { FlagSpec } from "../cli/cli.ts";
import { hammingKernel } from "./_hamming_wasm.ts";
import { topK, type TopKResult } from "./metrics.ts";

/**
 * How vectors are stored for search.
 */
export type Quantization = "fp32" | "int8" | "binary";

/**
 * The quantisation names accepted by `--quantize` (plus `fp32`, the default).
 *
 * @example
 * ```ts
 * import { QUANTIZATIONS } from "./quantize.ts";
 * if (QUANTIZATIONS.join("|") !== "fp32|int8|binary") throw new Error(QUANTIZATIONS.join("|"));
 * ```
 */
export const QUANTIZATIONS: readonly Quantization[] = ["fp32", "int8", "binary"];

/**
 * The `--quantize` and `--rescore` flags, the same for `eval` and `search`.
 *
 * @example
 * ```ts
 * import { QUANTIZE_FLAGS } from "./quantize.ts";
 * if (JSON.stringify(Object.keys(QUANTIZE_FLAGS)) !== JSON.stringify(["quantize", "rescore"])) throw new Error(`got ${JSON.stringify(Object.keys(QUANTIZE_FLAGS))}`);
 * ```
 */
export const QUANTIZE_FLAGS: Record<"quantize" | "rescore", FlagSpec> = {
  quantize: {
    type: "choice",
    choices: QUANTIZATIONS,
    help:
      "search quantised vectors: int8 (per-dim scales fitted on the corpus) or binary (Hamming)",
    default: "fp32",
  },
  rescore: {
    type: "int",
    min: 0,
    help: "binary: re-score rescore×k Hamming candidates with fp32 (0: off)",
    default: 4,
  },
};

/**
 * Bytes one vector of `dim` components takes in the index: fp32 `4·dim`,
 * int8 `dim`, binary `ceil(dim / 8)`. The int8 scales (`4·dim` bytes for the
 * whole index) and the re-scoring vectors (on disk) are not per vector.
 *
 * @example
 * ```ts
 * import { bytesPerVector } from "./quantize.ts";
 * if (JSON.stringify([bytesPerVector("fp32", 256), bytesPerVector("int8", 256), bytesPerVector("binary", 256)]) !== JSON.stringify([1024, 256, 32])) throw new Error(`got ${JSON.stringify([bytesPerVector("fp32", 256), bytesPerVector("int8", 256), bytesPerVector("binary", 256)])}`);
 * ```
 */
export function bytesPerVector(q: Quantization, dim: number): number {
  return q === "fp32" ? 4 * dim : q === "int8" ? dim : Math.ceil(dim / 8);
}

/**
 * Per-dimension int8 scales fitted on a row-major `[n, dim]` corpus:
 * `max |x[:,d]| / 127` (1 for an all-zero dimension).
 *
 * @example
 * ```ts
 * import { fitInt8Scales } from "./quantize.ts";
 * const scales = fitInt8Scales(new Float32Array([0.5, -1, -0.25, 0.5]), 2, 2); // max |x| / 127 per dim
 * if (Math.abs(scales[0] - 0.5 / 127) > 1e-7 || Math.abs(scales[1] - 1 / 127) > 1e-7) throw new Error(`got ${scales}`);
 * ```
 */
export function fitInt8Scales(docs: Float32Array, n: number, dim: number): Float32Array {
  checkShape("fitInt8Scales", docs, n, dim);
  if (n === 0) throw new RangeError("fitInt8Scales: empty corpus (n = 0): nothing to fit");
  const maxAbs = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    const off = i * dim;
    for (let d = 0; d < dim; d++) {
      const a = Math.abs(docs[off + d]);
      if (a > maxAbs[d]) maxAbs[d] = a;
    }
  }
  const scales = new Float32Array(dim);
  for (let d = 0; d < dim; d++) scales[d] = maxAbs[d] > 0 ? maxAbs[d] / 127 : 1;
  return scales;
}

/**
 * Quantise row-major `[n, dim]` vectors to int8 codes with per-dimension
 * `scales` (values beyond the fitted range are clamped to ±127).
 *
 * @example
 * ```ts
 * import { quantizeInt8 } from "./quantize.ts";
 * if (JSON.stringify(Array.from(quantizeInt8(new Float32Array([0.5, -2]), 1, 2, new Float32Array([0.5 / 127, 1 / 127])))) !== JSON.stringify([127, -127])) throw new Error(`got ${quantizeInt8(new Float32Array([0.5, -2]), 1, 2, new Float32Array([0.5 / 127, 1 / 127]))}`);
 * ```
 */
export function quantizeInt8(
  x: Float32Array,
  n: number,
  dim: number,
  scales: Float32Array,
): Int8Array {
  checkShape("quantizeInt8", x, n, dim);
  if (scales.length !== dim) {
    throw new RangeError(`quantizeInt8: ${scales.length} scales for dim ${dim}`);
  }
  const out = new Int8Array(n * dim);
  for (let i = 0; i < n * dim; i++) {
    const v = Math.round(x[i] / scales[i % dim]);
    out[i] = v > 127 ? 127 : v < -127 ? -127 : v;
  }
  return out;
}

/**
 * Back to floats: `codes[i,d] · scales[d]`.
 *
 * @example
 * ```ts
 * import { dequantizeInt8 } from "./quantize.ts";
 * const x = dequantizeInt8(new Int8Array([127, -127]), 1, 2, new Float32Array([0.01, 0.02]));
 * if (Math.abs(x[0] - 1.27) > 1e-6 || Math.abs(x[1] + 2.54) > 1e-6) throw new Error(`${x}`);
 * ```
 */
export function dequantizeInt8(
  codes: Int8Array,
  n: number,
  dim: number,
  scales: Float32Array,
): Float32Array {
  if (codes.length !== n * dim) {
    throw new RangeError(`dequantizeInt8: got ${codes.length} codes, expected ${n} × ${dim}`);
  }
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) out[i] = codes[i] * scales[i % dim];
  return out;
}

/**
 * Sign bits of row-major `[n, dim]` vectors, packed: row `i` is
 * `ceil(dim/32)` words, bit `d % 32` of word `d >> 5` is 1 when `x[i,d] > 0`.
 *
 * @example
 * ```ts
 * import { packSigns } from "./quantize.ts";
 * if (JSON.stringify(Array.from(packSigns(new Float32Array([1, -1, 0.5]), 1, 3))) !== JSON.stringify([5])) throw new Error(`got ${packSigns(new Float32Array([1, -1, 0.5]), 1, 3)}`);
 * ```
 */
export function packSigns(x: Float32Array, n: number, dim: number): Uint32Array {
  checkShape("packSigns", x, n, dim);
  const words = Math.ceil(dim / 32);
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    const src = i * dim, dst = i * words;
    for (let d = 0; d < dim; d++) {
      if (x[src + d] > 0) out[dst + (d >> 5)] |= 1 << (d & 31);
    }
  }
  return out;
}

/**
 * Number of set bits of a 32-bit integer (SWAR).
 *
 * @example
 * ```ts
 * import { popcount32 } from "./quantize.ts";
 * if (JSON.stringify(popcount32(0xff00ff00)) !== JSON.stringify(16)) throw new Error(`got ${JSON.stringify(popcount32(0xff00ff00))}`);
 * ```
 */
export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** The corpus whose packed rows are in the kernel's memory (see {@link hammingTopK}). */
let resident: Uint32Array | null = null;
let residentWords = 0;

/** A fixed pseudo-random rank of a document index, for breaking equal distances. */
function tieRank(i: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Exact top-k by Hamming distance over packed sign bits (see
 * {@linkcode packSigns}). Rows of the result are the `min(k, nd)` nearest
 * documents, nearest first; equal distances are ordered by a fixed hash of
 * the document index. `scores` is `1 − 2·hamming/dim`.
 *
 * Large corpora are scored by a WebAssembly kernel (`i64.popcnt`), which keeps
 * the last corpus it was given in its memory: `docs` is copied once per array,
 * so change a corpus by making a new array, not in place.
 *
 * @example
 * ```ts
 * import { hammingTopK, packSigns } from "./quantize.ts";
 * const docs = packSigns(new Float32Array([1, 1, -1, -1, 1, -1]), 3, 2);
 * const q = packSigns(new Float32Array([1, -1]), 1, 2);
 * if (JSON.stringify(Array.from(hammingTopK(q, 1, docs, 3, 2, 1).indices)) !== JSON.stringify([2])) throw new Error(`got ${hammingTopK(q, 1, docs, 3, 2, 1).indices}`);
 * ```
 */
export function hammingTopK(
  queries: Uint32Array,
  nq: number,
  docs: Uint32Array,
  nd: number,
  dim: number,
  k: number,
): TopKResult & { distances: Int32Array } {
  if (!Number.isInteger(k) || k <= 0) {
    throw new RangeError(`hammingTopK: k must be a positive integer, got ${k}`);
  }
  if (nd === 0) throw new RangeError("hammingTopK: empty corpus (nd = 0): nothing to search");
  const words = Math.ceil(dim / 32);
  if (queries.length !== nq * words || docs.length !== nd * words) {
    throw new RangeError(
      `hammingTopK: expected ${nq}×${words} query words and ${nd}×${words} doc words, got ${queries.length} and ${docs.length}`,
    );
  }
  const kk = Math.min(k, nd);
  const indices = new Int32Array(nq * kk);
  const distances = new Int32Array(nq * kk);
  const scores = new Float32Array(nq * kk);
  // Distances and their histogram: the WebAssembly kernel (popcnt over 64-bit
  // words), else the same loop in JavaScript.
  const wasm = nd * words >= 4096 ? hammingKernel() : null;
  const w64 = Math.ceil(words / 2);
  let dist: Int32Array<ArrayBufferLike> = new Int32Array(nd);
  let counts: Int32Array<ArrayBufferLike> = new Int32Array(64 * w64 + 2);
  let score: (q: number) => void;
  if (wasm) {
    const docBytes = nd * w64 * 8, qAt = docBytes, distAt = qAt + w64 * 8;
    const countsAt = distAt + nd * 4, end = countsAt + counts.length * 4;
    const have = wasm.memory.buffer.byteLength;
    if (end > have) wasm.memory.grow(Math.ceil((end - have) / 65536));
    const mem32 = new Uint32Array(wasm.memory.buffer);
    if (resident === docs && residentWords === words) {
      // The same corpus as the last call is still in the kernel's memory.
    } else if (words === 2 * w64) mem32.set(docs, 0);
    else {
      // An odd number of 32-bit words: pad each row to whole 64-bit words with zeros.
      for (let j = 0; j < nd; j++) {
        mem32.set(docs.subarray(j * words, (j + 1) * words), j * 2 * w64);
        mem32[j * 2 * w64 + words] = 0;
      }
    }
    resident = docs;
    residentWords = words;
    dist = new Int32Array(wasm.memory.buffer, distAt, nd);
    counts = new Int32Array(wasm.memory.buffer, countsAt, counts.length);
    score = (q) => {
      const qw = new Uint32Array(wasm.memory.buffer, qAt, 2 * w64);
      qw.fill(0);
      qw.set(queries.subarray(q * words, (q + 1) * words));
      counts.fill(0);
      wasm.hamming(qAt, 0, nd, w64, distAt, countsAt);
    };
  } else {
    score = (q) => {
      counts.fill(0);
      const qo = q * words;
      for (let j = 0; j < nd; j++) {
        let h = 0;
        const dOff = j * words;
        for (let w = 0; w < words; w++) h += popcount32(queries[qo + w] ^ docs[dOff + w]);
        dist[j] = h;
        counts[h]++;
      }
    };
  }
  for (let q = 0; q < nq; q++) {
    score(q);
    // The smallest cutoff distance whose cumulative count reaches kk.
    let cutoff = 0, acc = 0;
    while (acc + counts[cutoff] < kk) acc += counts[cutoff++];
    const picked: number[] = [];
    for (let j = 0; j < nd; j++) if (dist[j] <= cutoff) picked.push(j);
    picked.sort((a, b) => dist[a] - dist[b] || tieRank(a) - tieRank(b) || a - b);
    for (let r = 0; r < kk; r++) {
      const j = picked[r];
      indices[q * kk + r] = j;
      distances[q * kk + r] = dist[j];
      scores[q * kk + r] = 1 - (2 * dist[j]) / dim;
    }
  }
  return { k: kk, indices, scores, distances };
}

/**
 * A corpus prepared for search in one quantisation.
 *
 * @example
 * ```ts
 * import { buildIndex, type QuantizedIndex } from "./quantize.ts";
 * const idx: QuantizedIndex = buildIndex(new Float32Array([1, 0, 0, 1]), 2, 2, "binary");
 * if (JSON.stringify(idx.bytesPerVector) !== JSON.stringify(1)) throw new Error(`got ${JSON.stringify(idx.bytesPerVector)}`);
 * ```
 */
export interface QuantizedIndex {
  /** How the vectors are stored. */
  quantization: Quantization;
  /** Vector dimension. */
  dim: number;
  /** Vectors in the index. */
  n: number;
  /** Bytes per vector in the index (see {@linkcode bytesPerVector}). */
  bytesPerVector: number;
  /** The int8 scales (int8 only). */
  scales?: Float32Array;
  /** int8 codes, or packed sign bits, or the fp32 vectors. */
  codes: Int8Array | Uint32Array | Float32Array;
  /** Full-precision vectors kept for re-scoring (binary with re-scoring). */
  rescoreVectors?: Float32Array;
}

/**
 * Build a search index of row-major `[n, dim]` normalised vectors.
 * `keepFloat` keeps the fp32 vectors for binary re-scoring.
 *
 * @example
 * ```ts
 * import { buildIndex } from "./quantize.ts";
 * const idx = buildIndex(new Float32Array([0.6, 0.8, 1, 0]), 2, 2, "int8");
 * if (JSON.stringify(idx.bytesPerVector) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(idx.bytesPerVector)}`);
 * ```
 */
export function buildIndex(
  docs: Float32Array,
  n: number,
  dim: number,
  quantization: Quantization,
  opts: { keepFloat?: boolean } = {},
): QuantizedIndex {
  checkShape("buildIndex", docs, n, dim);
  const bytes = bytesPerVector(quantization, dim);
  if (quantization === "fp32") {
    return { quantization, dim, n, bytesPerVector: bytes, codes: docs };
  }
  if (quantization === "int8") {
    const scales = fitInt8Scales(docs, n, dim);
    const codes = quantizeInt8(docs, n, dim, scales);
    return {
      quantization,
      dim,
      n,
      bytesPerVector: bytes,
      scales,
      codes,
    };
  }
  return {
    quantization,
    dim,
    n,
    bytesPerVector: bytes,
    codes: packSigns(docs, n, dim),
    rescoreVectors: opts.keepFloat ? docs : undefined,
  };
}

/**
 * Options of {@linkcode searchIndex}.
 */
export interface SearchIndexOptions {
  /** Results per query. */
  k: number;
  /**
   * Binary only: re-score `rescore × k` Hamming candidates with the exact
   * fp32 dot product (needs an index built with `keepFloat`); 0 or absent: off.
   */
  rescore?: number;
}

/**
 * Search fp32 row-major `[nq, dim]` queries in an index built by
 * {@linkcode buildIndex}: fp32 exact dot product, int8 dequantised dot
 * product with the corpus scales, or binary Hamming distance (then optional
 * exact re-scoring).
 *
 * @example
 * ```ts
 * import { buildIndex, searchIndex } from "./quantize.ts";
 * const idx = buildIndex(new Float32Array([1, 0, 0, 1]), 2, 2, "binary", { keepFloat: true });
 * const r = await searchIndex(idx, new Float32Array([0.1, 0.9]), 1, { k: 1, rescore: 4 });
 * if (JSON.stringify(Array.from(r.indices)) !== JSON.stringify([1])) throw new Error(`got ${r.indices}`);
 * ```
 */
export async function searchIndex(
  index: QuantizedIndex,
  queries: Float32Array,
  nq: number,
  opts: SearchIndexOptions,
): Promise<TopKResult> {
  const { dim, n } = index;
  checkShape("searchIndex", queries, nq, dim);
  if (index.quantization === "fp32") {
    return await topK(queries, nq, index.codes as Float32Array, n, dim, opts.k);
  }
  if (index.quantization === "int8") {
    const qc = quantizeInt8(queries, nq, dim, index.scales!);
    const qd = dequantizeInt8(qc, nq, dim, index.scales!);
    return await int8Search(qd, nq, index.codes as Int8Array, n, dim, index.scales!, opts.k);
  }
  const rescore = opts.rescore ?? 0;
  if (!Number.isInteger(rescore) || rescore < 0) {
    throw new RangeError(`searchIndex: rescore must be an integer >= 0, got ${rescore}`);
  }
  const qBits = packSigns(queries, nq, dim);
  if (rescore === 0) return hammingTopK(qBits, nq, index.codes as Uint32Array, n, dim, opts.k);
  const vecs = index.rescoreVectors;
  if (!vecs) {
    throw new Error("searchIndex: re-scoring needs an index built with { keepFloat: true }");
  }
  const cand = hammingTopK(qBits, nq, index.codes as Uint32Array, n, dim, opts.k * rescore);
  const kk = Math.min(opts.k, n);
  const indices = new Int32Array(nq * kk);
  const scores = new Float32Array(nq * kk);
  const s = new Float32Array(cand.k);
  const order = new Int32Array(cand.k);
  for (let q = 0; q < nq; q++) {
    const qo = q * dim;
    for (let c = 0; c < cand.k; c++) {
      const j = cand.indices[q * cand.k + c];
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += queries[qo + d] * vecs[j * dim + d];
      s[c] = dot;
      order[c] = c;
    }
    order.sort((a, b) =>
      s[b] - s[a] || cand.indices[q * cand.k + a] - cand.indices[q * cand.k + b]
    );
    for (let r = 0; r < kk; r++) {
      indices[q * kk + r] = cand.indices[q * cand.k + order[r]];
      scores[q * kk + r] = s[order[r]];
    }
  }
  return { k: kk, indices, scores };
}

/** Documents dequantised per block by the int8 search. */
const INT8_BLOCK = 16_384;

/** Exact top-k over int8 codes, one dequantised block at a time, blocks merged. */
async function int8Search(
  queries: Float32Array,
  nq: number,
  codes: Int8Array,
  nd: number,
  dim: number,
  scales: Float32Array,
  k: number,
): Promise<TopKResult> {
  if (nd <= INT8_BLOCK) {
    return await topK(queries, nq, dequantizeInt8(codes, nd, dim, scales), nd, dim, k);
  }
  const kk = Math.min(k, nd);
  const cand: { idx: number[]; score: number[] }[] = Array.from({ length: nq }, () => ({
    idx: [],
    score: [],
  }));
  for (let d0 = 0; d0 < nd; d0 += INT8_BLOCK) {
    const n = Math.min(INT8_BLOCK, nd - d0);
    const block = dequantizeInt8(codes.subarray(d0 * dim, (d0 + n) * dim), n, dim, scales);
    const r = await topK(queries, nq, block, n, dim, kk);
    for (let q = 0; q < nq; q++) {
      for (let c = 0; c < r.k; c++) {
        cand[q].idx.push(d0 + r.indices[q * r.k + c]);
        cand[q].score.push(r.scores[q * r.k + c]);
      }
    }
  }
  const indices = new Int32Array(nq * kk);
  const scores = new Float32Array(nq * kk);
  for (let q = 0; q < nq; q++) {
    const { idx, score } = cand[q];
    const order = idx.map((_, i) => i).sort((a, b) => score[b] - score[a] || idx[a] - idx[b]);
    for (let r = 0; r < kk; r++) {
      indices[q * kk + r] = idx[order[r]];
      scores[q * kk + r] = score[order[r]];
    }
  }
  return { k: kk, indices, scores };
}

function checkShape(fn: string, x: Float32Array, n: number, dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new RangeError(`${fn}: dim must be a positive integer, got ${dim}`);
  }
  if (x.length !== n * dim) {
    throw new RangeError(
      `${fn}: got ${x.length} values, expected ${n} × ${dim} (dimension mismatch?)`,
    );
  }
}
