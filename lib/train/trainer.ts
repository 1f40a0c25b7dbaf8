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
import type { EpochRecord } from "../run/checkpoint.ts";
import { matryoshkaDims, type TrainConfig, usesOrt } from "./config.ts";
import {
  batchCount,
  batches,
  type Example,
  loadDataset,
  loadWeightConfig,
  splitDataset,
  uniqueTexts,
} from "../data/dataset.ts";
import { describeEncoder, loadEncoder } from "../encoder/encoder.ts";
import { ensureDefaultModel } from "../encoder/default_model.ts";
import { orthogonalRows, pcaDirections } from "../head/head.ts";
import { OrtStep, type StepBatch, type StepEngine } from "./train_step.ts";
import { gatherRows, retrievalTask } from "../eval/evaluation.ts";
import { checkTrainSplit } from "./preflight.ts";
import { renderReport } from "../report/report.ts";
import { compareHead, comparisonNotes } from "../eval/compare_head.ts";
import { defaultOutDir, RunDir } from "../run/run_dir.ts";
import { learningRate, scheduleCurve } from "./schedule.ts";
import { AdamW } from "./optimizer.ts";
import { BestSelector } from "./select.ts";
import { RunRecorder } from "./recorder.ts";
import type { PreparedData, TrainEvent, TrainResult } from "./types.ts";
import { type RowBatch, sampleByQuery, VAL_RETRIEVAL_MAX_QUERIES, Validator } from "./validator.ts";

/** Above this many validation listings, the report's comparison samples its queries. */
const REPORT_COMPARE_MAX_DOCS = 3000;
/** Queries of that sample. */
const REPORT_COMPARE_QUERIES = 300;

/** Training stopped because the loss became NaN or infinite. */
export class NonFiniteLossError extends Error {
  /**
   * The error, with its one-line message.
   *
   * @param message The loss, the epoch and step, and the last good checkpoint.
   */
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
    seed: config.splitSeed,
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

/**
 * Turn the dataset's text batches into row-index batches for one epoch.
 *
 * @example
 * ```ts
 * import { toRowBatches } from "./trainer.ts";
 * // Type-checked, not run: it needs data, config from a real run.
 * async function _example(data: import("./types.ts").PreparedData, config: import("./config.ts").TrainConfig) {
 *   const list = toRowBatches(data.train, data.rowOf, config, config.seed, 1);
 *   console.log(list.length, list[0].rows.length); // batches, B·(2+K)
 * }
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
 * // Type-checked, not run: it needs data, config from a real run.
 * async function _example(data: import("./types.ts").PreparedData, config: import("./config.ts").TrainConfig) {
 *   for (const b of rowBatches(data.train, data.rowOf, config, config.seed, 1)) console.log(b.size);
 * }
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
 * if (JSON.stringify(Array.from(b.x)) !== JSON.stringify([1, 0, 0, 1, 0, 1, 1, 0])) throw new Error(`got ${b.x}`);
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
  gatherRows(embeddings, dim, b.rows, x);
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

/** Options of {@link trainHead}. */
export interface TrainOptions {
  /** Receives every info line, step, committed epoch and the result. */
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
  const stepsPerEpoch = batchCount(data.train.length, config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const gather = (b: RowBatch, buf: { data: Float32Array }) =>
    gatherBatch(data.embeddings, dim, b, buf);

  // The run's record: new, or the run's own after the resume check.
  const recorder = await RunRecorder.start(run, { config, data, backend, force: opts.force, emit });
  // Trainable state [outDim, inDim] (weight, AdamW moments, step), restored when resuming.
  const init = await initialWeight(config, data);
  const opt = new AdamW(config.decayTo === "init" ? init.slice() : init, {
    lr: config.lr,
    weightDecay: config.weightDecay,
    clipNorm: config.clipNorm,
    decayTarget: config.decayTo === "init" ? init : undefined,
  });
  if (recorder.resumed) opt.restore(await run.loadState([config.outDim, dim]));
  const engine = await createStepEngine(config, dim);
  try {
    // Validation (loss over every val example, retrieval on a seeded sample); base metrics once.
    const validator = await Validator.create({
      config,
      engine,
      val: data.val,
      table: { dim, data: data.embeddings, rowOf: data.rowOf },
      batches: toRowBatches(data.val, data.rowOf, config, config.splitSeed, 0),
      gather,
    });
    describeValidation(validator, data, emit);
    recorder.info.baseMetrics = validator.baseMetrics;
    const selector = new BestSelector({
      ...config,
      hasVal: validator.hasVal,
      best: recorder.info.best,
    });
    const commit = (record: EpochRecord) =>
      recorder.commitEpoch(record, opt.snapshot(), selector.offer(record), selector);
    // Epoch 0, before the first step (a new run only: a resumed run has it).
    if (!recorder.resumed) {
      const e0 = performance.now();
      await commit({ epoch: 0, ...await validator.validate(opt.weight), lr: 0, seconds: secs(e0) });
    }
    const ctx = { config, totalSteps, stepsPerEpoch, gather, emit, signal: opts.signal, recorder };
    let status: "complete" | "interrupted" = "complete";
    let stoppedEarly = false;
    for (let epoch = recorder.nextEpoch; epoch <= config.epochs; epoch++) {
      // Train: one AdamW step per batch at the warm-up + cosine learning rate.
      const e0 = performance.now();
      const batches = rowBatches(data.train, data.rowOf, config, config.seed, epoch);
      const done = opts.signal?.aborted ? null : await trainEpoch(engine, opt, batches, epoch, ctx);
      if (done === null || opts.signal?.aborted) {
        // Interrupted: the last committed epoch stays whole; the current weights are kept apart.
        status = "interrupted";
        await recorder.interrupted(opt.weight, done ? epoch : epoch - 1, opt.step);
        break;
      }
      // Validate, select, and commit the epoch (weights, optimiser, best, metrics together).
      const { trainLoss, lr, gradNorm } = done;
      const val = await validator.validate(opt.weight);
      await commit({ epoch, trainLoss, ...val, lr, gradNorm, seconds: secs(e0) });
      // Early stopping.
      if (selector.patienceSpent && epoch < config.epochs) {
        stoppedEarly = true;
        emit({
          type: "info",
          message: `Early stopping: no better ${config.select} for ${config.patience} epochs`,
        });
        break;
      }
    }
    // Final: base against head on the validation task, the report, the status.
    const final = await validator.compare(opt.weight);
    const finalMetrics: Record<string, number> = { ...final?.projected };
    const report = opts.report === false ? undefined : await renderRunReport({
      config,
      data,
      validator,
      weight: opt.weight,
      history: recorder.history,
      totalSteps,
      backend,
      status,
      outDir: run.dir,
      final,
    });
    await recorder.finish(status, report);
    const result: TrainResult = {
      outDir: run.dir,
      status,
      history: recorder.history,
      best: selector.best,
      baseMetrics: validator.baseMetrics,
      finalMetrics,
      perFeature: final?.perFeature,
      seconds: secs(t0),
      stoppedEarly,
    };
    emit({ type: "done", result });
    return result;
  } finally {
    await engine.dispose();
  }
}

/** Seconds since `t0` (a `performance.now()` value). */
function secs(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/**
 * One epoch of AdamW steps. Returns the mean training loss, the last rate
 * and gradient norm, or null when interrupted before the first step. A
 * non-finite loss is recorded as the run's failure and thrown.
 */
async function trainEpoch(
  engine: StepEngine,
  opt: AdamW,
  batches: Iterable<RowBatch>,
  epoch: number,
  ctx: {
    config: TrainConfig;
    gather: (b: RowBatch, buf: { data: Float32Array }) => StepBatch;
    totalSteps: number;
    stepsPerEpoch: number;
    emit: (e: TrainEvent) => void;
    signal?: AbortSignal;
    recorder: RunRecorder;
  },
): Promise<{ trainLoss: number; lr: number; gradNorm: number }> {
  const { config, gather } = ctx;
  const buffer = { data: new Float32Array(0) };
  let sum = 0, count = 0, lr = 0, gradNorm = 0, s = 0;
  for (const b of batches) {
    s++;
    lr = learningRate(opt.step, ctx.totalSteps, config.lr, config.warmupFraction);
    const { loss, grad } = await engine.lossAndGrad(gather(b, buffer), opt.weight);
    if (!Number.isFinite(loss)) {
      await ctx.recorder.failed(`non-finite loss (${loss}) at epoch ${epoch}, step ${s}`);
      throw new NonFiniteLossError(
        `training stopped: the loss is ${loss} at epoch ${epoch}, step ${s}. ` +
          `The last good checkpoint (epoch ${ctx.recorder.info.lastEpoch}) is kept in ${ctx.recorder.run.dir}. ` +
          `Check the inputs for NaN, or lower --lr (${config.lr}) / raise --temperature (${config.temperature}).`,
      );
    }
    gradNorm = opt.update(grad, lr);
    sum += loss * b.size;
    count += b.size;
    ctx.emit({
      type: "step",
      epoch,
      step: s,
      steps: ctx.stepsPerEpoch,
      loss,
      avgLoss: sum / count,
      lr,
    });
    if (ctx.signal?.aborted) break;
  }
  return { trainLoss: sum / count, lr, gradNorm };
}

/** Say when validation retrieval runs on a sample, and when there is no validation split. */
function describeValidation(v: Validator, data: PreparedData, emit: (e: TrainEvent) => void) {
  if (!v.hasVal) {
    emit({
      type: "info",
      message: "No validation split (--val-fraction 0): no validation loss or metrics; " +
        "best.safetensors is the last epoch's weights",
    });
  }
  if (v.examples.length < data.val.length) {
    emit({
      type: "info",
      message: `Validation retrieval: ${v.task.queries.length} of ${
        new Set(data.val.map((e) => e.query)).size
      } val queries (seeded sample, cap ${VAL_RETRIEVAL_MAX_QUERIES}) against the ${v.task.docs.length} listings of their examples; val loss uses all ${data.val.length} val examples`,
    });
  }
}

/**
 * `report.html` of the final weights: curves, the schedule, base against head,
 * and quality against bytes per vector (base, PCA, head × storage). On large
 * validation splits the comparison runs on a seeded sample of queries (the
 * report says how many): every row holds its own copy of the corpus.
 */
async function renderRunReport(r: {
  config: TrainConfig;
  data: PreparedData;
  validator: Validator;
  weight: Float32Array;
  history: EpochRecord[];
  totalSteps: number;
  backend: string;
  status: string;
  outDir: string;
  final: Awaited<ReturnType<Validator["compare"]>>;
}): Promise<string> {
  const { config, validator: v } = r;
  const { steps, lrs } = scheduleCurve(r.totalSteps, config.lr, config.warmupFraction);
  const compareTask = v.task.docs.length > REPORT_COMPARE_MAX_DOCS
    ? retrievalTask(sampleByQuery(v.examples, REPORT_COMPARE_QUERIES, config.splitSeed))
    : v.task;
  const compare = v.hasVal
    ? await compareHead({
      task: compareTask,
      table: v.table,
      fitTexts: uniqueTexts(r.data.train),
      weight: r.weight,
      outDim: config.outDim,
      dims: matryoshkaDims(config).dims,
      seed: config.seed,
    })
    : undefined;
  return renderReport({
    title: `Training report: ${r.outDir}`,
    config: { ...config, encoder: r.data.encoder.name, backend: r.backend, status: r.status },
    history: r.history,
    lrSteps: { step: steps, lr: lrs },
    table: { base: v.baseMetrics, projected: { ...r.final?.projected } },
    perFeature: r.final?.perFeature,
    compare: compare && { rows: compare.rows, notes: comparisonNotes(compare) },
  });
}

/** The initial weight `[outDim, inDim]`: seeded orthonormal rows or PCA directions. */
async function initialWeight(config: TrainConfig, data: PreparedData): Promise<Float32Array> {
  const dim = data.encoder.dim;
  if (config.init === "pca") {
    // The PCA runs on tfjs, which the onnxruntime step path has not started.
    if (usesOrt(config)) await initBackend("auto");
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
