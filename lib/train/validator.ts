/**
 * Validation during training: each epoch, the mean loss over every
 * validation example and retrieval metrics (recall@k, MRR@10, nDCG@10) of the
 * projected vectors, at the full dimension and at each Matryoshka prefix. The
 * retrieval task and the base encoder's metrics are computed once.
 *
 * Relations: the metrics are `evaluateRetrieval` of `lib/eval/metrics.ts`
 * (the same as `deno task eval`); the final comparison is
 * `compareBaseAndHead` of `lib/eval/evaluation.ts`.
 *
 * @module
 */
import type { TrainConfig } from "./config.ts";
import { matryoshkaDims } from "./config.ts";
import type { Example } from "../data/dataset.ts";
import { evaluateRetrieval } from "../eval/metrics.ts";
import {
  compareBaseAndHead,
  type Comparison,
  type EmbeddingTable,
  lookup,
  type RetrievalTask,
  retrievalTask,
} from "../eval/evaluation.ts";
import type { StepEngine } from "./train_step.ts";
import { prefixNormalize } from "../head/dims.ts";
import { Rng } from "../core/rng.ts";

/**
 * At most this many validation queries are searched each epoch (a seeded
 * sample; their examples' listings form the corpus), so that retrieval does
 * not dominate the epoch on large datasets. The validation loss always uses
 * every validation example.
 */
export const VAL_RETRIEVAL_MAX_QUERIES = 1000;

/** A batch as row indices into the embedding matrix. */
export interface RowBatch {
  /** Rows of queries (B), positives (B), then negatives (B·K, row-major by query). */
  rows: Int32Array;
  /** Hard-negative weights `[B, K]`. */
  weights: Float32Array;
  /** Query-group id per row (false-negative masking). */
  ids: number[];
  /** B. */
  size: number;
}

/** One epoch's validation numbers. */
export interface Validation {
  /** Mean weighted loss over every validation example (NaN without a split). */
  valLoss: number;
  /** Retrieval metrics at the full output dimension. */
  metrics: Record<string, number>;
  /** Loss and metrics per trained Matryoshka prefix (only with `matryoshka`). */
  byDim?: Record<string, { valLoss: number; metrics: Record<string, number> }>;
}

/**
 * The examples of at most `maxQueries` distinct queries, chosen with a seeded
 * shuffle (every example of a chosen query is kept, in the original order).
 * Returns `examples` itself when it has no more queries than that.
 *
 * @example
 * ```ts
 * import { sampleByQuery } from "./validator.ts";
 * const ex = [0, 1, 2].map((id) => ({ id, query: `q${id % 2}`, positive: `p${id}`, negatives: [] }));
 * const kept = sampleByQuery(ex, 1, 42);
 * if (new Set(kept.map((e) => e.query)).size !== 1) throw new Error("one query kept");
 * ```
 */
export function sampleByQuery(examples: Example[], maxQueries: number, seed: number): Example[] {
  const queries = [...new Set(examples.map((e) => e.query))];
  if (queries.length <= maxQueries) return examples;
  const keep = new Set(new Rng(seed).shuffle(queries).slice(0, maxQueries));
  return examples.filter((e) => keep.has(e.query));
}

/** Gathers a row batch into the engine's input (see `gatherBatch` in `trainer.ts`). */
export type Gather = (
  b: RowBatch,
  buffer: { data: Float32Array },
) => import("./train_step.ts").StepBatch;

/**
 * Validation of one training run. Without a validation split
 * (`--val-fraction 0`) every number is empty and {@link hasVal} is false.
 *
 * @example
 * ```ts
 * import { Validator } from "./validator.ts";
 * // Type-checked, not run: it needs v, weight from a real run.
 * async function _example(v: Validator, weight: Float32Array) {
 *   const { valLoss, metrics } = await v.validate(weight);
 *   console.log(valLoss, metrics["mrr@10"], v.baseMetrics["mrr@10"]);
 * }
 * ```
 */
export class Validator {
  /** True when there is a validation split. */
  readonly hasVal: boolean;
  /** The validation examples searched (a seeded sample of at most {@link VAL_RETRIEVAL_MAX_QUERIES} queries). */
  readonly examples: Example[];
  /** Their retrieval task: queries, listings, relevant listings. */
  readonly task: RetrievalTask;
  /** The base encoder's metrics on {@link task} (empty without a split). */
  readonly baseMetrics: Record<string, number>;
  /** Every text's base embedding. */
  readonly table: EmbeddingTable;
  #engine: StepEngine;
  #batches: RowBatch[];
  #gather: Gather;
  #outDim: number;
  #dims: number[];
  #matryoshka: boolean;
  #baseQ: Float32Array;
  #baseD: Float32Array;

  private constructor(
    init: {
      engine: StepEngine;
      batches: RowBatch[];
      gather: Gather;
      config: TrainConfig;
      examples: Example[];
      table: EmbeddingTable;
      hasVal: boolean;
    },
  ) {
    this.#engine = init.engine;
    this.#batches = init.batches;
    this.#gather = init.gather;
    this.#outDim = init.config.outDim;
    this.#dims = matryoshkaDims(init.config).dims;
    this.#matryoshka = init.config.matryoshka.length > 0;
    this.hasVal = init.hasVal;
    this.examples = init.examples;
    this.table = init.table;
    this.task = retrievalTask(init.examples);
    this.#baseQ = lookup(init.table, this.task.queries);
    this.#baseD = lookup(init.table, this.task.docs);
    this.baseMetrics = {};
  }

  /**
   * Build the task from `val` (sampled to `VAL_RETRIEVAL_MAX_QUERIES` queries
   * with `config.splitSeed`) and measure the base encoder once.
   */
  static async create(opts: {
    config: TrainConfig;
    engine: StepEngine;
    val: Example[];
    table: EmbeddingTable;
    batches: RowBatch[];
    gather: Gather;
  }): Promise<Validator> {
    const examples = sampleByQuery(opts.val, VAL_RETRIEVAL_MAX_QUERIES, opts.config.splitSeed);
    const v = new Validator({ ...opts, examples, hasVal: opts.val.length > 0 });
    if (v.hasVal) {
      Object.assign(v.baseMetrics, await v.#evaluate(v.#baseQ, v.#baseD, v.table.dim));
    }
    return v;
  }

  /** Loss (total and per prefix) and retrieval metrics of `weight`. */
  async validate(weight: Float32Array): Promise<Validation> {
    const vl = await this.loss(weight);
    if (!this.hasVal) return { valLoss: vl.loss, metrics: {} };
    const nq = this.task.queries.length, nd = this.task.docs.length, o = this.#outDim;
    const projQ = await this.#engine.project(this.#baseQ, nq, weight);
    const projD = await this.#engine.project(this.#baseD, nd, weight);
    const at = (d: number) =>
      d === o
        ? this.#evaluate(projQ, projD, o) // already unit rows
        : this.#evaluate(prefixNormalize(projQ, nq, o, d), prefixNormalize(projD, nd, o, d), d);
    const metrics = await at(o);
    if (!this.#matryoshka) return { valLoss: vl.loss, metrics };
    const byDim: NonNullable<Validation["byDim"]> = {};
    for (const [i, d] of this.#dims.entries()) {
      byDim[d] = { valLoss: vl.losses[i], metrics: d === o ? metrics : await at(d) };
    }
    return { valLoss: vl.loss, metrics, byDim };
  }

  /** Mean loss (weighted total and per prefix) over every validation batch, without gradients. */
  async loss(weight: Float32Array): Promise<{ loss: number; losses: number[] }> {
    let sum = 0, n = 0;
    let per: number[] = [];
    const buffer = { data: new Float32Array(0) };
    for (const b of this.#batches) {
      const r = await this.#engine.loss(this.#gather(b, buffer), weight);
      sum += r.loss * b.size;
      if (!per.length) per = Array.from(r.losses, () => 0);
      r.losses.forEach((l, i) => per[i] += l * b.size);
      n += b.size;
    }
    return { loss: n ? sum / n : NaN, losses: per.map((x) => n ? x / n : NaN) };
  }

  /** Base against projected on the task, with per-feature errors (undefined without a split). */
  async compare(weight: Float32Array): Promise<Comparison | undefined> {
    if (!this.hasVal) return undefined;
    return await compareBaseAndHead({
      examples: this.examples,
      task: this.task,
      table: this.table,
      project: (x, n) => this.#engine.project(x, n, weight),
      outDim: this.#outDim,
    });
  }

  async #evaluate(q: Float32Array, d: Float32Array, dim: number) {
    return {
      ...await evaluateRetrieval({
        dim,
        nq: this.task.queries.length,
        nd: this.task.docs.length,
        relevant: this.task.relevant,
        queryVecs: q,
        docVecs: d,
      }),
    };
  }
}
