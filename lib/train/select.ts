/**
 * Best-epoch selection and early stopping: the epoch whose selection metric
 * (`--select`: `val_loss`, lower is better, or a retrieval metric such as
 * `mrr@10`, higher is better) is best so far becomes `best.safetensors`;
 * training stops after `--patience` epochs without a better one.
 *
 * @module
 */
import type { EpochRecord, RunInfo } from "../run/checkpoint.ts";

/**
 * The running best epoch and the patience counter.
 *
 * @example
 * ```ts
 * import { BestSelector } from "./select.ts";
 * const sel = new BestSelector({ select: "val_loss", patience: 1, hasVal: true });
 * const rec = (epoch: number, valLoss: number) => ({ epoch, valLoss, metrics: {}, lr: 0, seconds: 0 });
 * if (!sel.offer(rec(1, 2.0))) throw new Error("the first epoch is the best so far");
 * if (sel.offer(rec(2, 2.5))) throw new Error("a higher loss is not better");
 * if (!sel.patienceSpent) throw new Error("patience 1 is spent after one worse epoch");
 * if (sel.best?.epoch !== 1) throw new Error("epoch 1 stays best");
 * ```
 */
export class BestSelector {
  /** The selection metric. */
  readonly select: string;
  /** Epochs without improvement before stopping; 0 = never stop early. */
  readonly patience: number;
  /** The best epoch so far (from the run when resumed). */
  best: RunInfo["best"];
  #hasVal: boolean;
  #sinceBest = 0;

  /**
   * A selector with no best yet, or the best of a resumed run.
   *
   * @param opts.hasVal Without validation numbers every epoch is the best (best = final).
   * @param opts.best The best of a resumed run.
   */
  constructor(
    opts: { select: string; patience: number; hasVal: boolean; best?: RunInfo["best"] },
  ) {
    this.select = opts.select;
    this.patience = opts.patience;
    this.#hasVal = opts.hasVal;
    this.best = opts.best ?? null;
  }

  /** The value of the selection metric in `record` (NaN when it is missing). */
  value(record: EpochRecord): number {
    return this.select === "val_loss" ? record.valLoss : record.metrics?.[this.select] ?? NaN;
  }

  /** Consider an epoch; true (and it becomes {@link best}) when it is the best so far. */
  offer(record: EpochRecord): boolean {
    const value = this.value(record);
    const better = this.best === null ||
      (this.select === "val_loss" ? value < this.best.value : value > this.best.value);
    const isBest = !this.#hasVal || better;
    if (isBest) this.best = { epoch: record.epoch, select: this.select, value, record };
    this.#sinceBest = isBest ? 0 : this.#sinceBest + 1;
    return isBest;
  }

  /** True once `patience` epochs in a row were not better (never with patience 0). */
  get patienceSpent(): boolean {
    return this.patience > 0 && this.#sinceBest >= this.patience;
  }
}
