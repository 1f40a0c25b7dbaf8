/**
 * phongtro-head: train a small projection head (1024→256) on top of a
 * frozen BGE-M3 encoder for search over Vietnamese rental listings.
 *
 * The public API at a glance:
 *
 * - **data**: {@link loadDataset}, {@link loadWeightConfig}, {@link splitDataset}, {@link batches}
 * - **encoder**: {@link loadEncoder}, {@link ensureDefaultModel}, {@link embedTexts} (cache)
 * - **loss**: {@link weightedInfoNCE} (`weighting: "exp"` correct, `"logit"` the original bug)
 * - **head**: {@link ProjectionHead}
 * - **training**: {@link resolveConfig}, {@link prepareTraining}, {@link trainHead}
 * - **checkpoints / inference**: {@link loadCheckpoint}, {@link loadProjectionModel}
 * - **evaluation**: {@link retrievalTask}, {@link compareBaseAndHead}, {@link topK}, {@link rankingMetrics}
 * - **plots**: {@link lossCurves}, {@link pcaScatter}, {@link displayPlot}, {@link writeReport}
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
  embedTexts,
  type EmbedTextsOptions,
  readCache,
  writeCache,
} from "./cache.ts";
export {
  CheckpointError,
  type EpochRecord,
  loadCheckpoint,
  type LoadedCheckpoint,
  readMetrics,
  readRunInfo,
  resolveRunDir,
  type RunInfo,
} from "./checkpoint.ts";
export {
  ConfigError,
  DEFAULT_CONFIG,
  readConfigFile,
  resolveConfig,
  type TrainConfig,
} from "./config.ts";
export { readCorpus } from "./corpus.ts";
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
export { loadProjectionModel, type ProjectionModel } from "./inference.ts";
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
  topK,
} from "./metrics.ts";
export { exportHead } from "./export.ts";
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
  pca2d,
  pcaScatter,
} from "./plots.ts";
export { renderReport, writeReport } from "./report.ts";
export { Rng } from "./rng.ts";
export { readSafetensors, writeSafetensors } from "./safetensors.ts";
export { learningRate, scheduleCurve } from "./schedule.ts";
export { loadTokenizer, TextTokenizer } from "./tokenizer.ts";
export {
  NonFiniteLossError,
  type PreparedData,
  prepareTraining,
  type TrainEvent,
  trainHead,
  type TrainResult,
} from "./trainer.ts";
