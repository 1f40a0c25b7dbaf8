import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import {
  CheckpointError,
  type EpochRecord,
  loadCheckpoint,
  readMetrics,
  readRunInfo,
  type RunInfo,
} from "../lib/run/checkpoint.ts";
import { saveOptimizerState, saveWeight, writeMetrics, writeRunInfo } from "./run_fixtures.ts";
import { resolveConfig } from "../lib/train/config.ts";
import { readManifest } from "../lib/run/manifest.ts";
import {
  latestName,
  LOCK_FILE,
  normalizePath,
  RunDir,
  RunDirError,
  RunLockedError,
  type TrainState,
} from "../lib/run/run_dir.ts";
import { runScript, smallDataset, TEST_PERMISSIONS } from "./fixtures.ts";

const OUT = 2, IN = 3;

function fakeInfo(): RunInfo {
  return {
    format: "phongtro-head/v1",
    status: "running",
    created: "",
    updated: "",
    config: resolveConfig({}, { outDim: OUT }),
    encoder: { name: "tiny", dir: "x", fingerprint: "f".repeat(64), dim: IN, params: 10 },
    dataset: {
      path: "data/gen-data-set.json",
      sha256: "a".repeat(64),
      format: "native",
      examples: 2,
      train: 1,
      val: 1,
      splitSeed: 42,
      valFraction: 0.1,
    },
    head: { inDim: IN, outDim: OUT, params: IN * OUT },
    backend: "cpu",
    lastEpoch: 0,
    step: 0,
    best: null,
  };
}

function state(step: number): TrainState {
  const f = (k: number) => Float32Array.from({ length: OUT * IN }, (_, i) => step * 10 + i + k);
  return { weight: f(0), m: f(0.5), v: f(0.25), step };
}

/** A committed run at `epochs` (epoch 0 .. epochs), 3 steps per epoch, still locked. */
async function committedRun(dir: string, epochs: number, notes: string[] = []): Promise<RunDir> {
  const run = await RunDir.create(dir, { onInfo: (m) => notes.push(m) });
  const info = fakeInfo();
  const history: EpochRecord[] = [];
  for (let e = 0; e <= epochs; e++) {
    history.push({ epoch: e, valLoss: 5 - e });
    info.best = { epoch: e, select: "val_loss", value: 5 - e, record: history[e] };
    await run.commitEpoch({ epoch: e, state: state(3 * e), info, history, isBest: true });
  }
  return run;
}

const tmp = () => Deno.makeTempDir({ prefix: "run-dir-test-" });

Deno.test("run_dir: commits one manifest per epoch naming every file's sha256; resume reads it back", async () => {
  const dir = `${await tmp()}/run`;
  const run = await committedRun(dir, 2);
  run.release();
  assertEquals(await Deno.stat(`${dir}/${LOCK_FILE}`).catch(() => null), null);
  const m = (await readManifest(dir))!;
  assertEquals([m.epoch, m.step, m.status, m.generation], [2, 6, "running", 3]);
  assertEquals(Object.keys(m.files).sort(), [
    "best.safetensors",
    "config.json",
    "final.safetensors",
    "metrics.jsonl",
    "optimizer.safetensors",
  ]);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(names, [...Object.keys(m.files), "manifest.json"].sort());

  const again = await RunDir.open(dir);
  try {
    assertEquals(again.info!.lastEpoch, 2);
    assertEquals(again.history.map((r) => r.epoch), [0, 1, 2]);
    const st = await again.loadState([OUT, IN]);
    assertEquals(st, state(6));
    // Status commits keep the epoch; interrupted weights are a convenience file.
    again.info!.status = "interrupted";
    await again.commitStatus(again.info!, {
      interrupted: { weight: state(7).weight, epoch: 3, step: 7 },
    });
    assertEquals((await readManifest(dir))!.status, "interrupted");
    assertEquals((await loadCheckpoint(dir, { which: "interrupted" })).weight, state(7).weight);
    // The next epoch drops interrupted.safetensors (it describes a state the run moved past).
    again.info!.status = "running";
    await again.commitEpoch({
      epoch: 3,
      state: state(9),
      info: again.info!,
      history: [...again.history, { epoch: 3, valLoss: 1 }],
      isBest: false,
    });
    assertEquals(await Deno.stat(`${dir}/interrupted.safetensors`).catch(() => null), null);
  } finally {
    again.release();
  }
  assertEquals((await loadCheckpoint(dir, { which: "final" })).weight, state(9).weight);
  assertEquals((await loadCheckpoint(dir, { which: "best" })).weight, state(6).weight);
  assertEquals((await readMetrics(dir)).map((r) => r.epoch), [0, 1, 2, 3]);
});

Deno.test("run_dir: metrics never repeat an epoch", async () => {
  const dir = `${await tmp()}/run`;
  const run = await committedRun(dir, 2);
  try {
    const info = run.info ?? fakeInfo();
    const history = [{ epoch: 0, valLoss: 1 }, { epoch: 1, valLoss: 1 }, { epoch: 2, valLoss: 1 }];
    await assertRejects(
      () => run.commitEpoch({ epoch: 2, state: state(6), info, history, isBest: false }),
      RunDirError,
      "epoch 2 is already committed",
    );
    await assertRejects(
      () =>
        run.commitEpoch({
          epoch: 3,
          state: state(9),
          info,
          history: [...history, { epoch: 2, valLoss: 1 }, { epoch: 3, valLoss: 1 }],
          isBest: false,
        }),
      RunDirError,
      "epoch 2 follows epoch 2",
    );
  } finally {
    run.release();
  }
  assertEquals((await readMetrics(dir)).map((r) => r.epoch), [0, 1, 2]);
});

Deno.test("run_dir: a second writer is refused naming the holder's PID; a killed holder's lock is taken over", async () => {
  const dir = `${await tmp()}/run`;
  const script = `${await tmp()}/hold.ts`;
  await Deno.writeTextFile(
    script,
    `import { RunDir } from "${new URL("../lib/run/run_dir.ts", import.meta.url).href}";\n` +
      `await RunDir.create(${JSON.stringify(dir)}, { command: "holder" });\n` +
      `console.log("locked");\nawait new Promise((r) => setTimeout(r, 60_000));\n`,
  );
  const child = new Deno.Command("deno", {
    args: ["run", ...TEST_PERMISSIONS, script],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  assertStringIncludes(out, "locked");
  try {
    const err = await assertRejects(() => RunDir.create(dir), RunLockedError);
    assertEquals(err.holder?.pid, child.pid);
    assertStringIncludes(err.message, `PID ${child.pid}`);
    assertStringIncludes(err.message, "holder");
    await assertRejects(() => RunDir.open(dir), RunLockedError, `PID ${child.pid}`);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
  // The killed holder left its lock file; the kernel released its lock.
  assertStringIncludes(await Deno.readTextFile(`${dir}/${LOCK_FILE}`), `"pid":${child.pid}`);
  const notes: string[] = [];
  const run = await RunDir.create(dir, { onInfo: (m) => notes.push(m) });
  assertStringIncludes(notes.join("\n"), `left by PID ${child.pid}`);
  assertStringIncludes(notes.join("\n"), "stale lock");
  assertStringIncludes(await Deno.readTextFile(`${dir}/${LOCK_FILE}`), `"pid":${Deno.pid}`);
  // The same process cannot take it twice either.
  await assertRejects(() => RunDir.create(dir), RunLockedError, "in use by this process");
  run.release();
  // Nothing was committed: the directory this run created is gone again.
  assertEquals(await Deno.stat(dir).catch(() => null), null);
});

Deno.test("run_dir: open refuses a tampered or missing file, naming it", async () => {
  const root = await tmp();
  (await committedRun(`${root}/a`, 2)).release();
  const bytes = await Deno.readFile(`${root}/a/final.safetensors`);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(`${root}/a/final.safetensors`, bytes);
  await assertRejects(
    () => RunDir.open(`${root}/a`),
    RunDirError,
    "final.safetensors has sha256",
  );
  // Readers verify too.
  await assertRejects(
    () => loadCheckpoint(`${root}/a`, { which: "final" }),
    CheckpointError,
    "final.safetensors has sha256",
  );
  assertEquals((await loadCheckpoint(`${root}/a`, { which: "best" })).weight, state(6).weight);
  // The lock was released after the refusal.
  assertEquals(await Deno.stat(`${root}/a/${LOCK_FILE}`).catch(() => null), null);

  (await committedRun(`${root}/b`, 1)).release();
  await Deno.remove(`${root}/b/optimizer.safetensors`);
  const err = await assertRejects(() => RunDir.open(`${root}/b`), RunDirError);
  assertStringIncludes(err.message, "optimizer.safetensors is missing");
  assertStringIncludes(err.message, "cannot be resumed exactly");

  (await committedRun(`${root}/c`, 1)).release();
  await Deno.writeTextFile(`${root}/c/manifest.json`, "{");
  await assertRejects(() => RunDir.open(`${root}/c`), RunDirError, "manifest.json: invalid JSON");
  await assertRejects(() => readRunInfo(`${root}/c`), CheckpointError, "invalid JSON");
});

Deno.test("run_dir: open finishes an interrupted save and removes leftovers", async () => {
  const root = await tmp();
  const dir = `${root}/run`;
  (await committedRun(dir, 2)).release();
  // Killed after the manifest flipped, before final.safetensors was renamed into place:
  await Deno.rename(`${dir}/final.safetensors`, `${dir}/final.safetensors.next`);
  // ... and a readers sees the committed file meanwhile.
  assertEquals((await loadCheckpoint(dir, { which: "final" })).weight, state(6).weight);
  // Killed while staging the next generation: an uncommitted .next and a half-written tmp.
  await Deno.writeTextFile(`${dir}/best.safetensors.next`, "uncommitted");
  await Deno.writeTextFile(`${dir}/optimizer.safetensors.next.4242.0123abcd.tmp`, "half");
  await Deno.writeTextFile(`${dir}/config.json.4242.89abcdef.tmp`, "half");
  const notes: string[] = [];
  const run = await RunDir.open(dir, { onInfo: (m) => notes.push(m) });
  run.release();
  const text = notes.join("\n");
  assertStringIncludes(text, "final.safetensors moved into place");
  assertStringIncludes(text, "best.safetensors.next");
  assertStringIncludes(text, "config.json.4242.89abcdef.tmp");
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  assertEquals(names, [
    "best.safetensors",
    "config.json",
    "final.safetensors",
    "manifest.json",
    "metrics.jsonl",
    "optimizer.safetensors",
  ]);
});

Deno.test("run_dir: a run without a manifest is migrated when its files agree, else refused", async () => {
  const root = await tmp();
  const write = async (dir: string, finalEpoch: number, metricsEpochs: number[]) => {
    const info = { ...fakeInfo(), status: "complete" as const, lastEpoch: 1, step: 3 };
    info.best = { epoch: 1, select: "val_loss", value: 4, record: { epoch: 1, valLoss: 4 } };
    await writeRunInfo(dir, info);
    await saveWeight(dir, "final", state(3).weight, OUT, IN, { epoch: String(finalEpoch) });
    await saveWeight(dir, "best", state(3).weight, OUT, IN, { epoch: "1" });
    await saveOptimizerState(dir, { m: state(3).m, v: state(3).v, step: 3, shape: [OUT, IN] });
    await writeMetrics(dir, metricsEpochs.map((epoch) => ({ epoch, valLoss: 1 })));
  };
  await write(`${root}/ok`, 1, [0, 1]);
  const notes: string[] = [];
  const run = await RunDir.open(`${root}/ok`, { onInfo: (m) => notes.push(m) });
  assertStringIncludes(notes.join("\n"), "wrote one");
  assertEquals((await run.loadState([OUT, IN])).step, 3);
  run.release();
  assertEquals((await readManifest(`${root}/ok`))!.epoch, 1);

  // The old bug: final.safetensors moved on to epoch 2, config.json still says 1,
  // and metrics.jsonl repeats an epoch.
  await write(`${root}/mixed`, 2, [0, 1, 0]);
  const err = await assertRejects(() => RunDir.open(`${root}/mixed`), RunDirError);
  assertStringIncludes(err.message, "final.safetensors holds epoch 2, config.json says 1");
  assertStringIncludes(err.message, "epoch 0 follows epoch 1");
  assertEquals(await readManifest(`${root}/mixed`), null);
  // A run that never saved an epoch.
  await Deno.mkdir(`${root}/empty`);
  await assertRejects(() => RunDir.open(`${root}/empty`), RunDirError, "holds no saved epoch");
  await assertRejects(() => RunDir.open(`${root}/nope`), RunDirError, "no such run directory");
});

Deno.test("run_dir: a new run refuses a directory of other files and replaces an old run at its first commit", async () => {
  const root = await tmp();
  await Deno.mkdir(`${root}/data`);
  await Deno.writeTextFile(`${root}/data/notes.txt`, "mine");
  await assertRejects(() => RunDir.create(`${root}/data`), RunDirError, "notes.txt");
  assertEquals(await Deno.readTextFile(`${root}/data/notes.txt`), "mine");

  const dir = `${root}/run`;
  const old = await committedRun(dir, 3);
  old.info = fakeInfo();
  old.info.status = "interrupted";
  await old.commitStatus(old.info, { interrupted: { weight: state(1).weight, epoch: 4, step: 1 } });
  old.release();
  const notes: string[] = [];
  const run = await RunDir.create(dir, { onInfo: (m) => notes.push(m) });
  assertStringIncludes(notes.join("\n"), "already holds a run (epoch 3, interrupted)");
  // Until the new run commits, the old one is intact.
  assertEquals((await readManifest(dir))!.epoch, 3);
  await run.commitEpoch({
    epoch: 0,
    state: state(0),
    info: fakeInfo(),
    history: [{ epoch: 0, valLoss: 5 }],
    isBest: true,
  });
  run.release();
  const m = (await readManifest(dir))!;
  assertEquals([m.epoch, "interrupted.safetensors" in m.files], [0, false]);
  assertEquals(await Deno.stat(`${dir}/interrupted.safetensors`).catch(() => null), null);
});

Deno.test("run_dir: checkpoints/latest is moved for any spelling of a run directly inside checkpoints/", () => {
  const cwd = Deno.cwd();
  assertEquals(normalizePath("./a//b/../c/", "/repo"), "/repo/a/c");
  assertEquals(latestName("checkpoints/run1"), "run1");
  assertEquals(latestName("./checkpoints/run1/"), "run1");
  assertEquals(latestName(`${cwd}/checkpoints/run1`), "run1");
  assertEquals(latestName("checkpoints//x/../run1"), "run1");
  assertEquals(latestName("checkpoints/notebooks/exp"), null);
  assertEquals(latestName("/tmp/run1"), null);
  assertEquals(latestName("checkpoints"), null);
});

Deno.test("run_dir: two trainings on the same --out: the second exits non-zero at once, naming the first's PID", async () => {
  const fx = await smallDataset(48);
  const out = `${fx.dir}/run`;
  const args = [
    "--batch-size",
    "8",
    "--negatives",
    "3",
    "--data",
    fx.data,
    "--weights",
    fx.weights,
    "--cache-root",
    fx.cache,
    "--out",
    out,
  ];
  const first = new Deno.Command("deno", {
    args: ["run", ...TEST_PERMISSIONS, "scripts/train.ts", "--epochs", "100000", ...args],
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = first.stdout.getReader();
  let seen = "";
  while (!seen.includes("Epoch 1/")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  try {
    const second = await runScript("train.ts", ["--epochs", "2", "--seed", "2", ...args]);
    assertEquals(second.code, 1, second.stderr);
    assertStringIncludes(second.stderr, `in use by another training: PID ${first.pid}`);
    assertEquals(second.stdout, ""); // no work done: not even the model line
    // --resume of a run in progress is refused the same way.
    const third = await runScript("train.ts", ["--resume", out]);
    assertEquals(third.code, 1);
    assertStringIncludes(third.stderr, `PID ${first.pid}`);
  } finally {
    first.kill("SIGINT");
    await first.status;
    await reader.cancel();
  }
  const info = await readRunInfo(out);
  assertEquals(info.config.seed, 42);
  assert(["interrupted", "running"].includes(info.status), info.status);
});

Deno.test("run_dir: pointLatest moves <root>/latest for a run inside it, else says it did not", async () => {
  const root = await tmp();
  const a = await committedRun(`${root}/checkpoints/./run1/`, 0);
  assertEquals(await a.pointLatest(`${root}/checkpoints`), `${root}/checkpoints/latest -> run1`);
  a.release();
  assertEquals((await Deno.readTextFile(`${root}/checkpoints/latest`)).trim(), "run1");
  const b = await committedRun(`${root}/elsewhere/run2`, 0);
  const msg = await b.pointLatest(`${root}/checkpoints`);
  b.release();
  assertStringIncludes(msg, `${root}/checkpoints/latest not moved: ${root}/elsewhere/run2 is not`);
  assertStringIncludes(msg, "latest still names run1");
  assertEquals(await readRunInfo(`${root}/checkpoints/latest`).then((i) => i.lastEpoch), 0);
});

Deno.test("run_dir: Ctrl-C before the first epoch is saved (while encoding) leaves no run directory", async () => {
  const fx = await smallDataset(300, 5); // a cold cache: encoding takes a while
  const out = `${fx.dir}/new/run`;
  const child = new Deno.Command("deno", {
    args: [
      "run",
      ...TEST_PERMISSIONS,
      "scripts/train.ts",
      ...["--data", fx.data, "--weights", fx.weights, "--cache-root", fx.cache, "--out", out],
    ],
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("Model:")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  assert((await Deno.stat(`${out}/${LOCK_FILE}`)).isFile, "the lock is taken before encoding");
  child.kill("SIGINT");
  const status = await child.status;
  await reader.cancel();
  assertEquals(status.code, 130);
  assertEquals(await Deno.stat(`${fx.dir}/new`).catch(() => null), null);
});
