/**
 * Test helper: tiny model folders (a few-piece Unigram tokenizer, a small
 * ONNX graph with a real `last_hidden_state`, an `encoder.json`) written to
 * temp dirs with lib/core/onnx_build.ts.
 *
 * @module
 */
import type { EncoderConfig } from "../lib/encoder/encoder.ts";
import { DataType, lexicalEncoderGraph } from "../lib/core/onnx_build.ts";
import { buildLexicalTokenizer } from "../lib/encoder/tokenizer.ts";

/**
 * Texts whose words make the tiny vocabulary.
 *
 * @example
 * ```ts
 * import { TINY_TEXTS } from "./tiny_model.ts";
 * console.log(TINY_TEXTS.length);
 * ```
 */
export const TINY_TEXTS = [
  "phòng trọ quận 10 giá rẻ",
  "phong tro q10 wc riêng 3tr5",
  "chung cư mini bình thạnh",
];

/** Options of {@link writeTinyModel}. */
export interface TinyModelOptions {
  dim?: number;
  pooling?: EncoderConfig["pooling"];
  normalize?: boolean;
  maxLength?: number;
  /** encoder.json `dim` (default: the model's). */
  configDim?: number;
  int32?: boolean;
  tokenTypeIds?: boolean;
  /** Add this to every table value (to make a different model). */
  shift?: number;
}

/**
 * The table of a tiny model: row i, column j = (i + 1) * (j % 2 ? -1 : 1) / (j + 1) + shift.
 *
 * @example
 * ```ts
 * import { tinyTable } from "./tiny_model.ts";
 * console.log(tinyTable(3, 2)); // [1, -0.5, 2, -1, 3, -1.5]
 * ```
 */
export function tinyTable(vocab: number, dim: number, shift = 0): Float32Array {
  const t = new Float32Array(vocab * dim);
  for (let i = 0; i < vocab; i++) {
    for (let j = 0; j < dim; j++) t[i * dim + j] = ((i + 1) * (j % 2 ? -1 : 1)) / (j + 1) + shift;
  }
  return t;
}

/**
 * Write a tiny model folder; returns its dir, pieces and table.
 *
 * @example
 * ```ts
 * import { writeTinyModel } from "./tiny_model.ts";
 * const { dir } = await writeTinyModel({ pooling: "mean" });
 * ```
 */
export async function writeTinyModel(
  opts: TinyModelOptions = {},
): Promise<{ dir: string; pieces: string[]; table: Float32Array; dim: number }> {
  const dim = opts.dim ?? 4;
  const dir = await Deno.makeTempDir({ prefix: "tiny-model-" });
  const tok = buildLexicalTokenizer(TINY_TEXTS);
  const table = tinyTable(tok.pieces.length, dim, opts.shift ?? 0);
  const model = lexicalEncoderGraph(table, tok.pieces.length, dim, {
    intType: opts.int32 ? DataType.INT32 : DataType.INT64,
    tokenTypeIds: opts.tokenTypeIds,
  });
  const config: EncoderConfig = {
    name: "tiny",
    dim: opts.configDim ?? dim,
    pooling: opts.pooling ?? "cls",
    normalize: opts.normalize ?? true,
    maxLength: opts.maxLength ?? 64,
  };
  await Deno.writeFile(`${dir}/model.onnx`, model);
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tok.json));
  await Deno.writeTextFile(`${dir}/encoder.json`, JSON.stringify(config));
  return { dir, pieces: tok.pieces, table, dim };
}
