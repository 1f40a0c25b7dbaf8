import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { loadCheckpoint, readRunInfo } from "../lib/checkpoint.ts";
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
  // A second run finds every embedding in the cache.
  const again = await runScript("train.ts", [
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
});

Deno.test("train CLI: bad flags name the flag and the allowed values", async () => {
  const r = await runScript("train.ts", ["--weighting", "sigmoid"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "--weighting must be one of exp|logit");
  const u = await runScript("train.ts", ["--epoch", "3"]);
  assertEquals(u.code, 2);
  assertStringIncludes(u.stderr, "unknown flag --epoch");
  const d = await runScript("train.ts", ["--data", "/tmp/does-not-exist.json"]);
  assertEquals(d.code, 1);
  assertStringIncludes(d.stderr, "/tmp/does-not-exist.json");
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
