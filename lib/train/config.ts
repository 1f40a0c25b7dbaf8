/**
 * The training configuration: plain values with defaults, overridden by a
 * config file, overridden by command-line flags (nanoGPT style).
 *
 * @module
 */
import { type CommandSpec, convertFlag, type FlagSpec } from "../cli/cli.ts";
import { checkInputFile, InputFileError } from "../core/fs.ts";

/** Every knob of a training run. */
export interface TrainConfig {
  /** Number of passes over the training split. */
  epochs: number;
  /** Examples per step (B). */
  batchSize: number;
  /** Peak learning rate of AdamW. */
  lr: number;
  /** Decoupled (AdamW) weight decay. */
  weightDecay: number;
  /**
   * What weight decay pulls the weight toward: `zero` (plain AdamW) or `init`,
   * the initial weight (orthogonal rows or PCA directions), so that a strong
   * decay keeps the head near its start (the linear-adapter idea).
   */
  decayTo: "zero" | "init";
  /** Fraction of all steps spent in linear warm-up, before cosine decay. */
  warmupFraction: number;
  /** Global gradient-norm clip; 0 turns clipping off. */
  clipNorm: number;
  /** Softmax temperature of the InfoNCE loss. */
  temperature: number;
  /** Where a hard negative's weight goes: `exp` (correct) or `logit` (the original bug). */
  weighting: "exp" | "logit";
  /** Average query→positive and positive→query (true) or use query→positive alone. */
  symmetric: boolean;
  /** Hard negatives per example in a batch (K). */
  negatives: number;
  /** How an example with fewer than K negatives is filled: resample its own, or weight-0 padding. */
  fill: "resample" | "mask";
  /** Head initialisation. */
  init: "orthogonal" | "pca";
  /** Output dimension of the head. */
  outDim: number;
  /** Fraction of unique queries held out for validation. */
  valFraction: number;
  /** Seed for the shuffles, the batches and the initialisation. */
  seed: number;
  /**
   * Seed of the train/validation split (and of the validation batches and
   * sample). Unless set, it follows {@link TrainConfig.seed}; set it to
   * compare training seeds on one split.
   */
  splitSeed: number;
  /** Dataset: native JSON or FlagEmbedding JSONL. */
  data: string;
  /** Feature-weight config. */
  weights: string;
  /** Encoder model directory; empty means the offline default model. */
  model: string;
  /** Output directory; empty means `checkpoints/<timestamp>/`. */
  out: string;
  /**
   * Where the step runs: `auto`/`ort` (onnxruntime CPU, the fast path) or the
   * tfjs autodiff reference on a tfjs backend (`wasm`, `cpu`, `gpu`).
   */
  device: "auto" | "ort" | "wasm" | "cpu" | "gpu";
  /**
   * Matryoshka prefixes trained together (e.g. `[256, 128, 64]`); empty: the
   * full `outDim` only. Recorded in the run's `config.json` for `--dim N`.
   */
  matryoshka: number[];
  /** One loss weight per {@link TrainConfig.matryoshka} prefix; empty: all 1. */
  dimsWeights: number[];
  /** Which validation number picks the best checkpoint. */
  select: "val_loss" | "mrr@10" | "ndcg@10";
  /** Stop after this many epochs without improvement; 0 never stops early. */
  patience: number;
  /** Root of the embedding cache. */
  cacheRoot: string;
  /** Encoder batch size when filling the cache. */
  encodeBatchSize: number;
}

/** The defaults, as in the original `train_script.py` where it had one. */
export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze({
  epochs: 10,
  batchSize: 128,
  lr: 2e-3,
  weightDecay: 0.01,
  decayTo: "zero",
  warmupFraction: 0.1,
  clipNorm: 1.0,
  temperature: 0.05,
  weighting: "exp",
  symmetric: true,
  negatives: 7,
  fill: "resample",
  init: "orthogonal",
  outDim: 256,
  valFraction: 0.1,
  seed: 42,
  splitSeed: 42,
  data: "data/gen-data-set.json",
  weights: "data/weight-config.json",
  model: "",
  out: "",
  device: "auto",
  matryoshka: [],
  dimsWeights: [],
  select: "val_loss",
  patience: 0,
  cacheRoot: "data/cache",
  encodeBatchSize: 64,
});

/** Flags of `deno task train`, keyed by their kebab-case names. */
export const TRAIN_FLAGS: Record<string, FlagSpec & { key?: keyof TrainConfig }> = {
  epochs: { type: "int", min: 1, help: "passes over the training split" },
  "batch-size": { type: "int", min: 2, help: "examples per step" },
  lr: { type: "number", min: 0, help: "peak learning rate (AdamW)" },
  "weight-decay": { type: "number", min: 0, help: "decoupled weight decay" },
  "decay-to": {
    type: "choice",
    choices: ["zero", "init"],
    help: "what weight decay pulls toward: zero (AdamW) or the initial weight",
  },
  "warmup-fraction": { type: "number", min: 0, help: "share of steps in linear warm-up" },
  "clip-norm": { type: "number", min: 0, help: "global gradient-norm clip (0 = off)" },
  temperature: { type: "number", min: 1e-6, help: "InfoNCE temperature" },
  weighting: {
    type: "choice",
    choices: ["exp", "logit"],
    help: "hard-negative weighting: exp (correct) or logit (original bug)",
  },
  symmetric: { type: "boolean", help: "symmetric loss (use --no-symmetric to turn off)" },
  negatives: {
    type: "int",
    min: 0,
    help: "hard negatives per example (K; 0: in-batch negatives only)",
  },
  fill: { type: "choice", choices: ["resample", "mask"], help: "fill short negative lists" },
  init: { type: "choice", choices: ["orthogonal", "pca"], help: "head initialisation" },
  "out-dim": { type: "int", min: 1, help: "output dimension of the head" },
  "val-fraction": {
    type: "number",
    min: 0,
    help: "validation share of unique queries (0: no validation, best = last epoch)",
  },
  seed: {
    type: "int",
    help: "seed for shuffles, batches and init (and the split, unless --split-seed)",
  },
  "split-seed": { type: "int", help: "seed of the train/val split (default: --seed)" },
  data: { type: "string", help: "dataset: native JSON or FlagEmbedding JSONL" },
  weights: { type: "string", help: "feature weight config JSON" },
  model: { type: "string", help: "encoder model dir (default: offline lexical-1024)" },
  out: { type: "string", help: "output dir (default: checkpoints/<timestamp>)" },
  device: {
    type: "choice",
    choices: ["auto", "ort", "wasm", "cpu", "gpu"],
    help: "training step: auto|ort (onnxruntime CPU) or the tfjs reference on wasm|cpu|gpu",
  },
  matryoshka: {
    type: "string",
    help: "Matryoshka prefixes trained together, e.g. 256,128,64 (default: out-dim only)",
  },
  "dims-weights": {
    type: "string",
    help: "loss weight per --matryoshka prefix, e.g. 1,1,1 (default: all 1)",
  },
  select: {
    type: "choice",
    choices: ["val_loss", "mrr@10", "ndcg@10"],
    help: "validation number that picks best.safetensors",
  },
  patience: { type: "int", min: 0, help: "early stopping patience in epochs (0 = off)" },
  "cache-root": { type: "string", help: "embedding cache root" },
  "encode-batch-size": { type: "int", min: 1, help: "encoder batch size for cache misses" },
};

/** Flags of `deno task train` that are not config values. */
export const TRAIN_CONTROL_FLAGS: Record<string, FlagSpec> = {
  config: { type: "string", help: "JSON config file (flags override it)" },
  resume: { type: "string", help: "resume the run in this checkpoint directory" },
  quiet: { type: "boolean", help: "print only the final summary" },
  json: { type: "boolean", help: "print one JSON line per epoch (for scripts)" },
  force: {
    type: "boolean",
    help: "resume despite changed data, weights, model or split (recorded in config.json)",
  },
};

/** The full command spec of `deno task train`. */
export const TRAIN_COMMAND: CommandSpec = {
  name: "train",
  usage: "deno task train [flags]",
  description:
    "Train the projection head on cached frozen-encoder embeddings.\nPrecedence: flags > --config file > defaults.",
  flags: Object.fromEntries(
    [
      ...Object.entries(TRAIN_FLAGS).map((
        [k, f],
      ) => [k, { ...f, default: defaultFor(k) === "" ? undefined : defaultFor(k) }]),
      ...Object.entries(TRAIN_CONTROL_FLAGS),
    ],
  ),
};

function defaultFor(flag: string): unknown {
  const key = flagKey(flag);
  if (key === "splitSeed") return ""; // follows --seed (its help says so)
  const value = key ? DEFAULT_CONFIG[key] : undefined;
  return Array.isArray(value) ? (value.length ? value.join(",") : "") : value;
}

/** Config keys whose value is a list of numbers (a JSON array, or "a,b,c" in a flag). */
const LIST_KEYS = new Set<keyof TrainConfig>(["matryoshka", "dimsWeights"]);

/**
 * Parse a list value: an array of numbers, or a comma-separated string.
 * `integer` lists (Matryoshka dims) must hold positive integers, the others
 * finite numbers ≥ 0.
 *
 * @example
 * ```ts
 * import { parseNumberList } from "./config.ts";
 * if (JSON.stringify(parseNumberList("256,128,64", "--matryoshka", true)) !== JSON.stringify([256, 128, 64])) throw new Error(`got ${JSON.stringify(parseNumberList("256,128,64", "--matryoshka", true))}`);
 * ```
 */
export function parseNumberList(value: unknown, where: string, integer: boolean): number[] {
  const items = Array.isArray(value)
    ? value
    : typeof value === "string"
    ? (value.trim() === "" ? [] : value.split(",").map((x) => x.trim()))
    : null;
  if (items === null) {
    throw new ConfigError(
      `${where} must be a list of numbers (array or "a,b,c"), got ${JSON.stringify(value)}`,
    );
  }
  return items.map((raw) => {
    const n = typeof raw === "number"
      ? raw
      : typeof raw === "string" && raw !== ""
      ? Number(raw)
      : NaN;
    if (integer ? !(Number.isInteger(n) && n >= 1) : !(Number.isFinite(n) && n >= 0)) {
      throw new ConfigError(
        `${where} must hold ${integer ? "positive integers" : "numbers >= 0"}, got ${
          JSON.stringify(raw)
        }`,
      );
    }
    return n;
  });
}

/** `batch-size` → `batchSize`, checked against {@link TrainConfig}. */
function flagKey(flag: string): keyof TrainConfig | undefined {
  const key = flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return key in DEFAULT_CONFIG ? key as keyof TrainConfig : undefined;
}

/** An invalid config file or value; the message names the file and key. */
export class ConfigError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong with the config, naming the field and its source.
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Validate a config object read from `source` (a file path, for messages).
 * Keys may be camelCase (`batchSize`) or kebab-case (`batch-size`). Unknown
 * keys and bad values throw {@link ConfigError} naming the file and key.
 *
 * @example
 * ```ts
 * import { validateConfigObject } from "./config.ts";
 * const cfg = validateConfigObject({ epochs: 3, "batch-size": 64 }, "cfg.json"); // flag names become fields
 * if (cfg.epochs !== 3 || cfg.batchSize !== 64) throw new Error(JSON.stringify(cfg));
 * ```
 */
export function validateConfigObject(obj: unknown, source: string): Partial<TrainConfig> {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`${source}: the config must be a JSON object`);
  }
  const out: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(obj)) {
    if (rawKey.startsWith("_") || rawKey === "$comment") continue; // comments
    const kebab = rawKey.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    const spec = TRAIN_FLAGS[kebab];
    const key = flagKey(kebab);
    if (!spec || !key) {
      throw new ConfigError(
        `${source}: unknown key "${rawKey}". Known keys: ${Object.keys(DEFAULT_CONFIG).join(", ")}`,
      );
    }
    if (LIST_KEYS.has(key)) {
      out[key] = parseNumberList(value, `${source}: "${rawKey}"`, key === "matryoshka");
      continue;
    }
    if (spec.type === "boolean") {
      if (typeof value !== "boolean") {
        throw new ConfigError(
          `${source}: "${rawKey}" must be true or false, got ${JSON.stringify(value)}`,
        );
      }
      out[key] = value;
      continue;
    }
    if (spec.type !== "string" && spec.type !== "choice" && typeof value !== "number") {
      throw new ConfigError(
        `${source}: "${rawKey}" must be a number, got ${JSON.stringify(value)}`,
      );
    }
    if ((spec.type === "string" || spec.type === "choice") && typeof value !== "string") {
      throw new ConfigError(
        `${source}: "${rawKey}" must be a string, got ${JSON.stringify(value)}`,
      );
    }
    try {
      out[key] = convertFlag(source, kebab, spec, String(value));
    } catch (err) {
      throw new ConfigError((err as Error).message.replace(`--${kebab}`, `"${rawKey}"`));
    }
  }
  return out as Partial<TrainConfig>;
}

/**
 * Read and validate a JSON config file.
 *
 * @example
 * ```ts
 * import { readConfigFile } from "./config.ts";
 * const cfg = await readConfigFile("config.example.json");
 * console.log(cfg.epochs);
 * ```
 */
export async function readConfigFile(path: string): Promise<Partial<TrainConfig>> {
  let text: string;
  try {
    await checkInputFile(path);
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof InputFileError) throw new ConfigError(err.message);
    if (err instanceof Deno.errors.NotFound) {
      throw new ConfigError(`config file not found: ${path}`);
    }
    throw err;
  }
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  return validateConfigObject(obj, path);
}

/**
 * Merge defaults, a config file's values and flags: flags win over the file,
 * the file wins over the defaults. Then check cross-field constraints.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * const cfg = resolveConfig({ epochs: 5, lr: 1e-3 }, { epochs: 2 });
 * if (JSON.stringify([cfg.epochs, cfg.lr]) !== JSON.stringify([2, 0.001])) throw new Error(`got ${JSON.stringify([cfg.epochs, cfg.lr])}`);
 * ```
 */
export function resolveConfig(
  file: Partial<TrainConfig> = {},
  flags: Partial<TrainConfig> = {},
): TrainConfig {
  const cfg = { ...DEFAULT_CONFIG, ...file, ...flags } as TrainConfig;
  // The split follows the seed unless it is set itself (runs before 0.10 have no splitSeed).
  if (file.splitSeed === undefined && flags.splitSeed === undefined) cfg.splitSeed = cfg.seed;
  cfg.matryoshka = parseNumberList(cfg.matryoshka, "--matryoshka", true);
  cfg.dimsWeights = parseNumberList(cfg.dimsWeights, "--dims-weights", false);
  checkMatryoshka(cfg);
  if (cfg.valFraction >= 1) {
    throw new ConfigError(
      `--val-fraction (valFraction) must be below 1, got ${cfg.valFraction} ` +
        `(0 trains without validation)`,
    );
  }
  if (cfg.warmupFraction > 1) {
    throw new ConfigError(
      `--warmup-fraction (warmupFraction) must be at most 1, got ${cfg.warmupFraction}`,
    );
  }
  return cfg;
}

/** Matryoshka dims fit the head, do not repeat, and have one weight each. */
function checkMatryoshka(cfg: TrainConfig): void {
  const dims = cfg.matryoshka;
  for (const d of dims) {
    if (d > cfg.outDim) {
      throw new ConfigError(
        `--matryoshka: prefix ${d} is larger than --out-dim ${cfg.outDim}`,
      );
    }
  }
  if (new Set(dims).size !== dims.length) {
    throw new ConfigError(`--matryoshka: the prefixes repeat (${dims.join(",")})`);
  }
  if (cfg.dimsWeights.length && cfg.dimsWeights.length !== Math.max(dims.length, 1)) {
    throw new ConfigError(
      `--dims-weights has ${cfg.dimsWeights.length} values for ${
        Math.max(dims.length, 1)
      } Matryoshka prefixes (${dims.length ? dims.join(",") : cfg.outDim})`,
    );
  }
  if (cfg.dimsWeights.length && !cfg.dimsWeights.some((w) => w > 0)) {
    throw new ConfigError(`--dims-weights: at least one weight must be > 0`);
  }
}

/**
 * The Matryoshka prefixes a config trains, largest first (`[outDim]` without
 * `--matryoshka`), and their loss weights.
 *
 * @example
 * ```ts
 * import { matryoshkaDims, resolveConfig } from "./config.ts";
 * const md = matryoshkaDims(resolveConfig({}, { matryoshka: [64, 256] }));
 * if (JSON.stringify(md) !== JSON.stringify({ dims: [256, 64], weights: [1, 1] })) throw new Error(JSON.stringify(md));
 * ```
 */
export function matryoshkaDims(cfg: TrainConfig): { dims: number[]; weights: number[] } {
  const dims = cfg.matryoshka.length ? cfg.matryoshka : [cfg.outDim];
  const weights = cfg.dimsWeights.length ? cfg.dimsWeights : dims.map(() => 1);
  const order = dims.map((_, i) => i).sort((a, b) => dims[b] - dims[a]);
  return { dims: order.map((i) => dims[i]), weights: order.map((i) => weights[i]) };
}

/**
 * Pick the config values out of parsed `train` flags (camelCase keys).
 *
 * @example
 * ```ts
 * import { configFromFlags } from "./config.ts";
 * if (JSON.stringify(configFromFlags({ epochs: 2, quiet: true })) !== JSON.stringify({ epochs: 2 })) throw new Error(`got ${JSON.stringify(configFromFlags({ epochs: 2, quiet: true }))}`);
 * ```
 */
export function configFromFlags(
  flags: Record<string, string | number | boolean>,
): Partial<TrainConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flags)) if (k in DEFAULT_CONFIG) out[k] = v;
  return out as Partial<TrainConfig>;
}

/**
 * True when the training step runs on onnxruntime (`--device auto` or `ort`),
 * false for the tfjs autodiff reference (`wasm`, `cpu`, `gpu`).
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, usesOrt } from "./config.ts";
 * if (!usesOrt(DEFAULT_CONFIG) || usesOrt({ ...DEFAULT_CONFIG, device: "wasm" })) throw new Error();
 * ```
 */
export function usesOrt(config: Pick<TrainConfig, "device">): boolean {
  return config.device === "auto" || config.device === "ort";
}
