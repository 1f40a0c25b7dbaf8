/**
 * `deno task train`: train the projection head on the frozen encoder's
 * cached embeddings. Flags override `--config`, which overrides defaults.
 *
 * @module
 */
import { helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import {
  configFromFlags,
  readConfigFile,
  resolveConfig,
  TRAIN_COMMAND,
  usesOrt,
} from "../lib/train/config.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { preflightResume, preflightTrain } from "../lib/train/preflight.ts";
import { type Device, initBackend } from "../lib/core/backend.ts";
import { encodeReporter } from "../lib/cli/progress.ts";
import { TrainView } from "../lib/cli/train_view.ts";
import { prepareTraining, trainHead } from "../lib/train/trainer.ts";
import { defaultOutDir, RunDir } from "../lib/run/run_dir.ts";

async function main() {
  const { flags, help } = parseCommand(Deno.args, TRAIN_COMMAND);
  if (help) return console.log(helpText(TRAIN_COMMAND));
  const resume = flags.resume as string | undefined;
  const quiet = flags.quiet === true, json = flags.json === true, force = flags.force === true;
  const note = (m: string) => console.error(m);

  // Permissions, config, data and a resumed run's identity are checked before anything is loaded.
  await requirePermissions("train", [
    { kind: "read", path: (flags.config as string | undefined) ?? "", flag: "--config" },
    { kind: "read", path: resume ?? "", flag: "--resume" },
  ]);
  // One writer per run directory, locked before any heavy work (released at the end, and by
  // RunDir's unload handler on any exit; a new directory that never got an epoch is removed).
  const resumed = resume ? await RunDir.open(resume, { onInfo: note }) : undefined;
  // Precedence: defaults < resumed run's config < --config file < flags.
  const file = flags.config ? await readConfigFile(flags.config as string) : {};
  const config = resolveConfig({ ...resumed?.info?.config, ...file }, configFromFlags(flags));
  await preflightTrain(config, { resume });
  if (resumed?.info) await preflightResume(resumed.dir, resumed.info, config, force);
  const run = resumed ?? await RunDir.create(config.out || defaultOutDir(), { onInfo: note });

  // Ctrl-C: before training, exit (nothing to save); during training the first one finishes
  // the step and saves, a second one exits at once (manifest.json still names a whole epoch).
  const controller = new AbortController();
  let training = false;
  const onSigint = () => {
    if (!training || controller.signal.aborted) Deno.exit(130);
    console.error("\nInterrupt: finishing the current step and saving (Ctrl-C again to quit now)");
    controller.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);

  const tty = Deno.stderr.isTerminal() && !quiet && !json;
  const view = new TrainView({ quiet, json, tty, epochs: config.epochs });
  const backend = usesOrt(config) ? "onnxruntime-cpu" : await initBackend(config.device as Device);
  // Embeddings from the cache (a long cold encode shows its rate, ETA and a bar or log lines).
  const encodeBar = quiet || json
    ? undefined
    : encodeReporter({ label: "encode", tty, log: (l) => view.say(l) });
  const data = await prepareTraining(
    config,
    (e) => view.onEvent(e),
    (done, total) => encodeBar?.update(done, total),
  );
  encodeBar?.done();
  view.header(config, data, backend);

  training = true;
  const result = await trainHead(config, data, {
    onEvent: (e) => view.onEvent(e),
    signal: controller.signal,
    runDir: run,
    force,
    backend,
  });
  run.release();
  Deno.removeSignalListener("SIGINT", onSigint);
  view.summary(result, config, data);
  if (result.status === "interrupted") Deno.exit(130);
}

if (import.meta.main) await runMain(main);
