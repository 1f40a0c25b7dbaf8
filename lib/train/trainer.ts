/**
 * The training loop. Two steps, so that a notebook can train several
 * variants on the same data without re-encoding anything:
 *
 * 1. {@link prepareTraining} loads the dataset, splits it, and fills one
 *    embedding matrix from the frozen encoder through the cache;
 * 2. {@link trainHead} runs the loop: AdamW with warm-up + cosine decay,
 *    validation (loss and retrieval metrics) each epoch, best/final
 *    checkpoints, NaN guard, early stopping, resume and interruption.
 *
 * Progress is reported through an `onEvent` callback; the CLI renders it.
 *
 * @module
 */
import { type Device, initBackend } from "../core/backend.ts";
import { embedTexts } from "../encoder/cache.ts";
import { planMessage } from "../cli/progress.ts";
import type { EpochRecord, RunInfo } from "../run/checkpoint.ts";
import { matryoshkaDims, type TrainConfig } from "./config.ts";
import {
  batchCount,
  batches,
  type Dataset,
  type Example,
  loadDataset,
  loadWeightConfig,
  splitDataset,
  uniqueTexts,
} from "../data/dataset.ts";
import { describeEncoder, loadEncoder } from "../encoder/encoder.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { orthogonalRows, pcaDirections } from "../head/head.ts";
import {
  adamWUpdate,
  createState,
  gatherInto,
  OrtStep,
  prefixRows,
  type StepBatch,
  type StepEngine,
  type StepState,
} from "./train_step.ts";
import { evaluateRetrieval, type FeatureErrors } from "../eval/metrics.ts";
import {
  compareBaseAndHead,
  type EmbeddingTable,
  gatherRows,
  lookup,
  retrievalTask,
} from "../eval/evaluation.ts";
import { checkTrainSplit } from "./preflight.ts";
import { renderReport } from "../report/report.ts";
import { compareHead, comparisonNotes } from "../eval/compare_head.ts";
import {
  fileSha256,
  formatResumeChanges,
  resumeChanges,
  resumeRefusal,
} from "../run/resume_check.ts";
import { defaultOutDir, RunDir, type TrainState } from "../run/run_dir.ts";
import { Rng } from "../core/rng.ts";
import { learningRate, scheduleCurve } from "./schedule.ts";

/** Above this many validation listings, the report's comparison samples its queries. */
const REPORT_COMPARE_MAX_DOCS = 3000;
/** Queries of that sample. */
const REPORT_COMPARE_QUERIES = 300;

/** Everything the loop needs, computed once. */
export interface PreparedData {
  dataset: Dataset;
  train: Example[];
  val: Example[];
  encoder: { name: string; dir: string; fingerprint: string; dim: number; params: number };
  /** All unique texts of the dataset, row-aligned with `embeddings`. */
  texts: string[];
  /** Base-encoder embeddings, row-major `[texts.length, dim]`, L2-normalised. */
  embeddings: Float32Array;
  /** text → row of `embeddings`. */
  rowOf: Map<string, number>;
  cache: { hits: number; misses: number; truncated: number };
}

/** What the loop reports. The CLI turns these into lines and a progress bar. */
export type TrainEvent =
  | { type: "info"; message: string }
  | {
    type: "step";
    epoch: number;
    step: number;
    steps: number;
    loss: number;
    avgLoss: number;
    lr: number;
  }
  | { type: "epoch"; record: EpochRecord; isBest: boolean; bestPath?: string; select: string }
  | { type: "done"; result: TrainResult };

/** The outcome of {@link trainHead}. */
export interface TrainResult {
  outDir: string;
  status: "complete" | "interrupted";
  history: EpochRecord[];
  best: RunInfo["best"];
  baseMetrics: Record<string, number>;
  finalMetrics: Record<string, number>;
  perFeature?: { base: FeatureTable; projected: FeatureTable };
  seconds: number;
  stoppedEarly: boolean;
}

type FeatureTable = FeatureErrors;

/** Training stopped because the loss became NaN or infinite. */
export class NonFiniteLossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/**
 * Load the dataset and its split, and fetch every unique text's embedding
 * from the cache (encoding only the misses).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { prepareTraining } from "./trainer.ts";
 * const data = await prepareTraining(resolveConfig({}, { epochs: 1 }));
 * console.log(data.train.length, data.val.length, data.cache);
 * ```
 */
export async function prepareTraining(
  config: TrainConfig,
  onEvent: (e: TrainEvent) => void = () => {},
  onEncodeProgress?: (done: number, total: number) => void,
): Promise<PreparedData> {
  const weights = await loadWeightConfig(config.weights);
  const dataset = await loadDataset(config.data, { weights });
  const { train, val } = splitDataset(dataset.examples, {
    valFraction: config.valFraction,
    seed: config.seed,
  });
  checkTrainSplit(config, dataset.path, dataset.examples, train, val);
  const modelDir = config.model || await ensureDefaultModel();
  const encoder = await loadEncoder(modelDir);
  onEvent({
    type: "info",
    message: describeEncoder(encoder),
  });
  const params = await encoder.paramCount();
  const texts = uniqueTexts(dataset.examples);
  const emb = await embedTexts(encoder, texts, {
    cacheRoot: config.cacheRoot,
    batchSize: config.encodeBatchSize,
    onProgress: onEncodeProgress,
    onPlan: (p) => p.toEncode > 0 && onEvent({ type: "info", message: planMessage(p) }),
  });
  await encoder.dispose();
  onEvent({
    type: "info",
    message:
      `Embeddings: ${texts.length} unique texts, ${emb.misses} encoded, ${emb.hits} from cache` +
      (emb.truncated ? ` (${emb.truncated} truncated)` : ""),
  });
  const rowOf = new Map<string, number>();
  texts.forEach((t, i) => rowOf.set(t, i));
  return {
    dataset,
    train,
    val,
    encoder: {
      name: encoder.name,
      dir: modelDir,
      fingerprint: encoder.fingerprint,
      dim: emb.dim,
      params,
    },
    texts,
    embeddings: emb.data,
    rowOf,
    cache: { hits: emb.hits, misses: emb.misses, truncated: emb.truncated },
  };
}

/** A batch as row indices into the embedding matrix (see {@link toRowBatches}). */
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

/**
 * Turn the dataset's text batches into row-index batches for one epoch.
 *
 * @example
 * ```ts
 * import { toRowBatches } from "./trainer.ts";
 * declare const data: import("./trainer.ts").PreparedData;
 * declare const config: import("./config.ts").TrainConfig;
 * const list = toRowBatches(data.train, data.rowOf, config, config.seed, 1);
 * console.log(list.length, list[0].rows.length); // batches, B·(2+K)
 * ```
 */
export function toRowBatches(
  examples: Example[],
  rowOf: Map<string, number>,
  config: TrainConfig,
  seed: number,
  epoch: number,
): RowBatch[] {
  return [...rowBatches(examples, rowOf, config, seed, epoch)];
}

/**
 * {@link toRowBatches} one batch at a time (the same batches in the same
 * order), so that an epoch never holds all its batches at once.
 *
 * @example
 * ```ts
 * import { rowBatches } from "./trainer.ts";
 * declare const data: import("./trainer.ts").PreparedData;
 * declare const config: import("./config.ts").TrainConfig;
 * for (const b of rowBatches(data.train, data.rowOf, config, config.seed, 1)) console.log(b.size);
 * ```
 */
export function* rowBatches(
  examples: Example[],
  rowOf: Map<string, number>,
  config: TrainConfig,
  seed: number,
  epoch: number,
): Generator<RowBatch> {
  for (
    const b of batches(examples, {
      batchSize: config.batchSize,
      negatives: config.negatives,
      seed,
      epoch,
      fill: config.fill,
    })
  ) {
    const size = b.queries.length;
    const rows = new Int32Array(size * (2 + config.negatives));
    let i = 0;
    for (const list of [b.queries, b.positives, b.negatives]) {
      for (const t of list) rows[i++] = rowOf.get(t)!;
    }
    yield { rows, weights: b.weights, ids: b.positiveIds, size };
  }
}

/**
 * Gather a batch's rows from the embedding matrix into `buffer` (grown as
 * needed) and return the {@link StepBatch} the step engine consumes.
 *
 * @example
 * ```ts
 * import { gatherBatch } from "./trainer.ts";
 * const emb = new Float32Array([1, 0, 0, 1]); // 2 rows of 2
 * const b = gatherBatch(emb, 2, { rows: Int32Array.from([0, 1, 1, 0]), weights: new Float32Array(0), ids: [0, 1], size: 2 });
 * console.log(b.x); // Float32Array [1, 0, 0, 1, 0, 1, 1, 0]
 * ```
 */
export function gatherBatch(
  embeddings: Float32Array,
  dim: number,
  b: RowBatch,
  buffer?: { data: Float32Array },
): StepBatch {
  const n = b.rows.length * dim;
  let x: Float32Array;
  if (buffer) {
    if (buffer.data.length < n) buffer.data = new Float32Array(n);
    x = buffer.data.subarray(0, n);
  } else x = new Float32Array(n);
  gatherInto(embeddings, dim, b.rows, x);
  return { x, size: b.size, weights: b.weights, ids: b.ids };
}

/**
 * The step engine a config asks for: onnxruntime (`device` auto|ort) or the
 * tfjs autodiff reference on the current tfjs backend (wasm|cpu|gpu).
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { createStepEngine } from "./trainer.ts";
 * const engine = await createStepEngine(resolveConfig(), 1024);
 * await engine.dispose();
 * ```
 */
export async function createStepEngine(config: TrainConfig, inDim: number): Promise<StepEngine> {
  const { dims, weights } = matryoshkaDims(config);
  const shape = { inDim, outDim: config.outDim, negatives: config.negatives };
  const spec = {
    temperature: config.temperature,
    symmetric: config.symmetric,
    weighting: config.weighting,
    dims,
    dimWeights: weights,
  };
  if (usesOrt(config)) return await OrtStep.create(shape, spec);
  const { TfjsStep } = await import("./train_step_tfjs.ts");
  return new TfjsStep(shape, spec);
}

/** True when the step runs on onnxruntime (device auto or ort). */
function usesOrt(config: TrainConfig): boolean {
  return config.device === "auto" || config.device === "ort";
}

/**
 * At most this many validation queries are searched each epoch (a seeded
 * sample; their examples' listings form the corpus), so that retrieval does
 * not dominate the epoch on large datasets. The validation loss always uses
 * every validation example.
 */
export const VAL_RETRIEVAL_MAX_QUERIES = 1000;

/**
 * The examples of at most `maxQueries` distinct queries, chosen with a seeded
 * shuffle (every example of a chosen query is kept, in the original order).
 * Returns `examples` itself when it has no more queries than that.
 *
 * @example
 * ```ts
 * import { sampleByQuery } from "./trainer.ts";
 * const ex = [0, 1, 2].map((id) => ({ id, query: `q${id % 2}`, positive: `p${id}`, negatives: [] }));
 * console.log(sampleByQuery(ex, 1, 42).length); // 1 or 2: every example of one query
 * ```
 */
export function sampleByQuery(examples: Example[], maxQueries: number, seed: number): Example[] {
  const queries = [...new Set(examples.map((e) => e.query))];
  if (queries.length <= maxQueries) return examples;
  const keep = new Set(new Rng(seed).shuffle(queries).slice(0, maxQueries));
  return examples.filter((e) => keep.has(e.query));
}

/** Mean loss (weighted total and per prefix) over batches, without gradients. */
async function meanLoss(
  engine: StepEngine,
  state: StepState,
  embeddings: Float32Array,
  dim: number,
  list: RowBatch[],
): Promise<{ loss: number; losses: number[] }> {
  let sum = 0, n = 0;
  let per: number[] = [];
  const buffer = { data: new Float32Array(0) };
  for (const b of list) {
    const r = await engine.loss(gatherBatch(embeddings, dim, b, buffer), state.weight);
    sum += r.loss * b.size;
    if (!per.length) per = Array.from(r.losses, () => 0);
    r.losses.forEach((l, i) => per[i] += l * b.size);
    n += b.size;
  }
  return { loss: n ? sum / n : NaN, losses: per.map((x) => n ? x / n : NaN) };
}

/** Options of {@link trainHead}. */
export interface TrainOptions {
  onEvent?: (e: TrainEvent) => void;
  /** Abort to stop after the current step, saving a checkpoint marked interrupted. */
  signal?: AbortSignal;
  /** Continue the run in this directory at its next epoch. */
  resumeDir?: string;
  /**
   * The run directory, already taken by the caller (`RunDir.create` or
   * `RunDir.open`, so that the lock is held before any heavy work); the
   * caller releases it. Without it, trainHead takes `resumeDir` or
   * `config.out` itself and releases it at the end.
   */
  runDir?: RunDir;
  /** Resume even though the data, weights, model or split settings changed (recorded). */
  force?: boolean;
  /** Write `report.html` (default true). */
  report?: boolean;
  /** Backend name already initialised by the caller (skips {@link initBackend}). */
  backend?: string;
}

/**
 * Train the projection head on prepared embeddings. Writes, in `outDir`:
 * `best.safetensors`, `final.safetensors`, `optimizer.safetensors`,
 * `config.json`, `metrics.jsonl` (epoch 0 measured before the first step)
 * and `report.html`, committed once per epoch through `manifest.json`
 * (see `lib/run/run_dir.ts`): a kill at any moment leaves one whole epoch.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import { prepareTraining, trainHead } from "./trainer.ts";
 * const config = resolveConfig({}, { epochs: 2, out: "/tmp/run" });
 * const data = await prepareTraining(config);
 * const result = await trainHead(config, data);
 * console.log(result.best?.epoch, result.finalMetrics["mrr@10"]);
 * ```
 */
export async function trainHead(
  config: TrainConfig,
  data: PreparedData,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const onInfo = (message: string) => (opts.onEvent ?? (() => {}))({ type: "info", message });
  const run = opts.runDir ??
    (opts.resumeDir
      ? await RunDir.open(opts.resumeDir, { onInfo })
      : await RunDir.create(config.out || defaultOutDir(), { onInfo }));
  try {
    return await trainInRun(config, data, opts, run);
  } finally {
    if (!opts.runDir) run.release();
  }
}

async function trainInRun(
  config: TrainConfig,
  data: PreparedData,
  opts: TrainOptions,
  run: RunDir,
): Promise<TrainResult> {
  const emit = opts.onEvent ?? (() => {});
  const t0 = performance.now();
  const backend = usesOrt(config)
    ? "onnxruntime-cpu"
    : opts.backend ?? await initBackend(config.device as Device);
  const dim = data.encoder.dim;

  // Resume: RunDir.open verified the committed epoch against manifest.json;
  // the data must be the run's own unless --force (then it is recorded).
  const resumeInfo: RunInfo | undefined = run.info ?? undefined;
  const history: EpochRecord[] = [...run.history];
  const weightsSha256 = await fileSha256(config.weights);
  if (resumeInfo) {
    const changes = resumeChanges(resumeInfo, config, {
      dataSha256: data.dataset.sha256,
      weightsSha256,
      fingerprint: data.encoder.fingerprint,
    });
    const refusal = resumeRefusal(run.dir, changes, opts.force === true);
    if (refusal) throw refusal;
    if (changes.length) {
      const forced = changes.some((c) => c.kind !== "note");
      emit({
        type: "info",
        message: `Resuming ${run.dir} with changed settings (old -> new)${
          forced ? ", forced (--force)" : ""
        }:\n${formatResumeChanges(changes)}`,
      });
      resumeInfo.resumes = [...(resumeInfo.resumes ?? []), {
        at: new Date().toISOString(),
        epoch: resumeInfo.lastEpoch,
        forced,
        changes: changes.map(({ field, from, to }) => ({ field, from, to })),
      }];
    }
  }
  const outDir = run.dir;

  // Trainable state in PyTorch layout [outDim, inDim]: weight, AdamW m and v, step.
  // RunDir commits and restores exactly these arrays (encoded before its first await).
  const state = createState(initialWeight(config, data));
  const snapshot = (): TrainState => ({
    weight: state.weight,
    m: state.m,
    v: state.v,
    step: state.step,
  });
  const restore = (st: TrainState) => {
    state.weight.set(st.weight);
    state.m.set(st.m);
    state.v.set(st.v);
    state.step = st.step;
  };
  let startEpoch = 1;
  if (resumeInfo) {
    restore(await run.loadState([config.outDim, dim]));
    startEpoch = resumeInfo.lastEpoch + 1;
  }
  const engine = await createStepEngine(config, dim);
  const { dims: trainedDims } = matryoshkaDims(config);

  const valBatches = toRowBatches(data.val, data.rowOf, config, config.seed, 0);
  const stepsPerEpoch = batchCount(data.train.length, config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;

  // Retrieval task of the validation split; base (1024-d) metrics once.
  // Without a validation split (--val-fraction 0) there are no validation
  // numbers, and every epoch's weights are the best (best = final).
  const hasVal = data.val.length > 0;
  if (!hasVal) {
    emit({
      type: "info",
      message: "No validation split (--val-fraction 0): no validation loss or metrics; " +
        "best.safetensors is the last epoch's weights",
    });
  }
  const table: EmbeddingTable = { dim, data: data.embeddings, rowOf: data.rowOf };
  const valRetrieval = sampleByQuery(data.val, VAL_RETRIEVAL_MAX_QUERIES, config.seed);
  const task = retrievalTask(valRetrieval);
  if (valRetrieval.length < data.val.length) {
    emit({
      type: "info",
      message: `Validation retrieval: ${task.queries.length} of ${
        new Set(data.val.map((e) => e.query)).size
      } val queries (seeded sample, cap ${VAL_RETRIEVAL_MAX_QUERIES}) against the ${task.docs.length} listings of their examples; val loss uses all ${data.val.length} val examples`,
    });
  }
  const baseQ = lookup(table, task.queries);
  const baseD = lookup(table, task.docs);
  const evalIn = { dim, nq: task.queries.length, nd: task.docs.length, relevant: task.relevant };
  const baseMetrics: Record<string, number> = hasVal
    ? { ...await evaluateRetrieval({ ...evalIn, queryVecs: baseQ, docVecs: baseD }) }
    : {};
  /** Retrieval metrics at the full dim, and per Matryoshka prefix when there are several. */
  const projectedMetrics = async (): Promise<
    { metrics: Record<string, number>; byDim?: Record<string, Record<string, number>> }
  > => {
    if (!hasVal) return { metrics: {} };
    const projQ = await engine.project(baseQ, evalIn.nq, state.weight);
    const projD = await engine.project(baseD, evalIn.nd, state.weight);
    const at = async (d: number) => ({
      ...await evaluateRetrieval({
        ...evalIn,
        dim: d,
        queryVecs: prefixRows(projQ, evalIn.nq, config.outDim, d),
        docVecs: prefixRows(projD, evalIn.nd, config.outDim, d),
      }),
    });
    const metrics = await at(config.outDim);
    if (config.matryoshka.length === 0) return { metrics };
    const byDim: Record<string, Record<string, number>> = {};
    for (const d of trainedDims) byDim[d] = d === config.outDim ? metrics : await at(d);
    return { metrics, byDim };
  };
  /** One epoch's validation: loss (total and per prefix) and retrieval metrics. */
  const validate = async () => {
    const vl = await meanLoss(engine, state, data.embeddings, dim, valBatches);
    const pm = await projectedMetrics();
    const byDim = pm.byDim
      ? Object.fromEntries(
        trainedDims.map((d, i) => [d, { valLoss: vl.losses[i], metrics: pm.byDim![d] }]),
      )
      : undefined;
    return { valLoss: vl.loss, metrics: pm.metrics, ...(byDim ? { byDim } : {}) };
  };

  const dataset: RunInfo["dataset"] = {
    path: data.dataset.path,
    sha256: data.dataset.sha256,
    format: data.dataset.format,
    examples: data.dataset.examples.length,
    train: data.train.length,
    val: data.val.length,
    splitSeed: config.seed,
    valFraction: config.valFraction,
    weightsSha256,
  };
  const info: RunInfo = resumeInfo ?? {
    format: "phongtro-head/v1",
    status: "running",
    created: new Date().toISOString(),
    updated: "",
    config,
    encoder: data.encoder,
    dataset,
    head: { inDim: dim, outDim: config.outDim, params: dim * config.outDim },
    backend,
    lastEpoch: 0,
    step: 0,
    best: null,
    baseMetrics,
  };
  info.config = config;
  info.dataset = dataset;
  info.encoder = data.encoder;
  info.status = "running";
  info.baseMetrics = baseMetrics;
  const selectValue = (r: EpochRecord) =>
    config.select === "val_loss" ? r.valLoss : r.metrics?.[config.select] ?? NaN;
  const better = (a: number, b: number) => config.select === "val_loss" ? a < b : a > b;

  /** One commit per epoch: weights, AdamW state, best, config.json, metrics.jsonl together. */
  const recordEpoch = async (record: EpochRecord) => {
    history.push(record);
    const value = selectValue(record);
    const isBest = !hasVal || info.best === null || better(value, info.best.value);
    if (isBest) info.best = { epoch: record.epoch, select: config.select, value, record };
    const saved = await run.commitEpoch({
      epoch: record.epoch,
      state: snapshot(),
      info,
      history,
      isBest,
    });
    emit({ type: "epoch", record, isBest, bestPath: saved.best, select: config.select });
    return isBest;
  };

  /**
   * Ctrl-C: final.safetensors and optimizer.safetensors stay at the last
   * committed epoch, so --resume continues exactly; the current weights (the
   * same, or part-way through `epoch`) go to interrupted.safetensors.
   */
  const saveInterrupted = async (epoch: number) => {
    info.status = "interrupted";
    const { interrupted: path } = await run.commitStatus(info, {
      interrupted: { weight: state.weight, epoch, step: state.step },
    });
    emit({
      type: "info",
      message: `Interrupted: saved ${path} (step ${state.step}); ` +
        `--resume ${outDir} continues from epoch ${info.lastEpoch + 1}`,
    });
  };

  let status: "complete" | "interrupted" = "complete";
  let stoppedEarly = false;
  try {
    if (!resumeInfo) {
      // Epoch 0 (before the first step) belongs to a new run only: a resumed run has it.
      const e0 = performance.now();
      await recordEpoch({
        epoch: 0,
        ...await validate(),
        lr: 0,
        seconds: (performance.now() - e0) / 1000,
      });
    }
    let sinceBest = 0;
    const xBuffer = { data: new Float32Array(0) };
    for (let epoch = startEpoch; epoch <= config.epochs; epoch++) {
      if (opts.signal?.aborted) {
        status = "interrupted";
        await saveInterrupted(epoch - 1);
        break;
      }
      const e0 = performance.now();
      let sum = 0, count = 0, lr = 0, gradNorm = 0, s = -1;
      for (const b of rowBatches(data.train, data.rowOf, config, config.seed, epoch)) {
        s++;
        lr = learningRate(state.step, totalSteps, config.lr, config.warmupFraction);
        const batch = gatherBatch(data.embeddings, dim, b, xBuffer);
        const { loss, grad } = await engine.lossAndGrad(batch, state.weight);
        if (!Number.isFinite(loss)) {
          info.status = "failed";
          info.error = `non-finite loss (${loss}) at epoch ${epoch}, step ${s + 1}`;
          await run.commitStatus(info);
          throw new NonFiniteLossError(
            `training stopped: the loss is ${loss} at epoch ${epoch}, step ${s + 1}. ` +
              `The last good checkpoint (epoch ${info.lastEpoch}) is kept in ${outDir}. ` +
              `Check the inputs for NaN, or lower --lr (${config.lr}) / raise --temperature (${config.temperature}).`,
          );
        }
        gradNorm = adamWUpdate(state, grad, {
          lr,
          weightDecay: config.weightDecay,
          clipNorm: config.clipNorm,
        });
        sum += loss * b.size;
        count += b.size;
        emit({
          type: "step",
          epoch,
          step: s + 1,
          steps: stepsPerEpoch,
          loss,
          avgLoss: sum / count,
          lr,
        });
        if (opts.signal?.aborted) break;
      }
      if (opts.signal?.aborted) {
        status = "interrupted";
        await saveInterrupted(epoch);
        break;
      }
      const record: EpochRecord = {
        epoch,
        trainLoss: sum / count,
        ...await validate(),
        lr,
        gradNorm,
        seconds: (performance.now() - e0) / 1000,
      };
      const isBest = await recordEpoch(record);
      sinceBest = isBest ? 0 : sinceBest + 1;
      if (config.patience > 0 && sinceBest >= config.patience && epoch < config.epochs) {
        stoppedEarly = true;
        emit({
          type: "info",
          message: `Early stopping: no better ${config.select} for ${config.patience} epochs`,
        });
        break;
      }
    }

    const final = hasVal
      ? await compareBaseAndHead({
        examples: valRetrieval,
        task,
        table,
        project: (x, n) => engine.project(x, n, state.weight),
        outDim: config.outDim,
      })
      : undefined;
    const finalMetrics: Record<string, number> = { ...final?.projected };
    const perFeature = final?.perFeature;
    info.status = status;
    let report: string | undefined;
    if (opts.report !== false) {
      const { steps, lrs } = scheduleCurve(totalSteps, config.lr, config.warmupFraction);
      // Quality vs bytes per vector of the final weights (base, PCA, head × storage).
      // On large validation splits it runs on a seeded sample of queries (the report says how
      // many): every row holds its own copy of the corpus, which would otherwise set the
      // run's peak memory.
      const compareTask = task.docs.length > REPORT_COMPARE_MAX_DOCS
        ? retrievalTask(sampleByQuery(valRetrieval, REPORT_COMPARE_QUERIES, config.seed))
        : task;
      const compare = hasVal
        ? await compareHead({
          task: compareTask,
          table,
          fitTexts: uniqueTexts(data.train),
          weight: state.weight,
          outDim: config.outDim,
          dims: trainedDims,
          seed: config.seed,
        })
        : undefined;
      report = renderReport({
        title: `Training report: ${outDir}`,
        config: { ...config, encoder: data.encoder.name, backend, status },
        history,
        lrSteps: { step: steps, lr: lrs },
        table: { base: baseMetrics, projected: finalMetrics },
        perFeature,
        compare: compare && { rows: compare.rows, notes: comparisonNotes(compare) },
      });
    }
    await run.commitStatus(info, { report });
    emit({ type: "info", message: await run.pointLatest() });
    const result: TrainResult = {
      outDir,
      status,
      history,
      best: info.best,
      baseMetrics,
      finalMetrics,
      perFeature,
      seconds: (performance.now() - t0) / 1000,
      stoppedEarly,
    };
    emit({ type: "done", result });
    return result;
  } finally {
    await engine.dispose();
  }
}

/** The initial weight `[outDim, inDim]`: seeded orthonormal rows or PCA directions. */
function initialWeight(config: TrainConfig, data: PreparedData): Float32Array {
  const dim = data.encoder.dim;
  if (config.init === "pca") {
    return pcaDirections(trainCorpus(data), dim, config.outDim, { seed: config.seed });
  }
  if (config.init !== "orthogonal") {
    throw new Error(`unknown init "${config.init}" (use "orthogonal" or "pca")`);
  }
  return orthogonalRows(config.outDim, dim, config.seed);
}

/** Embeddings of the training split's unique texts, for PCA initialisation. */
function trainCorpus(data: PreparedData): Float32Array {
  const rows = Int32Array.from(new Set(uniqueTexts(data.train).map((t) => data.rowOf.get(t)!)));
  return gatherRows(data.embeddings, data.encoder.dim, rows);
}
