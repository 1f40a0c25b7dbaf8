/**
 * Training data and search corpora: the dataset formats (the project's JSON,
 * FlagEmbedding JSONL), hard-negative weights, the seeded train/val split,
 * batches, unique texts, listings files, plain-text corpora and query
 * normalisation.
 *
 * @example
 * ```ts
 * import { normalizeQuery, splitDataset } from "./mod.ts";
 * if (normalizeQuery("  Phòng   trọ Q10 ") !== "phòng trọ q10") throw new Error("normalizeQuery");
 * const examples = Array.from({ length: 10 }, (_, id) => ({
 *   id,
 *   query: `q${id}`,
 *   positive: `p${id}`,
 *   negatives: [],
 * }));
 * const { train, val } = splitDataset(examples, { valFraction: 0.2, seed: 1 });
 * if (train.length !== 8 || val.length !== 2) throw new Error("a 20 % split of 10 is 8 + 2");
 * ```
 *
 * @module
 */

export { readCorpus } from "./corpus.ts";
export {
  type Batch,
  batchCount,
  batches,
  type BatchOptions,
  type Dataset,
  DatasetError,
  type Example,
  loadDataset,
  type LoadDatasetOptions,
  loadWeightConfig,
  type Negative,
  negativeWeight,
  normalizeQuery,
  splitDataset,
  type SplitOptions,
  uniqueTexts,
  type UniqueTextsOptions,
  type WeightConfig,
} from "./dataset.ts";
export {
  type DatasetListings,
  type Listing,
  type MetaValue,
  readListings,
  textId,
} from "./listings.ts";
export { parseTexts, readTexts } from "./text_input.ts";
export {
  AMENITIES,
  CITIES,
  CONSTRAINT_KEYS,
  type Constraints as SyntheticConstraints,
  type District,
  type Features as SyntheticFeatures,
  generate,
  type GeneratedExample,
  generateExamples,
  type GenerateOptions,
  generateParts,
  priceText,
  ROOM_TYPES,
  type RoomType,
  stripDiacritics,
  violations,
  writeSyntheticDataset,
} from "./synthetic.ts";
