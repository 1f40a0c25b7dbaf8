/**
 * phongtro-head: train a small projection head (1024→256) on top of a
 * frozen BGE-M3 encoder for search over Vietnamese rental listings.
 *
 * The public API at a glance:
 *
 * - **data**: {@link loadDataset}, {@link loadWeightConfig}, {@link splitDataset}, {@link batches}
 * - **encoder**: {@link loadEncoder}, {@link ensureDefaultModel}, {@link embedTexts} (cache)
 * - **loss**: {@link weightedInfoNCE} (`weighting: "exp"` correct, `"logit"` the original bug),
 *   {@link matryoshkaInfoNCE}
 * - **fast step**: {@link OrtStep} (onnxruntime: forward, loss, closed-form gradient),
 *   {@link adamWUpdate}, {@link TfjsStep} (tfjs autodiff reference)
 * - **head**: {@link ProjectionHead}
 * - **training**: {@link resolveConfig}, {@link prepareTraining}, {@link trainHead}
 * - **checkpoints / inference**: {@link loadCheckpoint}, {@link loadProjectionModel},
 *   {@link RunDir} (one locked writer per run directory, one manifest per epoch)
 * - **evaluation**: {@link retrievalTask}, {@link compareBaseAndHead}, {@link topK}, {@link SearchIndex},
 *   {@link rankingMetrics}
 * - **plots**: {@link lossCurves}, {@link pcaScatter}, {@link displayPlot}, {@link writeReport}
 * - **beyond the head**: {@link mineHardNegatives} (hard-negative mining), {@link resolveDim} /
 *   {@link prefixNormalize} (Matryoshka prefixes), {@link buildIndex} / {@link searchIndex}
 *   (int8 and binary vectors), {@link compareMethods} / {@link compareFigure} (`eval --compare`)
 * - **serving**: {@link readListings}, {@link indexListings}, {@link VectorStore} (LanceDB),
 *   {@link openSearchService}, {@link serveSearch}, {@link renderSearchPage}
 *
 * @example
 * ```ts
 * import { loadProjectionModel } from "./mod.ts";
 * const model = await loadProjectionModel("checkpoints/latest");
 * const { dim, data } = await model.encode(["phòng trọ q10 giá rẻ có máy lạnh"]);
 * console.log(dim, data.length); // 256 256
 * await model.dispose();
 * ```
 *
 * @module
 */

export { type Device, DEVICES, initBackend } from "./backend.ts";
export {
  type CachedEmbeddings,
  cacheDir,
  DEFAULT_CACHE_ROOT,
  type EmbedPlan,
  embedTexts,
  type EmbedTextsOptions,
  QUERY_CACHE_MAX,
  readCache,
  writeCache,
} from "./cache.ts";
export { encodeReporter, planMessage, Progress } from "./progress.ts";
export {
  assertHeadFitsEncoder,
  CheckpointError,
  type EpochRecord,
  loadCheckpoint,
  type LoadedCheckpoint,
  readMetrics,
  readRunInfo,
  resolveRunDir,
  type RunInfo,
  validateHeadWeight,
} from "./checkpoint.ts";
export {
  ConfigError,
  DEFAULT_CONFIG,
  matryoshkaDims,
  readConfigFile,
  resolveConfig,
  type TrainConfig,
} from "./config.ts";
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
export { compareFigure, type CompareFigureOptions } from "./compare_plot.ts";
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
export { readCorpus } from "./corpus.ts";
export { DimError, headProjector, prefixNormalize, resolveDim, trainedDims } from "./dims.ts";
export {
  type Batch,
  batchCount,
  batches,
  type Dataset,
  DatasetError,
  type Example,
  loadDataset,
  loadWeightConfig,
  type Negative,
  negativeWeight,
  normalizeQuery,
  splitDataset,
  uniqueTexts,
  type WeightConfig,
} from "./dataset.ts";
export { buildDefaultModel, ensureDefaultModel } from "./default_model.ts";
export {
  DEFAULT_MODEL_DIR,
  describeEncoder,
  type Embeddings,
  type EncodedChunk,
  type EncodeOptions,
  type Encoder,
  type EncodeRate,
  type EncoderConfig,
  EncoderError,
  type EncodeTimings,
  loadEncoder,
  modelFingerprint,
  type SessionOptions,
} from "./encoder.ts";
export { BGE_M3_SHAPE, buildShapeModel, buildShapeTokenizer } from "./bge_shape.ts";
export {
  compareBaseAndHead,
  type Comparison,
  type EmbeddingTable,
  gatherRows,
  lookup,
  type RetrievalTask,
  retrievalTask,
} from "./evaluation.ts";
export { atomicWrite, atomicWriteJson } from "./fs.ts";
export { type HeadInit, type HeadOptions, ProjectionHead } from "./head.ts";
export {
  escapeInvisible,
  isBlankText,
  loadProjectionModel,
  type ProjectionModel,
} from "./inference.ts";
export { foldText, matchingFeatures, matchingValues, numericConstraints } from "./highlight.ts";
export {
  checkpointSha256,
  DEFAULT_ANN_THRESHOLD,
  DEFAULT_INDEX_DIR,
  indexListings,
  type IndexOptions,
  type IndexReport,
  loadQueryHead,
  type QueryHead,
} from "./indexer.ts";
export { type Listing, type MetaValue, readListings, textId } from "./listings.ts";
export {
  createHandler,
  type HealthResponse,
  LIMITS,
  openSearchService,
  type SearchResponse,
  type SearchService,
  serveSearch,
} from "./server.ts";
export { escapeHtml, renderSearchPage } from "./search_page.ts";
export {
  type AnnInfo,
  type AnnKind,
  annRecall,
  FilterError,
  type IndexHit,
  type IndexInfo,
  IndexMismatchError,
  inferColumns,
  VectorStore,
} from "./vector_store.ts";
export { disableOrtTelemetry, loadOrt } from "./ort.ts";
export { parseTexts, readTexts } from "./text_input.ts";
export {
  hardNegativeSimilarities,
  LOSS_BUG_WEIGHTS,
  lossBugFigure,
  type LossBugFigureOptions,
  type SimilarityStats,
} from "./loss_bug.ts";
export {
  type InfoNCEOptions,
  lossDirections,
  matryoshkaInfoNCE,
  type MatryoshkaOptions,
  negativeShare,
  weightedInfoNCE,
  type Weighting,
} from "./loss.ts";
export {
  evaluateRetrieval,
  type FeatureErrors,
  featureErrors,
  formatFeatureTable,
  formatMetricsTable,
  METRIC_KEYS,
  type Metrics,
  rankingMetrics,
  SearchIndex,
  topK,
} from "./metrics.ts";
export { exportHead } from "./export.ts";
export {
  differingFeatures,
  type Features,
  formatMineReport,
  type MinedRecord,
  mineHardNegatives,
  type MineOptions,
  type MineReport,
  parseRange,
  readFeatures,
  sameFeatureValue,
} from "./mine.ts";
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
export { linearHeadGraph } from "./onnx_build.ts";
export {
  barChart,
  combineFigures,
  displayPlot,
  type Figure,
  histogram,
  lineChart,
  lossCurves,
  lrSchedule,
  metricCurves,
  outputPauseMs,
  pca2d,
  pcaScatter,
  plotlyLoaderScript,
  showOutput,
} from "./plots.ts";
export {
  fileWriteNeeds,
  type PathNeed,
  PermissionPreflightError,
  requirePermissions,
} from "./permissions.ts";
export {
  checkTrainConfig,
  checkTrainSplit,
  PreflightError,
  preflightTrain,
  trainPathNeeds,
} from "./preflight.ts";
export {
  type Manifest,
  type ManifestEntry,
  ManifestError,
  readCommittedFile,
  readManifest,
} from "./manifest.ts";
export { renderReport, writeReport } from "./report.ts";
export {
  formatResumeChanges,
  type ResumeChange,
  resumeChanges,
  resumeRefusal,
  type RunIdentity,
} from "./resume_check.ts";
export {
  latestName,
  type LockInfo,
  RunDir,
  RunDirError,
  type RunDirOptions,
  RunLockedError,
  type TrainState,
} from "./run_dir.ts";
export { RunLock } from "./run_lock.ts";
export { Rng } from "./rng.ts";
export { readSafetensors, writeSafetensors } from "./safetensors.ts";
export { learningRate, scheduleCurve } from "./schedule.ts";
export { loadTokenizer, TextTokenizer } from "./tokenizer.ts";
export {
  createStepEngine,
  NonFiniteLossError,
  type PreparedData,
  prepareTraining,
  type TrainEvent,
  trainHead,
  type TrainResult,
  VAL_RETRIEVAL_MAX_QUERIES,
} from "./trainer.ts";
export {
  adamWUpdate,
  createState,
  type LossSpec,
  OrtStep,
  prefixRows,
  type StepBatch,
  type StepEngine,
  type StepState,
} from "./train_step.ts";
export { TfjsStep } from "./train_step_tfjs.ts";
