#!/usr/bin/python3
"""Reference ids from Google's SentencePiece, for tests/tokenizer_spm_test.ts.

A dev tool (Debian's python3-sentencepiece and hunspell-vi), never a product
dependency. It trains a Unigram model with XLM-R's `nmt_nfkc` normalisation
rule on this repo's dataset texts plus Vietnamese syllables, then writes the
model and SentencePiece's ids for three sets of texts:

- dataset: every unique text of data/gen-data-set.json (query, positive,
  negatives, in order of first appearance); texts are not stored (they are in
  the repo), only the dataset's sha256 and, per text, the first 16 hex digits
  of the sha256 of its ids joined by commas;
- stress: hand-written hard cases (VNI-style split tone marks, NFD, ZWJ/ZWNJ,
  NBSP and other spaces, full-width and compatibility characters, controls,
  emoji, other scripts, runs of spaces);
- mixes: seeded random mixes of those ingredients.

Usage: /usr/bin/python3 dev/spm_reference.py [--mixes N] [--seed S] [--out DIR]
(`deno task dev:spm-reference` runs it with the defaults.)
"""
import argparse, hashlib, json, os, random, sys, tempfile, unicodedata

import sentencepiece as spm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASET = os.path.join(ROOT, "data", "gen-data-set.json")
DIC = "/usr/share/hunspell/vi_VN.dic"

TONES = ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323"]  # huyền sắc ngã hỏi nặng


def dataset_texts(doc):
    seen, out = set(), []
    for ex in doc["examples"]:
        pos = ex["positive"]
        pos = pos["text"] if isinstance(pos, dict) else pos
        negs = [n["text"] if isinstance(n, dict) else n for n in ex["negatives"]]
        for t in [ex["query"], pos, *negs]:
            if t not in seen:
                seen.add(t)
                out.append(t)
    return out


def syllables():
    words = []
    with open(DIC, encoding="utf-8") as f:
        next(f)
        for line in f:
            w = line.strip().split("/")[0]
            if w:
                words.append(w)
    return words


def vni_split(text):
    """Split tone marks off precomposed letters: 'ệ' -> 'ê' + U+0323 (VNI-style input)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        d = unicodedata.normalize("NFD", ch)
        tone = [c for c in d if c in TONES]
        if tone:
            base = unicodedata.normalize("NFC", "".join(c for c in d if c not in TONES))
            out.append(base + "".join(tone))
        else:
            out.append(ch)
    return "".join(out)


SPECIALS = [
    "\u200d", "\u200c", "\u200b", "\u00a0", "\u3000", "\u2009", "\t", "\u00ad", "\ufeff",
    "\u0001", "\u007f", "\u2028", "\r", "\n", "  ", "   ", "\uff11\uff10", "\uff31\uff11\uff10",
    "\ufb01", "\u2460", "\u33a1", "\u2103", "\u00bd", "\u2162", "\u1d400", "\U0001d400",
    "\U0001f3e0", "\u2764\ufe0f", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u0301",
    "\u0323\u0302", "\u0410\u0411", "\u03a9", "\u4e2d\u6587", "\ud55c", "\u0639\u0631\u0628",
    "\u0130", "\u212b", "\u2126", "\u00c5", "A\u030a", "\u1e9e", "\uff5e", "\u301c",
]


def stress_texts(dataset, words):
    base = dataset[:40]
    out = []
    for t in base:
        out.append(vni_split(t))
        out.append(unicodedata.normalize("NFD", t))
        out.append(t.upper())
        out.append(" " + t.replace(" ", "  ") + " ")
        out.append(t.replace(" ", "\u200d ", 2))
        out.append(t.replace(" ", "\u00a0"))
    for s in SPECIALS:
        out.append(s)
        out.append("phòng" + s + "trọ")
        out.append(s + " phòng trọ q10 " + s)
    for w in words[:200:7]:
        out.append(vni_split(w) + " " + w)
    out += ["", " ", "▁", "▁▁ ▁", "a" * 300, "Phòng trọ Q.10, giá 3tr5/tháng!!!", "Ｐｈòng ｔｒọ"]
    return out


def mixes(n, seed, dataset, words):
    rng = random.Random(seed)
    vocab_words = [w for t in dataset[:2000] for w in t.split()]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 10)):
            r = rng.random()
            if r < 0.35:
                w = rng.choice(words)
            elif r < 0.6:
                w = rng.choice(vocab_words)
            elif r < 0.75:
                w = vni_split(rng.choice(words))
            elif r < 0.82:
                w = unicodedata.normalize("NFD", rng.choice(vocab_words))
            else:
                w = rng.choice(SPECIALS)
            if rng.random() < 0.1:
                w = w.upper()
            parts.append(w)
            parts.append(rng.choice([" ", " ", " ", "", "  ", "\u00a0", "\u200d", ", "]))
        out.append("".join(parts))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mixes", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "spm"))
    ap.add_argument("--vocab-size", type=int, default=4000)
    args = ap.parse_args()
    raw = open(DATASET, "rb").read()
    doc = json.loads(raw)
    texts = dataset_texts(doc)
    words = syllables()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for t in texts + words:
                f.write(t.replace("\n", " ") + "\n")
        prefix = os.path.join(tmp, "m")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="unigram",
            vocab_size=args.vocab_size, normalization_rule_name="nmt_nfkc",
            character_coverage=1.0, hard_vocab_limit=False, seed_sentencepiece_size=200000,
            num_threads=2, minloglevel=2,
        )
        model = open(prefix + ".model", "rb").read()
    path = os.path.join(args.out, "vi-unigram.model")
    open(path, "wb").write(model)
    sp = spm.SentencePieceProcessor(model_proto=model)
    sets = {
        # Dataset ids as the first 16 hex digits of sha256("id,id,..."): the texts are in the repo.
        "dataset": {"sha256": hashlib.sha256(raw).hexdigest(), "texts": None,
                    "idsSha256": [hashlib.sha256(",".join(map(str, sp.encode(t))).encode())
                                  .hexdigest()[:16] for t in texts]},
        "stress": (lambda ts: {"texts": ts, "ids": [sp.encode(t) for t in ts]})(
            stress_texts(texts, words)),
        "mixes": (lambda ts: {"texts": ts, "ids": [sp.encode(t) for t in ts]})(
            mixes(args.mixes, args.seed, texts, words)),
    }
    ref = {
        "about": "SentencePiece " + spm.__version__ + " ids (not HF ids: no <s> offset) of "
                 "vi-unigram.model, made by dev/spm_reference.py",
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "seed": args.seed,
        "sets": sets,
    }
    with open(os.path.join(args.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, separators=(",", ":"))
    for name, s in sets.items():
        n = len(s.get("ids") or s.get("idsSha256"))
        print(f"{name}: {n} texts")
    print(f"model: {path} ({len(model)} bytes, {sp.get_piece_size()} pieces)")


if __name__ == "__main__":
    main()
