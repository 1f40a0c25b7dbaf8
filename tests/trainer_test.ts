import {
  assert,
  assertEquals,
  assertGreater,
  assertLess,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import { resolveConfig, type TrainConfig } from "../lib/train/config.ts";
import { loadCheckpoint, readMetrics, readRunInfo } from "../lib/run/checkpoint.ts";
import { NonFiniteLossError, prepareTraining, trainHead } from "../lib/train/trainer.ts";
import { sampleByQuery } from "../lib/train/validator.ts";
import { initBackend } from "../lib/core/backend.ts";
import { uniqueTexts } from "../lib/data/dataset.ts";
import { gatherRows, lookup, retrievalTask } from "../lib/eval/evaluation.ts";
import { orthogonalRows, pcaDirections } from "../lib/head/head.ts";
import { evaluateRetrieval } from "../lib/eval/metrics.ts";
import { normalizeRows } from "../lib/train/train_step.ts";
import { loadProjectionModel } from "../lib/head/inference.ts";
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
  // With a validation split the report carries the quality-vs-bytes comparison.
  const report = await Deno.readTextFile(`${result.outDir}/report.html`);
  assertStringIncludes(report, '<section id="compare"><h2>Quality vs bytes per vector</h2>');
  assertStringIncludes(report, "head-256 fp32");
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

Deno.test("trainer: --device cpu (tfjs autodiff reference) follows the onnxruntime step", async () => {
  const { fx, config, data } = await setup(48, { epochs: 2, batchSize: 16, negatives: 3 });
  const fast = await trainHead({ ...config, out: `${fx.dir}/ort` }, data, { report: false });
  const ref = await trainHead({ ...config, device: "cpu", out: `${fx.dir}/tfjs` }, data, {
    report: false,
  });
  const a = await loadCheckpoint(fast.outDir, { which: "final" });
  const b = await loadCheckpoint(ref.outDir, { which: "final" });
  let maxDiff = 0;
  for (let i = 0; i < a.weight.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a.weight[i] - b.weight[i]));
  }
  // Each AdamW step moves a weight by up to lr = 2e-3; allow 5 % of one step.
  assertLess(maxDiff, 1e-4, `max |ΔW| after ${fast.history.length - 1} epochs`);
  for (let e = 0; e < fast.history.length; e++) {
    const x = fast.history[e].valLoss, y = ref.history[e].valLoss;
    assertLess(Math.abs(x - y) / y, 1e-5, `epoch ${e} val loss ${x} vs ${y}`);
  }
});

Deno.test("trainer: --split-seed keeps the split while --seed changes the run; by default it follows --seed", async () => {
  const a = await setup(60, { epochs: 1, batchSize: 16, negatives: 3, seed: 1, splitSeed: 5 });
  const b = await setup(60, { epochs: 1, batchSize: 16, negatives: 3, seed: 2, splitSeed: 5 });
  const c = await setup(60, { epochs: 1, batchSize: 16, negatives: 3, seed: 2 });
  const queries = (d: typeof a.data) => d.val.map((e) => e.query).sort().join("|");
  assertEquals(queries(a.data), queries(b.data), "same split seed, same validation split");
  assertEquals(c.config.splitSeed, 2, "without --split-seed the split follows --seed");
  assert(queries(b.data) !== queries(c.data), "another split seed, another split");
  const ra = await trainHead(a.config, a.data, { report: false });
  const rb = await trainHead(b.config, b.data, { report: false });
  assert(ra.history[1].trainLoss !== rb.history[1].trainLoss, "another seed, another run");
  assertEquals(ra.baseMetrics, rb.baseMetrics, "one validation task for both seeds");
  assertEquals((await readRunInfo(rb.outDir)).dataset.splitSeed, 5);
});

Deno.test("trainer: --decay-to init with a strong decay keeps the head near its start", async () => {
  const flags = { epochs: 5, batchSize: 16, negatives: 3, decayTo: "init" as const };
  const free = await setup(60, { ...flags, weightDecay: 0 });
  const held = await setup(60, { ...flags, weightDecay: 400 });
  const start = orthogonalRows(held.config.outDim, held.data.encoder.dim, held.config.seed);
  const dist = async (r: Awaited<ReturnType<typeof trainHead>>) => {
    const w = (await loadCheckpoint(r.outDir, { which: "final" })).weight;
    let sq = 0;
    for (let i = 0; i < w.length; i++) sq += (w[i] - start[i]) ** 2;
    return Math.sqrt(sq);
  };
  const dFree = await dist(await trainHead(free.config, free.data, { report: false }));
  const dHeld = await dist(await trainHead(held.config, held.data, { report: false }));
  assertLess(dHeld, dFree / 2, `distance from the start: decay 400 ${dHeld}, no decay ${dFree}`);
});

Deno.test("trainer: sampleByQuery keeps every example of at most N seeded queries", () => {
  const ex = Array.from({ length: 30 }, (_, id) => ({
    id,
    query: `q${id % 10}`,
    positive: `p${id}`,
    negatives: [],
  }));
  assertEquals(sampleByQuery(ex, 10, 1), ex);
  const s = sampleByQuery(ex, 4, 1);
  const queries = new Set(s.map((e) => e.query));
  assertEquals(queries.size, 4);
  assertEquals(s.length, 12); // all 3 examples of each chosen query
  assertEquals(sampleByQuery(ex, 4, 1), s); // seeded
  assertEquals(s.map((e) => e.id), [...s.map((e) => e.id)].sort((x, y) => x - y));
});

Deno.test("trainer: --matryoshka 256,128,64: the 64-d prefix beats PCA-64 of the base on val MRR@10", async () => {
  // The committed data and the default model, as `deno task train --matryoshka 256,128,64`.
  const dir = await Deno.makeTempDir({ prefix: "phongtro-mat-" });
  const config = resolveConfig({}, { epochs: 10, matryoshka: [256, 128, 64], out: `${dir}/run` });
  const data = await prepareTraining(config);
  const result = await trainHead(config, data, { report: false });
  const info = await readRunInfo(result.outDir);
  assertEquals(info.config.matryoshka, [256, 128, 64]);
  const last = result.history.at(-1)!;
  assertEquals(Object.keys(last.byDim!).sort(), ["128", "256", "64"]);
  assertEquals(last.byDim!["256"].metrics["mrr@10"], last.metrics!["mrr@10"]);
  const mrr64 = last.byDim!["64"].metrics["mrr@10"];

  // PCA-64 of the base embeddings, fitted on the training split's texts, applied to the same
  // validation task (queries and listings of the val examples), with and without centering.
  await initBackend("auto"); // wasm: the PCA's 1024×1024 matmuls
  const D = data.encoder.dim;
  const rows = Int32Array.from(new Set(uniqueTexts(data.train).map((t) => data.rowOf.get(t)!)));
  const corpus = gatherRows(data.embeddings, D, rows);
  const pca = pcaDirections(corpus, D, 64, { seed: 42 });
  const mean = new Float64Array(D);
  for (let i = 0; i < rows.length; i++) {
    for (let t = 0; t < D; t++) mean[t] += corpus[i * D + t] / rows.length;
  }
  const task = retrievalTask(data.val);
  const table = { dim: D, data: data.embeddings, rowOf: data.rowOf };
  const project = (x: Float32Array, n: number, center: boolean) => {
    const out = new Float32Array(n * 64);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 64; k++) {
        let s = 0;
        for (let t = 0; t < D; t++) s += pca[k * D + t] * (x[i * D + t] - (center ? mean[t] : 0));
        out[i * 64 + k] = s;
      }
    }
    return normalizeRows(out, n, 64);
  };
  const q = lookup(table, task.queries), d = lookup(table, task.docs);
  for (const center of [false, true]) {
    const m = await evaluateRetrieval({
      queryVecs: project(q, task.queries.length, center),
      docVecs: project(d, task.docs.length, center),
      dim: 64,
      nq: task.queries.length,
      nd: task.docs.length,
      relevant: task.relevant,
    });
    assertGreater(mrr64, m["mrr@10"], `Matryoshka-64 ${mrr64} vs PCA-64 (center ${center})`);
  }
});
