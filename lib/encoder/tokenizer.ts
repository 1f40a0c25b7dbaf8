/**
 * Tokenisation: a thin wrapper over `@huggingface/tokenizers` (pure TS) that
 * adds truncation to a maximum length (keeping the template's special tokens),
 * and the builder of the offline default model's XLM-R-style Unigram
 * `tokenizer.json`.
 *
 * Notes on `@huggingface/tokenizers` 0.2.0 (checked against its source):
 * - Unigram, NFKC, Lowercase, Sequence, WhitespaceSplit, Metaspace (pre-tokenizer
 *   and decoder) and TemplateProcessing are all supported.
 * - Its `Metaspace` pre-tokenizer ignores `split: true` (it never splits on
 *   `▁`), so the default model's tokenizer puts `WhitespaceSplit` before
 *   `Metaspace` — which is also what the real XLM-R/BGE-M3 `tokenizer.json`
 *   does — and the result is the same as the Rust library's.
 * - Its `Precompiled` normaliser (used by XLM-R/BGE-M3) is approximated as
 *   control-character removal + whitespace mapping + NFKC, not the exact
 *   SentencePiece charsmap. For Vietnamese text (precomposed NFC letters) the
 *   result is the same in practice.
 * - It has no truncation; {@link TextTokenizer.encode} truncates itself.
 *
 * @module
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { checkInputFile } from "../core/fs.ts";
import { decodeCharsmap, SpmNormalizer, xlmrTemplate } from "./sentencepiece.ts";

/** The methods of `@huggingface/tokenizers`' `Tokenizer` that {@link TextTokenizer.hf} offers. */
export interface HfTokenizer {
  /** Ids and tokens of `text` (the pipeline of `tokenizer.json`, with its template). */
  encode(
    text: string,
    options?: { add_special_tokens?: boolean },
  ): { ids: number[]; tokens: string[] };
  /** The id of a token, or undefined. */
  token_to_id(token: string): number | undefined;
  /** Token → id, with the added tokens when `withAddedTokens`. */
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}

/** The ids of one text after the template, truncated to a maximum length. */
export interface TokenizedText {
  /** Token ids including the template's special tokens. */
  ids: number[];
  /** True when content tokens were dropped to fit `maxLength`. */
  truncated: boolean;
}

/** The normaliser and pre-tokenizer of `@huggingface/tokenizers` (callable, not in its types). */
interface HfPipeline {
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: ((text: string, opts: { section_index: number }) => string[]) | null;
}

/** Post-processors whose single-text output is fixed ids around the text's ids. */
type TemplateJson =
  | {
    type?: string;
    single?: ({ SpecialToken?: { id: string } } | { Sequence?: { id: string } })[];
    special_tokens?: Record<string, { ids?: number[] }>;
    cls?: [string, number];
    sep?: [string, number];
  }
  | null
  | undefined;

/**
 * SentencePiece's normaliser for a `tokenizer.json` whose normaliser is the
 * one Hugging Face's SentencePiece converters write (`Precompiled`, then
 * optionally `Replace(" {2,}")` and `Strip`) with a `Metaspace` pre-tokenizer
 * (alone or after `WhitespaceSplit`): that pipeline stands for SentencePiece's
 * `Normalize` with its default flags, which {@link SpmNormalizer} runs exactly.
 * Undefined for any other layout.
 */
function sentencePieceNormalizer(json: object): SpmNormalizer | undefined {
  type Norm = {
    type?: string;
    normalizers?: Norm[];
    precompiled_charsmap?: string;
    pattern?: { Regex?: string; String?: string };
  };
  const j = json as {
    normalizer?: Norm | null;
    pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
  };
  const list = j.normalizer?.type === "Sequence"
    ? j.normalizer.normalizers ?? []
    : j.normalizer
    ? [j.normalizer]
    : [];
  if (list[0]?.type !== "Precompiled" || typeof list[0].precompiled_charsmap !== "string") {
    return undefined;
  }
  for (const n of list.slice(1)) {
    const spaces = n.type === "Replace" &&
      (n.pattern?.Regex === " {2,}" || n.pattern?.String === "  ");
    if (!spaces && n.type !== "Strip") return undefined;
  }
  const pre = j.pre_tokenizer;
  const pres = pre?.type === "Sequence"
    ? (pre.pretokenizers ?? []).map((p) => p.type)
    : [pre?.type];
  const ok = pres.join() === "Metaspace" || pres.join() === "WhitespaceSplit,Metaspace";
  if (!ok) return undefined;
  try {
    return new SpmNormalizer(decodeCharsmap(list[0].precompiled_charsmap));
  } catch {
    return undefined;
  }
}

/** Most words kept in the per-word memo before it is cleared. */
const WORD_MEMO_LIMIT = 200_000;

/** The fixed ids a post-processor puts before and after one text, or undefined if unknown. */
function templateIds(post: TemplateJson): { prefix: number[]; suffix: number[] } | undefined {
  if (post === null || post === undefined) return { prefix: [], suffix: [] };
  if (post.type === "RobertaProcessing" || post.type === "BertProcessing") {
    if (!post.cls || !post.sep) return undefined;
    return { prefix: [post.cls[1]], suffix: [post.sep[1]] };
  }
  if (post.type !== "TemplateProcessing" || !Array.isArray(post.single)) return undefined;
  const prefix: number[] = [], suffix: number[] = [];
  let seen = false;
  for (const item of post.single) {
    if ("Sequence" in item && item.Sequence) {
      if (seen || item.Sequence.id !== "A") return undefined;
      seen = true;
    } else if ("SpecialToken" in item && item.SpecialToken) {
      const ids = post.special_tokens?.[item.SpecialToken.id]?.ids;
      if (!Array.isArray(ids)) return undefined;
      (seen ? suffix : prefix).push(...ids);
    } else return undefined;
  }
  return seen ? { prefix, suffix } : undefined;
}

/**
 * A Unigram model (SentencePiece's Viterbi) with the exact semantics of
 * `@huggingface/tokenizers` 0.2.0: candidates are the vocabulary pieces that
 * start at each character (code point), an `<unk>` node (score: lowest score
 * − 10) where no single-character piece exists, ties go to the earliest node.
 * Pieces live in one `Map` instead of a trie of `Map`s, so a 250k-piece
 * vocabulary loads in a fraction of the time and memory.
 */
class FastUnigram {
  readonly ids = new Map<string, number>();
  readonly scores: Float64Array;
  readonly unkId: number;
  readonly unkScore: number;
  readonly maxLen: number;

  /** Path scores rounded to float32 at each step, as SentencePiece keeps them (ties then break as there). */
  readonly float32: boolean;

  constructor(
    vocab: [string, number][],
    unkId: number,
    added: { content: string; id: number }[],
    float32 = false,
  ) {
    this.float32 = float32;
    const n = vocab.length;
    this.scores = new Float64Array(n);
    let min = Infinity;
    let maxLen = 1;
    for (let i = 0; i < n; i++) {
      const [piece, score] = vocab[i];
      this.scores[i] = score;
      if (score < min) min = score;
      this.ids.set(piece, i); // a duplicate piece keeps its last id, as the library does
      let len = 0;
      for (const _ of piece) len++;
      if (len > maxLen) maxLen = len;
    }
    this.unkId = unkId;
    this.unkScore = float32 ? Math.fround(min - 10) : min - 10;
    this.scores[unkId] = this.unkScore;
    // Added tokens override the id of their content (the library does the same).
    for (const a of added) this.ids.set(a.content, a.id);
    this.maxLen = maxLen;
  }

  /** Ids of one pre-tokenized word. */
  /** After {@link word} in float32 mode: the path score at the word's end. */
  lastEnd = 0;
  /** After {@link word} in float32 mode: the smallest gap between a chosen best and a rival. */
  lastMargin = Infinity;

  /**
   * Ids of one pre-tokenized word. In float32 mode (SentencePiece's
   * `Lattice::Viterbi`), `start` is the path score where the word begins, and
   * every sum is rounded to float32 as SentencePiece's `float`s are.
   */
  word(word: string, start = 0): number[] {
    const chars = Array.from(word);
    const len = chars.length;
    const f32 = this.float32;
    // Lattice nodes: begin, length, id, score, best score so far, best predecessor.
    const nBegin: number[] = [0], nLen: number[] = [0], nId: number[] = [-1];
    const nScore: number[] = [0], nBest: number[] = [f32 ? Math.fround(start) : 0];
    const nPrev: number[] = [-1];
    const ends: number[][] = Array.from({ length: len + 1 }, () => []);
    ends[0].push(0); // BOS
    let margin = Infinity;
    for (let b = 0; b < len; b++) {
      const lefts = ends[b];
      const add = (k: number, id: number, score: number) => {
        // The best left node: first maximum of its best score + this score.
        let bestNode = -1, best = 0, second = -Infinity;
        for (const l of lefts) {
          const sc = f32 ? Math.fround(nBest[l] + score) : nBest[l] + score;
          if (bestNode === -1 || sc > best) {
            if (f32 && bestNode !== -1) second = Math.max(second, best);
            bestNode = l;
            best = sc;
          } else if (f32) second = Math.max(second, sc);
        }
        if (f32) margin = Math.min(margin, best - second);
        const node = nBegin.length;
        nBegin.push(b), nLen.push(k), nId.push(id), nScore.push(score);
        nBest.push(best), nPrev.push(bestNode);
        ends[b + k].push(node);
      };
      let single = false;
      let piece = "";
      const maxK = Math.min(this.maxLen, len - b);
      for (let k = 1; k <= maxK; k++) {
        piece += chars[b + k - 1];
        // Texts containing an added token never get here, so `ids` holds exactly
        // the vocabulary's pieces for every string it can be asked about.
        const id = this.ids.get(piece);
        if (id === undefined) continue;
        add(k, id, this.scores[id]);
        if (k === 1) single = true;
      }
      if (!single) add(1, this.unkId, this.unkScore);
    }
    // EOS: the first node ending at `len` with the highest best score.
    let last = -1, best = 0;
    let second = -Infinity;
    for (const l of ends[len]) {
      if (last === -1 || nBest[l] > best) {
        if (last !== -1) second = Math.max(second, best);
        last = l;
        best = nBest[l];
      } else second = Math.max(second, nBest[l]);
    }
    if (f32) {
      this.lastEnd = best;
      this.lastMargin = Math.min(margin, best - second);
    }
    const out: number[] = [];
    for (let node = last; node > 0; node = nPrev[node]) {
      // The library maps each piece's text back to an id (unknown text → <unk>).
      const text = chars.slice(nBegin[node], nBegin[node] + nLen[node]).join("");
      out.push(this.ids.get(text) ?? this.unkId);
    }
    return out.reverse();
  }
}

/**
 * A loaded tokenizer: HF `tokenizer.json` semantics plus truncation.
 *
 * Speed (issue #11.5): `@huggingface/tokenizers` runs its whole pipeline for
 * every text, and its Unigram lattice dominates (~1 s for the dataset's 6,825
 * texts, 5-10× the ONNX run of the default model); it also builds a trie of
 * `Map`s over the whole vocabulary (~0.8-2.5 s and ~220 MB for XLM-R's 250k
 * pieces). For Unigram models with a fixed template (XLM-R, BGE-M3, the
 * default model) {@link encode} takes a fast path: the library's own
 * normaliser and pre-tokenizer, then a Viterbi over a flat piece map with the
 * library's exact rules ({@link FastUnigram}), memoised per word (a word is
 * tokenised once per process), then the template's fixed leading/trailing
 * ids; consecutive `<unk>` are fused across the text as the library does.
 * Texts that contain an added token (`<s>`, `<mask>`, ...) and other model
 * types go through the library, which is then built on first use ({@link hf}).
 * `tests/tokenizer_test.ts` checks identical ids on the whole dataset, for the
 * default and the 250k-piece tokenizer.
 *
 * @example
 * ```ts
 * import { buildLexicalTokenizer, TextTokenizer } from "./tokenizer.ts";
 * const { json } = buildLexicalTokenizer(["phòng trọ quận 10"]);
 * const tok = new TextTokenizer(json);
 * console.log(tok.encode("phòng trọ", 512).ids); // [0, ..., 2]
 * ```
 */
export class TextTokenizer {
  /** Id used to pad batches (`<pad>` when the vocabulary has it, else 0). */
  readonly padId: number;
  /** Id of the unknown token, or -1. */
  readonly unkId: number;
  /** How many special tokens the template puts before / after the text. */
  readonly specials: { before: number; after: number };
  /** True when {@link encode} uses the fast Unigram path (see the class notes). */
  readonly fast: boolean;
  #json: object;
  #config: object;
  #hf?: Tokenizer;
  #pipe?: HfPipeline;
  #model?: FastUnigram;
  /** SentencePiece's own normaliser, for `Precompiled` tokenizers (see {@link SpmNormalizer}). */
  #spm?: SpmNormalizer;
  #prefix: number[] = [];
  #suffix: number[] = [];
  #added: string[] = [];
  #memo = new Map<string, { ids: number[]; margin: number }>();

  /** A tokenizer from a parsed `tokenizer.json` (and `tokenizer_config.json`). */
  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    this.#json = tokenizerJson;
    this.#config = tokenizerConfig;
    this.fast = this.#setUpFastPath();
    if (this.fast) {
      const ids = this.#model!.ids;
      this.padId = ids.get("<pad>") ?? 0;
      this.unkId = this.#model!.unkId;
      this.specials = { before: this.#prefix.length, after: this.#suffix.length };
      return;
    }
    const hf = this.hf;
    this.padId = hf.token_to_id("<pad>") ?? 0;
    this.unkId = hf.token_to_id("<unk>") ?? -1;
    // Find the template's leading/trailing special tokens from a probe text.
    const probe = "a";
    const withSpecials = hf.encode(probe).ids;
    const plain = hf.encode(probe, { add_special_tokens: false }).ids;
    let before = 0;
    search: for (; before + plain.length <= withSpecials.length; before++) {
      for (let i = 0; i < plain.length; i++) {
        if (withSpecials[before + i] !== plain[i]) continue search;
      }
      break;
    }
    if (before + plain.length > withSpecials.length) before = 0;
    this.specials = { before, after: withSpecials.length - before - plain.length };
  }

  /**
   * The underlying `@huggingface/tokenizers` instance (built on first use when
   * the fast path is on), seen through the few methods this project uses.
   */
  get hf(): HfTokenizer {
    this.#hf ??= new Tokenizer(this.#json, this.#config);
    return this.#hf;
  }

  #setUpFastPath(): boolean {
    const json = this.#json as {
      model?: {
        type?: string;
        unk_id?: number | null;
        vocab?: [string, number][];
        byte_fallback?: boolean;
      };
      post_processor?: TemplateJson;
      added_tokens?: { content?: string; id?: number }[];
    };
    const config = this.#config as {
      remove_space?: boolean;
      do_lowercase_and_remove_accent?: boolean;
    };
    const model = json.model;
    if (config.remove_space === true || config.do_lowercase_and_remove_accent) return false;
    const spm = sentencePieceNormalizer(this.#json);
    if (model?.type !== "Unigram" || !Array.isArray(model.vocab)) return false;
    if (!Number.isInteger(model.unk_id) || model.byte_fallback === true) return false;
    const template = templateIds(json.post_processor);
    if (!template) return false;
    const added = (json.added_tokens ?? []).filter((a): a is { content: string; id: number } =>
      typeof a?.content === "string" && a.content.length > 0 && Number.isInteger(a.id)
    );
    try {
      // The library's normaliser and pre-tokenizer, built around a one-piece model (cheap).
      this.#pipe = new Tokenizer(
        { ...json, model: { type: "Unigram", unk_id: 0, vocab: [["<unk>", 0]] }, added_tokens: [] },
        this.#config,
      ) as unknown as HfPipeline;
      this.#model = new FastUnigram(model.vocab, model.unk_id as number, added, spm !== undefined);
      this.#spm = spm;
    } catch {
      return false;
    }
    this.#prefix = template.prefix;
    this.#suffix = template.suffix;
    this.#added = added.map((a) => a.content);
    return true;
  }

  /**
   * The template's ids via the fast path, or undefined when the library must
   * do it. Stops after `maxContent + 1` content ids: later words cannot change
   * the ids kept by truncation (each word is tokenised on its own, and a fused
   * `<unk>` only drops ids after the cut), so a text of any length costs
   * little more than its first `maxLength` tokens (plus normalising it).
   */
  #fastIds(text: string, maxContent = Infinity): number[] | undefined {
    const pipe = this.#pipe!, model = this.#model!;
    for (const t of this.#added) if (text.includes(t)) return undefined;
    const spm = this.#spm;
    const normalized = spm ? spm.normalize(text) : pipe.normalizer ? pipe.normalizer(text) : text;
    for (const t of this.#added) if (normalized.includes(t)) return undefined;
    const out = this.#prefix.slice();
    if (normalized.length > 0) {
      // SentencePiece: the normalised text already has its ▁s, and no piece holds a ▁
      // after its start, so the Viterbi splits into words at each ▁ (memoised per word).
      const words = spm
        ? normalized.split(/(?=\u2581)/)
        : pipe.pre_tokenizer
        ? pipe.pre_tokenizer(normalized, { section_index: 0 })
        : [normalized];
      const unk = model.unkId;
      const start = out.length;
      let score = 0; // SentencePiece: the float32 path score so far
      for (const w of words) {
        if (out.length - start > maxContent) break;
        let entry = this.#memo.get(w);
        if (entry === undefined) {
          const ids = model.word(w);
          entry = { ids, margin: model.float32 ? model.lastMargin : Infinity };
          if (this.#memo.size >= WORD_MEMO_LIMIT) this.#memo.clear();
          this.#memo.set(w, entry);
        }
        let ids = entry.ids;
        if (model.float32) {
          // A word's best path does not depend on where it starts, except through
          // float32 rounding: a near-tie is decided again from the real score.
          if (entry.margin < 1e-5 * (1 + Math.abs(score))) {
            ids = model.word(w, score);
            score = model.lastEnd;
          } else for (const id of ids) score = Math.fround(score + model.scores[id]);
        }
        for (const id of ids) {
          // fuse_unk: a run of unknown tokens becomes one, across words too.
          if (id === unk && out.length > start && out[out.length - 1] === unk) continue;
          out.push(id);
        }
      }
    }
    for (const id of this.#suffix) out.push(id);
    return out;
  }

  /** The template ids of a text; with `maxContent`, possibly cut after that many + 1 content ids. */
  #ids(text: string, maxContent?: number): number[] {
    return (this.fast ? this.#fastIds(text, maxContent) : undefined) ?? this.hf.encode(text).ids;
  }

  /**
   * Encode one text with the template, keeping at most `maxLength` ids: the
   * content is cut so that the leading and trailing special tokens remain.
   */
  encode(text: string, maxLength: number): TokenizedText {
    const { before, after } = this.specials;
    const keep = Math.max(0, maxLength - before - after);
    const ids = this.#ids(text, keep);
    if (ids.length <= maxLength) return { ids, truncated: false };
    return {
      ids: [...ids.slice(0, before + keep), ...ids.slice(ids.length - after)],
      truncated: true,
    };
  }

  /** The ids exactly as `@huggingface/tokenizers` gives them (no fast path, no truncation). */
  referenceIds(text: string): number[] {
    return this.hf.encode(text).ids;
  }

  /** The token strings of a text (with the template), for debugging and tests. */
  tokens(text: string): string[] {
    return this.hf.encode(text).tokens;
  }
}

/**
 * Load `tokenizer.json` (and `tokenizer_config.json` when present) from a
 * model folder.
 *
 * @example
 * ```ts
 * import { loadTokenizer } from "./tokenizer.ts";
 * const tok = await loadTokenizer("data/models/lexical-1024");
 * console.log(tok.tokens("phòng trọ q10"));
 * ```
 */
export async function loadTokenizer(dir: string): Promise<TextTokenizer> {
  const path = `${dir}/tokenizer.json`;
  let json: object;
  await checkInputFile(path);
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    // V8's message quotes the start of the text: not echoed (the file may be anything).
    const why = (err as Error).message.replace(
      /, ".*"(\.\.\.)? is not valid JSON$/s,
      ": not valid JSON",
    );
    throw new Error(`${path}: not a valid tokenizer.json (${why})`);
  }
  const vocab = (json as { model?: { vocab?: unknown } })?.model?.vocab;
  const size = Array.isArray(vocab)
    ? vocab.length
    : vocab && typeof vocab === "object"
    ? Object.keys(vocab).length
    : 0;
  if (size === 0) {
    throw new Error(
      `${path}: field "model.vocab" is missing or empty: a tokenizer needs a vocabulary`,
    );
  }
  let config: object = {};
  try {
    config = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new Error(`${dir}/tokenizer_config.json: ${(err as Error).message}`);
    }
  }
  try {
    return new TextTokenizer(json, config);
  } catch (err) {
    throw new Error(`${path}: cannot build tokenizer (${(err as Error).message})`);
  }
}

/**
 * The word-start marker of SentencePiece / Metaspace.
 *
 * @example
 * ```ts
 * import { METASPACE } from "./tokenizer.ts";
 * if (JSON.stringify(METASPACE + "phòng") !== JSON.stringify("▁phòng")) throw new Error(`got ${JSON.stringify(METASPACE + "phòng")}`);
 * ```
 */
export const METASPACE = "\u2581";

/**
 * Special tokens in XLM-R order: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3.
 *
 * @example
 * ```ts
 * import { SPECIAL_TOKENS } from "./tokenizer.ts";
 * if (JSON.stringify(SPECIAL_TOKENS.indexOf("</s>")) !== JSON.stringify(2)) throw new Error(`got ${JSON.stringify(SPECIAL_TOKENS.indexOf("</s>"))}`);
 * ```
 */
export const SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"] as const;

/** Lower-case Vietnamese vowels; each also takes the five tone marks. */
const VI_VOWELS = "aăâeêioôơuưy";
/** Grave, acute, hook above, tilde, dot below (combining). */
const VI_TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"];
const ASCII_LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
const PUNCTUATION = ".,;:!?'\"()[]{}-–—/\\%&+*=#@_<>~^$€₫…·•|`";

/**
 * Every character the default tokenizer always knows, after its normaliser
 * (NFKC + lowercase): a–z, đ, all Vietnamese vowels with every tone, digits
 * and common punctuation. Upper-case forms are not needed: the normaliser
 * lower-cases first.
 *
 * @example
 * ```ts
 * import { fallbackCharacters } from "./tokenizer.ts";
 * if (JSON.stringify(fallbackCharacters().includes("ự")) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(fallbackCharacters().includes("ự"))}`);
 * ```
 */
export function fallbackCharacters(): string[] {
  const chars = new Set<string>([...ASCII_LOWER, "đ", ...DIGITS, ...PUNCTUATION]);
  for (const v of VI_VOWELS) {
    for (const t of VI_TONES) chars.add((v + t).normalize("NFC"));
  }
  return [...chars];
}

/**
 * Normalise like the default tokenizer: NFKC, then lowercase.
 *
 * @example
 * ```ts
 * import { normalizeLexical } from "./tokenizer.ts";
 * if (JSON.stringify(normalizeLexical("PHÒNG Trọ")) !== JSON.stringify("phòng trọ")) throw new Error(`got ${JSON.stringify(normalizeLexical("PHÒNG Trọ"))}`);
 * ```
 */
export function normalizeLexical(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

/** Options of {@link buildLexicalTokenizer}. */
export interface LexicalTokenizerOptions {
  /** Most pieces in the vocabulary, specials and characters included (default 4800). */
  maxVocab?: number;
  /**
   * Lower-case in the normaliser (default true). With false the tokenizer is
   * case-sensitive like XLM-R's, and upper-case fallback characters are added.
   */
  lowercase?: boolean;
}

/** The result of {@link buildLexicalTokenizer}. */
export interface LexicalTokenizer {
  /** The `tokenizer.json` object (serialise with `JSON.stringify(json, null, 2)`). */
  json: Record<string, unknown>;
  /** Pieces in id order. */
  pieces: string[];
  /** Number of whole-word pieces (the rest are specials and characters). */
  wordPieces: number;
}

const WORD_RUN = /[\p{L}\p{M}\p{N}]+/gu;

/**
 * Build an XLM-R-style Unigram `tokenizer.json` from texts: normaliser
 * `Sequence[NFKC, Lowercase]`, pre-tokenizer `Sequence[WhitespaceSplit,
 * Metaspace(▁)]`, Metaspace decoder, `<s> $A </s>` template, specials
 * `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3.
 *
 * Vocabulary: every word of the texts (runs of letters/digits, as `▁word` at
 * the start of a whitespace token, as `word` after punctuation inside one),
 * most frequent first, plus `▁` and a character fallback (every character of
 * the texts and {@link fallbackCharacters}), so that any Vietnamese text
 * tokenises without `<unk>`.
 *
 * Scores are log-probabilities from the counts minus a constant per piece
 * larger than any piece's negative log-probability, so a single whole-word
 * piece always beats any split into two or more pieces.
 *
 * @example
 * ```ts
 * import { buildLexicalTokenizer } from "./tokenizer.ts";
 * const { pieces } = buildLexicalTokenizer(["Phòng trọ Q10, wc riêng"]);
 * if (pieces.slice(0, 5).join(" ") !== "<s> <pad> </s> <unk> ▁") throw new Error(`${pieces.slice(0, 5)}`);
 * ```
 */
export function buildLexicalTokenizer(
  texts: Iterable<string>,
  opts: LexicalTokenizerOptions = {},
): LexicalTokenizer {
  const maxVocab = opts.maxVocab ?? 4800;
  const lowercase = opts.lowercase ?? true;
  const normalize = lowercase ? normalizeLexical : (t: string) => t.normalize("NFKC");
  const wordCounts = new Map<string, number>();
  const charCounts = new Map<string, number>();
  let spaceCount = 0;
  for (const raw of texts) {
    for (const token of normalize(raw).split(/\s+/u)) {
      if (token === "") continue;
      spaceCount++;
      for (const ch of token) charCounts.set(ch, (charCounts.get(ch) ?? 0) + 1);
      for (const m of token.matchAll(WORD_RUN)) {
        const piece = m.index === 0 ? METASPACE + m[0] : m[0];
        wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
      }
    }
  }
  for (const lower of fallbackCharacters()) {
    for (const ch of lowercase ? [lower] : [lower, lower.toUpperCase()]) {
      if (!charCounts.has(ch)) charCounts.set(ch, 0);
    }
  }
  charCounts.delete(METASPACE);

  const chars = [...charCounts.entries()].sort(byCountThenText);
  const budget = maxVocab - SPECIAL_TOKENS.length - 1 - chars.length;
  if (budget < 0) throw new Error(`buildLexicalTokenizer: maxVocab ${maxVocab} is too small`);
  const charSet = new Set(chars.map(([c]) => c));
  const words = [...wordCounts.entries()]
    .filter(([w]) => !charSet.has(w)) // single-char inner words are already pieces
    .sort(byCountThenText)
    .slice(0, budget);

  // Log-probabilities (+1 smoothing so unseen fallback characters get a score).
  const entries: [string, number][] = [[METASPACE, spaceCount], ...words, ...chars];
  const total = entries.reduce((a, [, c]) => a + c + 1, 0);
  const logp = entries.map(([, c]) => Math.log((c + 1) / total));
  const penalty = Math.ceil(-logp.reduce((a, b) => Math.min(a, b), 0)) + 1;
  const round = (x: number) => Math.round(x * 1e6) / 1e6;

  const pieces = [...SPECIAL_TOKENS, ...entries.map(([p]) => p)];
  const vocab: [string, number][] = [
    ...SPECIAL_TOKENS.map((t): [string, number] => [t, 0]),
    ...entries.map(([p], i): [string, number] => [p, round(logp[i] - penalty)]),
  ];
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((t, i) => special(t, i)),
    normalizer: {
      type: "Sequence",
      normalizers: lowercase ? [{ type: "NFKC" }, { type: "Lowercase" }] : [{ type: "NFKC" }],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "WhitespaceSplit" },
        { type: "Metaspace", replacement: METASPACE, prepend_scheme: "always", split: true },
      ],
    },
    post_processor: xlmrTemplate(),
    decoder: { type: "Metaspace", replacement: METASPACE, prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 3, vocab, byte_fallback: false },
  };
  return { json, pieces, wordPieces: words.length };
}

function byCountThenText(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}
