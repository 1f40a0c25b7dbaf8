import { assert, assertEquals, assertLess, assertStringIncludes } from "./assert.ts";
import * as ort from "onnxruntime-node";
import { resolveConfig } from "../lib/config.ts";
import { loadCheckpoint } from "../lib/checkpoint.ts";
import { prepareTraining, trainHead } from "../lib/trainer.ts";
import { ProjectionHead } from "../lib/head.ts";
import { initBackend } from "../lib/backend.ts";
import { prefixNormalize } from "../lib/dims.ts";
import {
  compareMethods,
  formatCompareTable,
  pcaMethod,
  storageVariants,
  trainOverlap,
} from "../lib/compare.ts";
import { compareFigure } from "../lib/compare_plot.ts";
import { Rng } from "../lib/rng.ts";
import { runScript, smallDataset } from "./fixtures.ts";

/**
 * A small trained run, and a copy of it posing as a Matryoshka run
 * (`config.matryoshka` written by hand: these tests are about the consumers
 * of the trained prefixes, not about training them).
 */
const fixture = (async () => {
  const fx = await smallDataset(60, 13);
  const config = resolveConfig({}, {
    epochs: 2,
    batchSize: 16,
    negatives: 3,
    data: fx.data,
    weights: fx.weights,
    cacheRoot: fx.cache,
    out: `${fx.dir}/run`,
    device: "cpu",
  });
  await trainHead(config, await prepareTraining(config), { report: false });
  const mat = `${fx.dir}/mat`;
  await Deno.mkdir(mat);
  for (const f of ["best.safetensors", "final.safetensors", "metrics.jsonl"]) {
    await Deno.copyFile(`${fx.dir}/run/${f}`, `${mat}/${f}`);
  }
  const info = JSON.parse(await Deno.readTextFile(`${fx.dir}/run/config.json`));
  info.config.matryoshka = [256, 128, 64];
  await Deno.writeTextFile(`${mat}/config.json`, JSON.stringify(info));
  return { ...fx, run: `${fx.dir}/run`, mat };
})();

function unit(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * dim }, () => rng.normal());
  return prefixNormalize(x, n, dim, dim);
}

Deno.test("compareMethods: one row per method × storage, same task; identical methods give identical metrics", async () => {
  const dim = 16, nd = 60;
  const data = unit(nd + 10, dim, 1);
  const texts = Array.from({ length: nd + 10 }, (_, i) => `t${i}`);
  const table = { dim, data, rowOf: new Map(texts.map((t, i) => [t, i])) };
  // Queries t60..t69, each relevant to doc i (a noisy copy would be nicer; any fixed task works).
  const task = {
    queries: texts.slice(nd),
    docs: texts.slice(0, nd),
    relevant: Array.from({ length: 10 }, (_, i) => [i]),
  };
  const pca = await pcaMethod(data, dim, 8);
  const rows = await compareMethods({
    task,
    table,
    methods: [
      { method: "base", dim, project: (x) => x },
      { method: "copy", dim, project: (x, n) => prefixNormalize(x, n, dim, dim) },
      pca,
    ],
    variants: storageVariants(4),
  });
  pca.dispose?.();
  assertEquals(rows.length, 12);
  assertEquals(rows.map((r) => r.label).slice(0, 4), [
    "base-16 fp32",
    "base-16 int8",
    "base-16 binary",
    "base-16 binary+rescore×4",
  ]);
  assertEquals(rows.map((r) => r.bytesPerVector).slice(8), [32, 8, 1, 1]);
  for (let i = 0; i < 4; i++) assertEquals(rows[i].metrics, rows[4 + i].metrics);
  for (const r of rows) {
    assert(r.msPerQuery >= 0);
    for (const v of Object.values(r.metrics)) assert(v >= 0 && v <= 1);
  }
  const text = formatCompareTable(rows);
  assertStringIncludes(text, "| method");
  assertStringIncludes(text, "bytes/vector");
  assertEquals(text.split("\n").length, 14);
  const fig = compareFigure(rows);
  assertEquals(fig.data.map((t) => t.name), ["base", "copy", "pca"]);
  const base = fig.data[0] as { x: number[]; y: number[] };
  assertEquals(base.x, [2, 2, 16, 64]); // sorted by size
  assertEquals(compareFigure(rows, { rescoredOnly: true }).data[0].x, [2, 16, 64]);
});

Deno.test("pcaMethod: centred projection onto the top directions, normalised", async () => {
  // Points spread along (1, 1, 0) around an offset mean: PCA-1 separates them by sign.
  const pts = [-2, -1, 1, 2].flatMap((t) => [5 + t, 5 + t, 3]);
  const m = await pcaMethod(new Float32Array(pts), 3, 1);
  const y = m.project(new Float32Array(pts), 4);
  m.dispose?.();
  const signs = Array.from(y, Math.sign);
  assert(signs[0] === signs[1] && signs[2] === signs[3] && signs[0] === -signs[3], `${y}`);
  for (const v of y) assertLess(Math.abs(Math.abs(v) - 1), 1e-5);
});

Deno.test("eval --compare: base, PCA at each trained dim, the head(s) at each trained dim, × 4 storages", async () => {
  const fx = await fixture;
  const r = await runScript("eval.ts", [
    "--checkpoint",
    fx.mat,
    "--checkpoint-mined",
    fx.run,
    "--cache-root",
    fx.cache,
    "--compare",
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  const methods = [
    ...new Set(out.rows.map((x: { method: string; dim: number }) => `${x.method}-${x.dim}`)),
  ];
  assertEquals(methods, [
    "base-1024",
    "pca-256",
    "pca-128",
    "pca-64",
    "head-256",
    "head-128",
    "head-64",
    "head-mined-256",
  ]);
  assertEquals(out.rows.length, methods.length * 4);
  assertEquals(out.train_overlap, { head: 0, "head-mined": 0 });
  // The full-size head evaluated here equals the plain eval's projected metrics.
  const plain = await runScript("eval.ts", [
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--json",
  ]);
  assertEquals(plain.code, 0, plain.stderr);
  const row = out.rows.find((x: { label: string }) => x.label === "head-mined-256 fp32");
  assertEquals(row.metrics, JSON.parse(plain.stdout).projected);
  const base = out.rows.find((x: { label: string }) => x.label === "base-1024 fp32");
  assertEquals(base.metrics, JSON.parse(plain.stdout).base);
  assertEquals(base.bytesPerVector, 4096);
  const table = await runScript("eval.ts", [
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--compare",
  ]);
  assertEquals(table.code, 0, table.stderr);
  assertStringIncludes(table.stdout, "| head   | 256  | binary+rescore×4 |");
});

Deno.test("eval --quantize and --dim: bytes per vector, rescore, prefix checks", async () => {
  const fx = await fixture;
  const run = (...a: string[]) => runScript("eval.ts", ["--cache-root", fx.cache, "--json", ...a]);
  const q = await run("--checkpoint", fx.run, "--quantize", "binary", "--rescore", "0");
  assertEquals(q.code, 0, q.stderr);
  const qo = JSON.parse(q.stdout);
  assertEquals(qo.bytes_per_vector, { base: 128, projected: 32 });
  assertEquals([qo.quantize, qo.rescore], ["binary", 0]);
  const i8 = JSON.parse((await run("--checkpoint", fx.run, "--quantize", "int8")).stdout);
  assertEquals(i8.bytes_per_vector, { base: 1024, projected: 256 });
  const d = await run("--checkpoint", fx.mat, "--dim", "64");
  assertEquals(d.code, 0, d.stderr);
  assertEquals(JSON.parse(d.stdout).dim, 64);
  const bad = await run("--checkpoint", fx.run, "--dim", "64");
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "--dim 64 is not a trained dimension");
  assertStringIncludes(bad.stderr, ": 256");
  const both = await run("--checkpoint", fx.mat, "--compare", "--quantize", "int8");
  assertEquals(both.code, 2);
  assertStringIncludes(both.stderr, "drop --dim/--quantize");
  const bad2 = await run("--checkpoint", fx.mat, "--dim", "100");
  assertEquals(bad2.code, 2);
  assertStringIncludes(bad2.stderr, "256, 128, 64");
});

Deno.test("search, encode, export take --dim; search takes --quantize", async () => {
  const fx = await fixture;
  const s = await runScript("search.ts", [
    "phòng trọ q10 có máy lạnh",
    "--checkpoint",
    fx.mat,
    "--data",
    fx.data,
    "--cache-root",
    fx.cache,
    "--dim",
    "64",
    "--quantize",
    "binary",
    "--k",
    "4",
    "--json",
  ]);
  assertEquals(s.code, 0, s.stderr);
  const so = JSON.parse(s.stdout);
  assertEquals([so.dim, so.quantize, so.rescore, so.bytes_per_vector], [64, "binary", 4, 8]);
  assertEquals(so.results.length, 4);
  const i8 = await runScript("search.ts", [
    "phòng trọ q10",
    "--checkpoint",
    fx.run,
    "--data",
    fx.data,
    "--cache-root",
    fx.cache,
    "--quantize",
    "int8",
  ]);
  assertEquals(i8.code, 0, i8.stderr);
  assertStringIncludes(i8.stdout, "256-d int8, 256 bytes/vector");
  const sBad = await runScript("search.ts", [
    "phòng",
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--dim",
    "64",
  ]);
  assertEquals(sBad.code, 2);
  assertStringIncludes(sBad.stderr, "not a trained dimension");

  const e = await runScript("encode.ts", [
    "phòng trọ q10",
    "--checkpoint",
    fx.mat,
    "--dim",
    "128",
    "--json",
  ]);
  assertEquals(e.code, 0, e.stderr);
  const eo = JSON.parse(e.stdout);
  assertEquals(eo.dim, 128);
  const full = JSON.parse(
    (await runScript("encode.ts", ["phòng trọ q10", "--checkpoint", fx.mat, "--json"])).stdout,
  );
  const expected = prefixNormalize(new Float32Array(full.vectors[0]), 1, 256, 128);
  let maxDiff = 0;
  eo.vectors[0].forEach((v: number, i: number) =>
    maxDiff = Math.max(maxDiff, Math.abs(v - expected[i]))
  );
  assertLess(maxDiff, 1e-5);
  const eBad = await runScript("encode.ts", ["x", "--checkpoint", fx.run, "--dim", "128"]);
  assertEquals(eBad.code, 2);

  const x = await runScript("export.ts", ["--checkpoint", fx.mat, "--dim", "64"]);
  assertEquals(x.code, 0, x.stderr);
  const session = await ort.InferenceSession.create(`${fx.mat}/head-64.onnx`);
  const n = 8;
  const rng = new Rng(5);
  const inp = Float32Array.from({ length: n * 1024 }, () => rng.normal());
  const out = await session.run({ embedding: new ort.Tensor("float32", inp, [n, 1024]) });
  const y = out[session.outputNames[0]];
  assertEquals(y.dims, [n, 64]);
  await initBackend("cpu");
  const ckpt = await loadCheckpoint(fx.mat);
  const head = ProjectionHead.create({ inDim: 1024, outDim: 256, seed: 0 });
  head.setWeight(ckpt.weight);
  const want = prefixNormalize(head.project(inp, n), n, 256, 64);
  head.dispose();
  let diff = 0;
  (y.data as Float32Array).forEach((v, i) => diff = Math.max(diff, Math.abs(v - want[i])));
  assertLess(diff, 1e-5);
  const xBad = await runScript("export.ts", ["--checkpoint", fx.run, "--dim", "64"]);
  assertEquals(xBad.code, 2);
  assertStringIncludes(xBad.stderr, "not trained with --matryoshka");
});

Deno.test("trainOverlap: evaluated queries found in a head's training split (normalised)", () => {
  const train = [
    { id: 0, query: "Phòng  Q10 ", positive: "p", negatives: [] },
    { id: 1, query: "nhà q3", positive: "p", negatives: [] },
  ];
  assertEquals(trainOverlap(["phòng q10", "ktx q1"], train), 1);
  assertEquals(trainOverlap(["ktx q1"], train), 0);
});
