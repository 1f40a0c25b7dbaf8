/**
 * What `deno task train` prints: the set-up lines, a progress bar per epoch
 * (terminal) or nothing (logs), one line per epoch, and the final summary;
 * with `--json`, one JSON line per epoch and one at the end instead; with
 * `--quiet`, only the summary.
 *
 * @module
 */
import { formatMetricsTable } from "../eval/metrics.ts";
import type { TrainConfig } from "../train/config.ts";
import type { PreparedData, TrainEvent, TrainResult } from "../train/types.ts";
import { createProgress } from "./progress.ts";

/** A number with `digits` decimals, or `-` when missing. */
const fmt = (x: number | undefined, digits = 4) =>
  x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits);

/**
 * The training run's console output.
 *
 * @example
 * ```ts
 * import { TrainView } from "./train_view.ts";
 * const lines: string[] = [];
 * const view = new TrainView({ quiet: false, json: false, tty: false, epochs: 2 }, (l) => lines.push(l));
 * const metrics = { "recall@1": 0.1, "mrr@10": 0.2, "ndcg@10": 0.3 };
 * view.onEvent({
 *   type: "epoch",
 *   record: { epoch: 1, trainLoss: 1.5, valLoss: 2, metrics, lr: 1e-3, seconds: 0.5 },
 *   isBest: true,
 *   bestPath: "run/best.safetensors",
 *   select: "val_loss",
 * });
 * if (!lines[0].startsWith("Epoch 1/2: train loss 1.5000, val loss 2.0000, R@1 0.100")) {
 *   throw new Error(lines[0]);
 * }
 * if (lines[1] !== "  New best val loss! Saved to run/best.safetensors") throw new Error(lines[1]);
 * ```
 */
export class TrainView {
  #opts: { quiet: boolean; json: boolean; tty: boolean; epochs: number };
  #print: (line: string) => void;
  #bar: ReturnType<typeof createProgress>;
  #hasVal = true;

  /**
   * A view that prints through `print`.
   *
   * @param opts `quiet` and `json` silence the lines; `tty` draws bars; `epochs` for "Epoch n/N".
   * @param print Where lines go (default `console.log`).
   */
  constructor(
    opts: { quiet: boolean; json: boolean; tty: boolean; epochs: number },
    print: (line: string) => void = console.log,
  ) {
    this.#opts = opts;
    this.#print = print;
    this.#bar = createProgress({ label: "epoch", unit: "steps", enabled: opts.tty });
  }

  /** Print a line unless `--quiet` or `--json`. */
  say(line: string): void {
    if (!this.#opts.quiet && !this.#opts.json) this.#print(line);
  }

  /**
   * The set-up lines after the embeddings are ready: backend (`onnxruntime-cpu`
   * or a tfjs backend's name), prefixes, data, parameters.
   */
  header(config: TrainConfig, data: PreparedData, backend: string): void {
    this.#hasVal = data.val.length > 0;
    this.say(
      backend === "onnxruntime-cpu"
        ? `Backend: onnxruntime CPU (${navigator.hardwareConcurrency} threads), closed-form gradient`
        : `Backend: tfjs ${backend} (autodiff reference)`,
    );
    if (config.matryoshka.length) {
      const weights = config.dimsWeights.length
        ? config.dimsWeights
        : config.matryoshka.map(() => 1);
      this.say(
        `Matryoshka: prefixes ${config.matryoshka.join(", ")}, weights ${weights.join(", ")}`,
      );
    }
    this.say(
      `Dataset: ${data.dataset.path} (${data.dataset.format}), ${data.train.length} train / ${data.val.length} val examples`,
    );
    const head = data.encoder.dim * config.outDim;
    const total = data.encoder.params + head;
    const n = (x: number) => x.toLocaleString("en-US");
    this.say(`Trainable params: ${n(head)} / ${n(total)} (${(100 * head / total).toFixed(2)}%)`);
  }

  /** Render one event of the loop. */
  onEvent(e: TrainEvent): void {
    if (e.type === "info") return this.say(e.message);
    if (e.type === "step") {
      if (e.step === 1) {
        this.#bar = createProgress({
          label: `epoch ${e.epoch}`,
          unit: "steps",
          enabled: this.#opts.tty,
        });
      }
      const text = `loss ${fmt(e.loss)} avg ${fmt(e.avgLoss)} lr ${e.lr.toExponential(2)}`;
      this.#bar.update(e.step, e.steps, text);
      if (e.step === e.steps) this.#bar.done();
      return;
    }
    if (e.type !== "epoch") return;
    const r = e.record;
    if (this.#opts.json) return this.#print(JSON.stringify({ ...r, isBest: e.isBest }));
    this.#bar.done();
    this.say(
      `Epoch ${r.epoch}/${this.#opts.epochs}: train loss ${fmt(r.trainLoss)}, val loss ${
        fmt(r.valLoss)
      }, R@1 ${fmt(r.metrics?.["recall@1"], 3)}, MRR@10 ${fmt(r.metrics?.["mrr@10"], 3)}, ` +
        `nDCG@10 ${fmt(r.metrics?.["ndcg@10"], 3)}, ${fmt(r.seconds, 2)}s`,
    );
    if (r.byDim) {
      const prefixes = Object.entries(r.byDim).sort(([a], [b]) => Number(b) - Number(a))
        .map(([d, v]) => `${d}-d val loss ${fmt(v.valLoss)} MRR@10 ${fmt(v.metrics["mrr@10"], 3)}`);
      this.say("  per prefix: " + prefixes.join(" · "));
    }
    if (e.isBest && !this.#hasVal) {
      this.say(`  Saved to ${e.bestPath} (no validation: best = last epoch)`);
    } else if (e.isBest) {
      const what = e.select === "val_loss" ? "val loss" : e.select;
      this.say(`  New best ${what}! Saved to ${e.bestPath}`);
    }
  }

  /** The final summary (or its JSON line). */
  summary(result: TrainResult, config: TrainConfig, data: PreparedData): void {
    const best = result.best;
    if (this.#opts.json) {
      return this.#print(JSON.stringify({
        done: true,
        status: result.status,
        outDir: result.outDir,
        best,
        base: result.baseMetrics,
        projected: result.finalMetrics,
        seconds: result.seconds,
      }));
    }
    const last = result.history.at(-1);
    const validation = data.val.length > 0
      ? [
        `Best epoch: ${best?.epoch} (${best?.select} ${fmt(best?.value)})`,
        `Val loss: ${fmt(result.history[0]?.valLoss)} at epoch 0 -> ${
          fmt(last?.valLoss)
        } at epoch ${last?.epoch}`,
        ``,
        `Validation retrieval (final head):`,
        formatMetricsTable(result.baseMetrics, result.finalMetrics, {
          baseLabel: `base (${data.encoder.dim}-d)`,
          projectedLabel: `projected (${config.outDim}-d)`,
        }),
      ]
      : [
        `No validation split (--val-fraction 0): best.safetensors holds the last epoch ` +
        `(${last?.epoch}); evaluate with deno task eval --data FILE`,
      ];
    this.#print([
      ``,
      `Training ${result.status} in ${result.seconds.toFixed(1)}s${
        result.stoppedEarly ? " (early stop)" : ""
      }.`,
      ...validation,
      ``,
      `Checkpoints: ${result.outDir}/{best,final}.safetensors, report: ${result.outDir}/report.html`,
    ].join("\n"));
  }
}
