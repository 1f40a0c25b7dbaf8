/**
 * Kill test: SIGKILL (or Ctrl-C twice) a real `scripts/train.ts` process at
 * many moments, including exact points inside checkpoint commits (through the
 * PHONGTRO_RUNDIR_PAUSE hook of lib/run/run_dir.ts), then resume each killed run
 * to the end. Every resume must reach bit-identical weights, AdamW state and
 * metrics as an uninterrupted run, or refuse with a clear message (which is
 * only allowed when no epoch was committed yet).
 *
 * The killed processes form a chain: each launch after the first is a CLI
 * `--resume` of the directory the previous kill left, and the chain's last
 * launch runs to the end. A copy of the directory after each kill is resumed
 * in this process (cheaper than another launch) and compared.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";
import { loadCheckpoint } from "../lib/run/checkpoint.ts";
import { resolveConfig, type TrainConfig } from "../lib/train/config.ts";
import { readManifest } from "../lib/run/manifest.ts";
import { Rng } from "../lib/core/rng.ts";
import { PAUSE_ENV, RunDir, RunDirError } from "../lib/run/run_dir.ts";
import { prepareTraining, trainHead } from "../lib/train/trainer.ts";
import { initBackend } from "../lib/core/backend.ts";
import { copyTree, smallDataset, TEST_PERMISSIONS } from "./fixtures.ts";

const EPOCHS = 3;
const TRAIN_FLAGS = ["--batch-size", "32", "--negatives", "3", "--epochs", String(EPOCHS)];

/** A training subprocess whose output is collected as it comes. */
class Child {
  readonly proc: Deno.ChildProcess;
  out = "";
  err = "";
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  readonly #pumps: Promise<void>[];
  #wake: (() => void)[] = [];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = new Deno.Command("deno", {
      args: ["run", ...TEST_PERMISSIONS, "scripts/train.ts", ...args],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#pumps = [
      this.#pump(this.proc.stdout, (s) => this.out += s),
      this.#pump(this.proc.stderr, (s) => this.err += s),
    ];
    this.status = this.proc.status.then(async (s) => {
      await Promise.all(this.#pumps);
      this.exited = true;
      this.#notify();
      return s;
    });
  }

  async #pump(stream: ReadableStream<Uint8Array>, add: (s: string) => void) {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      add(dec.decode(chunk, { stream: true }));
      this.#notify();
    }
  }

  #notify() {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Wait until `pred` holds (true) or the process has exited without it (false). */
  async waitFor(pred: () => boolean): Promise<boolean> {
    while (!pred()) {
      if (this.exited) return pred();
      await new Promise<void>((r) => this.#wake.push(r));
    }
    return true;
  }

  /** Lines of `--json` output that are epoch records. */
  epochLines(): number {
    return this.out.split("\n").filter((l) => l.startsWith('{"epoch"')).length;
  }

  kill(signal: Deno.Signal) {
    try {
      this.proc.kill(signal);
    } catch { /* already gone */ }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything that must be identical between two finished runs. */
async function summary(dir: string) {
  const run = await RunDir.open(dir, { onInfo: () => {} });
  try {
    const st = await run.loadState([256, 1024]);
    const best = (await loadCheckpoint(dir, { which: "best" })).weight;
    const history = run.history.map(({ seconds: _, ...r }) => r);
    return { ...st, best, history, status: run.info!.status };
  } finally {
    run.release();
  }
}

/** How one launch is stopped. */
type Moment =
  /** SIGKILL `delayMs` after the launch's `afterEpochs`-th epoch line (0: after launch). */
  | { kind: "kill"; afterEpochs: number; delayMs: number }
  /** SIGKILL inside the commit `ahead` generations on, at a random point of it. */
  | { kind: "commit"; ahead: number }
  /** Ctrl-C during training, and again `secondMs` later (any moment of the save). */
  | { kind: "ctrl-c twice"; afterEpochs: number; delayMs: number; secondMs: number }
  /** Ctrl-C during training, then SIGKILL inside the save it starts. */
  | { kind: "ctrl-c then kill"; point: string };

/** Points of an epoch commit (lib/run/run_dir.ts), in order. */
const EPOCH_POINTS = [
  "tmp:final.safetensors",
  "staged:final.safetensors",
  "tmp:optimizer.safetensors",
  "staged:config.json",
  "staged:metrics.jsonl",
  "tmp:manifest.json",
  "flipped",
  "renamed:final.safetensors",
  "renamed:optimizer.safetensors",
  "renamed:metrics.jsonl",
  "cleaned",
];
/** Points of the final status commit (config.json + report.html). */
const STATUS_POINTS = [
  "tmp:report.html",
  "staged:report.html",
  "tmp:manifest.json",
  "flipped",
  "renamed:config.json",
];
/** Points of the commit a first Ctrl-C makes (interrupted.safetensors + config.json). */
const INTERRUPT_POINTS = [
  "tmp:interrupted.safetensors",
  "staged:config.json",
  "flipped",
  "renamed:interrupted.safetensors",
];

Deno.test("kill test: SIGKILL and double Ctrl-C at random moments and inside commits; resume is exact or refused", async () => {
  const fx = await smallDataset(300, 11);
  const common = ["--data", fx.data, "--weights", fx.weights, "--cache-root", fx.cache];
  const config: TrainConfig = resolveConfig({}, {
    data: fx.data,
    weights: fx.weights,
    cacheRoot: fx.cache,
    batchSize: 32,
    negatives: 3,
    epochs: EPOCHS,
  });
  // Fill the embedding cache once; every launch below reads it.
  const data = await prepareTraining(config);

  // The uninterrupted run, twice: it must be deterministic to the bit.
  const refs: Awaited<ReturnType<typeof summary>>[] = [];
  let epochMs = 0, runMs = 0;
  for (const name of ["ref1", "ref2"]) {
    const t0 = performance.now();
    const c = new Child([...TRAIN_FLAGS, ...common, "--json", "--out", `${fx.dir}/${name}`]);
    const s = await c.status;
    runMs = Math.max(runMs, performance.now() - t0);
    assertEquals(s.code, 0, c.err);
    refs.push(await summary(`${fx.dir}/${name}`));
    epochMs = Math.max(epochMs, ...await loadHistorySeconds(`${fx.dir}/${name}`));
  }
  assertEquals(refs[1], refs[0], "two uninterrupted runs differ");
  const ref = refs[0];
  assertEquals(ref.history.map((r) => r.epoch), [0, 1, 2, 3]);
  assertEquals(ref.status, "complete");

  // The schedule: a fixed seed, so the same moments (as fractions of this machine's
  // run and epoch times) are tried on every run.
  const rng = new Rng(2026);
  const moments: Moment[] = [];
  for (let i = 0; i < 3; i++) {
    moments.push({ kind: "kill", afterEpochs: 0, delayMs: Math.round(rng.next() * 0.6 * runMs) });
  }
  for (let i = 0; i < 8; i++) {
    const delayMs = Math.round(rng.next() * 1.2 * epochMs);
    moments.push({ kind: "kill", afterEpochs: 1 + (i % EPOCHS), delayMs });
  }
  for (let i = 0; i < 9; i++) moments.push({ kind: "commit", ahead: 1 + rng.int(2) });
  for (let i = 0; i < 3; i++) {
    const delayMs = Math.round(rng.next() * 0.8 * epochMs);
    moments.push({ kind: "ctrl-c twice", afterEpochs: 1, delayMs, secondMs: rng.int(400) });
  }
  for (let i = 0; i < 2; i++) {
    moments.push({ kind: "ctrl-c then kill", point: rng.pick(INTERRUPT_POINTS) });
  }
  rng.shuffle(moments);

  let identical = 0, refused = 0, finishedFirst = 0, chainResumes = 0, chains = 1;
  const log: string[] = [];
  let dir = `${fx.dir}/chain1`;
  for (let t = 0; t < moments.length; t++) {
    const m = moments[t];
    let manifest = await readManifest(dir);
    // Epoch lines a launch here would print (a new run prints epoch 0 too).
    const remaining = manifest ? EPOCHS - manifest.epoch : EPOCHS + 1;
    const needs = m.kind === "kill" ? m.afterEpochs : m.kind === "commit" ? 0 : 2;
    if (remaining < needs || manifest?.status === "complete") {
      dir = `${fx.dir}/chain${++chains}`; // this chain is too far on for the moment: a new run
      manifest = null;
    }
    const resume = manifest !== null;
    const args = resume
      ? ["--resume", dir, "--json"]
      : [...TRAIN_FLAGS, ...common, "--json", "--out", dir];
    const gen = manifest?.generation ?? 0;
    const env: Record<string, string> = {};
    let label: string;
    let point = "";
    if (m.kind === "commit") {
      // An epoch commit while epochs remain, else the final status commit (the last one).
      const ahead = resume ? Math.min(m.ahead, EPOCHS - manifest!.epoch + 1) : m.ahead;
      const epoch = resume ? manifest!.epoch + ahead : ahead - 1;
      point = `${gen + ahead}:${rng.pick(epoch <= EPOCHS ? EPOCH_POINTS : STATUS_POINTS)}`;
      label = `SIGKILL at commit point ${point}`;
    } else if (m.kind === "ctrl-c then kill") {
      // Ctrl-C after the launch's first epoch line: the save is the commit after that epoch's.
      point = `${gen + 2}:${m.point}`;
      label = `Ctrl-C, then SIGKILL during the save at ${point}`;
    } else if (m.kind === "kill") {
      label = `SIGKILL ${m.delayMs} ms after ${
        m.afterEpochs ? `epoch line ${m.afterEpochs}` : "launch"
      }`;
    } else {
      label =
        `Ctrl-C ${m.delayMs} ms after epoch line ${m.afterEpochs}, again ${m.secondMs} ms later`;
    }
    if (point) env[PAUSE_ENV] = point;
    label += resume ? ` (--resume at epoch ${manifest!.epoch})` : " (new run)";
    if (resume) chainResumes++;

    const c = new Child(args, env);
    const paused = () => c.err.includes(`${PAUSE_ENV}: paused at ${point}`);
    if (m.kind === "commit") {
      await c.waitFor(paused);
      c.kill("SIGKILL");
    } else if (m.kind === "ctrl-c then kill") {
      await c.waitFor(() => c.epochLines() >= 1);
      c.kill("SIGINT");
      await c.waitFor(paused);
      c.kill("SIGKILL");
    } else if (m.kind === "kill") {
      if (m.afterEpochs > 0) await c.waitFor(() => c.epochLines() >= m.afterEpochs);
      await sleep(m.delayMs);
      c.kill("SIGKILL");
    } else {
      await c.waitFor(() => c.epochLines() >= m.afterEpochs);
      await sleep(m.delayMs);
      c.kill("SIGINT");
      await sleep(m.secondMs);
      c.kill("SIGINT");
    }
    const status = await c.status;
    if (status.success) {
      // It finished before the kill (possible for late random moments): compare it.
      finishedFirst++;
      assertEquals(await summary(dir), ref, `trial ${t}: a run that finished differs`);
      log.push(`trial ${t}: ${label}: finished before the kill, identical`);
      continue;
    }
    assert(
      status.code === 130 || status.signal === "SIGKILL",
      `trial ${t}: unexpected exit ${status.code} ${status.signal}: ${c.err}`,
    );

    // Resume a copy of the killed directory to the end, in this process.
    const snap = `${fx.dir}/snap${t}`;
    // (A kill before the lock was taken leaves no directory at all.)
    if (await Deno.stat(dir).catch(() => null)) await copyTree(dir, snap);
    const committed = await readManifest(snap);
    const state = committed ? `epoch ${committed.epoch} ${committed.status}` : "nothing";
    try {
      await initBackend("auto");
      const r = await trainHead({ ...config, out: snap }, data, {
        resumeDir: snap,
        report: false,
      });
      assertEquals(r.status, "complete");
      assertEquals(await summary(snap), ref, `trial ${t} (${label}): resumed run differs`);
      identical++;
      log.push(`trial ${t}: ${label}: ${state} committed; resumed: identical`);
    } catch (err) {
      if (!(err instanceof RunDirError)) throw err;
      assertMatch(
        err.message,
        /^cannot resume .*: (it holds no saved epoch|no such run directory)/,
      );
      assertEquals(committed, null, `trial ${t}: refused although an epoch was committed`);
      refused++;
      log.push(`trial ${t}: ${label}: nothing committed; resume refused: ${err.message}`);
    }
    // No leftovers in the resumed copy.
    const names = committed ? [...Deno.readDirSync(snap)].map((e) => e.name) : [];
    for (const name of names) {
      assert(!/\.tmp$|\.next$|^\.lock$/.test(name), `trial ${t}: ${snap}/${name} left over`);
    }
  }
  // The chain's last run: resume (or start) to the end through the CLI.
  const last = await readManifest(dir);
  if (last?.status !== "complete") {
    const c = new Child(
      last ? ["--resume", dir, "--json"] : [...TRAIN_FLAGS, ...common, "--json", "--out", dir],
    );
    assertEquals((await c.status).code, 0, c.err);
    if (last) chainResumes++;
  }
  assertEquals(await summary(dir), ref, "the chain of CLI resumes differs");

  console.log(log.join("\n"));
  console.log(
    `kill test: ${moments.length} trials: ${identical} resumed identical, ${refused} refused ` +
      `(no epoch committed), ${finishedFirst} finished before the kill (identical); ` +
      `${chainResumes} CLI --resume launches over ${chains} runs`,
  );
  assertEquals(identical + refused + finishedFirst, moments.length);
  assert(identical >= 15, `only ${identical} of ${moments.length} trials were resumed`);
});

/** Wall seconds of each epoch of a finished run, in ms. */
async function loadHistorySeconds(dir: string): Promise<number[]> {
  const text = await Deno.readTextFile(`${dir}/metrics.jsonl`);
  return text.trim().split("\n").map((l) => 1000 * (JSON.parse(l).seconds ?? 0));
}
