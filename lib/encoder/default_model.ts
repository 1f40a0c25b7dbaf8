/**
 * The offline default encoder `lexical-1024`: a lexical stand-in for BGE-M3
 * that needs no download. It is NOT BGE-M3 and has no semantic knowledge:
 * each vocabulary piece (a word of the project's data, or a character) has a
 * fixed random 1024-d unit vector, and a text's embedding is the L2-normalised
 * mean of its pieces' vectors. Texts sharing words get similar vectors.
 *
 * Files (all deterministic, identical bytes on every rebuild):
 * `tokenizer.json` (XLM-R-style Unigram, see `lib/encoder/tokenizer.ts`),
 * `model.onnx` (embedding table → masked mean → L2 norm, outputs
 * `sentence_embedding` and `last_hidden_state`), `encoder.json`.
 *
 * @module
 */
import { DEFAULT_MODEL_DIR, DEFAULT_MODEL_NAME, type EncoderConfig } from "./encoder.ts";
import { atomicWrite, exists, join, projectPath } from "../core/fs.ts";
import { lexicalEncoderGraph } from "../core/onnx_build.ts";
import { fnv1a, Rng } from "../core/rng.ts";
import { buildLexicalTokenizer, METASPACE, SPECIAL_TOKENS } from "./tokenizer.ts";

export { DEFAULT_MODEL_DIR, DEFAULT_MODEL_NAME };

/**
 * The dataset whose words make the default model's vocabulary.
 *
 * @example
 * ```ts
 * import { buildDefaultModel, DEFAULT_DATA_PATH } from "./default_model.ts";
 * await buildDefaultModel("/tmp/lexical-1024", { dataPath: DEFAULT_DATA_PATH });
 * ```
 */
export const DEFAULT_DATA_PATH = "data/gen-data-set.json";
/**
 * Embedding dimension of the default model (BGE-M3's).
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL_DIM } from "./default_model.ts";
 * if (JSON.stringify(DEFAULT_MODEL_DIM) !== JSON.stringify(1024)) throw new Error(`got ${JSON.stringify(DEFAULT_MODEL_DIM)}`);
 * ```
 */
export const DEFAULT_MODEL_DIM = 1024;
/**
 * Base seed of the default model's random vectors.
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL_SEED, embeddingTable } from "./default_model.ts";
 * const t = embeddingTable(["▁phòng"], 8, DEFAULT_MODEL_SEED);
 * ```
 */
export const DEFAULT_MODEL_SEED = 1024;
/**
 * Vocabulary cap: keeps `model.onnx` under 20 MB (4800 × 1024 × 4 B ≈ 19.7 MB).
 *
 * @example
 * ```ts
 * import { buildDefaultModelFiles, DEFAULT_MAX_VOCAB } from "./default_model.ts";
 * const b = buildDefaultModelFiles(["phòng trọ"], { dim: 8, maxVocab: DEFAULT_MAX_VOCAB });
 * ```
 */
export const DEFAULT_MAX_VOCAB = 4800;

/** The files of a model folder, by name. */
export type ModelFiles = Record<string, Uint8Array>;

/**
 * Every `query` and `text` string value in a JSON value, in document order
 * (walks objects and arrays; works for any dataset layout).
 *
 * @example
 * ```ts
 * import { collectTexts } from "./default_model.ts";
 * const json = { examples: [{ query: "q", positive: { text: "p" }, negatives: [{ text: "n" }] }] };
 * if (JSON.stringify(collectTexts(json)) !== JSON.stringify(["q", "p", "n"])) throw new Error(`got ${JSON.stringify(collectTexts(json))}`);
 * ```
 */
export function collectTexts(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if ((k === "query" || k === "text") && typeof x === "string") out.push(x);
        else walk(x);
      }
    }
  };
  walk(value);
  return out;
}

/** Pieces made only of punctuation or symbols (they carry no lexical content). */
const PUNCTUATION_ONLY = /^[\p{P}\p{S}]+$/u;

/**
 * The embedding table: one random unit vector per piece, seeded by the piece
 * itself (so a word keeps its vector when the vocabulary changes). Rows of
 * `<s>`, `</s>`, `<pad>`, the bare word marker `▁` and punctuation/symbol
 * pieces are zero, so they don't dominate the mean.
 *
 * @example
 * ```ts
 * import { embeddingTable } from "./default_model.ts";
 * const t = embeddingTable(["<s>", "<pad>", "</s>", "<unk>", "▁phòng"], 8);
 * if (JSON.stringify(t.length) !== JSON.stringify(40)) throw new Error(`got ${JSON.stringify(t.length)}`);
 * ```
 */
export function embeddingTable(
  pieces: string[],
  dim: number,
  seed = DEFAULT_MODEL_SEED,
): Float32Array {
  const table = new Float32Array(pieces.length * dim);
  const zero = new Set<string>(["<s>", "</s>", "<pad>", METASPACE]);
  const row = new Float64Array(dim);
  pieces.forEach((piece, i) => {
    if (zero.has(piece) || PUNCTUATION_ONLY.test(piece)) return;
    const rng = new Rng((seed ^ fnv1a(piece)) >>> 0);
    let s = 0;
    for (let j = 0; j < dim; j++) {
      row[j] = rng.normal();
      s += row[j] * row[j];
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) table[i * dim + j] = row[j] * inv;
  });
  return table;
}

/** Options of {@link buildDefaultModelFiles}. */
export interface DefaultModelOptions {
  /** Embedding dimension (default 1024). */
  dim?: number;
  /** Vocabulary cap (default {@link DEFAULT_MAX_VOCAB}). */
  maxVocab?: number;
  /** Model name in `encoder.json` (default "lexical-1024"). */
  name?: string;
  /** `encoder.json` maxLength (default 512). */
  maxLength?: number;
}

/** The built files plus facts about them. */
export interface DefaultModelBuild {
  /** The files written. */
  files: ModelFiles;
  /** Pieces of the tokenizer's vocabulary. */
  vocabSize: number;
  /** Word pieces among them (the rest are characters and specials). */
  wordPieces: number;
  /** The `encoder.json` written. */
  config: EncoderConfig;
}

/**
 * Build the default model's files in memory from texts (deterministic).
 *
 * @example
 * ```ts
 * import { buildDefaultModelFiles } from "./default_model.ts";
 * const b = buildDefaultModelFiles(["phòng trọ quận 10"], { dim: 8 });
 * console.log(Object.keys(b.files), b.vocabSize);
 * ```
 */
export function buildDefaultModelFiles(
  texts: string[],
  opts: DefaultModelOptions = {},
): DefaultModelBuild {
  const dim = opts.dim ?? DEFAULT_MODEL_DIM;
  const tok = buildLexicalTokenizer(texts, { maxVocab: opts.maxVocab ?? DEFAULT_MAX_VOCAB });
  const table = embeddingTable(tok.pieces, dim);
  const model = lexicalEncoderGraph(table, tok.pieces.length, dim, { name: "lexical_encoder" });
  const config: EncoderConfig = {
    name: opts.name ?? DEFAULT_MODEL_NAME,
    dim,
    pooling: "output:sentence_embedding",
    normalize: true,
    maxLength: opts.maxLength ?? 512,
  };
  const enc = new TextEncoder();
  const files: ModelFiles = {
    "encoder.json": enc.encode(JSON.stringify(config, null, 2) + "\n"),
    "tokenizer.json": enc.encode(JSON.stringify(tok.json) + "\n"),
    "model.onnx": model,
    "README.md": enc.encode(modelReadme(tok.pieces.length, tok.wordPieces, dim)),
  };
  return { files, vocabSize: tok.pieces.length, wordPieces: tok.wordPieces, config };
}

function modelReadme(vocab: number, words: number, dim: number): string {
  return `# lexical-1024: offline lexical stand-in (NOT BGE-M3)

Built by \`deno task build-model\` (scripts/build_default_model.ts) from the words of
data/gen-data-set.json. Deterministic: a rebuild gives identical bytes.

- tokenizer.json: XLM-R-style Unigram (NFKC + Lowercase, WhitespaceSplit + Metaspace,
  \`<s> $A </s>\`), ${vocab} pieces: ${SPECIAL_TOKENS.length} specials, "▁", ${words} whole
  words, the rest single characters (so Vietnamese text never maps to <unk>).
- model.onnx: embedding table [${vocab}, ${dim}] of fixed-seed random unit vectors (rows of
  <s>, </s>, <pad>, "▁" and punctuation are zero) → masked mean over tokens → L2 norm. Outputs sentence_embedding
  [batch, ${dim}] and last_hidden_state [batch, sequence, ${dim}].
- encoder.json: pooling "output:sentence_embedding", normalize, maxLength 512.

It only knows which words two texts share; it has no semantics. Use it to run the pipeline
offline; use BGE-M3 (\`deno task fetch-model\`) for real results.
`;
}

/**
 * Build the default model from a dataset JSON and write it to `dir`
 * (atomic per file). Returns the build facts.
 *
 * @example
 * ```ts
 * import { buildDefaultModel } from "./default_model.ts";
 * const b = await buildDefaultModel("/tmp/lexical-1024");
 * console.log(b.vocabSize);
 * ```
 */
export async function buildDefaultModel(
  dir: string = DEFAULT_MODEL_DIR,
  opts: DefaultModelOptions & { dataPath?: string } = {},
): Promise<DefaultModelBuild> {
  const dataPath = opts.dataPath ?? DEFAULT_DATA_PATH;
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(dataPath));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        `Dataset not found: ${dataPath} (the default model's vocabulary comes from it). ` +
          "Generate it with `deno task gen-data`.",
      );
    }
    throw new Error(`${dataPath}: ${(err as Error).message}`);
  }
  const texts = collectTexts(json);
  if (texts.length === 0) throw new Error(`${dataPath}: no "query" or "text" strings found`);
  const build = buildDefaultModelFiles(texts, opts);
  await Deno.mkdir(dir, { recursive: true });
  // model.onnx last: ensureDefaultModel treats its presence as "built".
  const names = Object.keys(build.files).sort((a, b) =>
    (a === "model.onnx" ? 1 : 0) - (b === "model.onnx" ? 1 : 0)
  );
  for (const name of names) await atomicWrite(join(dir, name), build.files[name]);
  return build;
}

/**
 * Make sure the default model exists in `dir` (build it from
 * `data/gen-data-set.json` if a file is missing) and return `dir`.
 *
 * @example
 * ```ts
 * import { ensureDefaultModel } from "./default_model.ts";
 * import { loadEncoder } from "./encoder.ts";
 * const enc = await loadEncoder(await ensureDefaultModel());
 * if (JSON.stringify(enc.name) !== JSON.stringify("lexical-1024")) throw new Error(`got ${JSON.stringify(enc.name)}`);
 * ```
 */
export async function ensureDefaultModel(
  dir: string = projectPath(DEFAULT_MODEL_DIR),
  opts: { dataPath?: string } = {},
): Promise<string> {
  if (dir === projectPath(DEFAULT_MODEL_DIR) && opts.dataPath === undefined) {
    opts = { dataPath: projectPath(DEFAULT_DATA_PATH) };
  }
  let complete = true;
  for (const f of ["encoder.json", "tokenizer.json", "model.onnx"]) {
    if (!(await exists(join(dir, f)))) complete = false;
  }
  if (complete) return dir;
  try {
    await buildDefaultModel(dir, opts);
  } catch (err) {
    throw new Error(
      `The default model is missing in ${dir} and could not be built: ${(err as Error).message}` +
        " (run `deno task build-model`).",
    );
  }
  return dir;
}
