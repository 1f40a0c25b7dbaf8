/**
 * Search over listings: the LanceDB vector store (verified on open, atomic
 * rebuilds), the indexer, the search service and HTTP server (`/search`,
 * `/health`, the comparison page), and feature highlighting.
 *
 * @example
 * ```ts
 * import { escapeHtml, foldText } from "./mod.ts";
 * if (foldText("Phòng Trọ") !== "phong tro") throw new Error(foldText("Phòng Trọ"));
 * if (escapeHtml("<b>") !== "&lt;b&gt;") throw new Error("escapeHtml");
 * ```
 *
 * @module
 */

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
export {
  createHandler,
  type HealthResponse,
  LIMITS,
  openSearchService,
  type RankedColumn,
  type ResultItem,
  type SearchResponse,
  type SearchService,
  serveSearch,
  type ServiceOptions,
} from "./server.ts";
export { escapeHtml, renderSearchPage } from "./search_page.ts";
export {
  type AnnInfo,
  type AnnKind,
  annRecall,
  FilterError,
  INDEX_FORMAT,
  type IndexContents,
  type IndexHit,
  type IndexInfo,
  IndexMismatchError,
  type IndexRow,
  inferColumns,
  type MetaType,
  type SearchOptions,
  type UpsertResult,
  VectorStore,
} from "./vector_store.ts";
export { openQuerySide, type QuerySide, type QuerySideOptions } from "./query_side.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type Listing, type MetaValue } from "../data/listings.ts";
export {
  type Embeddings,
  type EncodedChunk,
  type EncodeOptions,
  type Encoder,
  type EncodeRate,
  type EncoderConfig,
  type EncodeTimings,
} from "../encoder/encoder.ts";
export {
  CHECKPOINT_FORMAT,
  type EpochRecord,
  type LoadedCheckpoint,
  type RunInfo,
} from "../run/checkpoint.ts";
export { type TrainConfig } from "../train/config.ts";
