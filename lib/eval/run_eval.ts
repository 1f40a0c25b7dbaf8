/**
 * `deno task eval` as a library: evaluate a trained run on its own held-out
 * split (or on other data), base encoder against head, with per-feature
 * errors, a Matryoshka prefix and int8/binary storage; or compare base, PCA
 * and one or two heads at every trained dim × storage in one table.
 *
 * {@link prepareEvaluation} loads the run, the data and every text's base
 * embedding once; {@link evaluateRun} and {@link compareRun} use them.
 *
 * @module
 */
import { UsageError } from "../core/errors.ts";
import {
  assertHeadFitsEncoder,
  loadCheckpoint,
  type LoadedCheckpoint,
  readRunInfo,
  type RunInfo,
} from "../run/checkpoint.ts";
import { readCorpus } from "../data/corpus.ts";
import { type Example, loadDataset, loadWeightConfig, splitDataset } from "../data/dataset.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { describeEncoder, loadEncoder } from "../encoder/encoder.ts";
import { embedTexts } from "../encoder/cache.ts";
import { headProjector, resolveDim, trainedDims } from "../head/dims.ts";
import {
  compareBaseAndHead,
  type Comparison,
  type EmbeddingTable,
  lookup,
  type RetrievalTask,
  retrievalTask,
} from "./evaluation.ts";
import { buildIndex, bytesPerVector, type Quantization, searchIndex } from "./quantize.ts";
import {
  type CompareMethod,
  compareMethods,
  type CompareRow,
  pcaMethod,
  storageVariants,
  trainOverlap,
} from "./compare.ts";

/** What {@link prepareEvaluation} needs. */
export interface EvaluationOptions {
  /** The run directory (or `checkpoints/latest`). */
  checkpoint: string;
  /** Which weights (default `best`). */
  which?: "best" | "final";
  /** Another dataset (default: the run's own). */
  data?: string;
  /** Feature weights (default: the run's). */
  weights?: string;
  /** `val`, `train` or `all` (default: `val` on the run's own data, `all` on other data). */
  split?: "val" | "train" | "all";
  /** Extra listings for the corpus (one per line, or JSONL with `text`). */
  corpus?: string;
  /** Encoder folder (default: the run's). */
  model?: string;
  /** Embedding cache root. */
  cacheRoot: string;
  /** Also embed the training split's texts (the PCA baseline of {@link compareRun} fits on them). */
  compare?: boolean;
  /** Evaluate even if the encoder fingerprint differs. */
  force?: boolean;
  /** A Matryoshka prefix to check before any work. */
  dim?: number;
  /** Informational lines (encoder, split, embeddings). */
  onInfo?: (line: string) => void;
  /** Warnings (changed data, fingerprint). */
  onWarning?: (line: string) => void;
}

/** The loaded run, data and embeddings. */
export interface PreparedEvaluation {
  /** The run directory. */
  dir: string;
  /** The run's `config.json`. */
  info: RunInfo;
  /** The loaded, verified head. */
  ckpt: LoadedCheckpoint;
  /** The dataset evaluated. */
  dataPath: string;
  /** The split evaluated. */
  split: "val" | "train" | "all";
  /** The examples evaluated, and the run's training split (for the PCA fit and overlaps). */
  examples: Example[];
  /** The run's training split. */
  train: Example[];
  /** The retrieval task: queries, listings, relevant listings. */
  task: RetrievalTask;
  /** Base embeddings of every query, listing and PCA-fit text. */
  table: EmbeddingTable;
  /** The training split's unique texts (empty unless `compare`). */
  fitTexts: string[];
  /** The encoder's fingerprint (to load other heads against it). */
  fingerprint: string;
}

/**
 * Load the run, its encoder and the data; choose the split; embed every text
 * through the cache. The run's own training data defaults to its validation
 * split (evaluating on the training examples would flatter the head).
 *
 * @example
 * ```ts
 * import { evaluateRun, prepareEvaluation } from "./run_eval.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const prep = await prepareEvaluation({ checkpoint: "checkpoints/latest", cacheRoot: "data/cache" });
 *   const { comparison } = await evaluateRun(prep, {});
 *   console.log(comparison.base["mrr@10"], comparison.projected["mrr@10"]);
 * }
 * ```
 */
export async function prepareEvaluation(opts: EvaluationOptions): Promise<PreparedEvaluation> {
  const log = opts.onInfo ?? (() => {});
  const warn = opts.onWarning ?? ((m: string) => console.error(m));
  const dir = opts.checkpoint;
  const info = await readRunInfo(dir);
  const modelDir = opts.model ?? (info.config.model || await ensureDefaultModel());
  const encoder = await loadEncoder(modelDir);
  try {
    log(describeEncoder(encoder));
    const ckpt = await loadCheckpoint(dir, {
      which: opts.which ?? "best",
      fingerprint: encoder.fingerprint,
      force: opts.force === true,
      onWarning: warn,
    });
    assertHeadFitsEncoder(ckpt, encoder);
    resolveDim(ckpt.info, opts.dim, ckpt.dir); // fail before any work
    const dataPath = opts.data ?? info.dataset.path;
    const weights = await loadWeightConfig(opts.weights ?? info.config.weights);
    const dataset = await loadDataset(dataPath, { weights });
    const ownData = dataset.sha256 === info.dataset.sha256;
    const split = opts.split ?? (ownData ? "val" : "all");
    if (opts.data && opts.split === undefined) {
      log(
        ownData
          ? `Split: val (${dataPath} is the data ${dir} was trained on: its held-out ` +
            `validation split is evaluated; --split all includes the training examples)`
          : `Split: all (${dataPath} is not the data ${dir} was trained on: all ` +
            `${dataset.examples.length} examples are evaluated)`,
      );
    }
    if (!opts.data && !ownData) {
      warn(
        `warning: ${dataPath} changed since training (sha256 ${dataset.sha256.slice(0, 12)} vs ` +
          `${info.dataset.sha256.slice(0, 12)}); the recovered split may differ`,
      );
    }
    const parts = splitDataset(dataset.examples, {
      valFraction: info.dataset.valFraction,
      seed: info.dataset.splitSeed,
    });
    const examples = split === "val"
      ? parts.val
      : split === "train"
      ? parts.train
      : dataset.examples;
    if (examples.length === 0) {
      const why = split === "val" && info.dataset.valFraction === 0
        ? ` (${dir} was trained with --val-fraction 0): pass --split all or --data FILE`
        : "";
      throw new UsageError(`${dataPath}: the ${split} split is empty${why}`);
    }
    const extra = opts.corpus ? await readCorpus(opts.corpus) : [];
    const task = retrievalTask(examples, extra);
    // --compare fits its PCA baseline on the training split's texts.
    const fitTexts = opts.compare
      ? [
        ...new Set(
          parts.train.flatMap((e) => [e.query, e.positive, ...e.negatives.map((n) => n.text)]),
        ),
      ]
      : [];
    const texts = [...new Set([...task.queries, ...task.docs, ...fitTexts])];
    const emb = await embedTexts(encoder, texts, { cacheRoot: opts.cacheRoot });
    log(`Embeddings: ${texts.length} texts, ${emb.misses} encoded, ${emb.hits} from cache`);
    const table = { dim: emb.dim, data: emb.data, rowOf: new Map(texts.map((t, i) => [t, i])) };
    return {
      dir,
      info,
      ckpt,
      dataPath,
      split,
      examples,
      train: parts.train,
      task,
      table,
      fitTexts,
      fingerprint: encoder.fingerprint,
    };
  } finally {
    await encoder.dispose();
  }
}

/** One head's evaluation: metrics, per-feature errors, storage. */
export interface RunEvaluation {
  /** Base against head: metrics and per-feature errors. */
  comparison: Comparison;
  /** The head's output dim evaluated (a trained prefix with `dim`). */
  dim: number;
  /** The storage of both indexes. */
  quantize: Quantization;
  /** Binary rescoring factor (0 = none). */
  rescore: number;
  /** `fp32`, `int8`, `binary` or `binary+rescore×M`. */
  storage: string;
  /** Bytes per stored vector, base and head. */
  bytesPerVector: { base: number; projected: number };
}

/** Base against head on the prepared task, at a prefix and a storage. */
export async function evaluateRun(
  prep: PreparedEvaluation,
  opts: { dim?: number; quantize?: Quantization; rescore?: number },
): Promise<RunEvaluation> {
  const quantize = opts.quantize ?? "fp32";
  const rescore = opts.rescore ?? 4;
  const projector = await headProjector(prep.ckpt, opts.dim);
  try {
    const comparison = await compareBaseAndHead({
      examples: prep.examples,
      task: prep.task,
      table: prep.table,
      project: projector.project,
      outDim: projector.dim,
      search: quantize === "fp32"
        ? undefined
        : (q, nq, d, nd, dim, k) =>
          searchIndex(buildIndex(d, nd, dim, quantize, { keepFloat: rescore > 0 }), q, nq, {
            k,
            rescore: quantize === "binary" ? rescore : 0,
          }),
    });
    return {
      comparison,
      dim: projector.dim,
      quantize,
      rescore: quantize === "binary" ? rescore : 0,
      storage: quantize === "binary" && rescore > 0 ? `binary+rescore×${rescore}` : quantize,
      bytesPerVector: {
        base: bytesPerVector(quantize, prep.table.dim),
        projected: bytesPerVector(quantize, projector.dim),
      },
    };
  } finally {
    projector.dispose();
  }
}

/** The `--compare` table and what it was made from. */
export interface RunComparison {
  /** One row per method, dim and storage. */
  rows: CompareRow[];
  /** Label → directory of each head. */
  heads: { label: string; dir: string }[];
  /** Per head: how many evaluated queries are in its training split (a row is optimistic if > 0). */
  overlap: Record<string, number>;
  /** Methods evaluated. */
  methods: number;
}

/**
 * Base, PCA at each head dim, and the head (and `mined`, a second head) at
 * each trained dim, × fp32/int8/binary. Needs `compare: true` at preparation.
 */
export async function compareRun(
  prep: PreparedEvaluation,
  opts: {
    mined?: string;
    which?: "best" | "final";
    force?: boolean;
    rescore?: number;
    onWarning?: (line: string) => void;
    onInfo?: (line: string) => void;
  },
): Promise<RunComparison> {
  const warn = opts.onWarning ?? ((m: string) => console.error(m));
  const heads = [{ label: "head", ckpt: prep.ckpt }];
  if (opts.mined) {
    heads.push({
      label: "head-mined",
      ckpt: await loadCheckpoint(opts.mined, {
        which: opts.which ?? "best",
        fingerprint: prep.fingerprint,
        force: opts.force === true,
        onWarning: warn,
      }),
    });
  }
  // Every head must have held these queries out of its training split.
  const overlap: Record<string, number> = {};
  for (const h of heads) {
    const hi = h.ckpt.info;
    const ds = await loadDataset(hi.dataset.path, {
      weights: await loadWeightConfig(hi.config.weights),
    });
    const own = splitDataset(ds.examples, {
      valFraction: hi.dataset.valFraction,
      seed: hi.dataset.splitSeed,
    });
    overlap[h.label] = trainOverlap(prep.task.queries, own.train);
    if (overlap[h.label] > 0) {
      warn(
        `warning: ${
          overlap[h.label]
        } of the ${prep.task.queries.length} evaluated queries are in ` +
          `the training split of ${h.label} (${h.ckpt.dir}, data ${hi.dataset.path}): its row is optimistic`,
      );
    }
  }
  const dim = prep.table.dim;
  const methods: CompareMethod[] = [{ method: "base", dim, project: (x) => x }];
  const headDims = [...new Set(heads.flatMap((h) => trainedDims(h.ckpt.info)))]
    .sort((a, b) => b - a);
  const fit = lookup(prep.table, prep.fitTexts);
  const disposers: (() => void)[] = [];
  try {
    for (const d of headDims) {
      const m = await pcaMethod(fit, dim, d);
      if (m.dispose) disposers.push(m.dispose);
      methods.push(m);
    }
    for (const h of heads) {
      for (const d of trainedDims(h.ckpt.info)) {
        const p = await headProjector(h.ckpt, d);
        disposers.push(p.dispose);
        methods.push({ method: h.label, dim: d, project: p.project });
      }
    }
    opts.onInfo?.(
      `Fitting PCA on ${prep.fitTexts.length} texts of the training split; evaluating ${methods.length} methods`,
    );
    const rows = await compareMethods({
      task: prep.task,
      table: prep.table,
      methods,
      variants: storageVariants(opts.rescore ?? 4),
    });
    return {
      rows,
      heads: heads.map((h) => ({ label: h.label, dir: h.ckpt.dir })),
      overlap,
      methods: methods.length,
    };
  } finally {
    disposers.forEach((f) => f());
  }
}
