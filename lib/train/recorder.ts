/**
 * What a training run writes, through its {@link RunDir}: the run's record
 * (`config.json`: config, data, encoder, status, best epoch), one commit per
 * epoch (weights, optimiser state, best, `metrics.jsonl` together), and the
 * interrupted, failed and finished states. A resumed run is checked first:
 * the data, weights and model must be the run's own unless `--force` (then
 * the changes are recorded).
 *
 * @module
 */
import type { EpochRecord, RunInfo } from "../run/checkpoint.ts";
import {
  fileSha256,
  formatResumeChanges,
  resumeChanges,
  resumeRefusal,
} from "../run/resume_check.ts";
import type { RunDir, TrainState } from "../run/run_dir.ts";
import type { TrainConfig } from "./config.ts";
import type { PreparedData, TrainEvent } from "./types.ts";

/**
 * The record of one run, committed through its run directory.
 *
 * @example
 * ```ts
 * import { RunRecorder } from "./recorder.ts";
 * // Type-checked, not run: it needs rec from a real run.
 * async function _example(rec: RunRecorder) {
 *   console.log(rec.resumed, rec.nextEpoch, rec.history.length, rec.info.status);
 * }
 * ```
 */
export class RunRecorder {
  /** The run's record, as committed to `config.json`. */
  readonly info: RunInfo;
  /** Every committed epoch, in order (epoch 0 first). */
  readonly history: EpochRecord[];
  /** True when the run directory already held epochs. */
  readonly resumed: boolean;
  /** The run directory. */
  readonly run: RunDir;
  #emit: (e: TrainEvent) => void;

  private constructor(run: RunDir, info: RunInfo, resumed: boolean, emit: (e: TrainEvent) => void) {
    this.run = run;
    this.info = info;
    this.resumed = resumed;
    this.history = [...run.history];
    this.#emit = emit;
  }

  /**
   * Start recording in `run`: a new record, or the run's own after the resume
   * check (which throws the refusal unless `force`).
   */
  static async start(run: RunDir, opts: {
    config: TrainConfig;
    data: PreparedData;
    backend: string;
    force?: boolean;
    emit: (e: TrainEvent) => void;
  }): Promise<RunRecorder> {
    const { config, data, emit } = opts;
    const resumeInfo: RunInfo | undefined = run.info ?? undefined;
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
    const dataset: RunInfo["dataset"] = {
      path: data.dataset.path,
      sha256: data.dataset.sha256,
      format: data.dataset.format,
      examples: data.dataset.examples.length,
      train: data.train.length,
      val: data.val.length,
      splitSeed: config.splitSeed,
      valFraction: config.valFraction,
      weightsSha256,
    };
    const dim = data.encoder.dim;
    const info: RunInfo = resumeInfo ?? {
      format: "phongtro-head/v1",
      status: "running",
      created: new Date().toISOString(),
      updated: "",
      config,
      encoder: data.encoder,
      dataset,
      head: { inDim: dim, outDim: config.outDim, params: dim * config.outDim },
      backend: opts.backend,
      lastEpoch: 0,
      step: 0,
      best: null,
      baseMetrics: {},
    };
    info.config = config;
    info.dataset = dataset;
    info.encoder = data.encoder;
    info.status = "running";
    return new RunRecorder(run, info, resumeInfo !== undefined, emit);
  }

  /** The first epoch still to train. */
  get nextEpoch(): number {
    return this.resumed ? this.info.lastEpoch + 1 : 1;
  }

  /**
   * Commit one epoch: weights, optimiser state, best (`selection.best`, which
   * this epoch is when `isBest`), `config.json` and `metrics.jsonl` together.
   */
  async commitEpoch(
    record: EpochRecord,
    state: TrainState,
    isBest: boolean,
    selection: { best: RunInfo["best"]; select: string },
  ): Promise<void> {
    this.history.push(record);
    this.info.best = selection.best;
    const saved = await this.run.commitEpoch({
      epoch: record.epoch,
      state,
      info: this.info,
      history: this.history,
      isBest,
    });
    this.#emit({
      type: "epoch",
      record,
      isBest,
      bestPath: saved.best,
      select: selection.select,
    });
  }

  /**
   * Ctrl-C: final.safetensors and optimizer.safetensors stay at the last
   * committed epoch, so --resume continues exactly; the current weights (the
   * same, or part-way through `epoch`) go to interrupted.safetensors.
   */
  async interrupted(weight: Float32Array, epoch: number, step: number): Promise<void> {
    this.info.status = "interrupted";
    const { interrupted: path } = await this.run.commitStatus(this.info, {
      interrupted: { weight, epoch, step },
    });
    this.#emit({
      type: "info",
      message: `Interrupted: saved ${path} (step ${step}); ` +
        `--resume ${this.run.dir} continues from epoch ${this.info.lastEpoch + 1}`,
    });
  }

  /** Record that the run failed (the last committed epoch is kept). */
  async failed(error: string): Promise<void> {
    this.info.status = "failed";
    this.info.error = error;
    await this.run.commitStatus(this.info);
  }

  /** Commit the final status (and `report.html`), then point `latest` at the run. */
  async finish(status: "complete" | "interrupted", report?: string): Promise<void> {
    this.info.status = status;
    await this.run.commitStatus(this.info, { report });
    this.#emit({ type: "info", message: await this.run.pointLatest() });
  }
}
