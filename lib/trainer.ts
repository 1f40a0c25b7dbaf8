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
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "./backend.ts";
import { embedTexts } from "./cache.ts";
import { planMessage } from "./progress.ts";
import type { EpochRecord, RunInfo } from "./checkpoint.ts";
import type { TrainConfig } from "./config.ts";
import {
  batchCount,
  batches,
  type Dataset,
  type Example,
  loadDataset,
  loadWeightConfig,
  splitDataset,
  uniqueTexts,
} from "./dataset.ts";
import { describeEncoder, loadEncoder } from "./encoder.ts";
import { ensureDefaultModel } from "./default_model.ts";
import { ProjectionHead } from "./head.ts";
import { weightedInfoNCE } from "./loss.ts";
import { evaluateRetrieval, type FeatureErrors } from "./metrics.ts";
import {
  compareBaseAndHead,
  type EmbeddingTable,
  gatherRows,
  lookup,
  retrievalTask,
} from "./evaluation.ts";
import { checkTrainSplit } from "./preflight.ts";
import { renderReport } from "./report.ts";
import { fileSha256, formatResumeChanges, resumeChanges, resumeRefusal } from "./resume_check.ts";
import { defaultOutDir, RunDir, type TrainState } from "./run_dir.ts";
import { learningRate, scheduleCurve } from "./schedule.ts";

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

/** A batch as row indices into the embedding matrix (see {@link toIndexBatches}). */
export interface IndexBatch {
  q: tf.Tensor1D;
  p: tf.Tensor1D;
  n: tf.Tensor1D;
  w: tf.Tensor2D;
  ids: number[];
  size: number;
}

/**
 * Turn the dataset's text batches into index batches for one epoch.
 *
 * @example
 * ```ts
 * import { toIndexBatches } from "./trainer.ts";
 * declare const data: import("./trainer.ts").PreparedData;
 * declare const config: import("./config.ts").TrainConfig;
 * const list = toIndexBatches(data.train, data.rowOf, config, config.seed, 1);
 * console.log(list.length);
 * ```
 */
export function toIndexBatches(
  examples: Example[],
  rowOf: Map<string, number>,
  config: TrainConfig,
  seed: number,
  epoch: number,
): IndexBatch[] {
  const out: IndexBatch[] = [];
  const rows = (texts: string[]) => tf.tensor1d(texts.map((t) => rowOf.get(t)!), "int32");
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
    out.push({
      q: rows(b.queries),
      p: rows(b.positives),
      n: rows(b.negatives),
      w: tf.tensor2d(b.weights, [size, config.negatives]),
      ids: b.positiveIds,
      size,
    });
  }
  return out;
}

/**
 * Free the tensors of index batches.
 *
 * @example
 * ```ts
 * import { disposeBatches } from "./trainer.ts";
 * disposeBatches([]);
 * ```
 */
export function disposeBatches(list: IndexBatch[]): void {
  for (const b of list) tf.dispose([b.q, b.p, b.n, b.w]);
}

/**
 * The loss of one batch: gather the rows, project them with one matmul,
 * split into queries, positives and negatives, and apply the weighted
 * InfoNCE loss.
 *
 * @example
 * ```ts
 * import { batchLoss } from "./trainer.ts";
 * console.log(typeof batchLoss); // "function"
 * ```
 */
export function batchLoss(
  head: ProjectionHead,
  all: tf.Tensor2D,
  b: IndexBatch,
  config: TrainConfig,
): tf.Scalar {
  const k = config.negatives;
  const x = tf.concat(
    [tf.gather(all, b.q), tf.gather(all, b.p), tf.gather(all, b.n)],
    0,
  ) as tf.Tensor2D;
  const y = head.apply(x, { inputGrad: false });
  const q = y.slice([0, 0], [b.size, -1]);
  const p = y.slice([b.size, 0], [b.size, -1]);
  const hn = y.slice([2 * b.size, 0], [b.size * k, -1])
    .reshape([b.size, k, y.shape[1]]) as tf.Tensor3D; // explicit D: K may be 0
  return weightedInfoNCE(q as tf.Tensor2D, p as tf.Tensor2D, hn, b.w, {
    temperature: config.temperature,
    symmetric: config.symmetric,
    weighting: config.weighting,
    positiveIds: b.ids,
  });
}

/** Mean loss over batches without gradients. */
function meanLoss(
  head: ProjectionHead,
  all: tf.Tensor2D,
  list: IndexBatch[],
  config: TrainConfig,
): number {
  let sum = 0, n = 0;
  for (const b of list) {
    const v = tf.tidy(() => batchLoss(head, all, b, config)).arraySync() as number;
    sum += v * b.size;
    n += b.size;
  }
  return n ? sum / n : NaN;
}

/** AdamW state for one weight matrix. */
export interface AdamW {
  m: tf.Variable;
  v: tf.Variable;
  step: number;
}

const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8;

/**
 * One AdamW update (decoupled weight decay, Loshchilov & Hutter 2019) with
 * optional global-norm clipping. Returns the gradient norm before clipping.
 *
 * @example
 * ```ts
 * import { adamWStep } from "./trainer.ts";
 * console.log(typeof adamWStep); // "function"
 * ```
 */
export function adamWStep(
  weight: tf.Variable,
  grad: tf.Tensor,
  opt: AdamW,
  lr: number,
  config: TrainConfig,
): number {
  opt.step += 1;
  const t = opt.step;
  return tf.tidy(() => {
    const norm = tf.norm(grad);
    const normValue = norm.dataSync()[0];
    let g = grad;
    if (config.clipNorm > 0 && normValue > config.clipNorm) {
      g = grad.mul(config.clipNorm / normValue);
    }
    const m = opt.m.mul(BETA1).add(g.mul(1 - BETA1));
    const v = opt.v.mul(BETA2).add(g.square().mul(1 - BETA2));
    opt.m.assign(m);
    opt.v.assign(v);
    const mHat = m.div(1 - BETA1 ** t);
    const vHat = v.div(1 - BETA2 ** t);
    const update = mHat.div(vHat.sqrt().add(EPS)).add(weight.mul(config.weightDecay));
    weight.assign(weight.sub(update.mul(lr)));
    return normValue;
  });
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
 * (see `lib/run_dir.ts`): a kill at any moment leaves one whole epoch.
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
  const backend = opts.backend ?? await initBackend(config.device);
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

  const all = tf.tensor2d(data.embeddings, [data.texts.length, dim]);
  const head = ProjectionHead.create({
    inDim: dim,
    outDim: config.outDim,
    init: config.init,
    seed: config.seed,
    corpus: config.init === "pca" ? trainCorpus(data) : undefined,
  });
  const shape: [number, number] = [dim, config.outDim];
  const opt: AdamW = { m: tf.variable(tf.zeros(shape)), v: tf.variable(tf.zeros(shape)), step: 0 };
  // What RunDir commits and restores, in PyTorch layout [out, in]; the variables are [in, out].
  const toPt = (v: tf.Variable) => tf.tidy(() => v.transpose().dataSync() as Float32Array);
  const snapshot = (): TrainState => ({
    weight: head.getWeight(),
    m: toPt(opt.m),
    v: toPt(opt.v),
    step: opt.step,
  });
  const restore = (st: TrainState) => {
    head.setWeight(st.weight);
    opt.m.assign(tf.tidy(() => tf.tensor2d(st.m, [config.outDim, dim]).transpose()));
    opt.v.assign(tf.tidy(() => tf.tensor2d(st.v, [config.outDim, dim]).transpose()));
    opt.step = st.step;
  };
  let startEpoch = 1;
  if (resumeInfo) {
    restore(await run.loadState([config.outDim, dim]));
    startEpoch = resumeInfo.lastEpoch + 1;
  }

  const valBatches = toIndexBatches(data.val, data.rowOf, config, config.seed, 0);
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
  const task = retrievalTask(data.val);
  const baseQ = lookup(table, task.queries);
  const baseD = lookup(table, task.docs);
  const evalIn = { dim, nq: task.queries.length, nd: task.docs.length, relevant: task.relevant };
  const baseMetrics: Record<string, number> = hasVal
    ? { ...await evaluateRetrieval({ ...evalIn, queryVecs: baseQ, docVecs: baseD }) }
    : {};
  const projectedMetrics = async (): Promise<Record<string, number>> =>
    !hasVal ? {} : ({
      ...await evaluateRetrieval({
        ...evalIn,
        dim: config.outDim,
        queryVecs: head.project(baseQ, evalIn.nq),
        docVecs: head.project(baseD, evalIn.nd),
      }),
    });

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
      interrupted: { weight: head.getWeight(), epoch, step: opt.step },
    });
    emit({
      type: "info",
      message: `Interrupted: saved ${path} (step ${opt.step}); ` +
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
        valLoss: meanLoss(head, all, valBatches, config),
        metrics: await projectedMetrics(),
        lr: 0,
        seconds: (performance.now() - e0) / 1000,
      });
    }
    let sinceBest = 0;
    for (let epoch = startEpoch; epoch <= config.epochs; epoch++) {
      if (opts.signal?.aborted) {
        status = "interrupted";
        await saveInterrupted(epoch - 1);
        break;
      }
      const e0 = performance.now();
      const trainBatches = toIndexBatches(data.train, data.rowOf, config, config.seed, epoch);
      let sum = 0, count = 0, lr = 0, gradNorm = 0;
      for (let s = 0; s < trainBatches.length; s++) {
        const b = trainBatches[s];
        lr = learningRate(opt.step, totalSteps, config.lr, config.warmupFraction);
        const { value, grads } = tf.variableGrads(() => batchLoss(head, all, b, config), [
          head.weight,
        ]);
        const loss = value.dataSync()[0];
        if (!Number.isFinite(loss)) {
          tf.dispose([value, grads]);
          disposeBatches(trainBatches);
          info.status = "failed";
          info.error = `non-finite loss (${loss}) at epoch ${epoch}, step ${s + 1}`;
          await run.commitStatus(info);
          throw new NonFiniteLossError(
            `training stopped: the loss is ${loss} at epoch ${epoch}, step ${s + 1}. ` +
              `The last good checkpoint (epoch ${info.lastEpoch}) is kept in ${outDir}. ` +
              `Check the inputs for NaN, or lower --lr (${config.lr}) / raise --temperature (${config.temperature}).`,
          );
        }
        gradNorm = adamWStep(head.weight, grads[head.weight.name], opt, lr, config);
        tf.dispose([value, grads]);
        sum += loss * b.size;
        count += b.size;
        emit({
          type: "step",
          epoch,
          step: s + 1,
          steps: trainBatches.length,
          loss,
          avgLoss: sum / count,
          lr,
        });
        if (opts.signal?.aborted) break;
      }
      disposeBatches(trainBatches);
      if (opts.signal?.aborted) {
        status = "interrupted";
        await saveInterrupted(epoch);
        break;
      }
      const record: EpochRecord = {
        epoch,
        trainLoss: sum / count,
        valLoss: meanLoss(head, all, valBatches, config),
        metrics: await projectedMetrics(),
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
        examples: data.val,
        task,
        table,
        project: (x, n) => head.project(x, n),
        outDim: config.outDim,
      })
      : undefined;
    const finalMetrics: Record<string, number> = { ...final?.projected };
    const perFeature = final?.perFeature;
    info.status = status;
    let report: string | undefined;
    if (opts.report !== false) {
      const { steps, lrs } = scheduleCurve(totalSteps, config.lr, config.warmupFraction);
      report = renderReport({
        title: `Training report: ${outDir}`,
        config: { ...config, encoder: data.encoder.name, backend, status },
        history,
        lrSteps: { step: steps, lr: lrs },
        table: { base: baseMetrics, projected: finalMetrics },
        perFeature,
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
    disposeBatches(valBatches);
    tf.dispose([all, opt.m, opt.v]);
    head.dispose();
  }
}

/** Embeddings of the training split's unique texts, for PCA initialisation. */
function trainCorpus(data: PreparedData): Float32Array {
  const rows = Int32Array.from(new Set(uniqueTexts(data.train).map((t) => data.rowOf.get(t)!)));
  return gatherRows(data.embeddings, data.encoder.dim, rows);
}
