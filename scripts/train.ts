/**
 * `deno task train`: train the projection head on the frozen encoder's
 * cached embeddings. Flags override `--config`, which overrides defaults.
 *
 * @module
 */
import { CliError, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import {
  configFromFlags,
  readConfigFile,
  resolveConfig,
  TRAIN_COMMAND,
  type TrainConfig,
} from "../lib/train/config.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { preflightTrain } from "../lib/train/preflight.ts";
import { type Device, initBackend } from "../lib/core/backend.ts";
import { DEFAULT_MODEL_DIR, modelFingerprint } from "../lib/encoder/encoder.ts";
import { formatMetricsTable } from "../lib/eval/metrics.ts";
import { createProgress, encodeReporter } from "../lib/cli/progress.ts";
import { prepareTraining, trainHead } from "../lib/train/trainer.ts";
import type { TrainEvent } from "../lib/train/types.ts";
import { fileSha256, resumeChanges, resumeRefusal } from "../lib/run/resume_check.ts";
import { defaultOutDir, RunDir } from "../lib/run/run_dir.ts";

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
  const force = flags.force === true;
  const note = (m: string) => console.error(m);

  // Permissions, config and data are checked before anything is loaded or written.
  await requirePermissions("train", [
    { kind: "read", path: (flags.config as string | undefined) ?? "", flag: "--config" },
    { kind: "read", path: resume ?? "", flag: "--resume" },
  ]);
  // One writer per run directory: lock it before any heavy work. The lock is
  // released at the end, and by RunDir's unload handler on any exit
  // (errors exit through runMain); a new directory that never got an epoch
  // is removed then.
  let run: RunDir | undefined;
  // Precedence: defaults < resumed run's config < --config file < flags.
  let base: Partial<TrainConfig> = {};
  if (resume) {
    run = await RunDir.open(resume, { onInfo: note });
    base = run.info!.config;
  }
  const file = flags.config ? await readConfigFile(flags.config as string) : {};
  const config = resolveConfig({ ...base, ...file }, configFromFlags(flags));
  await preflightTrain(config, { resume });
  if (run?.info) {
    // --resume with other data, weights, model or split: refuse (or --force), before loading.
    const changes = resumeChanges(run.info, config, {
      dataSha256: await fileSha256(config.data),
      weightsSha256: await fileSha256(config.weights),
      fingerprint: await modelFingerprint(config.model || DEFAULT_MODEL_DIR).catch(() => undefined),
    });
    const refusal = resumeRefusal(run.dir, changes, force);
    if (refusal) throw new CliError(refusal.message);
  }
  run ??= await RunDir.create(config.out || defaultOutDir(), { onInfo: note });

  // Ctrl-C: before training there is nothing to save (exit; the unload
  // handler releases the run directory); during training the first one
  // finishes the step and saves, a second one exits at once (manifest.json
  // still names a whole epoch).
  const controller = new AbortController();
  let training = false;
  const onSigint = () => {
    if (!training || controller.signal.aborted) Deno.exit(130);
    console.error("\nInterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);

  const say = (line: string) => {
    if (!quiet && !json) console.log(line);
  };
  const ort = config.device === "auto" || config.device === "ort";
  const backend = ort ? "onnxruntime-cpu" : await initBackend(config.device as Device);
  const tty = Deno.stderr.isTerminal() && !quiet && !json;

  // Before a long cold encode: rate and ETA after the first seconds, then a bar
  // (terminal) or a plain line every 10 s (logs).
  const encodeBar = quiet || json ? undefined : encodeReporter({ label: "encode", tty, log: say });
  const data = await prepareTraining(
    config,
    (e) => e.type === "info" && say(e.message),
    (done, total) => encodeBar?.update(done, total),
  );
  encodeBar?.done();
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

  const hasVal = data.val.length > 0;
  training = true;

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
        if (e.isBest && !hasVal) say(`  Saved to ${e.bestPath} (no validation: best = last epoch)`);
        else if (e.isBest) {
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
    runDir: run,
    force,
    backend,
  });
  run.release();
  Deno.removeSignalListener("SIGINT", onSigint);

  const best = result.best;
  const validation = hasVal
    ? [
      `Best epoch: ${best?.epoch} (${best?.select} ${fmt(best?.value)})`,
      `Val loss: ${fmt(result.history[0]?.valLoss)} at epoch 0 -> ${
        fmt(result.history.at(-1)?.valLoss)
      } at epoch ${result.history.at(-1)?.epoch}`,
      ``,
      `Validation retrieval (final head):`,
      formatMetricsTable(result.baseMetrics, result.finalMetrics, {
        baseLabel: `base (${data.encoder.dim}-d)`,
        projectedLabel: `projected (${config.outDim}-d)`,
      }),
    ]
    : [
      `No validation split (--val-fraction 0): best.safetensors holds the last epoch ` +
      `(${result.history.at(-1)?.epoch}); evaluate with deno task eval --data FILE`,
    ];
  const summary = [
    ``,
    `Training ${result.status} in ${result.seconds.toFixed(1)}s${
      result.stoppedEarly ? " (early stop)" : ""
    }.`,
    ...validation,
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
