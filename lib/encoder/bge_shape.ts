/**
 * A BGE-M3-shaped model built offline: XLM-RoBERTa-large's architecture with
 * seeded random weights, stored like BAAI's `onnx/` export (`model.onnx` +
 * `model.onnx_data` external data, inputs `input_ids`/`attention_mask` int64,
 * output `last_hidden_state`), an XLM-R-shaped Unigram `tokenizer.json`
 * (250,002 pieces: the dataset's pieces, filler, `<mask>` last) and
 * `encoder.json` (CLS pooling, normalised, maxLength 512).
 *
 * Its vectors mean nothing: it exists to measure load time, memory and speed
 * of the real model's path, and to break things. Weights are generated and
 * written in chunks, so the builder never holds more than one chunk (16 MB)
 * of the 2.2 GB in memory. Deterministic: the same options give the same bytes.
 *
 * @module
 */
import type { EncoderConfig } from "./encoder.ts";
import { atomicWrite, join } from "../core/fs.ts";
import {
  BGE_M3_SHAPE,
  externalTensor,
  type WeightSpec,
  xlmrEncoderModel,
  type XlmrShape,
  xlmrWeightSpecs,
} from "../core/onnx_build.ts";
import { fnv1a } from "../core/rng.ts";
import { buildLexicalTokenizer, SPECIAL_TOKENS } from "./tokenizer.ts";

export { BGE_M3_SHAPE };

/**
 * A tiny XLM-R shape for tests (2 layers, hidden 64, 4 heads, FFN 128, 514
 * positions); its vocabulary size is set by the tokenizer built with it.
 *
 * @example
 * ```ts
 * import { buildShapeModel, TINY_XLMR_SHAPE } from "./bge_shape.ts";
 * await buildShapeModel("/tmp/tiny-shape", ["phòng trọ q10"], {
 *   shape: TINY_XLMR_SHAPE, vocabSize: 2000,
 * });
 * ```
 */
export const TINY_XLMR_SHAPE: XlmrShape = {
  layers: 2,
  hidden: 64,
  heads: 4,
  ffn: 128,
  vocab: 2000,
  maxPositions: 514,
  padId: 1,
  eps: 1e-5,
};

/** Options of {@link buildShapeModel}. */
export interface ShapeModelOptions {
  /** Architecture (default {@link BGE_M3_SHAPE}); `vocab` is replaced by `vocabSize`. */
  shape?: XlmrShape;
  /** Tokenizer pieces, `<mask>` included (default: `shape.vocab`, 250,002 for BGE-M3). */
  vocabSize?: number;
  /** Weight seed (default 568). */
  seed?: number;
  /** `encoder.json` name (default "bge-m3-shape"). */
  name?: string;
  /** `encoder.json` maxLength (default 512). */
  maxLength?: number;
  /** Called after each chunk of weights with bytes written and the total. */
  onProgress?: (written: number, total: number) => void;
}

/** What {@link buildShapeModel} wrote. */
export interface ShapeModelBuild {
  /** The model folder. */
  dir: string;
  /** Layers, widths and vocabulary of the graph. */
  shape: XlmrShape;
  /** Parameter count. */
  params: number;
  /** Bytes of `model.onnx_data`. */
  dataBytes: number;
  /** Bytes of `model.onnx`. */
  graphBytes: number;
  /** Pieces of the tokenizer's vocabulary. */
  vocabSize: number;
  /** The `encoder.json` written. */
  config: EncoderConfig;
}

/**
 * External-data file name, as in BAAI's export.
 *
 * @example
 * ```ts
 * import { EXTERNAL_DATA_FILE } from "./bge_shape.ts";
 * if (JSON.stringify(EXTERNAL_DATA_FILE) !== JSON.stringify("model.onnx_data")) throw new Error(`got ${JSON.stringify(EXTERNAL_DATA_FILE)}`);
 * ```
 */
export const EXTERNAL_DATA_FILE = "model.onnx_data";

/** Tensors start at multiples of this (lets ORT map them). */
const ALIGN = 4096;
/** Floats per generated chunk (16 MB). */
const CHUNK = 4 * 1024 * 1024;
/** Weight spread: uniform with the standard deviation of XLM-R's N(0, 0.02) init. */
const RANGE = 0.02 * Math.sqrt(3);

/**
 * Fill `out` with uniform values in [-RANGE, RANGE) from a xorshift32 state;
 * returns the next state. Fast enough for 568M values in a few seconds.
 */
function fillRandom(out: Float32Array, state: number): number {
  let x = state | 0 || 1;
  const scale = (2 * RANGE) / 4294967296;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) * scale - RANGE;
  }
  return x;
}

/**
 * XLM-R-shaped Unigram `tokenizer.json` with exactly `vocabSize` pieces:
 * `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3, the case-sensitive pieces of `texts`
 * (words and a character fallback, see `buildLexicalTokenizer`), filler
 * pieces (seeded letter strings with low scores, to reach XLM-R's size and
 * lattice density), and `<mask>` as the last id (250,001 for BGE-M3).
 *
 * @example
 * ```ts
 * import { buildShapeTokenizer } from "./bge_shape.ts";
 * const { json, pieces } = buildShapeTokenizer(["Phòng trọ Q10"], 1000);
 * if (pieces.length !== 1000 || pieces[999] !== "<mask>") throw new Error(`${pieces.length} ${pieces[999]}`);
 * ```
 */
export function buildShapeTokenizer(
  texts: Iterable<string>,
  vocabSize: number,
  seed = 250_002,
): { json: Record<string, unknown>; pieces: string[] } {
  const base = buildLexicalTokenizer(texts, { maxVocab: vocabSize - 1, lowercase: false });
  const json = base.json as {
    added_tokens: Record<string, unknown>[];
    model: { vocab: [string, number][] };
  };
  const vocab = json.model.vocab;
  const seen = new Set(vocab.map(([p]) => p));
  let minScore = 0;
  for (let i = SPECIAL_TOKENS.length; i < vocab.length; i++) {
    minScore = Math.min(minScore, vocab[i][1]);
  }
  const letters = "abcdefghiklmnopqrstuvxyđăâêôơưàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ";
  let x = seed | 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const filler: [string, number][] = [];
  while (vocab.length + filler.length < vocabSize - 1) {
    const len = 2 + (next() % 6);
    let p = next() % 2 === 0 ? "\u2581" : "";
    for (let i = 0; i < len; i++) p += letters[next() % letters.length];
    if (seen.has(p)) continue;
    seen.add(p);
    // Low scores: a filler piece only wins where the dataset's pieces cannot
    // cover a span without several character pieces.
    filler.push([p, Math.round((minScore - 1 - (next() % 1000) / 100) * 1e6) / 1e6]);
  }
  for (const f of filler) vocab.push(f);
  vocab.push(["<mask>", 0]);
  const maskId = vocab.length - 1;
  json.added_tokens.push({
    id: maskId,
    content: "<mask>",
    single_word: false,
    lstrip: true,
    rstrip: false,
    normalized: false,
    special: true,
  });
  if (vocab.length !== vocabSize) {
    throw new Error(`buildShapeTokenizer: built ${vocab.length} pieces, wanted ${vocabSize}`);
  }
  return { json: base.json, pieces: vocab.map(([p]) => p) };
}

/**
 * Where each weight of {@link xlmrWeightSpecs} lies in `model.onnx_data`:
 * byte offsets (4096-aligned) and the file's total size.
 *
 * @example
 * ```ts
 * import { shapeWeightLayout, TINY_XLMR_SHAPE } from "./bge_shape.ts";
 * const { specs, offsets } = shapeWeightLayout(TINY_XLMR_SHAPE);
 * console.log(specs[1].name, offsets[1]);
 * ```
 */
export function shapeWeightLayout(
  shape: XlmrShape,
): { specs: WeightSpec[]; offsets: number[]; total: number } {
  const specs = xlmrWeightSpecs(shape);
  const offsets: number[] = [];
  let total = 0;
  for (const w of specs) {
    total = Math.ceil(total / ALIGN) * ALIGN;
    offsets.push(total);
    total += elementCount(w) * 4;
  }
  return { specs, offsets, total };
}

function elementCount(w: WeightSpec): number {
  return w.dims.reduce((a, b) => a * b, 1);
}

/**
 * Write a BGE-M3-shaped model folder: `model.onnx_data` (weights, streamed
 * in 16 MB chunks), `tokenizer.json`, `encoder.json`, `README.md`, and
 * `model.onnx` last (so a folder with `model.onnx` is complete). Each file is
 * written to a temp name and renamed.
 *
 * @example
 * ```ts
 * import { buildShapeModel, TINY_XLMR_SHAPE } from "./bge_shape.ts";
 * const b = await buildShapeModel("/tmp/tiny-shape", ["phòng trọ q10 giá rẻ"], {
 *   shape: TINY_XLMR_SHAPE,
 *   vocabSize: 2000,
 * });
 * console.log(b.params, b.dataBytes);
 * ```
 */
export async function buildShapeModel(
  dir: string,
  texts: string[],
  opts: ShapeModelOptions = {},
): Promise<ShapeModelBuild> {
  const base = opts.shape ?? BGE_M3_SHAPE;
  const vocabSize = opts.vocabSize ?? base.vocab;
  const shape: XlmrShape = { ...base, vocab: vocabSize };
  if (shape.layers < 1) throw new Error("buildShapeModel: layers must be >= 1");
  const maxLength = opts.maxLength ?? 512;
  if (maxLength + shape.padId + 1 > shape.maxPositions) {
    throw new Error(
      `buildShapeModel: maxLength ${maxLength} needs ${
        maxLength + shape.padId + 1
      } position rows, the shape has ${shape.maxPositions}`,
    );
  }
  const seed = opts.seed ?? 568;
  const tok = buildShapeTokenizer(texts, vocabSize);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.remove(join(dir, "model.onnx")).catch(() => {}); // incomplete until rewritten

  const { specs, offsets, total } = shapeWeightLayout(shape);
  const dataPath = join(dir, EXTERNAL_DATA_FILE);
  const tmp = `${dataPath}.${Deno.pid}.tmp`;
  try {
    using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    const buf = new Float32Array(CHUNK);
    const bytes = new Uint8Array(buf.buffer);
    let pos = 0;
    const writeAll = async (chunk: Uint8Array) => {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
      pos += chunk.length;
    };
    for (let i = 0; i < specs.length; i++) {
      const w = specs[i];
      if (offsets[i] > pos) await writeAll(new Uint8Array(offsets[i] - pos));
      let state = (seed ^ fnv1a(w.name)) >>> 0;
      for (let left = elementCount(w); left > 0;) {
        const n = Math.min(left, CHUNK);
        const view = buf.subarray(0, n);
        if (w.init === "random") state = fillRandom(view, state);
        else view.fill(w.init === "ones" ? 1 : 0);
        await writeAll(bytes.subarray(0, n * 4));
        left -= n;
        opts.onProgress?.(pos, total);
      }
    }
    if (pos !== total) throw new Error(`wrote ${pos} bytes, expected ${total}`);
    await Deno.rename(tmp, dataPath);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }

  const weights = specs.map((w, i) =>
    externalTensor(w.name, w.dims, EXTERNAL_DATA_FILE, offsets[i])
  );
  const params = specs.reduce((a, w) => a + elementCount(w), 0);
  const graph = xlmrEncoderModel(shape, weights, {
    name: "bge_m3_shape",
    doc: "XLM-RoBERTa-large architecture (BGE-M3's) with seeded random weights. " +
      "Not BGE-M3: its vectors mean nothing.",
  });
  const config: EncoderConfig = {
    name: opts.name ?? "bge-m3-shape",
    dim: shape.hidden,
    pooling: "cls",
    normalize: true,
    maxLength,
  };
  const enc = new TextEncoder();
  await atomicWrite(join(dir, "tokenizer.json"), JSON.stringify(tok.json) + "\n");
  await atomicWrite(join(dir, "encoder.json"), JSON.stringify(config, null, 2) + "\n");
  await atomicWrite(join(dir, "README.md"), enc.encode(shapeReadme(shape, params, total)));
  await atomicWrite(join(dir, "model.onnx"), graph);
  return {
    dir,
    shape,
    params,
    dataBytes: total,
    graphBytes: graph.length,
    vocabSize,
    config,
  };
}

function shapeReadme(s: XlmrShape, params: number, bytes: number): string {
  return `# ${
    s.layers === 24 && s.hidden === 1024 ? "bge-m3-shape" : "xlm-r shape"
  }: BGE-M3's architecture, random weights (NOT BGE-M3)

Built by \`deno task build-model --shape bge-m3\` (lib/encoder/bge_shape.ts). Deterministic, never
committed. Its vectors mean nothing; it exists to measure the real model's load time, memory
and speed offline (\`deno task bench:bge\`).

- model.onnx + model.onnx_data (external data, ${(bytes / 1e9).toFixed(2)} GB): XLM-RoBERTa,
  ${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, FFN ${s.ffn}, GELU, vocabulary
  ${s.vocab}, ${s.maxPositions} positions, padding id ${s.padId}; ${params} parameters.
  Inputs input_ids, attention_mask (int64 [batch, sequence]); output last_hidden_state.
- tokenizer.json: XLM-R-shaped Unigram, ${s.vocab} pieces (<s>=0 <pad>=1 </s>=2 <unk>=3,
  the dataset's pieces, filler, <mask>=${s.vocab - 1}).
- encoder.json: CLS pooling, normalised, maxLength 512.
`;
}
