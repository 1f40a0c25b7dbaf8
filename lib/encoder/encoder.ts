/**
 * The frozen text encoder: a local ONNX model folder run with
 * `onnxruntime-node`, tokenised with `@huggingface/tokenizers`.
 *
 * A model folder holds `model.onnx` (+ `model.onnx_data` when the weights are
 * stored externally), `tokenizer.json` (+ optional `tokenizer_config.json`)
 * and `encoder.json` ({@link EncoderConfig}). Loading is cheap (config,
 * tokenizer, fingerprint); the ONNX Runtime session is created on the first
 * {@link Encoder.encode}.
 *
 * @module
 */
import type * as ort from "onnxruntime-node";
import { createHash } from "node:crypto";
import { exists, join } from "../core/fs.ts";
import { countInitializerParams } from "../core/onnx_build.ts";
import { loadOrt, type Ort } from "../core/ort.ts";
import { loadTokenizer, type TextTokenizer } from "./tokenizer.ts";

/**
 * Where the offline default model lives.
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL_DIR, loadEncoder } from "./encoder.ts";
 * const enc = await loadEncoder(DEFAULT_MODEL_DIR);
 * ```
 */
export const DEFAULT_MODEL_DIR = "data/models/lexical-1024";
/**
 * The offline default model's name (its `encoder.json` `name`).
 *
 * @example
 * ```ts
 * import { DEFAULT_MODEL_NAME } from "./encoder.ts";
 * if (JSON.stringify(DEFAULT_MODEL_NAME) !== JSON.stringify("lexical-1024")) throw new Error(`got ${JSON.stringify(DEFAULT_MODEL_NAME)}`);
 * ```
 */
export const DEFAULT_MODEL_NAME = "lexical-1024";
/**
 * Where `deno task fetch-model` puts BGE-M3.
 *
 * @example
 * ```ts
 * import { BGE_M3_DIR, loadEncoder } from "./encoder.ts";
 * // Type-checked, not run: it needs the real BGE-M3 in data/models/bge-m3 (`deno task fetch-model`).
 * async function _example() {
 *   const enc = await loadEncoder(BGE_M3_DIR); // after `deno task fetch-model`
 * }
 * ```
 */
export const BGE_M3_DIR = "data/models/bge-m3";

/** `encoder.json`: how to run and pool a model. */
export interface EncoderConfig {
  /** Display name, e.g. "bge-m3". */
  name: string;
  /** Embedding dimension. */
  dim: number;
  /** `cls` (`last_hidden_state[:, 0]`), masked `mean`, or a named model output. */
  pooling: "cls" | "mean" | `output:${string}`;
  /** L2-normalise the pooled vectors. */
  normalize: boolean;
  /** Most tokens per text, special tokens included; longer texts are truncated. */
  maxLength: number;
  /** Prefix callers add to queries (not added by `encode`). BGE-M3 needs none. */
  queryPrefix?: string;
  /**
   * What `encode` does to a text before tokenising it: `nfc` (the default)
   * composes it to Unicode NFC, so that Vietnamese typed with split tone marks
   * (VNI-style `ê` + U+0323, or fully decomposed) gets the same tokens, and the
   * same vector, as the precomposed text; `none` tokenises it as given.
   */
  inputNormalization?: "nfc" | "none";
  /** The weights' precision: `int8` for a model made by `deno task quantize-model` (default fp32). */
  precision?: "fp32" | "int8";
}

/** Row-major `[n, dim]` vectors. */
export interface Embeddings {
  /** Embedding dimension. */
  dim: number;
  /** Row-major `[n, dim]`, L2-normalised rows. */
  data: Float32Array;
}

/**
 * Measured speed, passed as the third argument of
 * {@link EncodeOptions.onProgress} (so CLIs can print a rate and an ETA).
 */
export interface EncodeRate {
  /** Milliseconds since `encode` started (tokenisation and session start included). */
  elapsedMs: number;
  /** Texts per second over the batches run so far (0 before the first batch). */
  textsPerSecond: number;
  /**
   * Estimated milliseconds left, from the tokens still to run at the
   * measured tokens/s (batches are length-sorted, so a texts/s rate from the
   * short first batches would be optimistic); undefined before the first batch.
   */
  etaMs?: number;
}

/** Options of {@link Encoder.encode}. */
export interface EncodeOptions {
  /** Texts per ONNX run (default 32). */
  batchSize?: number;
  /**
   * Most tokens (rows × padded length) per ONNX run; when set, a batch ends
   * at `batchSize` texts or at this many tokens, whichever comes first, so
   * batches of long texts get fewer rows. Default: no token limit.
   */
  maxBatchTokens?: number;
  /**
   * Called with texts done so far and the total: once with 0 before any work,
   * then after each batch. The third argument is the measured rate.
   */
  onProgress?: (done: number, total: number, rate?: EncodeRate) => void;
}

/** Where the time of one {@link Encoder.encode} went (milliseconds). */
export interface EncodeTimings {
  /** Tokenising all texts. */
  tokenizeMs: number;
  /** Waiting for the ONNX Runtime session to open (0 once it is open). */
  sessionMs: number;
  /** Building input tensors. */
  feedMs: number;
  /** Inside `session.run`. */
  runMs: number;
  /** Pooling and normalising. */
  poolMs: number;
  /** ONNX runs (batches). */
  batches: number;
  /** Tokens fed, padding included. */
  paddedTokens: number;
}

/** ONNX Runtime session settings (see {@link loadEncoder}). */
export interface SessionOptions {
  /** Threads inside one operator (default: ORT's choice, one per core). */
  intraOpThreads?: number;
  /** Graph optimisation level (default "all"). */
  graphOptimizationLevel?: "disabled" | "basic" | "extended" | "all";
  /** ORT's CPU memory arena (default true). */
  enableCpuMemArena?: boolean;
  /** ORT's memory pattern planning (default true). */
  enableMemPattern?: boolean;
}

/** One chunk of {@link Encoder.encodeChunks}: input rows `start …`, row-major `[count, dim]`. */
export interface EncodedChunk {
  /** Index of the chunk's first text in the input. */
  start: number;
  /** Texts in the chunk. */
  count: number;
  /** Embedding dimension. */
  dim: number;
  /** Row-major `[count, dim]`, L2-normalised rows. */
  data: Float32Array;
  /** Input indices (absolute) of texts cut to `maxLength` in this chunk. */
  truncatedIndices: number[];
}

/** A loaded encoder (see {@link loadEncoder}). */
export interface Encoder {
  /** The model's name (from `encoder.json`). */
  name: string;
  /** Embedding dimension. */
  dim: number;
  /** The model folder. */
  dir: string;
  /** The model's `encoder.json`. */
  config: EncoderConfig;
  /** Hex SHA-256 of the model files and `encoder.json`. */
  fingerprint: string;
  /** Number of parameters in the ONNX initializers (floating-point tensors). */
  paramCount(): Promise<number>;
  /**
   * Encode texts; results are in input order. `truncated` counts texts cut to
   * `maxLength` (this implementation also lists them in `truncatedIndices`).
   */
  encode(
    texts: string[],
    opts?: EncodeOptions,
  ): Promise<
    Embeddings & { truncated: number; truncatedIndices?: number[]; timings?: EncodeTimings }
  >;
  /**
   * Encode in chunks of consecutive texts, for callers that stream results
   * to disk: yields `{ start, data }` (rows `start … start + data.length/dim`
   * of the input, in input order), so memory does not grow with the corpus.
   * Each chunk is length-sorted inside. Optional: `OnnxEncoder` has it.
   */
  encodeChunks?(
    texts: string[],
    opts?: EncodeOptions & { chunkSize?: number },
  ): AsyncGenerator<EncodedChunk>;
  /** Release the ONNX Runtime session (if one was created). */
  dispose(): Promise<void>;
}

/**
 * A problem with a model folder; the message names the path and the fix.
 *
 * @example
 * ```ts
 * import { EncoderError, loadEncoder } from "./encoder.ts";
 * try {
 *   await loadEncoder("data/models/missing");
 * } catch (err) {
 *   if (err instanceof EncoderError) console.error(err.message);
 * }
 * ```
 */
export class EncoderError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "EncoderError";
  }
}

/**
 * How to obtain the model in `dir`, for error messages.
 *
 * @example
 * ```ts
 * import { howToGetModel } from "./encoder.ts";
 * if (!howToGetModel("data/models/bge-m3").includes("deno task fetch-model")) throw new Error("no hint");
 * ```
 */
export function howToGetModel(dir: string): string {
  const d = dir.replace(/\/+$/, "");
  if (d.endsWith(DEFAULT_MODEL_NAME)) {
    return "Build the offline default model with `deno task build-model`.";
  }
  if (/bge-m3/i.test(d)) {
    return 'Download BGE-M3 with `deno task fetch-model` (see README, "Using the real BGE-M3").';
  }
  return "Get BGE-M3 with `deno task fetch-model` (into data/models/bge-m3), or build the " +
    "offline default model with `deno task build-model` (data/models/lexical-1024).";
}

function fail(message: string): never {
  throw new EncoderError(message);
}

/**
 * Read and check `<dir>/encoder.json`. Errors name the file and the field.
 *
 * @example
 * ```ts
 * import { readEncoderConfig } from "./encoder.ts";
 * const cfg = await readEncoderConfig("data/models/lexical-1024");
 * console.log(cfg.dim, cfg.pooling);
 * ```
 */
export async function readEncoderConfig(dir: string): Promise<EncoderConfig> {
  const path = join(dir, "encoder.json");
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      fail(`Model file missing: ${path}. ${howToGetModel(dir)}`);
    }
    fail(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    fail(`${path}: expected a JSON object`);
  }
  const c = raw as Record<string, unknown>;
  const field = (name: string, ok: boolean, what: string) => {
    if (!ok) fail(`${path}: field "${name}" must be ${what}, got ${JSON.stringify(c[name])}`);
  };
  field("name", typeof c.name === "string" && c.name !== "", "a non-empty string");
  field("dim", Number.isInteger(c.dim) && (c.dim as number) > 0, "a positive integer");
  field(
    "pooling",
    c.pooling === "cls" || c.pooling === "mean" ||
      (typeof c.pooling === "string" && /^output:.+/.test(c.pooling)),
    '"cls", "mean" or "output:<name>"',
  );
  field("normalize", typeof c.normalize === "boolean", "true or false");
  field(
    "maxLength",
    Number.isInteger(c.maxLength) && (c.maxLength as number) >= 3,
    "an integer >= 3",
  );
  if (c.queryPrefix !== undefined) {
    field("queryPrefix", typeof c.queryPrefix === "string", "a string");
  }
  if (c.precision !== undefined) {
    field("precision", c.precision === "fp32" || c.precision === "int8", '"fp32" or "int8"');
  }
  if (c.inputNormalization !== undefined) {
    field(
      "inputNormalization",
      c.inputNormalization === "nfc" || c.inputNormalization === "none",
      '"nfc" or "none"',
    );
  }
  return {
    name: c.name as string,
    dim: c.dim as number,
    pooling: c.pooling as EncoderConfig["pooling"],
    normalize: c.normalize as boolean,
    maxLength: c.maxLength as number,
    ...(c.queryPrefix !== undefined ? { queryPrefix: c.queryPrefix as string } : {}),
    ...(c.precision !== undefined ? { precision: c.precision as "fp32" | "int8" } : {}),
    ...(c.inputNormalization !== undefined
      ? { inputNormalization: c.inputNormalization as "nfc" | "none" }
      : {}),
  };
}

/** Files that identify a model, in fingerprint order (optional ones when present). */
const FINGERPRINT_FILES = [
  { name: "encoder.json", required: true },
  { name: "tokenizer.json", required: true },
  { name: "tokenizer_config.json", required: false },
  { name: "model.onnx", required: true },
  { name: "model.onnx_data", required: false },
];

/** Above this many bytes, the fingerprint is memoised in `<dir>/.fingerprint.json`. */
const MEMO_THRESHOLD = 256 * 1024 * 1024;

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(8 * 1024 * 1024);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * Fingerprint of a model folder: SHA-256 over the name, size and SHA-256 of
 * each of `encoder.json`, `tokenizer.json`, `tokenizer_config.json`,
 * `model.onnx`, `model.onnx_data` (those present). Hashing streams the files;
 * for models over 256 MB the result is memoised in `<dir>/.fingerprint.json`
 * keyed by file sizes and mtimes (best effort: skipped when not writable).
 *
 * @example
 * ```ts
 * import { modelFingerprint } from "./encoder.ts";
 * console.log(await modelFingerprint("data/models/lexical-1024"));
 * ```
 */
export async function modelFingerprint(dir: string): Promise<string> {
  const stats: { name: string; size: number; mtime: number }[] = [];
  for (const f of FINGERPRINT_FILES) {
    const path = join(dir, f.name);
    try {
      const st = await Deno.stat(path);
      stats.push({ name: f.name, size: st.size, mtime: st.mtime?.getTime() ?? 0 });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (f.required) fail(`Model file missing: ${path}. ${howToGetModel(dir)}`);
    }
  }
  const total = stats.reduce((a, s) => a + s.size, 0);
  const memoPath = join(dir, ".fingerprint.json");
  const key = JSON.stringify(stats);
  if (total > MEMO_THRESHOLD) {
    try {
      const memo = JSON.parse(await Deno.readTextFile(memoPath));
      if (memo.key === key && typeof memo.fingerprint === "string") return memo.fingerprint;
    } catch { /* no memo yet */ }
  }
  const outer = createHash("sha256");
  for (const s of stats) {
    outer.update(`${s.name}\t${s.size}\t${await hashFile(join(dir, s.name))}\n`);
  }
  const fingerprint = outer.digest("hex");
  if (total > MEMO_THRESHOLD) {
    try {
      await Deno.writeTextFile(memoPath, JSON.stringify({ key, fingerprint }) + "\n");
    } catch { /* read-only folder: recompute next time */ }
  }
  return fingerprint;
}

/**
 * L2-normalise each row of a row-major `[n, dim]` matrix in place (zero rows
 * stay zero).
 *
 * @example
 * ```ts
 * import { l2NormalizeRows } from "./encoder.ts";
 * const rows = l2NormalizeRows(new Float32Array([3, 4]), 2);
 * if (Math.abs(rows[0] - 0.6) > 1e-6 || Math.abs(rows[1] - 0.8) > 1e-6) throw new Error(`got ${rows}`);
 * ```
 */
export function l2NormalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let off = 0; off < data.length; off += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[off + j] * data[off + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < dim; j++) data[off + j] *= inv;
  }
  return data;
}

/**
 * One line naming the model in use, printed first by every CLI.
 *
 * @example
 * ```ts
 * import { describeEncoder, loadEncoder } from "./encoder.ts";
 * console.log(describeEncoder(await loadEncoder()));
 * ```
 */
export function describeEncoder(
  enc: Pick<Encoder, "name" | "dir" | "dim" | "fingerprint"> & { config?: EncoderConfig },
): string {
  const standIn = enc.name === DEFAULT_MODEL_NAME
    ? " (offline lexical stand-in, NOT BGE-M3; see README)"
    : enc.name.endsWith("-shape")
    ? " (BGE-M3's architecture with random weights, NOT BGE-M3: its vectors mean nothing)"
    : "";
  const int8 = enc.config?.precision === "int8" ? ", int8 weights" : "";
  return `Model: ${enc.name}${standIn}${int8}, dim ${enc.dim}, from ${enc.dir}, fingerprint ${
    enc.fingerprint.slice(0, 12)
  }`;
}

const KNOWN_INPUTS = ["input_ids", "attention_mask", "token_type_ids"];
const HIDDEN_OUTPUTS = ["last_hidden_state", "token_embeddings"];

interface SessionInfo {
  ort: Ort;
  session: ort.InferenceSession;
  inputTypes: Map<string, "int64" | "int32">;
  output: string;
}

function emptyTimings(): EncodeTimings {
  return {
    tokenizeMs: 0,
    sessionMs: 0,
    feedMs: 0,
    runMs: 0,
    poolMs: 0,
    batches: 0,
    paddedTokens: 0,
  };
}

/**
 * The measured rate so far. The ETA counts tokens, not texts: batches are
 * length-sorted, so the first (short) batches would make a texts/s ETA too
 * optimistic. Tokens left = those of this range not yet run, plus the texts
 * of later ranges (not tokenised yet) at the average tokens per text so far.
 */
function rateOf(
  p: { t0: number; done: number; total: number; tokensDone: number },
  left?: { tokens: number; texts: number },
): EncodeRate {
  const elapsedMs = performance.now() - p.t0;
  if (p.done === 0 || elapsedMs <= 0 || p.tokensDone === 0) return { elapsedMs, textsPerSecond: 0 };
  const textsPerSecond = (p.done / elapsedMs) * 1000;
  const later = p.total - p.done - (left?.texts ?? 0);
  const tokens = (left?.tokens ?? 0) + later * (p.tokensDone / p.done);
  return { elapsedMs, textsPerSecond, etaMs: (tokens / p.tokensDone) * elapsedMs };
}

class OnnxEncoder implements Encoder {
  readonly name: string;
  readonly dim: number;
  #session?: Promise<SessionInfo>;
  #params?: number;

  constructor(
    readonly dir: string,
    readonly config: EncoderConfig,
    readonly fingerprint: string,
    readonly tokenizer: TextTokenizer,
    readonly sessionOptions: SessionOptions = {},
  ) {
    this.name = config.name;
    this.dim = config.dim;
  }

  get modelPath(): string {
    return join(this.dir, "model.onnx");
  }

  async paramCount(): Promise<number> {
    if (this.#params === undefined) {
      this.#params = countInitializerParams(await Deno.readFile(this.modelPath));
    }
    return this.#params;
  }

  #openSession(): Promise<SessionInfo> {
    this.#session ??= this.#createSession().catch((err) => {
      this.#session = undefined;
      throw err;
    });
    return this.#session;
  }

  async #createSession(): Promise<SessionInfo> {
    const path = this.modelPath;
    const ort = await loadOrt();
    let session: ort.InferenceSession;
    try {
      const o = this.sessionOptions;
      session = await ort.InferenceSession.create(path, {
        executionProviders: ["cpu"],
        graphOptimizationLevel: o.graphOptimizationLevel ?? "all",
        logSeverityLevel: 3,
        ...(o.intraOpThreads !== undefined ? { intraOpNumThreads: o.intraOpThreads } : {}),
        ...(o.enableCpuMemArena !== undefined ? { enableCpuMemArena: o.enableCpuMemArena } : {}),
        ...(o.enableMemPattern !== undefined ? { enableMemPattern: o.enableMemPattern } : {}),
      });
    } catch (err) {
      fail(`${path}: ONNX Runtime cannot load the model (${(err as Error).message})`);
    }
    const describe = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
      list.map((m) =>
        m.isTensor ? `${m.name} (${m.type} [${m.shape.join(", ")}])` : `${m.name} (non-tensor)`
      ).join(", ");
    const inputs = session.inputMetadata;
    const outputs = session.outputMetadata;
    const inputTypes = new Map<string, "int64" | "int32">();
    const unknown = inputs.filter((m) => !KNOWN_INPUTS.includes(m.name));
    if (!inputs.some((m) => m.name === "input_ids") || unknown.length > 0) {
      await session.release();
      fail(
        `${path}: expected inputs input_ids, attention_mask (and optionally token_type_ids); ` +
          `the model has: ${describe(inputs)}`,
      );
    }
    for (const m of inputs) {
      if (!m.isTensor || (m.type !== "int64" && m.type !== "int32")) {
        await session.release();
        fail(
          `${path}: input ${m.name} must be an int64 or int32 tensor; the model has: ${
            describe(inputs)
          }`,
        );
      }
      inputTypes.set(m.name, m.type);
    }
    let output: string;
    if (this.config.pooling.startsWith("output:")) {
      output = this.config.pooling.slice("output:".length);
    } else {
      output = HIDDEN_OUTPUTS.find((n) => outputs.some((m) => m.name === n)) ?? HIDDEN_OUTPUTS[0];
    }
    const meta = outputs.find((m) => m.name === output);
    if (!meta) {
      await session.release();
      fail(
        `${path}: pooling "${this.config.pooling}" needs output ${
          this.config.pooling.startsWith("output:") ? output : HIDDEN_OUTPUTS.join(" or ")
        }; the model has outputs: ${describe(outputs)}`,
      );
    }
    if (meta.isTensor) {
      const last = meta.shape[meta.shape.length - 1];
      const rankOk = this.config.pooling.startsWith("output:")
        ? meta.shape.length === 2
        : meta.shape.length === 3;
      if (!rankOk && meta.shape.length > 0) {
        await session.release();
        fail(
          `${path}: output ${output} has shape [${meta.shape.join(", ")}], expected ${
            this.config.pooling.startsWith("output:") ? "[batch, dim]" : "[batch, sequence, dim]"
          } for pooling "${this.config.pooling}"`,
        );
      }
      if (typeof last === "number" && last !== this.dim) {
        await session.release();
        fail(
          `${path}: output ${output} has dimension ${last} but ${
            join(this.dir, "encoder.json")
          } says dim ${this.dim}`,
        );
      }
    }
    return { ort, session, inputTypes, output };
  }

  async encode(
    texts: string[],
    opts: EncodeOptions = {},
  ): Promise<
    Embeddings & { truncated: number; truncatedIndices: number[]; timings: EncodeTimings }
  > {
    const n = texts.length;
    const dim = this.dim;
    const data = new Float32Array(n * dim);
    const timings = emptyTimings();
    if (n === 0) return { dim, data, truncated: 0, truncatedIndices: [], timings };
    const truncatedIndices = await this.#encodeRange(texts, 0, n, data, opts, timings, {
      t0: performance.now(),
      done: 0,
      total: n,
      tokensDone: 0,
    });
    return { dim, data, truncated: truncatedIndices.length, truncatedIndices, timings };
  }

  async *encodeChunks(
    texts: string[],
    opts: EncodeOptions & { chunkSize?: number } = {},
  ): AsyncGenerator<EncodedChunk> {
    const n = texts.length;
    const chunk = Math.max(1, opts.chunkSize ?? 4096);
    const progress = { t0: performance.now(), done: 0, total: n, tokensDone: 0 };
    for (let start = 0; start < n; start += chunk) {
      const count = Math.min(chunk, n - start);
      const data = new Float32Array(count * this.dim);
      const truncatedIndices = await this.#encodeRange(
        texts,
        start,
        count,
        data,
        opts,
        emptyTimings(),
        progress,
      );
      yield { start, count, dim: this.dim, data, truncatedIndices };
    }
  }

  /**
   * Encode `texts[start … start+count)` into `data` (row 0 = `texts[start]`):
   * tokenise, sort by length, run batches (by count and optional token
   * budget), pool, normalise. Returns absolute indices of truncated texts.
   */
  async #encodeRange(
    texts: string[],
    start: number,
    count: number,
    data: Float32Array,
    opts: EncodeOptions,
    timings: EncodeTimings,
    progress: { t0: number; done: number; total: number; tokensDone: number },
  ): Promise<number[]> {
    const batchSize = Math.max(1, opts.batchSize ?? 32);
    const maxTokens = opts.maxBatchTokens !== undefined && opts.maxBatchTokens > 0
      ? opts.maxBatchTokens
      : Infinity;
    const dim = this.dim;
    if (progress.done === 0) opts.onProgress?.(0, progress.total, rateOf(progress));
    let t = performance.now();
    const ids: number[][] = new Array(count);
    const truncatedIndices: number[] = [];
    let tokensLeft = 0;
    for (let i = 0; i < count; i++) {
      const text = this.config.inputNormalization === "none"
        ? texts[start + i]
        : texts[start + i].normalize("NFC");
      const tok = this.tokenizer.encode(text, this.config.maxLength);
      ids[i] = tok.ids;
      tokensLeft += tok.ids.length;
      if (tok.truncated) truncatedIndices.push(start + i);
    }
    timings.tokenizeMs += performance.now() - t;
    t = performance.now();
    const { ort, session, inputTypes, output } = await this.#openSession();
    timings.sessionMs += performance.now() - t;
    const order = Array.from({ length: count }, (_, i) => i)
      .sort((a, b) => ids[a].length - ids[b].length || a - b);
    const pad = this.tokenizer.padId;
    let pos = 0;
    while (pos < count) {
      // Rows of similar length (sorted); stop at batchSize rows or the token budget.
      let end = pos + 1;
      while (
        end < count && end - pos < batchSize &&
        (end - pos + 1) * ids[order[end]].length <= maxTokens
      ) end++;
      const rows = order.slice(pos, end);
      const b = rows.length;
      const len = ids[rows[b - 1]].length; // the longest (sorted)
      t = performance.now();
      const feeds: Record<string, ort.Tensor> = {};
      const mask = new Uint8Array(b * len);
      let batchTokens = 0;
      for (const [name, type] of inputTypes) {
        const buf = type === "int64" ? new BigInt64Array(b * len) : new Int32Array(b * len);
        // int64 values are written as their low 32-bit words (ids are small, non-negative).
        const words = type === "int64" ? new Int32Array(buf.buffer) : (buf as Int32Array);
        const stride = type === "int64" ? 2 : 1;
        if (name === "input_ids") {
          for (let k = 0; k < b; k++) {
            const row = ids[rows[k]];
            const base = k * len;
            for (let j = 0; j < len; j++) {
              words[(base + j) * stride] = j < row.length ? row[j] : pad;
            }
          }
        } else if (name === "attention_mask") {
          for (let k = 0; k < b; k++) {
            const rowLen = ids[rows[k]].length;
            for (let j = 0; j < rowLen; j++) words[(k * len + j) * stride] = 1;
          }
        } // token_type_ids: zeros
        feeds[name] = new ort.Tensor(type, buf, [b, len]);
      }
      for (let k = 0; k < b; k++) {
        const rowLen = ids[rows[k]].length;
        batchTokens += rowLen;
        mask.fill(1, k * len, k * len + rowLen);
      }
      timings.feedMs += performance.now() - t;
      t = performance.now();
      const result = await session.run(feeds, [output]);
      timings.runMs += performance.now() - t;
      t = performance.now();
      try {
        this.#pool(result[output], output, rows, mask, len, data);
      } finally {
        for (const r of Object.values(result)) r.dispose();
        for (const f of Object.values(feeds)) f.dispose();
      }
      timings.poolMs += performance.now() - t;
      timings.batches++;
      timings.paddedTokens += b * len;
      pos = end;
      progress.done += b;
      progress.tokensDone += batchTokens;
      tokensLeft -= batchTokens;
      opts.onProgress?.(
        progress.done,
        progress.total,
        rateOf(progress, { tokens: tokensLeft, texts: count - end }),
      );
    }
    t = performance.now();
    if (this.config.normalize) l2NormalizeRows(data, dim);
    timings.poolMs += performance.now() - t;
    return truncatedIndices;
  }

  #pool(
    out: ort.Tensor,
    output: string,
    rows: number[],
    mask: Uint8Array,
    len: number,
    data: Float32Array,
  ) {
    const dim = this.dim;
    const dims = out.dims;
    if (out.type !== "float32") {
      fail(`${this.modelPath}: output ${output} is ${out.type}, expected float32`);
    }
    if (dims[dims.length - 1] !== dim) {
      fail(
        `${this.modelPath}: output ${output} has dimension ${dims[dims.length - 1]} but ${
          join(this.dir, "encoder.json")
        } says dim ${dim}`,
      );
    }
    const src = out.data as Float32Array;
    const b = rows.length;
    if (this.config.pooling.startsWith("output:")) {
      if (dims.length !== 2 || dims[0] !== b) {
        fail(`${this.modelPath}: output ${output} has shape [${dims}], expected [${b}, ${dim}]`);
      }
      rows.forEach((r, k) => data.set(src.subarray(k * dim, (k + 1) * dim), r * dim));
      return;
    }
    if (dims.length !== 3 || dims[0] !== b || dims[1] !== len) {
      fail(
        `${this.modelPath}: output ${output} has shape [${dims}], expected [${b}, ${len}, ${dim}]`,
      );
    }
    if (this.config.pooling === "cls") {
      rows.forEach((r, k) => data.set(src.subarray(k * len * dim, k * len * dim + dim), r * dim));
      return;
    }
    // Masked mean, accumulated in float64 for order-independent precision.
    const acc = new Float64Array(dim);
    rows.forEach((r, k) => {
      acc.fill(0);
      let count = 0;
      for (let t = 0; t < len; t++) {
        if (mask[k * len + t] === 0) continue;
        count++;
        const off = (k * len + t) * dim;
        for (let j = 0; j < dim; j++) acc[j] += src[off + j];
      }
      const inv = count > 0 ? 1 / count : 0;
      for (let j = 0; j < dim; j++) data[r * dim + j] = acc[j] * inv;
    });
  }

  async dispose(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      const info = await s.catch(() => undefined);
      await info?.session.release();
    }
  }
}

/**
 * Load the encoder in `dir` (default: the offline model). Cheap: reads
 * `encoder.json` and the tokenizer and hashes the files; the ONNX Runtime
 * session is created on the first `encode`, with `opts.session` (threads,
 * graph optimisation, memory arena/pattern). `opts.maxLength` overrides
 * `encoder.json`'s (e.g. 8192 for BGE-M3). Errors name the missing path and
 * how to get the model.
 *
 * @example
 * ```ts
 * import { loadEncoder } from "./encoder.ts";
 * const enc = await loadEncoder();
 * const { dim, data } = await enc.encode(["phòng trọ quận 10"]);
 * console.log(dim, data.length);
 * await enc.dispose();
 * ```
 */
export async function loadEncoder(
  dir: string = DEFAULT_MODEL_DIR,
  opts: {
    session?: SessionOptions;
    maxLength?: number;
    /** Override `encoder.json`'s `inputNormalization` (the fingerprint changes with it). */
    inputNormalization?: "nfc" | "none";
  } = {},
): Promise<Encoder> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      fail(`Model folder not found: ${dir}. ${howToGetModel(dir)}`);
    }
    throw err;
  }
  if (!st.isDirectory) fail(`Model path is not a folder: ${dir}. ${howToGetModel(dir)}`);
  for (const f of ["model.onnx", "tokenizer.json", "encoder.json"]) {
    if (!(await exists(join(dir, f)))) {
      fail(`Model file missing: ${join(dir, f)}. ${howToGetModel(dir)}`);
    }
  }
  const config = await readEncoderConfig(dir);
  let lengthTag = "";
  if (opts.maxLength !== undefined && opts.maxLength !== config.maxLength) {
    if (!Number.isInteger(opts.maxLength) || opts.maxLength < 3) {
      fail(`maxLength must be an integer >= 3, got ${opts.maxLength}`);
    }
    // Long texts get other vectors, so the fingerprint (cache key) changes too.
    config.maxLength = opts.maxLength;
    lengthTag = `:maxLength=${opts.maxLength}`;
  }
  if (
    opts.inputNormalization !== undefined &&
    opts.inputNormalization !== (config.inputNormalization ?? "nfc")
  ) {
    config.inputNormalization = opts.inputNormalization;
    lengthTag += `:input=${opts.inputNormalization}`;
  }
  const tokenizer = await loadTokenizer(dir);
  let fingerprint = await modelFingerprint(dir);
  if (lengthTag) fingerprint = createHash("sha256").update(fingerprint + lengthTag).digest("hex");
  return new OnnxEncoder(dir, config, fingerprint, tokenizer, opts.session);
}
