/**
 * Hard-negative mining: rank every listing against each query with a scorer
 * (the base encoder, or a trained head), take a rank window, drop likely
 * false negatives, and keep a few negatives per example, in FlagEmbedding's
 * JSONL format (`neg`, `neg_weights`).
 *
 * The rules follow the two anchors:
 *
 * - **rank window** (FlagEmbedding `hn_mine --range_for_sampling 10-100`):
 *   the 0-based slice `[lo, hi)` of each query's ranking, i.e. ranks
 *   `lo+1 … hi`, searched exactly with `topK(hi)`. Skipping the very top
 *   avoids the listings most likely to be unlabelled positives.
 * - **false-negative filters**, applied to each candidate in the window, in
 *   this order (a candidate is counted under the first filter that drops it):
 *   1. `positive`: the text equals (after NFC, lowercase and whitespace
 *      normalisation) the example's positive, one of the other positives of
 *      the same query, or the query itself;
 *   2. `satisfies` (only with `constraints`, native data that records what
 *      each query asks for): the candidate's features meet every constraint
 *      of the query, so it is an unlabelled positive;
 *   3. `same-features` (only with feature weighting): the candidate carries
 *      exactly the positive's structured features, i.e. it is the same
 *      listing written differently;
 *   4. `margin` (sentence-transformers `mine_hard_negatives`, absolute
 *      margin): dropped when `score > positive_score − margin`;
 *   5. `max-score-ratio` (relative): dropped when
 *      `score > ratio × positive_score`.
 * - **selection**: the first `numNegatives` survivors in rank order (`top`),
 *   or a seeded sample of them (`random`, as FlagEmbedding samples from the
 *   window), written in rank order.
 * - **weights**: with `weightsFromFeatures`, where both the positive and the
 *   candidate carry `features` (native format), the negative's `differs` are
 *   the weight-config features whose values differ and its weight is the
 *   largest of their weights (`negativeWeight`, the rule of generated
 *   negatives); a candidate without features gets weight 1. With
 *   `constraints` too, `differs` are the constraints the candidate violates,
 *   exactly as for the generated negatives.
 *
 * Each text is embedded once (the caller's `embed` sees the union of queries
 * and candidates), so the embedding cache is reused.
 *
 * @module
 */
import {
  type Example,
  negativeWeight,
  normalizeQuery,
  type WeightConfig,
} from "../data/dataset.ts";
import { topK } from "../eval/metrics.ts";
import { Rng } from "../core/rng.ts";

/**
 * Structured features of a listing: feature name → value (string, number or list).
 */
export type Features = Record<string, unknown>;

/**
 * Options of {@linkcode mineHardNegatives}.
 */
export interface MineOptions {
  /** 0-based rank window `[lo, hi)` (FlagEmbedding's `10-100` is `[10, 100]`). */
  range: [number, number];
  /** Negatives to keep per example. */
  numNegatives: number;
  /** Absolute margin: drop a candidate scoring above `positive − margin`. */
  margin?: number;
  /** Relative cap: drop a candidate scoring above `ratio × positive`. */
  maxScoreRatio?: number;
  /** `top` (best-ranked survivors) or `random` (seeded sample of the survivors). */
  sample?: "top" | "random";
  /** Seed of the `random` sample. */
  seed?: number;
  /** Weight each negative by the features in which it differs from the positive. */
  weightsFromFeatures?: { weights: WeightConfig; features: Map<string, Features> };
  /**
   * Drop candidates that satisfy the query: per example (by `Example.id`), the
   * constraints its query names, and the features of the listings.
   */
  constraints?: { byExample: (Constraints | undefined)[]; features: Map<string, Features> };
}

/**
 * What a query asks for, feature by feature: a value (equality), a list
 * (every item present), or a `{ min?, max? }` range (inclusive).
 */
export type Constraints = Record<string, unknown>;

/**
 * What each filter removed, and what came out.
 *
 * @example
 * ```ts
 * import { formatMineReport, type MineReport } from "./mine.ts";
 * // Type-checked, not run: it needs r from a real run.
 * async function _example(r: MineReport) {
 *   console.log(r.removed.margin, formatMineReport(r));
 * }
 * ```
 */
export interface MineReport {
  /** Examples read. */
  examples: number;
  /** Distinct queries among them. */
  queries: number;
  /** Distinct candidate listings (corpus ∪ positives ∪ negatives). */
  candidates: number;
  /** Candidates inside the rank windows, summed over examples. */
  inWindow: number;
  /** Candidates removed, by filter. */
  removed: {
    positive: number;
    satisfies: number;
    sameFeatures: number;
    margin: number;
    maxScoreRatio: number;
  };
  /** Candidates that passed every filter, summed over examples. */
  passed: number;
  /** Negatives written. */
  mined: number;
  /** Examples that got fewer than `numNegatives`. */
  short: number;
  /** Mined negatives weighted from features / left at weight 1 for lack of features. */
  weighted: number;
  /** Mined negatives left at weight 1. */
  unweighted: number;
  /** Texts embedded (queries and candidates, each once). */
  embedded: number;
}

/**
 * One output line: FlagEmbedding JSONL plus `neg_weights` and, with features, `neg_differs`.
 */
export interface MinedRecord {
  /** The query. */
  query: string;
  /** Its positive listing(s). */
  pos: string[];
  /** Mined hard negatives, best-ranked first. */
  neg: string[];
  /** A weight per negative (from features, else 1). */
  neg_weights: number[];
  /** Per negative, the features in which it differs from the positive. */
  neg_differs?: string[][];
}

/**
 * Compare two feature values: numbers and strings exactly, lists as sets.
 *
 * @example
 * ```ts
 * import { sameFeatureValue } from "./mine.ts";
 * if (JSON.stringify([sameFeatureValue(["a", "b"], ["b", "a"]), sameFeatureValue(3, 3.5)]) !== JSON.stringify([true, false])) throw new Error(`got ${JSON.stringify([sameFeatureValue(["a", "b"], ["b", "a"]), sameFeatureValue(3, 3.5)])}`);
 * ```
 */
export function sameFeatureValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const sa = [...new Set(a.map((x) => JSON.stringify(x)))].sort();
    const sb = [...new Set(b.map((x) => JSON.stringify(x)))].sort();
    return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The weight-config features in which a candidate differs from a positive
 * (only features both carry), in weight-config order.
 *
 * @example
 * ```ts
 * import { differingFeatures } from "./mine.ts";
 * const w = { city: 3, district: 2.5, price: 2 };
 * if (JSON.stringify(differingFeatures({ city: "HN", price: 3 }, { city: "HN", price: 4 }, w)) !== JSON.stringify(["price"])) throw new Error(`got ${JSON.stringify(differingFeatures({ city: "HN", price: 3 }, { city: "HN", price: 4 }, w))}`);
 * ```
 */
export function differingFeatures(
  positive: Features,
  candidate: Features,
  weights: WeightConfig,
): string[] {
  return Object.keys(weights).filter((f) =>
    Object.hasOwn(positive, f) && Object.hasOwn(candidate, f) &&
    !sameFeatureValue(positive[f], candidate[f])
  );
}

/**
 * The structured features of every listing of a native dataset file
 * (`positive.features`, `negatives[].features`), by text. JSONL and texts
 * without features contribute nothing. The first occurrence of a text wins.
 *
 * @example
 * ```ts
 * import { readFeatures } from "./mine.ts";
 * const f = await readFeatures("data/gen-data-set.json");
 * console.log(f.size > 0);
 * ```
 */
export async function readFeatures(path: string): Promise<Map<string, Features>> {
  const out = new Map<string, Features>();
  if (path.toLowerCase().endsWith(".jsonl")) return out;
  const raw = JSON.parse(await Deno.readTextFile(path)) as unknown;
  const records = Array.isArray(raw) ? raw : (raw as { examples?: unknown[] }).examples ?? [];
  const add = (o: unknown) => {
    if (typeof o !== "object" || o === null) return;
    const { text, features } = o as { text?: unknown; features?: unknown };
    if (
      typeof text === "string" && typeof features === "object" && features !== null &&
      !Array.isArray(features) && !out.has(text)
    ) out.set(text, features as Features);
  };
  for (const r of records as { positive?: unknown; negatives?: unknown }[]) {
    if (typeof r !== "object" || r === null) continue;
    add(r.positive);
    if (Array.isArray(r.negatives)) r.negatives.forEach(add);
  }
  return out;
}

/**
 * The constraints of `c` that the features `f` violate (empty: `f` satisfies
 * the query). A constraint is a value (equality), a list (every item must be
 * in `f`'s list) or `{ min?, max? }` (inclusive numeric range). A constraint on
 * a feature `f` lacks counts as violated.
 *
 * @example
 * ```ts
 * import { violations } from "./mine.ts";
 * const f = { district: "Quận 10", price: 3.5, amenities: ["máy lạnh"] };
 * if (JSON.stringify(violations(f, { district: "Quận 10", price: { max: 3 }, amenities: ["máy lạnh"] })) !== JSON.stringify(["price"])) throw new Error(`got ${JSON.stringify(violations(f, { district: "Quận 10", price: { max: 3 }, amenities: ["máy lạnh"] }))}`);
 * ```
 */
export function violations(f: Features, c: Constraints): string[] {
  const out: string[] = [];
  for (const [key, want] of Object.entries(c)) {
    if (!Object.hasOwn(f, key)) {
      out.push(key);
      continue;
    }
    const have = f[key];
    let ok: boolean;
    if (Array.isArray(want)) {
      const list = Array.isArray(have) ? have.map((x) => JSON.stringify(x)) : [];
      ok = want.every((w) => list.includes(JSON.stringify(w)));
    } else if (typeof want === "object" && want !== null) {
      const { min, max } = want as { min?: number; max?: number };
      const x = Number(have);
      // Prices like 3.5 are compared to 1e-9, as the generator compares tenths.
      ok = Number.isFinite(x) && (min === undefined || x >= min - 1e-9) &&
        (max === undefined || x <= max + 1e-9);
    } else ok = sameFeatureValue(have, want);
    if (!ok) out.push(key);
  }
  return out;
}

/**
 * The `constraints` object of each example of a native dataset file, by
 * example index (`undefined` where an example has none; empty for JSONL).
 *
 * @example
 * ```ts
 * import { readConstraints } from "./mine.ts";
 * const c = await readConstraints("data/gen-data-set.json");
 * console.log(c[0]); // e.g. { district: "Hoàn Kiếm", area: { min: 15 }, amenities: ["WC riêng"] }
 * ```
 */
export async function readConstraints(path: string): Promise<(Constraints | undefined)[]> {
  if (path.toLowerCase().endsWith(".jsonl")) return [];
  const raw = JSON.parse(await Deno.readTextFile(path)) as unknown;
  const records = Array.isArray(raw) ? raw : (raw as { examples?: unknown[] }).examples ?? [];
  return records.map((r) => {
    const c = (r as { constraints?: unknown } | null)?.constraints;
    return typeof c === "object" && c !== null && !Array.isArray(c) ? c as Constraints : undefined;
  });
}

/**
 * Parse a FlagEmbedding-style rank window `"10-100"` into `[10, 100]`
 * (0-based slice of the ranking: ranks 11 … 100). Throws naming the value.
 *
 * @example
 * ```ts
 * import { parseRange } from "./mine.ts";
 * if (JSON.stringify(parseRange("10-100")) !== JSON.stringify([10, 100])) throw new Error(`got ${JSON.stringify(parseRange("10-100"))}`);
 * ```
 */
export function parseRange(s: string): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(s);
  if (!m) throw new RangeError(`--range must look like LO-HI (e.g. 10-100), got "${s}"`);
  const lo = Number(m[1]), hi = Number(m[2]);
  if (!(hi > lo)) throw new RangeError(`--range ${s}: HI must be greater than LO`);
  return [lo, hi];
}

/**
 * Mine hard negatives for `examples` from `candidates` (deduplicated with the
 * examples' positives and negatives). `embed` returns normalised vectors of
 * the given texts (row-major); it is called once with every distinct query
 * and candidate text.
 *
 * @example
 * ```ts
 * import { mineHardNegatives } from "./mine.ts";
 * const vec: Record<string, number[]> = { q: [1, 0], p: [0.9, 0.44], a: [0.8, 0.6], b: [0, 1] };
 * const { records, report } = await mineHardNegatives(
 *   [{ id: 0, query: "q", positive: "p", negatives: [] }],
 *   ["a", "b"],
 *   async (texts) => ({ dim: 2, data: new Float32Array(texts.flatMap((t) => vec[t])) }),
 *   { range: [0, 3], numNegatives: 1, sample: "top" },
 * );
 * // "a" is the best-scored listing that is not the positive; the positive was removed once
 * if (records[0].neg.join() !== "a" || report.removed.positive !== 1) throw new Error(JSON.stringify(records));
 * ```
 */
export async function mineHardNegatives(
  examples: readonly Example[],
  candidates: readonly string[],
  embed: (texts: string[]) => Promise<{ dim: number; data: Float32Array }>,
  opts: MineOptions,
): Promise<{ records: MinedRecord[]; report: MineReport }> {
  const [lo, hi] = opts.range;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi <= lo) {
    throw new RangeError(`mine: range must be integers 0 <= lo < hi, got ${lo}-${hi}`);
  }
  if (!Number.isInteger(opts.numNegatives) || opts.numNegatives < 1) {
    throw new RangeError(`mine: numNegatives must be a positive integer, got ${opts.numNegatives}`);
  }
  if (examples.length === 0) throw new RangeError("mine: no examples");
  const sample = opts.sample ?? "random";

  // Candidate pool: every listing, once.
  const docIndex = new Map<string, number>();
  const docs: string[] = [];
  const addDoc = (t: string) => {
    if (!docIndex.has(t)) {
      docIndex.set(t, docs.length);
      docs.push(t);
    }
  };
  for (const c of candidates) addDoc(c);
  for (const ex of examples) {
    addDoc(ex.positive);
    for (const n of ex.negatives) addDoc(n.text);
  }
  if (lo >= docs.length - 1) {
    // Every window rank would be past the corpus: every record would get no negatives.
    throw new RangeError(
      `mine: --range ${lo}-${hi} starts past the corpus: ${docs.length} candidate texts give ` +
        `ranks 1-${docs.length} (use a window below ${docs.length - 1}, e.g. --range ` +
        `${Math.min(10, Math.max(0, docs.length - 3))}-${docs.length - 1}, or add --corpus FILE)`,
    );
  }
  const queryIndex = new Map<string, number>();
  const queries: string[] = [];
  for (const ex of examples) {
    if (!queryIndex.has(ex.query)) {
      queryIndex.set(ex.query, queries.length);
      queries.push(ex.query);
    }
  }
  // Positives of each query (normalised), for the duplicate filter.
  const positivesOf = new Map<string, Set<string>>();
  for (const ex of examples) {
    let s = positivesOf.get(ex.query);
    if (!s) positivesOf.set(ex.query, s = new Set([normalizeQuery(ex.query)]));
    s.add(normalizeQuery(ex.positive));
  }

  // Embed the union once.
  const all = [...new Set([...queries, ...docs])];
  const emb = await embed(all);
  const dim = emb.dim;
  if (emb.data.length !== all.length * dim) {
    throw new Error(`mine: embed returned ${emb.data.length} values for ${all.length} texts`);
  }
  const rowOf = new Map(all.map((t, i) => [t, i]));
  const rows = (texts: string[]) => {
    const out = new Float32Array(texts.length * dim);
    texts.forEach((t, i) => {
      const r = rowOf.get(t)!;
      out.set(emb.data.subarray(r * dim, (r + 1) * dim), i * dim);
    });
    return out;
  };
  const qv = rows(queries);
  const dv = rows(docs);
  const ranked = await topK(qv, queries.length, dv, docs.length, dim, hi);
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += qv[a * dim + d] * dv[b * dim + d];
    return s;
  };

  const report: MineReport = {
    examples: examples.length,
    queries: queries.length,
    candidates: docs.length,
    inWindow: 0,
    removed: { positive: 0, satisfies: 0, sameFeatures: 0, margin: 0, maxScoreRatio: 0 },
    passed: 0,
    mined: 0,
    short: 0,
    weighted: 0,
    unweighted: 0,
    embedded: all.length,
  };
  const fw = opts.weightsFromFeatures;
  const records: MinedRecord[] = [];
  for (const ex of examples) {
    const q = queryIndex.get(ex.query)!;
    const pos = dot(q, docIndex.get(ex.positive)!);
    const dup = positivesOf.get(ex.query)!;
    const posFeatures = fw?.features.get(ex.positive);
    const kept: { text: string; differs?: string[] }[] = [];
    for (let r = lo; r < ranked.k; r++) {
      const j = ranked.indices[q * ranked.k + r];
      const s = ranked.scores[q * ranked.k + r];
      const text = docs[j];
      report.inWindow++;
      if (dup.has(normalizeQuery(text))) {
        report.removed.positive++;
        continue;
      }
      let violated: string[] | undefined;
      const cons = opts.constraints?.byExample[ex.id];
      const consFeatures = cons && opts.constraints!.features.get(text);
      if (cons && consFeatures) {
        violated = violations(consFeatures, cons);
        if (violated.length === 0) {
          report.removed.satisfies++;
          continue;
        }
      }
      const candFeatures = fw?.features.get(text);
      let differs: string[] | undefined;
      if (fw && violated) differs = violated;
      else if (fw && posFeatures && candFeatures) {
        differs = differingFeatures(posFeatures, candFeatures, fw.weights);
        if (differs.length === 0) {
          report.removed.sameFeatures++;
          continue;
        }
      }
      if (opts.margin !== undefined && s > pos - opts.margin) {
        report.removed.margin++;
        continue;
      }
      if (opts.maxScoreRatio !== undefined && s > opts.maxScoreRatio * pos) {
        report.removed.maxScoreRatio++;
        continue;
      }
      kept.push({ text, differs });
    }
    report.passed += kept.length;
    let chosen = kept;
    if (kept.length > opts.numNegatives) {
      if (sample === "top") chosen = kept.slice(0, opts.numNegatives);
      else {
        const picks = new Rng((opts.seed ?? 42) * 1_000_003 + ex.id)
          .shuffle(kept.map((_, i) => i)).slice(0, opts.numNegatives).sort((a, b) => a - b);
        chosen = picks.map((i) => kept[i]);
      }
    } else if (kept.length < opts.numNegatives) report.short++;
    const rec: MinedRecord = {
      query: ex.query,
      pos: [ex.positive],
      neg: chosen.map((c) => c.text),
      neg_weights: chosen.map((c) => {
        if (!fw) return 1;
        if (c.differs === undefined) {
          report.unweighted++;
          return 1;
        }
        report.weighted++;
        return negativeWeight(undefined, c.differs, fw.weights);
      }),
    };
    if (fw) rec.neg_differs = chosen.map((c) => c.differs ?? []);
    report.mined += chosen.length;
    records.push(rec);
  }
  return { records, report };
}

/**
 * A plain-text summary of a {@linkcode MineReport}: one line per filter.
 *
 * @example
 * ```ts
 * import { formatMineReport } from "./mine.ts";
 * // Type-checked, not run: it needs report from a real run.
 * async function _example(report: import("./mine.ts").MineReport) {
 *   console.log(formatMineReport(report));
 * }
 * ```
 */
export function formatMineReport(r: MineReport): string {
  return [
    `Examples: ${r.examples} (${r.queries} unique queries), candidates: ${r.candidates} listings, ` +
    `${r.embedded} texts embedded once`,
    `In the rank windows: ${r.inWindow} candidates`,
    `  removed as the positive (or another positive / the query): ${r.removed.positive}`,
    `  removed as satisfying the query's constraints:              ${r.removed.satisfies}`,
    `  removed as the same listing (identical features):           ${r.removed.sameFeatures}`,
    `  removed by --margin:                                        ${r.removed.margin}`,
    `  removed by --max-score-ratio:                               ${r.removed.maxScoreRatio}`,
    `  passed: ${r.passed}`,
    `Mined: ${r.mined} negatives; ${r.short} examples got fewer than asked` +
    (r.weighted + r.unweighted > 0
      ? `; weights from features: ${r.weighted}, without features (weight 1): ${r.unweighted}`
      : ""),
  ].join("\n");
}
