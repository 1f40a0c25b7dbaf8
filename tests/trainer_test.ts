import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { resolveConfig, type TrainConfig } from "../lib/config.ts";
import { loadCheckpoint, readMetrics, readRunInfo } from "../lib/checkpoint.ts";
import { NonFiniteLossError, prepareTraining, trainHead } from "../lib/trainer.ts";
import { loadProjectionModel } from "../lib/inference.ts";
import { smallDataset } from "./fixtures.ts";

async function setup(count: number, flags: Partial<TrainConfig>) {
  const fx = await smallDataset(count);
  const config = resolveConfig({}, {
    data: fx.data,
    weights: fx.weights,
    cacheRoot: fx.cache,
    out: `${fx.dir}/run`,
    ...flags,
  });
  return { fx, config, data: await prepareTraining(config) };
}

Deno.test("trainer: overfits 32 examples (training loss falls by at least half)", async () => {
  const { config, data } = await setup(40, {
    epochs: 25,
    batchSize: 8,
    negatives: 3,
    lr: 0.02,
    valFraction: 0.2,
    warmupFraction: 0,
    weightDecay: 0,
  });
  assertEquals(data.train.length >= 30 && data.train.length <= 34, true);
  const result = await trainHead(config, data, { report: false });
  const first = result.history[1].trainLoss!;
  const last = result.history.at(-1)!.trainLoss!;
  assertLess(last, first / 2, `train loss ${first} -> ${last}`);
});

Deno.test("trainer: writes the checkpoint set; save -> load gives identical outputs", async () => {
  const { config, data } = await setup(48, { epochs: 2, batchSize: 16, negatives: 3 });
  const result = await trainHead(config, data);
  for (
    const f of [
      "best.safetensors",
      "final.safetensors",
      "optimizer.safetensors",
      "config.json",
      "metrics.jsonl",
      "report.html",
    ]
  ) {
    assert((await Deno.stat(`${result.outDir}/${f}`)).size > 0, f);
  }
  const metrics = await readMetrics(result.outDir);
  assertEquals(metrics.map((m) => m.epoch), [0, 1, 2]);
  assertEquals(metrics[0].trainLoss, undefined); // epoch 0 is measured before the first step
  const info = await readRunInfo(result.outDir);
  assertEquals(info.status, "complete");
  assertEquals(info.head.params, 262_144);
  assertEquals(info.dataset.splitSeed, config.seed);

  // Load the final head twice: through the checkpoint and through the inference API.
  const ckpt = await loadCheckpoint(result.outDir, {
    which: "final",
    fingerprint: data.encoder.fingerprint,
  });
  assertEquals([ckpt.outDim, ckpt.inDim], [256, 1024]);
  const model = await loadProjectionModel(result.outDir, {
    which: "final",
    model: data.encoder.dir,
    device: "cpu",
  });
  const texts = [data.val[0].query, data.val[0].positive];
  const a = await model.encode(texts);
  const b = await model.encode(texts);
  assertEquals(a.data, b.data);
  // The same vectors through the trainer's own embeddings and the saved weight.
  const row = data.rowOf.get(texts[0])!;
  const base = data.embeddings.slice(row * 1024, row * 1024 + 1024);
  const expected = new Float32Array(256);
  for (let o = 0; o < 256; o++) {
    let s = 0;
    for (let i = 0; i < 1024; i++) s += ckpt.weight[o * 1024 + i] * base[i];
    expected[o] = s;
  }
  const norm = Math.hypot(...expected);
  for (let o = 0; o < 256; o++) {
    assertLess(Math.abs(a.data[o] - expected[o] / norm), 1e-5);
  }
  await model.dispose();
});

Deno.test("trainer: resume continues at the next epoch with the same optimiser state", async () => {
  const { fx, config, data } = await setup(48, { epochs: 4, batchSize: 16, negatives: 3 });
  const full = await trainHead({ ...config, out: `${fx.dir}/full` }, data, { report: false });
  // Stop after epoch 2, then resume.
  const controller = new AbortController();
  const part = await trainHead({ ...config, out: `${fx.dir}/part` }, data, {
    report: false,
    signal: controller.signal,
    onEvent: (e) => {
      if (e.type === "epoch" && e.record.epoch === 2) controller.abort();
    },
  });
  assertEquals(part.status, "interrupted");
  assertEquals((await readRunInfo(`${fx.dir}/part`)).lastEpoch, 2);
  const resumed = await trainHead(config, data, { report: false, resumeDir: `${fx.dir}/part` });
  assertEquals(resumed.history.map((r) => r.epoch), [0, 1, 2, 3, 4]);
  const a = await loadCheckpoint(full.outDir, { which: "final" });
  const b = await loadCheckpoint(`${fx.dir}/part`, { which: "final" });
  assertEquals(b.weight, a.weight);
  assertEquals(resumed.history.at(-1)!.valLoss, full.history.at(-1)!.valLoss);
});

Deno.test("trainer: the NaN guard stops on a poisoned input and keeps the last good checkpoint", async () => {
  const { fx, config, data } = await setup(48, { epochs: 2, batchSize: 16, negatives: 3 });
  const poisoned = { ...data, embeddings: data.embeddings.slice() };
  const row = poisoned.rowOf.get(data.train[0].query)!;
  poisoned.embeddings[row * 1024] = NaN;
  await assertRejects(
    () => trainHead(config, poisoned, { report: false }),
    NonFiniteLossError,
    "the loss is NaN",
  );
  const info = await readRunInfo(`${fx.dir}/run`);
  assertEquals(info.status, "failed");
  const ckpt = await loadCheckpoint(`${fx.dir}/run`, { which: "final" });
  assertEquals(ckpt.weight.every(Number.isFinite), true);
});

Deno.test("trainer: validation loss after training is lower than at epoch 0", async () => {
  const { config, data } = await setup(120, { epochs: 3, batchSize: 32, negatives: 4 });
  const result = await trainHead(config, data, { report: false });
  assertGreater(result.history[0].valLoss, result.history.at(-1)!.valLoss);
  assertStringIncludes(Object.keys(result.finalMetrics).join(","), "mrr@10");
});

Deno.test("trainer: early stopping with --patience, and --select mrr@10 picks best by MRR", async () => {
  // lr 0: nothing improves after epoch 0, so patience 2 stops after epoch 2.
  const { config, data } = await setup(48, {
    epochs: 10,
    batchSize: 16,
    negatives: 3,
    lr: 0,
    patience: 2,
  });
  const result = await trainHead(config, data, { report: false });
  assertEquals(result.stoppedEarly, true);
  assertEquals(result.history.map((r) => r.epoch), [0, 1, 2]);
  assertEquals(result.best?.epoch, 0);

  const sel = await trainHead(
    { ...config, lr: 0.01, patience: 0, epochs: 3, select: "mrr@10" },
    data,
    {
      report: false,
    },
  );
  const mrrs = sel.history.map((r) => r.metrics!["mrr@10"]);
  assertEquals(sel.best?.select, "mrr@10");
  assertEquals(sel.best?.value, Math.max(...mrrs));
  assertEquals(sel.best?.epoch, sel.history[mrrs.indexOf(Math.max(...mrrs))].epoch);
});
