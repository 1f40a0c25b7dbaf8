/**
 * SentencePiece, exactly: its model file, its normaliser, and the conversion
 * to a Hugging Face `tokenizer.json`.
 *
 * - {@link parseSentencePieceModel} reads a `.model` file (a `ModelProto`
 *   protobuf: pieces, scores, types and the normaliser spec with its
 *   precompiled charsmap).
 * - {@link SpmNormalizer} is SentencePiece's `Normalizer::Normalize`
 *   (`normalizer.cc`): at each position the longest rule of the precompiled
 *   charsmap that matches (a darts-clone double-array trie over UTF-8 bytes),
 *   else one character as it is; leading, trailing and repeated spaces
 *   removed; a dummy `▁` prefix; spaces escaped as `▁`. Unlike running NFKC
 *   over the whole text, it composes only what the charsmap lists (so `ê` +
 *   U+0323, VNI-style input, stays two characters, as SentencePiece keeps it),
 *   leaves U+200D alone, and follows the Unicode version the model was built
 *   with.
 * - {@link convertSentencePiece} builds the `tokenizer.json` that Hugging
 *   Face's `XLMRobertaConverter` builds from the same model (ids shifted by
 *   fairseq's offset, `<mask>` appended, a `Precompiled` normaliser holding the
 *   charsmap), which {@link TextTokenizer} then encodes with this normaliser.
 *
 * `tests/tokenizer_spm_test.ts` checks the ids against Google's SentencePiece
 * (`dev/spm_reference.py`, committed as `tests/fixtures/spm/`).
 *
 * @module
 */

/** Piece types of SentencePiece's `ModelProto.SentencePiece.Type`. */
export type PieceType = "normal" | "unknown" | "control" | "user_defined" | "unused" | "byte";

const PIECE_TYPES: Record<number, PieceType> = {
  1: "normal",
  2: "unknown",
  3: "control",
  4: "user_defined",
  5: "unused",
  6: "byte",
};

/** What {@link parseSentencePieceModel} reads from a `.model` file. */
export interface SentencePieceModel {
  /** Every piece in id order, with its score (a log probability) and type. */
  pieces: { piece: string; score: number; type: PieceType }[];
  /** `trainer_spec.model_type`: 1 unigram, 2 bpe, 3 word, 4 char. */
  modelType: number;
  /** How texts are normalised before segmentation. */
  normalizer: NormalizerSpec;
}

/** SentencePiece's `NormalizerSpec`, with its defaults. */
export interface NormalizerSpec {
  /** The rule's name, e.g. `nmt_nfkc`. */
  name: string;
  /** The compiled rules: a double-array trie and the replacement strings. */
  precompiledCharsmap: Uint8Array;
  /** Put `▁` before the text (default true). */
  addDummyPrefix: boolean;
  /** Drop leading, trailing and repeated spaces (default true). */
  removeExtraWhitespaces: boolean;
  /** Write spaces as `▁` (default true). */
  escapeWhitespaces: boolean;
}

/** A protobuf reader: just enough wire format for `ModelProto`. */
class Proto {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly where: string) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0, shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error(`${this.where}: truncated varint`);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new Error(`${this.where}: malformed varint`);
    }
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new Error(`${this.where}: truncated field`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  float(): number {
    if (this.pos + 4 > this.buf.length) throw new Error(`${this.where}: truncated float`);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`${this.where}: unsupported wire type ${wire}`);
  }
  /** Each field of the message: its number and wire type; `read` consumes it (or it is skipped). */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const key = this.varint();
      const start = this.pos;
      yield [Math.floor(key / 8), key & 7];
      if (this.pos === start) this.skip(key & 7);
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Read a SentencePiece `.model` file. Errors name `where` (the file).
 *
 * @example
 * ```ts
 * import { parseSentencePieceModel } from "./sentencepiece.ts";
 * const m = parseSentencePieceModel(await Deno.readFile("tests/fixtures/spm/vi-unigram.model"));
 * if (m.pieces[0].type !== "unknown" || m.normalizer.name !== "nmt_nfkc") throw new Error("not XLM-R's layout");
 * ```
 */
export function parseSentencePieceModel(
  bytes: Uint8Array,
  where = "sentencepiece model",
): SentencePieceModel {
  const pieces: SentencePieceModel["pieces"] = [];
  let modelType = 1;
  const normalizer: NormalizerSpec = {
    name: "",
    precompiledCharsmap: new Uint8Array(0),
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  const top = new Proto(bytes, where);
  for (const [field, wire] of top.fields()) {
    if (field === 1 && wire === 2) {
      const p = new Proto(top.bytes(), `${where}: piece ${pieces.length}`);
      const piece = { piece: "", score: 0, type: "normal" as PieceType };
      for (const [f, w] of p.fields()) {
        if (f === 1 && w === 2) piece.piece = utf8.decode(p.bytes());
        else if (f === 2 && w === 5) piece.score = p.float();
        else if (f === 3 && w === 0) piece.type = PIECE_TYPES[p.varint()] ?? "normal";
      }
      pieces.push(piece);
    } else if (field === 2 && wire === 2) {
      const t = new Proto(top.bytes(), `${where}: trainer_spec`);
      for (const [f, w] of t.fields()) if (f === 3 && w === 0) modelType = t.varint();
    } else if (field === 3 && wire === 2) {
      const n = new Proto(top.bytes(), `${where}: normalizer_spec`);
      for (const [f, w] of n.fields()) {
        if (f === 1 && w === 2) normalizer.name = utf8.decode(n.bytes());
        else if (f === 2 && w === 2) normalizer.precompiledCharsmap = n.bytes().slice();
        else if (f === 3 && w === 0) normalizer.addDummyPrefix = n.varint() !== 0;
        else if (f === 4 && w === 0) normalizer.removeExtraWhitespaces = n.varint() !== 0;
        else if (f === 5 && w === 0) normalizer.escapeWhitespaces = n.varint() !== 0;
      }
    }
  }
  if (pieces.length === 0) throw new Error(`${where}: no pieces (not a SentencePiece model?)`);
  return { pieces, modelType, normalizer };
}

const SPACE = 0x20;
const ESCAPED_SPACE = new Uint8Array([0xe2, 0x96, 0x81]); // "▁"
const REPLACEMENT = new Uint8Array([0xef, 0xbf, 0xbd]);

/** Bytes of the UTF-8 character starting at `b` (1 for a malformed one). */
function utf8Length(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  const n = b < 0x80
    ? 1
    : b >= 0xc2 && b < 0xe0
    ? 2
    : b >= 0xe0 && b < 0xf0
    ? 3
    : b >= 0xf0 && b < 0xf5
    ? 4
    : 0;
  if (n === 0 || i + n > bytes.length) return 0;
  for (let k = 1; k < n; k++) if ((bytes[i + k] & 0xc0) !== 0x80) return 0;
  if (n === 3 && b === 0xe0 && bytes[i + 1] < 0xa0) return 0;
  if (n === 3 && b === 0xed && bytes[i + 1] >= 0xa0) return 0; // surrogates
  if (n === 4 && b === 0xf0 && bytes[i + 1] < 0x90) return 0;
  if (n === 4 && b === 0xf4 && bytes[i + 1] >= 0x90) return 0;
  return n;
}

/**
 * SentencePiece's normaliser over a precompiled charsmap (the blob in
 * `normalizer_spec.precompiled_charsmap`, or base64 in a `tokenizer.json`'s
 * `Precompiled` normaliser): `<trie size: u32 LE><double-array trie><rules,
 * NUL-terminated>`.
 *
 * @example
 * ```ts
 * import { parseSentencePieceModel, SpmNormalizer } from "./sentencepiece.ts";
 * const m = parseSentencePieceModel(await Deno.readFile("tests/fixtures/spm/vi-unigram.model"));
 * const n = new SpmNormalizer(m.normalizer.precompiledCharsmap);
 * if (JSON.stringify(n.normalize("  Ｐhòng   trọ ")) !== JSON.stringify("▁Phòng▁trọ")) throw new Error(`got ${JSON.stringify(n.normalize("  Ｐhòng   trọ "))}`);
 * ```
 */
export class SpmNormalizer {
  readonly #units: Uint32Array;
  readonly #rules: Uint8Array;
  readonly #spec: Omit<NormalizerSpec, "name" | "precompiledCharsmap">;

  /** The normaliser of a charsmap blob, with SentencePiece's default flags unless given. */
  constructor(
    charsmap: Uint8Array,
    spec: Partial<Omit<NormalizerSpec, "name" | "precompiledCharsmap">> = {},
  ) {
    this.#spec = {
      addDummyPrefix: spec.addDummyPrefix ?? true,
      removeExtraWhitespaces: spec.removeExtraWhitespaces ?? true,
      escapeWhitespaces: spec.escapeWhitespaces ?? true,
    };
    if (charsmap.length === 0) {
      this.#units = new Uint32Array(0);
      this.#rules = new Uint8Array(0);
      return;
    }
    if (charsmap.length < 4) throw new Error("precompiled charsmap: too short");
    const view = new DataView(charsmap.buffer, charsmap.byteOffset, charsmap.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || 4 + trieBytes > charsmap.length) {
      throw new Error(`precompiled charsmap: trie size ${trieBytes} does not fit`);
    }
    this.#units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.#units.length; i++) this.#units[i] = view.getUint32(4 + i * 4, true);
    this.#rules = charsmap.slice(4 + trieBytes);
  }

  /**
   * The longest charsmap rule matching `bytes` at `at` (darts-clone's
   * `commonPrefixSearch`): [bytes consumed, offset of the replacement], or
   * [0, 0] when none does.
   */
  #longest(bytes: Uint8Array, at: number): [number, number] {
    const units = this.#units;
    if (units.length === 0) return [0, 0];
    let longest = 0, value = 0;
    let unit = units[0];
    let node = (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    for (let i = at; i < bytes.length; i++) {
      const c = bytes[i];
      node ^= c;
      if (node >= units.length) break;
      unit = units[node];
      // label(): the low byte, plus bit 31 (set on leaf units, which never match a key byte).
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      node ^= (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
      if ((unit >>> 8) & 1) {
        longest = i + 1 - at;
        value = units[node] & 0x7fffffff;
      }
    }
    return [longest, value];
  }

  /** `Normalizer::NormalizePrefix`: the replacement bytes of the prefix at `at`, and its length. */
  #prefix(bytes: Uint8Array, at: number): [Uint8Array, number] {
    const [len, value] = this.#longest(bytes, at);
    if (len > 0) {
      let end = value;
      while (end < this.#rules.length && this.#rules[end] !== 0) end++;
      return [this.#rules.subarray(value, end), len];
    }
    const n = utf8Length(bytes, at);
    return n === 0 ? [REPLACEMENT, 1] : [bytes.subarray(at, at + n), n];
  }

  /** Normalise like `Normalizer::Normalize` (the result has `▁` for spaces when escaping). */
  normalize(text: string): string {
    return decoder.decode(this.normalizeBytes(encoder.encode(text)));
  }

  /** {@link normalize} on UTF-8 bytes. */
  normalizeBytes(input: Uint8Array): Uint8Array {
    const spec = this.#spec;
    let at = 0;
    if (spec.removeExtraWhitespaces) {
      // Leading spaces (after normalisation) are dropped.
      while (at < input.length) {
        const [rep, n] = this.#prefix(input, at);
        if (!(rep.length === 1 && rep[0] === SPACE)) break;
        at += n;
      }
    }
    if (at >= input.length) return new Uint8Array(0);
    const out: number[] = [];
    const space = spec.escapeWhitespaces ? ESCAPED_SPACE : new Uint8Array([SPACE]);
    if (spec.addDummyPrefix) out.push(...space);
    let prevSpace = spec.removeExtraWhitespaces;
    while (at < input.length) {
      const [rep, n] = this.#prefix(input, at);
      let s = 0;
      while (prevSpace && s < rep.length && rep[s] === SPACE) s++;
      if (s < rep.length) {
        for (let k = s; k < rep.length; k++) {
          if (rep[k] === SPACE && spec.escapeWhitespaces) out.push(...ESCAPED_SPACE);
          else out.push(rep[k]);
        }
        prevSpace = rep[rep.length - 1] === SPACE;
      }
      at += n;
      if (!spec.removeExtraWhitespaces) prevSpace = false;
    }
    if (spec.removeExtraWhitespaces) {
      // Trailing spaces (escaped or not) are dropped.
      const w = space.length;
      while (out.length >= w && space.every((b, k) => out[out.length - w + k] === b)) {
        out.length -= w;
      }
    }
    return Uint8Array.from(out);
  }
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * Decode a base64 charsmap (as a `tokenizer.json` stores it).
 *
 * @example
 * ```ts
 * import { decodeCharsmap } from "./sentencepiece.ts";
 * if (JSON.stringify(decodeCharsmap("AAAAAA==").length) !== JSON.stringify(4)) throw new Error(`got ${JSON.stringify(decodeCharsmap("AAAAAA==").length)}`);
 * ```
 */
export function decodeCharsmap(b64: string): Uint8Array {
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** One template item: a special token or the text sequence. */
export type TemplateItem =
  | { SpecialToken: { id: string; type_id: number } }
  | { Sequence: { id: string; type_id: number } };

/** A `TemplateProcessing` post-processor of a `tokenizer.json`. */
export interface TemplatePostProcessor {
  /** Always `TemplateProcessing`. */
  type: "TemplateProcessing";
  /** The template of one text. */
  single: TemplateItem[];
  /** The template of a pair of texts. */
  pair: TemplateItem[];
  /** The ids of the template's special tokens. */
  special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
}

/**
 * XLM-R's `<s> A </s>` (and `<s> A </s></s> B </s>`) template, as a
 * `tokenizer.json` post-processor with `<s>` = 0 and `</s>` = 2.
 *
 * @example
 * ```ts
 * import { xlmrTemplate } from "./sentencepiece.ts";
 * if (JSON.stringify(xlmrTemplate().special_tokens["</s>"].ids) !== JSON.stringify([2])) throw new Error(`got ${JSON.stringify(xlmrTemplate().special_tokens["</s>"].ids)}`);
 * ```
 */
export function xlmrTemplate(): TemplatePostProcessor {
  return {
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
  };
}

/**
 * The `tokenizer.json` Hugging Face's `XLMRobertaConverter` makes from a
 * SentencePiece Unigram model: `<s> <pad> </s> <unk>` first, then the model's
 * pieces from its 4th on (fairseq's offset: SentencePiece id i ≥ 3 becomes
 * i + 1), `<mask>` last; a `Precompiled` normaliser with the model's charsmap
 * and `Replace(" {2,}" → "▁")`; `Metaspace` with `prepend_scheme: "always"`;
 * the `<s> A </s>` template. {@link spmToHfId} maps the ids.
 *
 * @example
 * ```ts
 * import { convertSentencePiece, parseSentencePieceModel } from "./sentencepiece.ts";
 * const m = parseSentencePieceModel(await Deno.readFile("tests/fixtures/spm/vi-unigram.model"));
 * const json = convertSentencePiece(m) as { model: { vocab: unknown[] } };
 * if (JSON.stringify(json.model.vocab.length === m.pieces.length + 2) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(json.model.vocab.length === m.pieces.length + 2)}`);
 * ```
 */
export function convertSentencePiece(model: SentencePieceModel): object {
  if (model.modelType !== 1) {
    throw new Error(`only Unigram SentencePiece models convert (model_type ${model.modelType})`);
  }
  const types = model.pieces.slice(0, 3).map((p) => p.type).join(",");
  if (types !== "unknown,control,control") {
    throw new Error(
      `the model's first pieces are ${types}; XLM-R's layout needs <unk>, <s>, </s> first`,
    );
  }
  const vocab: [string, number][] = [["<s>", 0], ["<pad>", 0], ["</s>", 0], ["<unk>", 0]];
  for (const p of model.pieces.slice(3)) vocab.push([p.piece, p.score]);
  vocab.push(["<mask>", 0]);
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: content === "<mask>",
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      special(0, "<s>"),
      special(1, "<pad>"),
      special(2, "</s>"),
      special(3, "<unk>"),
      special(vocab.length - 1, "<mask>"),
    ],
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Precompiled", precompiled_charsmap: base64(model.normalizer.precompiledCharsmap) },
        { type: "Replace", pattern: { Regex: " {2,}" }, content: "\u2581" },
      ],
    },
    pre_tokenizer: {
      type: "Metaspace",
      replacement: "\u2581",
      prepend_scheme: "always",
      split: true,
    },
    post_processor: xlmrTemplate(),
    decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 3, vocab, byte_fallback: false },
  };
}

/**
 * The `tokenizer.json` id of a SentencePiece id under {@link convertSentencePiece}.
 *
 * @example
 * ```ts
 * import { spmToHfId } from "./sentencepiece.ts";
 * if (JSON.stringify([spmToHfId(0), spmToHfId(1), spmToHfId(2), spmToHfId(7)]) !== JSON.stringify([3, 0, 2, 8])) throw new Error(`got ${JSON.stringify([spmToHfId(0), spmToHfId(1), spmToHfId(2), spmToHfId(7)])}`);
 * ```
 */
export function spmToHfId(id: number): number {
  return id === 0 ? 3 : id === 1 ? 0 : id === 2 ? 2 : id + 1;
}
