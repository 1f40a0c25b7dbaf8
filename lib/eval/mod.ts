/**
 * Evaluation: exact top-k search, ranking metrics (recall@k, MRR@10,
 * nDCG@10), the retrieval task built from examples, base-versus-head
 * comparison, the `--compare` table (PCA, prefixes, storage variants), and
 * quantised vectors (int8, binary) with their search.
 *
 * @example
 * ```ts
 * import { rankingMetrics } from "./mod.ts";
 * // 2 queries, k = 3: the relevant document at rank 1, then at rank 3
 * const m = rankingMetrics(new Int32Array([7, 1, 2, 4, 5, 9]), 3, new Int32Array([7, 9]));
 * if (m["recall@1"] !== 0.5) throw new Error(`recall@1 ${m["recall@1"]}`);
 * if (Math.abs(m["mrr@10"] - (1 + 1 / 3) / 2) > 1e-12) throw new Error(`mrr@10 ${m["mrr@10"]}`);
 * ```
 *
 * @module
 */

export {
  type CompareMethod,
  compareMethods,
  type CompareRow,
  formatCompareTable,
  linearProjector,
  PCA_ITERATIONS,
  PCA_OVERSAMPLE,
  type PcaBasis,
  pcaFit,
  pcaMethod,
  rowLabel,
  type StorageVariant,
  storageVariants,
  symmetricEigen,
  trainOverlap,
} from "./compare.ts";
export {
  compareConclusion,
  compareHead,
  type CompareHeadInput,
  comparisonNotes,
  type HeadComparison,
  headMethods,
  PCA_FIT_MAX_TEXTS,
  pcaIterations,
  sampleTexts,
} from "./compare_head.ts";
export {
  compareBaseAndHead,
  type Comparison,
  type EmbeddingTable,
  gatherRows,
  lookup,
  type RetrievalTask,
  retrievalTask,
} from "./evaluation.ts";
export {
  type EvaluateInput,
  evaluateRetrieval,
  type FeatureErrors,
  featureErrors,
  type FeatureErrorsInput,
  formatFeatureTable,
  formatMetricsTable,
  METRIC_KEYS,
  type Metrics,
  type MetricsTableOptions,
  rankingMetrics,
  SearchIndex,
  topK,
  type TopKResult,
} from "./metrics.ts";
export {
  buildIndex,
  bytesPerVector,
  dequantizeInt8,
  fitInt8Scales,
  hammingTopK,
  packSigns,
  popcount32,
  type Quantization,
  QUANTIZATIONS,
  type QuantizedIndex,
  quantizeInt8,
  searchIndex,
  type SearchIndexOptions,
} from "./quantize.ts";
export {
  compareRun,
  evaluateRun,
  type EvaluationOptions,
  type PreparedEvaluation,
  prepareEvaluation,
  type RunComparison,
  type RunEvaluation,
} from "./run_eval.ts";
export {
  type CorpusHit,
  type CorpusSearch,
  type CorpusSearchOptions,
  searchCorpus,
} from "./search_corpus.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type Example, type Negative } from "../data/dataset.ts";
export {
  CHECKPOINT_FORMAT,
  type EpochRecord,
  type LoadedCheckpoint,
  type RunInfo,
} from "../run/checkpoint.ts";
export { type TrainConfig } from "../train/config.ts";
