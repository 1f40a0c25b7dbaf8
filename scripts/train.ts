/**
 * `deno task train`: train the projection head on the frozen encoder's
 * cached embeddings. Flags override `--config`, which overrides defaults.
 *
 * @module
 */
import { helpText, parseCommand, runMain } from "../lib/cli.ts";
import {
  configFromFlags,
  readConfigFile,
  resolveConfig,
  TRAIN_COMMAND,
  type TrainConfig,
} from "../lib/config.ts";
import { readRunInfo } from "../lib/checkpoint.ts";
import { type Device, initBackend } from "../lib/backend.ts";
import { formatMetricsTable } from "../lib/metrics.ts";
import { createProgress } from "../lib/progress.ts";
import { prepareTraining, type TrainEvent, trainHead } from "../lib/trainer.ts";

const fmt = (x: number | undefined, digits = 4) =>
  x === undefined || Number.isNaN(x) ? "-" : x.toFixed(digits);

async function main() {
  const { flags, help } = parseCommand(Deno.args, TRAIN_COMMAND);
  if (help) {
    console.log(helpText(TRAIN_COMMAND));
    return;
  }
  const quiet = flags.quiet === true;
  const json = flags.json === true;
  const resume = flags.resume as string | undefined;

  // Precedence: defaults < resumed run's config < --config file < flags.
  let base: Partial<TrainConfig> = {};
  if (resume) base = (await readRunInfo(resume)).config;
  const file = flags.config ? await readConfigFile(flags.config as string) : {};
  const config = resolveConfig({ ...base, ...file }, configFromFlags(flags));

  const say = (line: string) => {
    if (!quiet && !json) console.log(line);
  };
  const ort = config.device === "auto" || config.device === "ort";
  const backend = ort ? "onnxruntime-cpu" : await initBackend(config.device as Device);
  const tty = Deno.stderr.isTerminal() && !quiet && !json;

  const encodeBar = createProgress({ label: "encode", unit: "texts", enabled: tty });
  const data = await prepareTraining(
    config,
    (e) => e.type === "info" && say(e.message),
    (done, total) => encodeBar.update(done, total),
  );
  encodeBar.done();
  say(
    ort
      ? `Backend: onnxruntime CPU (${navigator.hardwareConcurrency} threads), closed-form gradient`
      : `Backend: tfjs ${backend} (autodiff reference)`,
  );
  if (config.matryoshka.length) {
    say(
      `Matryoshka: prefixes ${config.matryoshka.join(", ")}, weights ${
        (config.dimsWeights.length ? config.dimsWeights : config.matryoshka.map(() => 1)).join(", ")
      }`,
    );
  }
  say(
    `Dataset: ${data.dataset.path} (${data.dataset.format}), ${data.train.length} train / ${data.val.length} val examples`,
  );
  const headParams = data.encoder.dim * config.outDim;
  const total = data.encoder.params + headParams;
  say(
    `Trainable params: ${headParams.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} (${
      (100 * headParams / total).toFixed(2)
    }%)`,
  );

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    console.error("\nInterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);

  let bar = createProgress({ label: "epoch", unit: "steps", enabled: tty });
  const onEvent = (e: TrainEvent) => {
    switch (e.type) {
      case "info":
        say(e.message);
        break;
      case "step":
        if (e.step === 1) {
          bar = createProgress({ label: `epoch ${e.epoch}`, unit: "steps", enabled: tty });
        }
        bar.update(
          e.step,
          e.steps,
          `loss ${fmt(e.loss)} avg ${fmt(e.avgLoss)} lr ${e.lr.toExponential(2)}`,
        );
        if (e.step === e.steps) bar.done();
        break;
      case "epoch": {
        const r = e.record;
        if (json) {
          console.log(JSON.stringify({ ...r, isBest: e.isBest }));
          break;
        }
        bar.done();
        say(
          `Epoch ${r.epoch}/${config.epochs}: train loss ${fmt(r.trainLoss)}, val loss ${
            fmt(r.valLoss)
          }, ` +
            `R@1 ${fmt(r.metrics?.["recall@1"], 3)}, MRR@10 ${fmt(r.metrics?.["mrr@10"], 3)}, ` +
            `nDCG@10 ${fmt(r.metrics?.["ndcg@10"], 3)}, ${fmt(r.seconds, 2)}s`,
        );
        if (r.byDim) {
          say(
            "  per prefix: " + Object.entries(r.byDim).sort(([a], [b]) => Number(b) - Number(a))
              .map(([d, v]) =>
                `${d}-d val loss ${fmt(v.valLoss)} MRR@10 ${fmt(v.metrics["mrr@10"], 3)}`
              ).join(" · "),
          );
        }
        if (e.isBest) {
          say(
            `  New best ${e.select === "val_loss" ? "val loss" : e.select}! Saved to ${e.bestPath}`,
          );
        }
        break;
      }
      case "done":
        break;
    }
  };
  const result = await trainHead(config, data, {
    onEvent,
    signal: controller.signal,
    resumeDir: resume,
    backend,
  });
  Deno.removeSignalListener("SIGINT", onSigint);

  const best = result.best;
  const summary = [
    ``,
    `Training ${result.status} in ${result.seconds.toFixed(1)}s${
      result.stoppedEarly ? " (early stop)" : ""
    }.`,
    `Best epoch: ${best?.epoch} (${best?.select} ${fmt(best?.value)})`,
    `Val loss: ${fmt(result.history[0]?.valLoss)} at epoch 0 -> ${
      fmt(result.history.at(-1)?.valLoss)
    } at epoch ${result.history.at(-1)?.epoch}`,
    ``,
    `Validation retrieval (final head):`,
    formatMetricsTable(result.baseMetrics, result.finalMetrics),
    ``,
    `Checkpoints: ${result.outDir}/{best,final}.safetensors, report: ${result.outDir}/report.html`,
  ].join("\n");
  if (json) {
    console.log(JSON.stringify({
      done: true,
      status: result.status,
      outDir: result.outDir,
      best,
      base: result.baseMetrics,
      projected: result.finalMetrics,
      seconds: result.seconds,
    }));
  } else console.log(summary);
  if (result.status === "interrupted") Deno.exit(130);
}

if (import.meta.main) await runMain(main);
