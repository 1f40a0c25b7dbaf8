/**
 * The frozen text encoder: ONNX models (the offline `lexical-1024` stand-in,
 * the BGE-M3-shaped benchmark model, or a fetched BGE-M3), the XLM-R Unigram
 * tokenizer (SentencePiece-exact), and the content-addressed embedding cache.
 *
 * @example
 * ```ts
 * import { buildLexicalTokenizer, TextTokenizer } from "./mod.ts";
 * const { json } = buildLexicalTokenizer(["phòng trọ quận 10"]);
 * const tok = new TextTokenizer(json);
 * const { ids, truncated } = tok.encode("phòng trọ", 512);
 * if (truncated || ids[0] !== 0 || ids.at(-1) !== 2) throw new Error(`no <s> … </s>: ${ids}`);
 * ```
 *
 * @module
 */

export {
  type CachedEmbeddings,
  cacheDir,
  type CacheEncoder,
  type CacheReadResult,
  DEFAULT_CACHE_ROOT,
  type EmbedPlan,
  embedTexts,
  type EmbedTextsOptions,
  type LoadedCache,
  QUERY_CACHE_MAX,
  readCache,
  writeCache,
} from "./cache.ts";
export {
  buildDefaultModel,
  type DefaultModelBuild,
  type DefaultModelOptions,
  ensureDefaultModel,
  type ModelFiles,
} from "./default_model.ts";
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
export {
  BGE_M3_SHAPE,
  buildShapeModel,
  buildShapeTokenizer,
  type ShapeModelBuild,
  type ShapeModelOptions,
} from "./bge_shape.ts";
export {
  buildLexicalTokenizer,
  type HfTokenizer,
  type LexicalTokenizer,
  type LexicalTokenizerOptions,
  loadTokenizer,
  TextTokenizer,
  type TokenizedText,
} from "./tokenizer.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type XlmrShape } from "../core/onnx_build.ts";
