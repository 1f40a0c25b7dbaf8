/**
 * The trained projection head and its use: the head itself, Matryoshka
 * prefixes (`--dim`), inference (`loadProjectionModel`: encoder + head) and
 * ONNX export.
 *
 * @example
 * ```ts
 * import { prefixNormalize } from "./mod.ts";
 * // two rows of 3 values, keep the first 2 and renormalise
 * const out = prefixNormalize(new Float32Array([0.6, 0, 0.8, 0, 1, 0]), 2, 3, 2);
 * if (out.join(",") !== "1,0,0,1") throw new Error(`unexpected ${out}`);
 * ```
 *
 * @module
 */

export { DimError, headProjector, prefixNormalize, resolveDim, trainedDims } from "./dims.ts";
export { type HeadInit, type HeadOptions, ProjectionHead } from "./head.ts";
export {
  escapeInvisible,
  isBlankText,
  loadProjectionModel,
  type ProjectionModel,
} from "./inference.ts";
export { exportHead } from "./export.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { UsageError } from "../core/errors.ts";
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
