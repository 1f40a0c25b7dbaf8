import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { loadCheckpoint, readMetrics, readRunInfo } from "../lib/run/checkpoint.ts";
import { runScript, smallDataset, TEST_PERMISSIONS } from "./fixtures.ts";

Deno.test("train CLI: --epochs 2 on a small dataset writes every file", async () => {
  const fx = await smallDataset(48);
  const out = `${fx.dir}/run`;
  const r = await runScript("train.ts", [
    "--epochs",
    "2",
    "--batch-size",
    "16",
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
  ]);
  assertEquals(r.code, 0, r.stderr + r.stdout);
  const lines = r.stdout.split("\n");
  assert(lines[0].startsWith("Model: lexical-1024"), `first line names the model: ${lines[0]}`);
  assertStringIncludes(r.stdout, "Backend: onnxruntime CPU");
  assertStringIncludes(r.stdout, "Trainable params: 262,144 / ");
  assertStringIncludes(r.stdout, "New best val loss! Saved to");
  assertStringIncludes(r.stdout, "Epoch 2/2");
  assertStringIncludes(
    r.stdout,
    `checkpoints/latest not moved: ${out} is not a directory directly`,
  );
  for (
    const f of [
      "best.safetensors",
      "final.safetensors",
      "config.json",
      "metrics.jsonl",
      "report.html",
    ]
  ) {
    assert((await Deno.stat(`${out}/${f}`)).size > 0, f);
  }
  // A second run finds every embedding in the cache; it starts at PCA (tfjs, which the
  // onnxruntime step path does not start itself) and decays toward it.
  const again = await runScript("train.ts", [
    "--init",
    "pca",
    "--decay-to",
    "init",
    "--epochs",
    "1",
    "--batch-size",
    "16",
    "--negatives",
    "3",
    "--json",
    "--data",
    fx.data,
    "--weights",
    fx.weights,
    "--cache-root",
    fx.cache,
    "--out",
    `${fx.dir}/run2`,
  ]);
  assertEquals(again.code, 0, again.stderr);
  const epochs = again.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(epochs[0].epoch, 0);
  assertEquals(epochs.at(-1).done, true);
  const info = await readRunInfo(`${fx.dir}/run2`);
  assertEquals([info.config.init, info.config.decayTo], ["pca", "init"]);
});

Deno.test("train CLI: bad flags name the flag and the allowed values", async () => {
  const r = await runScript("train.ts", ["--weighting", "sigmoid"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "--weighting must be one of exp|logit");
  const u = await runScript("train.ts", ["--epoch", "3"]);
  assertEquals(u.code, 2);
  assertStringIncludes(u.stderr, "unknown flag --epoch");
  // The run directory is locked before the data is read; a failure before the
  // first saved epoch leaves no run directory behind.
  const tmp = await Deno.makeTempDir();
  const d = await runScript("train.ts", [
    "--data",
    "/tmp/does-not-exist.json",
    "--out",
    `${tmp}/new/run`,
    "--cache-root",
    `${tmp}/cache`,
  ]);
  assertEquals(d.code, 1);
  assertStringIncludes(d.stderr, "/tmp/does-not-exist.json");
  assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), []);
});

Deno.test("train CLI: Ctrl-C (SIGINT) leaves a valid checkpoint marked interrupted", async () => {
  const fx = await smallDataset(48);
  const out = `${fx.dir}/run`;
  const child = new Deno.Command("deno", {
    args: [
      "run",
      ...TEST_PERMISSIONS,
      "scripts/train.ts",
      "--epochs",
      "100000",
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
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let seen = "";
  while (!seen.includes("Epoch 2/")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
  }
  child.kill("SIGINT");
  while (true) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += dec.decode(value);
  }
  const status = await child.status;
  await child.stderr.cancel();
  assertEquals(status.code, 130, seen);
  const info = await readRunInfo(out);
  assertEquals(info.status, "interrupted");
  const ckpt = await loadCheckpoint(out, { which: "final" });
  assertEquals(ckpt.weight.length, 256 * 1024);
  assertEquals(ckpt.weight.every(Number.isFinite), true);
  const partial = await loadCheckpoint(out, { which: "interrupted" });
  assertEquals(partial.metadata.status, "interrupted");
});

Deno.test("train CLI: --resume with other data is refused naming each field; --force resumes and records it", async () => {
  const fx = await smallDataset(48);
  const other = await smallDataset(48, 8);
  const out = `${fx.dir}/run`;
  const common = ["--batch-size", "16", "--negatives", "3", "--cache-root", fx.cache];
  const first = await runScript("train.ts", [
    ...common,
    "--epochs",
    "1",
    "--data",
    fx.data,
    "--weights",
    fx.weights,
    "--out",
    out,
  ]);
  assertEquals(first.code, 0, first.stderr);
  const manifest = await Deno.readTextFile(`${out}/manifest.json`);

  const refused = await runScript("train.ts", [
    "--resume",
    out,
    "--epochs",
    "2",
    "--data",
    other.data,
    "--seed",
    "7",
  ]);
  assertEquals(refused.code, 2, refused.stderr);
  assertStringIncludes(refused.stderr, `--data: ${fx.data} -> ${other.data}`);
  assertStringIncludes(refused.stderr, "--seed: 42 -> 7");
  assertStringIncludes(refused.stderr, "data sha256: ");
  assertStringIncludes(refused.stderr, "--force");
  assertEquals(refused.stdout, ""); // refused before loading anything
  assertEquals(await Deno.readTextFile(`${out}/manifest.json`), manifest);

  const forced = await runScript("train.ts", [
    "--resume",
    out,
    "--epochs",
    "2",
    "--data",
    other.data,
    "--force",
  ]);
  assertEquals(forced.code, 0, forced.stderr);
  assertStringIncludes(forced.stdout, "with changed settings (old -> new), forced (--force)");
  const info = await readRunInfo(out);
  assertEquals(info.dataset.path, other.data);
  assertEquals(info.resumes?.length, 1);
  assertEquals(info.resumes![0].forced, true);
  assertEquals(info.resumes![0].epoch, 1);
  assertEquals(info.resumes![0].changes.map((c) => c.field), ["--epochs", "--data", "data sha256"]);
  assertEquals((await readMetrics(out)).map((r) => r.epoch), [0, 1, 2]);
});
