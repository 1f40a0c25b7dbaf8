/**
 * `deno task search` without an index, as a library: rank a corpus (a file
 * of listings, or every listing of a dataset) for one or more queries with a
 * trained head, a Matryoshka prefix of it, or the base encoder, stored as
 * fp32, int8 or binary. Corpus and query embeddings come from the cache
 * (queries in its bounded query store), so a repeated search encodes only new
 * queries.
 *
 * @module
 */
import { embedTexts } from "../encoder/cache.ts";
import {
  assertHeadFitsEncoder,
  loadCheckpoint,
  type LoadedCheckpoint,
  readRunInfo,
} from "../run/checkpoint.ts";
import { readCorpus } from "../data/corpus.ts";
import { loadDataset, uniqueTexts } from "../data/dataset.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { describeEncoder, loadEncoder } from "../encoder/encoder.ts";
import { exists } from "../core/fs.ts";
import { headProjector, resolveDim } from "../head/dims.ts";
import { buildIndex, type Quantization, searchIndex } from "./quantize.ts";

/** What {@link searchCorpus} searches, and with what. */
export interface CorpusSearchOptions {
  /** The queries. */
  queries: string[];
  /** Hits per query (at most the corpus size). */
  k: number;
  /** The run whose head ranks (read for its model and dataset even with `base`, when present). */
  checkpoint: string;
  /** Which weights (default `best`). */
  which?: "best" | "final";
  /** Rank with the base encoder, without the head. */
  base?: boolean;
  /** A trained Matryoshka prefix of the head. */
  dim?: number;
  /** Storage of the corpus vectors (default fp32). */
  quantize?: Quantization;
  /** Binary only: re-score `rescore × k` candidates in fp32 (0: off). */
  rescore?: number;
  /** Listings file (default: every listing of `data`). */
  corpus?: string;
  /** Dataset whose listings form the corpus (default: the run's, else `data/gen-data-set.json`). */
  data?: string;
  /** Encoder folder (default: the run's, else the offline default). */
  model?: string;
  /** Embedding cache root. */
  cacheRoot: string;
  /** Use the head even if the encoder fingerprint differs. */
  force?: boolean;
  /** Informational lines (the encoder and head, before any encoding). */
  onInfo?: (line: string) => void;
  /** Warnings. */
  onWarning?: (line: string) => void;
}

/** One ranked listing. */
export interface CorpusHit {
  /** 1-based rank. */
  rank: number;
  /** Similarity (cosine; int8/binary scores when so stored). */
  score: number;
  /** The listing's text. */
  text: string;
}

/** The outcome of {@link searchCorpus}. */
export interface CorpusSearch {
  /** Hits of each query, in query order. */
  hits: CorpusHit[][];
  /** The corpus searched. */
  corpus: string[];
  /** Dimension of the vectors searched. */
  dim: number;
  /** Bytes per stored corpus vector. */
  bytesPerVector: number;
  /** Cache use: listings and queries encoded, listings from the cache. */
  encoded: { docs: number; queries: number; docsCached: number };
  /** The loaded head (undefined with `base`). */
  checkpoint?: LoadedCheckpoint;
}

/**
 * Rank the corpus for every query.
 *
 * @example
 * ```ts
 * import { searchCorpus } from "./search_corpus.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const r = await searchCorpus({
 *     queries: ["phòng trọ q10 có máy lạnh"],
 *     k: 5,
 *     checkpoint: "checkpoints/latest",
 *     cacheRoot: "data/cache",
 *   });
 *   console.log(r.hits[0].map((h) => `${h.rank}. ${h.score.toFixed(4)} ${h.text}`));
 * }
 * ```
 */
export async function searchCorpus(opts: CorpusSearchOptions): Promise<CorpusSearch> {
  const dir = opts.checkpoint;
  const useBase = opts.base === true;
  const quantize = opts.quantize ?? "fp32";
  const rescore = quantize === "binary" ? opts.rescore ?? 4 : 0;
  const info = useBase && !(await exists(`${dir}/config.json`))
    ? undefined
    : await readRunInfo(dir);
  if (info && !useBase) resolveDim(info, opts.dim, dir); // fail early
  const modelDir = opts.model ?? (info?.config.model || await ensureDefaultModel());
  const encoder = await loadEncoder(modelDir);
  let corpus: string[], docs, q, ckpt: LoadedCheckpoint | undefined;
  try {
    // The head is loaded and verified before anything is encoded.
    ckpt = useBase ? undefined : await loadCheckpoint(dir, {
      which: opts.which ?? "best",
      fingerprint: encoder.fingerprint,
      force: opts.force === true,
      onWarning: opts.onWarning ?? ((m) => console.error(m)),
    });
    if (ckpt) assertHeadFitsEncoder(ckpt, encoder);
    opts.onInfo?.(
      `${describeEncoder(encoder)}; ${
        ckpt
          ? `head ${dir} (${opts.dim ? `${opts.dim}-d prefix` : `${ckpt.outDim}-d`})`
          : `base vectors (${encoder.dim}-d)`
      }`,
    );
    // Every unique listing text (positives and hard negatives) of the dataset.
    corpus = opts.corpus ? await readCorpus(opts.corpus) : uniqueTexts(
      (await loadDataset(opts.data ?? info?.dataset.path ?? "data/gen-data-set.json")).examples,
      { kind: "passages" },
    );
    docs = await embedTexts(encoder, corpus, { cacheRoot: opts.cacheRoot });
    // Queries go to the bounded query store, never into the corpus cache.
    q = await embedTexts(encoder, opts.queries, { cacheRoot: opts.cacheRoot, store: "query" });
  } finally {
    await encoder.dispose();
  }
  let qv = q.data, dv = docs.data, dim = docs.dim;
  if (ckpt) {
    const head = await headProjector(ckpt, opts.dim);
    qv = head.project(q.data, opts.queries.length);
    dv = head.project(docs.data, corpus.length);
    dim = head.dim;
    head.dispose();
  }
  const kk = Math.min(opts.k, corpus.length);
  const index = buildIndex(dv, corpus.length, dim, quantize, { keepFloat: rescore > 0 });
  const r = await searchIndex(index, qv, opts.queries.length, { k: kk, rescore });
  const hits = opts.queries.map((_, qi) =>
    Array.from(r.indices.subarray(qi * kk, (qi + 1) * kk), (idx, i) => ({
      rank: i + 1,
      score: r.scores[qi * kk + i],
      text: corpus[idx],
    }))
  );
  return {
    hits,
    corpus,
    dim,
    bytesPerVector: index.bytesPerVector,
    encoded: { docs: docs.misses, queries: q.misses, docsCached: docs.hits },
    checkpoint: ckpt,
  };
}
