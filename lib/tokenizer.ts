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

/** The ids of one text after the template, truncated to a maximum length. */
export interface TokenizedText {
  /** Token ids including the template's special tokens. */
  ids: number[];
  /** True when content tokens were dropped to fit `maxLength`. */
  truncated: boolean;
}

/**
 * A loaded tokenizer: HF `tokenizer.json` semantics plus truncation.
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
  /** The underlying `@huggingface/tokenizers` instance. */
  readonly hf: Tokenizer;
  /** Id used to pad batches (`<pad>` when the vocabulary has it, else 0). */
  readonly padId: number;
  /** Id of the unknown token, or -1. */
  readonly unkId: number;
  /** How many special tokens the template puts before / after the text. */
  readonly specials: { before: number; after: number };

  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    this.hf = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.padId = this.hf.token_to_id("<pad>") ?? 0;
    this.unkId = this.hf.token_to_id("<unk>") ?? -1;
    // Find the template's leading/trailing special tokens from a probe text.
    const probe = "a";
    const withSpecials = this.hf.encode(probe).ids;
    const plain = this.hf.encode(probe, { add_special_tokens: false }).ids;
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
   * Encode one text with the template, keeping at most `maxLength` ids: the
   * content is cut so that the leading and trailing special tokens remain.
   */
  encode(text: string, maxLength: number): TokenizedText {
    const ids = this.hf.encode(text).ids;
    if (ids.length <= maxLength) return { ids, truncated: false };
    const { before, after } = this.specials;
    const keep = Math.max(0, maxLength - before - after);
    return {
      ids: [...ids.slice(0, before + keep), ...ids.slice(ids.length - after)],
      truncated: true,
    };
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
  try {
    json = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw err;
    throw new Error(`${path}: not a valid tokenizer.json (${(err as Error).message})`);
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
 * console.log(METASPACE + "phòng"); // "▁phòng"
 * ```
 */
export const METASPACE = "\u2581";

/**
 * Special tokens in XLM-R order: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3.
 *
 * @example
 * ```ts
 * import { SPECIAL_TOKENS } from "./tokenizer.ts";
 * console.log(SPECIAL_TOKENS.indexOf("</s>")); // 2
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
 * console.log(fallbackCharacters().includes("ự")); // true
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
 * console.log(normalizeLexical("PHÒNG Trọ")); // "phòng trọ"
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
 * console.log(pieces.slice(0, 6)); // ["<s>", "<pad>", "</s>", "<unk>", "▁", ...]
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
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
        { Sequence: { id: "B", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      special_tokens: {
        "<s>": { id: "<s>", ids: [0], tokens: ["<s>"] },
        "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] },
      },
    },
    decoder: { type: "Metaspace", replacement: METASPACE, prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 3, vocab, byte_fallback: false },
  };
  return { json, pieces, wordPieces: words.length };
}

function byCountThenText(a: [string, number], b: [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}
