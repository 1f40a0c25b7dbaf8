import { assert, assertEquals, assertLess, assertStringIncludes } from "./assert.ts";
import * as ort from "onnxruntime-node";
import { loadCheckpoint } from "../lib/run/checkpoint.ts";
import { pcaDirections, ProjectionHead } from "../lib/head/head.ts";
import { initBackend } from "../lib/core/backend.ts";
import { prefixNormalize } from "../lib/head/dims.ts";
import {
  compareMethods,
  formatCompareTable,
  linearProjector,
  pcaFit,
  pcaMethod,
  storageVariants,
  symmetricEigen,
  trainOverlap,
} from "../lib/eval/compare.ts";
import { compareFigure } from "../lib/report/compare_plot.ts";
import { Rng } from "../lib/core/rng.ts";
import { runScript, smallDataset, trainSmallRun } from "./fixtures.ts";

/**
 * A small trained run, and a copy of it posing as a Matryoshka run
 * (`config.matryoshka` written by hand: these tests are about the consumers
 * of the trained prefixes, not about training them).
 */
const fixture = (async () => {
  const fx = await smallDataset(60, 13);
  await trainSmallRun(fx);
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

/** Seeded data `[n, dim]` with a known spectrum: coordinate `j` has std `scale[j]`, then rotated. */
function spectrumData(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const rot: number[][] = [];
  for (let i = 0; i < dim; i++) {
    const v = Array.from({ length: dim }, () => rng.normal());
    for (const u of rot) {
      const d = v.reduce((a, x, j) => a + x * u[j], 0);
      for (let j = 0; j < dim; j++) v[j] -= d * u[j];
    }
    const norm = Math.hypot(...v);
    rot.push(v.map((x) => x / norm));
  }
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: dim }, (_, j) => rng.normal() * 3 * 0.8 ** j);
    for (let j = 0; j < dim; j++) {
      let s = 2; // an offset mean
      for (let c = 0; c < dim; c++) s += z[c] * rot[c][j];
      out[i * dim + j] = s;
    }
  }
  return out;
}

Deno.test("symmetricEigen: A v = λ v, orthonormal vectors, values decreasing; bad size refused", () => {
  const rng = new Rng(3);
  for (const n of [1, 2, 7, 40]) {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let c = 0; c < n; c++) {
      if (c > 0) assert(values[c] <= values[c - 1], `order at ${c}`);
      for (let r = 0; r < n; r++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[r * n + k] * vectors[k * n + c];
        assertLess(Math.abs(av - values[c] * vectors[r * n + c]), 1e-10);
      }
      for (let c2 = 0; c2 < n; c2++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors[k * n + c] * vectors[k * n + c2];
        assertLess(Math.abs(dot - (c === c2 ? 1 : 0)), 1e-10);
      }
    }
  }
  const diag = symmetricEigen(new Float64Array([1, 0, 0, 0, 5, 0, 0, 0, 3]), 3);
  assertEquals(Array.from(diag.values), [5, 3, 1]);
  let threw = false;
  try {
    symmetricEigen(new Float64Array(5), 2);
  } catch (e) {
    threw = true;
    assertStringIncludes(String(e), "5 values is not 2×2");
  }
  assert(threw);
});

Deno.test("pcaFit: the principal directions in order (as pcaDirections), prefixes = smaller fits", async () => {
  const n = 400, dim = 24;
  const x = spectrumData(n, dim, 11);
  const fit = await pcaFit(x, dim, 8, { seed: 5 });
  assertEquals([fit.k, fit.block, fit.iterations, fit.directions.length], [8, 24, 6, 8 * dim]);
  const ref = pcaDirections(x, dim, 8, { seed: 9, iterations: 200 }); // converged reference
  for (let r = 0; r < 8; r++) {
    let dot = 0, norm = 0;
    for (let c = 0; c < dim; c++) {
      dot += fit.directions[r * dim + c] * ref[r * dim + c];
      norm += fit.directions[r * dim + c] ** 2;
    }
    assertLess(Math.abs(norm - 1), 1e-5);
    assertLess(1 - Math.abs(dot), 1e-4); // the same direction, up to sign
  }
  // Mean of the fitted rows.
  for (let c = 0; c < dim; c++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * dim + c];
    assertLess(Math.abs(fit.mean[c] - m / n), 1e-5);
  }
  // A fit at 3 (a different seed and block) spans what the 8-fit's first 3 rows span.
  const small = await pcaFit(x, dim, 3, { seed: 1, oversample: 4 });
  assertEquals(small.block, 7);
  for (let r = 0; r < 3; r++) {
    let inSpan = 0;
    for (let p = 0; p < 3; p++) {
      let dot = 0;
      for (let c = 0; c < dim; c++) {
        dot += small.directions[r * dim + c] * fit.directions[p * dim + c];
      }
      inSpan += dot * dot;
    }
    assertLess(Math.abs(inSpan - 1), 1e-4);
  }
  await pcaFit(x.subarray(0, dim), dim, 2).then(
    () => assert(false, "should throw"),
    (e) => assertStringIncludes(String(e), "not >= 2 rows of 24"),
  );
  await pcaFit(x, dim, 25).then(
    () => assert(false, "should throw"),
    (e) => assertStringIncludes(String(e), "k=25 is not in 1..24"),
  );
});

Deno.test("pcaMethod: a prefix of a shared basis; a basis too small refused", async () => {
  const dim = 24;
  const x = spectrumData(200, dim, 2);
  const basis = await pcaFit(x, dim, 6);
  const a = await pcaMethod(x, dim, 4, 42, { basis });
  const b = linearProjector(basis.directions.subarray(0, 4 * dim), dim, 4);
  const xc = x.slice(0, 3 * dim).map((v, i) => v - basis.mean[i % dim]);
  const ya = a.project(x.subarray(0, 3 * dim), 3), yb = b.project(xc, 3);
  a.dispose?.();
  b.dispose();
  ya.forEach((v, i) => assertLess(Math.abs(v - yb[i]), 1e-6));
  await pcaMethod(x, dim, 7, 42, { basis }).then(
    () => assert(false, "should throw"),
    (e) => assertStringIncludes(String(e), "has 6 directions of 24, need 7 of 24"),
  );
});

Deno.test("linearProjector: x·Wᵀ normalised, in batches; bad shapes refused", () => {
  const p = linearProjector(new Float32Array([1, 0, 0, 0, 1, 0]), 3, 2, 2);
  const y = p.project(new Float32Array([3, 4, 5, 0, 2, 9, 6, 8, 1]), 3);
  p.dispose();
  [0.6, 0.8, 0, 1, 0.6, 0.8].forEach((v, i) => assertLess(Math.abs(y[i] - v), 1e-6));
  let msg = "";
  try {
    linearProjector(new Float32Array(5), 3, 2);
  } catch (e) {
    msg = String(e);
  }
  assertStringIncludes(msg, "weight has 5 values, expected 2 × 3");
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
