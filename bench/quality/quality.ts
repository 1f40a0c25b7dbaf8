/**
 * `deno task bench:quality` (opt-in, not in CI): train each recipe over N
 * seeds on one split and print mean ± sd of validation R@1, MRR@10, nDCG@10
 * and of MRR@10 on the frozen out-of-distribution set (`ood.ts`), with the
 * original recipe and sentence-transformers' MultipleNegativesRankingLoss as
 * rows of the same run.
 *
 * ```sh
 * deno task bench:quality                       # every recipe, 5 seeds
 * deno task bench:quality --seeds 10 --recipes original,mnrl
 * deno task bench:quality --json /tmp/q.json    # also write every run's numbers
 * ```
 *
 * What is held fixed: the dataset, the train/validation split (`--split-seed`,
 * default 42) and the validation task. What each seed changes: the head's
 * initialisation (where it is random), the shuffles and the batches. Val
 * numbers are those of the checkpoint each recipe selects (`best.safetensors`,
 * by its own `--select`), the one a user gets; the OOD set is never used to
 * select or tune.
 *
 * @module
 */
import { parseCommand } from "../../lib/cli/cli.ts";
import { resolveConfig, type TrainConfig } from "../../lib/train/config.ts";
import { createStepEngine, prepareTraining, trainHead } from "../../lib/train/trainer.ts";
import type { PreparedData } from "../../lib/train/types.ts";
import { loadCheckpoint } from "../../lib/run/checkpoint.ts";
import { loadDataset, loadWeightConfig, uniqueTexts } from "../../lib/data/dataset.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { embedTexts } from "../../lib/encoder/cache.ts";
import { loadEncoder } from "../../lib/encoder/encoder.ts";
import { ensureDefaultModel } from "../../lib/encoder/default_model.ts";
import { lookup, type RetrievalTask, retrievalTask } from "../../lib/eval/evaluation.ts";
import { evaluateRetrieval } from "../../lib/eval/metrics.ts";
import { sha256Hex } from "../../lib/core/fs.ts";
import { helpText } from "../../lib/cli/cli.ts";
import { OOD_PATH, OOD_SHA256 } from "./ood.ts";

/** A named recipe: config values over the defaults, and what it stands for. */
export interface Recipe {
  /** Row name. */
  name: string;
  /** What it is, in a few words. */
  about: string;
  /** Config values over {@link DEFAULT_CONFIG}. */
  config: Partial<TrainConfig>;
  /** Hard negatives weighted 1 (no feature weights): sentence-transformers' MNRL. */
  uniformWeights?: boolean;
  /**
   * More training data: this many generator examples (`gen-data --count N`, another seed)
   * added to the training split only, so the validation split stays the same.
   */
  extraTrain?: number;
}

/**
 * The original recipe, spelled out (the defaults up to 0.9): orthogonal start,
 * plain AdamW decay 0.01, symmetric loss with weighted hard negatives, 10
 * epochs, best epoch by validation loss.
 */
export const ORIGINAL: Readonly<Partial<TrainConfig>> = Object.freeze({
  epochs: 10,
  init: "orthogonal",
  weightDecay: 0.01,
  decayTo: "zero",
  symmetric: true,
  select: "val_loss",
});

/**
 * The adapter recipe (the default from 0.10): start at the PCA of the training
 * listings, decay toward that start (λ = 5), query→listing loss only, 30
 * epochs, best epoch by validation MRR@10.
 */
export const ADAPTER: Readonly<Partial<TrainConfig>> = Object.freeze({
  epochs: 30,
  init: "pca",
  weightDecay: 5,
  decayTo: "init",
  symmetric: false,
  select: "mrr@10",
});

/**
 * The recipes of the bench: the two anchors (`original`, `mnrl`), each lever
 * added to the original alone, the adapter recipe, and the adapter with one
 * lever taken out or one more added (ablations).
 */
export const RECIPES: readonly Recipe[] = [
  { name: "original", about: "the original recipe (defaults up to 0.9)", config: ORIGINAL },
  {
    name: "mnrl",
    about: "sentence-transformers MNRL: one direction, hard negatives weighted 1, scale 20",
    config: { ...ORIGINAL, symmetric: false },
    uniformWeights: true,
  },
  {
    name: "original+select-mrr",
    about: "original, best epoch by val MRR@10",
    config: { ...ORIGINAL, select: "mrr@10" },
  },
  {
    name: "original+30-epochs",
    about: "original, 30 epochs, best by val MRR@10",
    config: { ...ORIGINAL, epochs: 30, select: "mrr@10" },
  },
  { name: "original+pca", about: "original, PCA start", config: { ...ORIGINAL, init: "pca" } },
  {
    name: "original+one-direction",
    about: "original, query→listing loss only",
    config: { ...ORIGINAL, symmetric: false },
  },
  { name: "adapter", about: "the adapter recipe (default from 0.10)", config: ADAPTER },
  {
    name: "adapter-pca",
    about: "adapter with an orthogonal start (decay toward it)",
    config: { ...ADAPTER, init: "orthogonal" },
  },
  {
    name: "adapter-decay",
    about: "adapter with plain AdamW decay 0.01 toward zero",
    config: { ...ADAPTER, weightDecay: 0.01, decayTo: "zero" },
  },
  {
    name: "adapter+symmetric",
    about: "adapter with the symmetric loss",
    config: { ...ADAPTER, symmetric: true },
  },
  {
    name: "adapter+uniform-negatives",
    about: "adapter with hard negatives weighted 1 (MNRL's)",
    config: ADAPTER,
    uniformWeights: true,
  },
  {
    name: "adapter+4k-data",
    about: "adapter with 4,000 more generator examples in the training split (data, not recipe)",
    config: ADAPTER,
    extraTrain: 4000,
  },
  {
    name: "adapter+16k-data",
    about: "adapter with 16,000 more generator examples in the training split (data, not recipe)",
    config: ADAPTER,
    extraTrain: 16000,
  },
];

/** One trained run's numbers. */
export interface RunNumbers {
  /** Recipe name. */
  recipe: string;
  /** Training seed. */
  seed: number;
  /** Selected epoch. */
  epoch: number;
  /** Validation metrics of the selected checkpoint. */
  val: Record<string, number>;
  /** Validation metrics of the last epoch (no selection on the validation split). */
  last: Record<string, number>;
  /** MRR@10 (and the rest) of the selected checkpoint on the OOD set. */
  ood: Record<string, number>;
  /** Seconds of training. */
  seconds: number;
  /** The base encoder's metrics on the same validation task. */
  baseVal: Record<string, number>;
}

/** The OOD set: its task and base embeddings, verified against its frozen sha256. */
export interface OodSet {
  /** Queries, listings and relevant listings. */
  task: RetrievalTask;
  /** Base embeddings of the queries, `[nq, dim]`. */
  queries: Float32Array;
  /** Base embeddings of the listings, `[nd, dim]`. */
  docs: Float32Array;
  /** Base encoder metrics on it. */
  base: Record<string, number>;
}

/** Load the frozen OOD set (refusing a changed file) and embed it through the cache. */
export async function loadOodSet(
  config: TrainConfig,
  path = OOD_PATH,
  sha256 = OOD_SHA256,
): Promise<OodSet> {
  const bytes = await Deno.readFile(path);
  const got = await sha256Hex(bytes);
  if (got !== sha256) {
    throw new Error(
      `${path}: sha256 ${got} is not the frozen set's ${sha256}; the OOD set must not change ` +
        `(regenerate it only with bench/quality/ood.ts, and only before tuning)`,
    );
  }
  const task = retrievalTask((await loadDataset(path)).examples);
  const encoder = await loadEncoder(config.model || await ensureDefaultModel());
  const texts = [...task.queries, ...task.docs];
  const emb = await embedTexts(encoder, texts, {
    cacheRoot: config.cacheRoot,
    onWarning: () => {},
  });
  await encoder.dispose();
  const rowOf = new Map<string, number>();
  texts.forEach((t, i) => rowOf.set(t, i));
  const table = { dim: emb.dim, data: emb.data, rowOf };
  const queries = lookup(table, task.queries), docs = lookup(table, task.docs);
  const base = await evaluateRetrieval({
    queryVecs: queries,
    docVecs: docs,
    dim: emb.dim,
    nq: task.queries.length,
    nd: task.docs.length,
    relevant: task.relevant,
  });
  return { task, queries, docs, base };
}

/** Metrics of a head weight on the OOD set. */
export async function oodMetrics(
  ood: OodSet,
  config: TrainConfig,
  inDim: number,
  weight: Float32Array,
): Promise<Record<string, number>> {
  const engine = await createStepEngine(config, inDim);
  try {
    const nq = ood.task.queries.length, nd = ood.task.docs.length;
    return await evaluateRetrieval({
      queryVecs: await engine.project(ood.queries, nq, weight),
      docVecs: await engine.project(ood.docs, nd, weight),
      dim: config.outDim,
      nq,
      nd,
      relevant: ood.task.relevant,
    });
  } finally {
    await engine.dispose();
  }
}

/** A copy of prepared data whose hard negatives all weigh 1 (MNRL's unweighted negatives). */
export function withUniformWeights(data: PreparedData): PreparedData {
  const flat = (xs: PreparedData["train"]) =>
    xs.map((e) => ({ ...e, negatives: e.negatives.map((n) => ({ ...n, weight: 1 })) }));
  return { ...data, train: flat(data.train), val: flat(data.val) };
}

/** Generator seed of the extra training data (the committed dataset uses 42). */
const EXTRA_SEED = 7;

/**
 * `data` with `count` more generator examples in its training split. Examples that share a
 * query or any listing with the validation split are dropped (no leak); their texts are
 * embedded through the cache.
 */
export async function withExtraTraining(
  data: PreparedData,
  config: TrainConfig,
  count: number,
): Promise<PreparedData> {
  const path = await Deno.makeTempFile({ prefix: "quality-extra-", suffix: ".json" });
  try {
    await writeSyntheticDataset(path, { count, seed: EXTRA_SEED });
    const weights = await loadWeightConfig(config.weights);
    const extra = (await loadDataset(path, { weights })).examples;
    const valTexts = new Set(uniqueTexts(data.val));
    const firstId = data.dataset.examples.length;
    const kept = extra.filter((e) =>
      !valTexts.has(e.query) && !valTexts.has(e.positive) &&
      !e.negatives.some((n) => valTexts.has(n.text))
    ).map((e, i) => ({ ...e, id: firstId + i }));
    const fresh = uniqueTexts(kept).filter((t) => !data.rowOf.has(t));
    const encoder = await loadEncoder(data.encoder.dir);
    const emb = await embedTexts(encoder, fresh, { cacheRoot: config.cacheRoot });
    await encoder.dispose();
    const embeddings = new Float32Array(data.embeddings.length + emb.data.length);
    embeddings.set(data.embeddings);
    embeddings.set(emb.data, data.embeddings.length);
    const rowOf = new Map(data.rowOf);
    fresh.forEach((t, i) => rowOf.set(t, data.texts.length + i));
    return {
      ...data,
      train: [...data.train, ...kept],
      texts: [...data.texts, ...fresh],
      embeddings,
      rowOf,
    };
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}

const prepared = new WeakMap<PreparedData, Map<string, Promise<PreparedData>>>();

/** The data a recipe trains on (built once per recipe's data options and reused by its seeds). */
function recipeData(
  recipe: Recipe,
  data: PreparedData,
  config: TrainConfig,
): Promise<PreparedData> {
  const key = `${recipe.uniformWeights ?? false}/${recipe.extraTrain ?? 0}`;
  if (!prepared.has(data)) prepared.set(data, new Map());
  const memo = prepared.get(data)!;
  if (!memo.has(key)) {
    memo.set(
      key,
      (async () => {
        const d = recipe.uniformWeights ? withUniformWeights(data) : data;
        return recipe.extraTrain ? await withExtraTraining(d, config, recipe.extraTrain) : d;
      })(),
    );
  }
  return memo.get(key)!;
}

/** Train one recipe with one seed in a temporary directory; its selected checkpoint's numbers. */
export async function runRecipe(
  recipe: Recipe,
  seed: number,
  base: Partial<TrainConfig>,
  data: PreparedData,
  ood: OodSet,
): Promise<RunNumbers> {
  const out = await Deno.makeTempDir({ prefix: `quality-${recipe.name}-${seed}-` });
  try {
    const config = resolveConfig({}, { ...base, ...recipe.config, seed, out });
    const result = await trainHead(config, await recipeData(recipe, data, config), {
      report: false,
    });
    const best = result.best;
    if (!best) throw new Error(`${recipe.name} seed ${seed}: no selected checkpoint`);
    const ckpt = await loadCheckpoint(out, { which: "best" });
    return {
      recipe: recipe.name,
      seed,
      epoch: best.epoch,
      val: best.record.metrics ?? {},
      last: result.history.at(-1)?.metrics ?? {},
      ood: await oodMetrics(ood, config, data.encoder.dim, ckpt.weight),
      seconds: result.seconds,
      baseVal: result.baseMetrics,
    };
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {}); // a failed run removes its own
  }
}

/** Mean and sample standard deviation. */
export function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1
    ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1))
    : 0;
  return { mean, sd };
}

/** The Markdown table: one row per recipe, mean ± sd over its seeds. */
export function qualityTable(
  runs: RunNumbers[],
  base?: { val: Record<string, number>; ood: Record<string, number> },
): string {
  const cols: [string, (r: RunNumbers) => number][] = [
    ["val R@1", (r) => r.val["recall@1"]],
    ["val MRR@10", (r) => r.val["mrr@10"]],
    ["val nDCG@10", (r) => r.val["ndcg@10"]],
    ["val MRR@10, last epoch", (r) => r.last["mrr@10"]],
    ["OOD MRR@10", (r) => r.ood["mrr@10"]],
    ["epoch", (r) => r.epoch],
  ];
  const lines = [
    `| recipe | seeds | ${cols.map((c) => c[0]).join(" | ")} |`,
    `|---|---:|${cols.map(() => "---:").join("|")}|`,
  ];
  if (base) {
    const b = [
      base.val["recall@1"],
      base.val["mrr@10"],
      base.val["ndcg@10"],
      base.val["mrr@10"],
      base.ood["mrr@10"],
    ];
    lines.push(`| base encoder (no head) | – | ${b.map((x) => x.toFixed(4)).join(" | ")} | – |`);
  }
  const names = [...new Set(runs.map((r) => r.recipe))];
  for (const name of names) {
    const rs = runs.filter((r) => r.recipe === name);
    const cells = cols.map(([label, f]) => {
      const { mean, sd } = meanSd(rs.map(f));
      return label === "epoch" ? `${mean.toFixed(1)}` : `${mean.toFixed(4)} ± ${sd.toFixed(4)}`;
    });
    lines.push(`| ${name} | ${rs.length} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

const COMMAND = {
  name: "bench:quality",
  usage: "deno task bench:quality [flags]",
  description: "Train each recipe over N seeds on one split; mean ± sd of val and OOD metrics.",
  flags: {
    seeds: { type: "int" as const, min: 1, default: 5, help: "training seeds per recipe (1..N)" },
    recipes: {
      type: "string" as const,
      help: `comma-separated (default: all of ${RECIPES.map((r) => r.name).join(",")})`,
    },
    epochs: { type: "int" as const, min: 1, help: "override every recipe's epochs" },
    data: { type: "string" as const, default: "data/gen-data-set.json", help: "training dataset" },
    "split-seed": { type: "int" as const, default: 42, help: "the one train/val split" },
    json: { type: "string" as const, help: "also write every run's numbers to this JSON file" },
  },
};

async function main(): Promise<void> {
  const parsed = parseCommand(Deno.args, COMMAND);
  if (parsed.help) return console.log(helpText(COMMAND));
  const v: Record<string, unknown> = {
    seeds: 5,
    data: "data/gen-data-set.json",
    splitSeed: 42,
    ...parsed.flags,
  };
  const wanted = v.recipes ? String(v.recipes).split(",") : RECIPES.map((r) => r.name);
  const recipes = wanted.map((n) => {
    const r = RECIPES.find((x) => x.name === n);
    if (!r) {
      throw new Error(
        `--recipes: unknown recipe "${n}" (have ${RECIPES.map((x) => x.name).join(", ")})`,
      );
    }
    return r;
  });
  const base: Partial<TrainConfig> = {
    data: String(v.data),
    splitSeed: Number(v.splitSeed),
    ...(v.epochs ? { epochs: Number(v.epochs) } : {}),
  };
  const config = resolveConfig({}, base);
  const data = await prepareTraining(config);
  const ood = await loadOodSet(config);
  console.log(
    `data ${config.data}: ${data.train.length} train / ${data.val.length} val examples (split seed ${config.splitSeed}); ` +
      `OOD ${OOD_PATH}: ${ood.task.queries.length} queries, ${ood.task.docs.length} listings; encoder ${data.encoder.name}`,
  );
  const runs: RunNumbers[] = [];
  for (const recipe of recipes) {
    for (let seed = 1; seed <= Number(v.seeds); seed++) {
      const r = await runRecipe(recipe, seed, base, data, ood);
      runs.push(r);
      console.log(
        `${recipe.name} seed ${seed}: epoch ${r.epoch}, val MRR@10 ${
          r.val["mrr@10"].toFixed(4)
        }, ` +
          `OOD MRR@10 ${r.ood["mrr@10"].toFixed(4)} (${r.seconds.toFixed(1)} s)`,
      );
    }
  }
  const baseVal = runs[0].baseVal; // every run measures the same validation task
  console.log("\n" + qualityTable(runs, { val: baseVal, ood: ood.base }));
  for (const r of recipes) console.log(`- ${r.name}: ${r.about}`);
  if (v.json) {
    await Deno.writeTextFile(
      String(v.json),
      JSON.stringify({ config: base, runs, base: { val: baseVal, ood: ood.base } }, null, 1),
    );
  }
}

if (import.meta.main) await main();
