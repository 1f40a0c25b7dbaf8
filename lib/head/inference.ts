/**
 * Inference: the frozen encoder followed by a trained head, the Deno
 * equivalent of the original project's `BGEM3WithHead(...)(queries)`.
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import { assertHeadFitsEncoder, loadCheckpoint, type LoadedCheckpoint } from "../run/checkpoint.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { prefixNormalize, resolveDim } from "./dims.ts";
import { type Encoder, loadEncoder } from "../encoder/encoder.ts";
import type { Embeddings } from "../encoder/encoder.ts";
import { ProjectionHead } from "./head.ts";

import { escapeInvisible, isBlankText } from "../data/text_input.ts";
export { escapeInvisible, isBlankText };

/** An encoder with a projection head on top. */
export interface ProjectionModel {
  /** The frozen encoder. */
  encoder: Encoder;
  /** The checkpoint the head came from. */
  checkpoint: LoadedCheckpoint;
  /** Output dimension (256, or the `dim` prefix asked for). */
  dim: number;
  /** Encode texts to L2-normalised `[n, dim]` vectors. */
  encode(texts: string[], opts?: { batchSize?: number }): Promise<Embeddings>;
  /** Project base-encoder embeddings (`[n, inDim]`) through the head. */
  project(base: Float32Array, n: number): Float32Array;
  /** Release the encoder session and the head's tensors. */
  dispose(): Promise<void>;
}

/**
 * Load a checkpoint directory and the encoder it was trained on (the
 * `encoder.dir` in its `config.json`, or `opts.model`). The encoder's
 * fingerprint must match the checkpoint's unless `force`.
 *
 * @example
 * ```ts
 * import { loadProjectionModel } from "./inference.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const model = await loadProjectionModel("checkpoints/latest");
 *   const { dim, data } = await model.encode(["phòng trọ q10 giá rẻ"]);
 *   console.log(dim, data.length); // 256 256
 *   await model.dispose();
 * }
 * ```
 */
export async function loadProjectionModel(
  dir: string,
  opts: {
    which?: "best" | "final";
    model?: string;
    force?: boolean;
    device?: "auto" | "wasm" | "cpu" | "gpu";
    onWarning?: (msg: string) => void;
    /** A trained Matryoshka prefix to serve (see `lib/head/dims.ts`); default the full output. */
    dim?: number;
  } = {},
): Promise<ProjectionModel> {
  const { readRunInfo } = await import("../run/checkpoint.ts");
  const info = await readRunInfo(dir);
  const modelDir = opts.model ?? (info.config.model || await ensureDefaultModel());
  const encoder = await loadEncoder(modelDir);
  const checkpoint = await loadCheckpoint(dir, {
    which: opts.which ?? "best",
    fingerprint: encoder.fingerprint,
    force: opts.force,
    onWarning: opts.onWarning,
  });
  assertHeadFitsEncoder(checkpoint, encoder);
  const dim = resolveDim(checkpoint.info, opts.dim, checkpoint.dir);
  await initBackend(opts.device ?? "auto");
  const head = ProjectionHead.create({
    inDim: checkpoint.inDim,
    outDim: checkpoint.outDim,
    init: "orthogonal",
    seed: 0,
  });
  head.setWeight(checkpoint.weight);
  const project = (base: Float32Array, n: number) => {
    const y = head.project(base, n);
    return dim === checkpoint.outDim ? y : prefixNormalize(y, n, checkpoint.outDim, dim);
  };
  return {
    encoder,
    checkpoint,
    dim,
    async encode(texts, o = {}) {
      const blank = texts.findIndex(isBlankText);
      if (blank >= 0) {
        throw new Error(
          `encode: texts[${blank}] is empty or only whitespace/invisible characters ` +
            `(${escapeInvisible(texts[blank])}); there is nothing to encode`,
        );
      }
      const base = await encoder.encode(texts, { batchSize: o.batchSize });
      return { dim, data: project(base.data, texts.length) };
    },
    project,
    async dispose() {
      head.dispose();
      await encoder.dispose();
    },
  };
}
