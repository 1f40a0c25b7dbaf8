import * as tf from "../lib/core/tf.ts";
import "@tensorflow/tfjs-backend-wasm";
import { ok as assert, throws } from "node:assert";
import { initBackend } from "../lib/core/backend.ts";
import {
  choleskyQRFactor,
  l2Normalize,
  orthogonalRows,
  pcaDirections,
  ProjectionHead,
} from "../lib/head/head.ts";
import { Rng } from "../lib/core/rng.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

function assertAlmostEquals(actual: number, expected: number, tol: number, msg = ""): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${msg ? msg + ": " : ""}expected ${expected}, got ${actual} (tol ${tol})`);
  }
}

/** max |W Wᵀ - I| for row-major [rows, cols]. */
function orthError(w: Float32Array, rows: number, cols: number): number {
  let worst = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += w[i * cols + c] * w[j * cols + c];
      worst = Math.max(worst, Math.abs(dot - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

function randomData(seed: number, n: number, d: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * d }, () => rng.normal());
}

/** Fraction of the centered variance of `x` [n,d] kept by the rows of `w` [k,d]. */
function capturedVariance(x: Float32Array, n: number, d: number, w: Float32Array, k: number) {
  return tf.tidy(() => {
    const xt = tf.tensor2d(x, [n, d]);
    const xc = tf.sub(xt, tf.mean(xt, 0, true));
    const proj = tf.matMul(xc, tf.transpose(tf.tensor2d(w, [k, d])));
    return tf.sum(tf.square(proj)).dataSync()[0] / tf.sum(tf.square(xc)).dataSync()[0];
  });
}

Deno.test("head: default size is 1024 -> 256 with 262,144 parameters", () => {
  const head = ProjectionHead.create();
  assert(head.inDim === 1024 && head.outDim === 256);
  assert(head.paramCount === 262_144);
  assert(head.weight.shape[0] === 1024 && head.weight.shape[1] === 256);
  head.dispose();
});

Deno.test("head: orthogonal init has orthonormal rows and is deterministic per seed", () => {
  const a = ProjectionHead.create({ inDim: 96, outDim: 32, seed: 5 });
  const b = ProjectionHead.create({ inDim: 96, outDim: 32, seed: 5 });
  const c = ProjectionHead.create({ inDim: 96, outDim: 32, seed: 6 });
  const wa = a.getWeight();
  assert(orthError(wa, 32, 96) < 1e-5, `W Wᵀ - I: ${orthError(wa, 32, 96)}`);
  assert(wa.every((v, i) => v === b.getWeight()[i]), "same seed, same weight");
  assert(wa.some((v, i) => v !== c.getWeight()[i]), "other seed, other weight");
  assert(orthogonalRows(3, 3, 1).length === 9);
  throws(() => orthogonalRows(4, 3, 1), /cannot have 4 orthonormal rows/);
  tf.dispose([a, b, c].map((h) => h.weight));
});

Deno.test("head: outputs are unit norm and project() matches apply()", () => {
  const head = ProjectionHead.create({ inDim: 40, outDim: 12, seed: 3 });
  const n = 37;
  const x = randomData(1, n, 40);
  const viaApply = tf.tidy(() => head.apply(tf.tensor2d(x, [n, 40])).dataSync());
  const viaProject = head.project(x, n, 10); // several batches
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let c = 0; c < 12; c++) norm += viaProject[i * 12 + c] ** 2;
    assertAlmostEquals(Math.sqrt(norm), 1, 1e-5, `row ${i}`);
  }
  for (let i = 0; i < viaApply.length; i++) assertAlmostEquals(viaProject[i], viaApply[i], 1e-6);
  throws(() => head.project(x, n + 1), /not 38 rows of 40/);
  throws(() => head.apply(tf.zeros([2, 39]) as tf.Tensor2D), /expected \[n, 40\]/);
  head.dispose();
});

Deno.test("head: custom gradient equals the gradient of the plain formula", () => {
  const head = ProjectionHead.create({ inDim: 24, outDim: 8, seed: 9 });
  const n = 11;
  const xt = tf.tensor2d(randomData(2, n, 24), [n, 24]);
  const target = tf.tensor2d(randomData(3, n, 8), [n, 8]);
  const plain = (x: tf.Tensor, w: tf.Tensor) =>
    tf.sum(tf.mul(l2Normalize(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D)), target)) as tf.Scalar;
  const [gxPlain, gwPlain] = tf.grads(plain)([xt, head.weight]);
  // Custom path, gradients w.r.t. x and the variable.
  const custom = (x: tf.Tensor) =>
    tf.sum(tf.mul(head.apply(x as tf.Tensor2D), target)) as tf.Scalar;
  const gxCustom = tf.grad(custom)(xt);
  const { grads } = tf.variableGrads(() => custom(xt));
  const { grads: gradsNoX } = tf.variableGrads(() =>
    tf.sum(tf.mul(head.apply(xt, { inputGrad: false }), target)) as tf.Scalar
  );
  const close = (a: tf.Tensor, b: tf.Tensor, what: string) => {
    const av = a.dataSync();
    const bv = b.dataSync();
    assert(av.length === bv.length, what);
    for (let i = 0; i < av.length; i++) assertAlmostEquals(av[i], bv[i], 1e-5, `${what}[${i}]`);
  };
  close(gxCustom, gxPlain, "dX");
  close(grads[head.weight.name], gwPlain, "dW");
  close(gradsNoX[head.weight.name], gwPlain, "dW (inputGrad false)");
  tf.dispose([xt, target, gxPlain, gwPlain, gxCustom, grads[head.weight.name]]);
  tf.dispose(gradsNoX[head.weight.name]);
  head.dispose();
});

Deno.test("head: getWeight/setWeight roundtrip in [outDim, inDim] layout", () => {
  const a = ProjectionHead.create({ inDim: 6, outDim: 4, seed: 1 });
  const b = ProjectionHead.create({ inDim: 6, outDim: 4, seed: 2 });
  const w = Float32Array.from({ length: 24 }, (_, i) => i / 10);
  b.setWeight(w);
  assert(b.getWeight().every((v, i) => v === w[i]));
  // PyTorch layout: y = x Wᵀ, so row o of the weight gives output o.
  const x = new Float32Array([1, 0, 0, 0, 0, 0]);
  const raw = tf.tidy(() => tf.matMul(tf.tensor2d(x, [1, 6]), b.weight).dataSync());
  for (let o = 0; o < 4; o++) assertAlmostEquals(raw[o], w[o * 6], 1e-7);
  a.setWeight(b.getWeight());
  assert(a.getWeight().every((v, i) => v === w[i]));
  throws(() => a.setWeight(new Float32Array(23)), /expected 4x6 = 24 values, got 23/);
  a.dispose();
  b.dispose();
});

Deno.test("head: pca init captures more variance than orthogonal on low-rank data", () => {
  const n = 400, d = 64, k = 8, rank = 6;
  const rng = new Rng(4);
  const basis = Array.from({ length: rank }, () => Array.from({ length: d }, () => rng.normal()));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = basis.map((_, r) => rng.normal() * (rank - r));
    for (let c = 0; c < d; c++) {
      let v = 0.1 * rng.normal() + 3; // noise + a common offset (removed by centering)
      for (let r = 0; r < rank; r++) v += z[r] * basis[r][c];
      x[i * d + c] = v;
    }
  }
  const pca = ProjectionHead.create({ inDim: d, outDim: k, init: "pca", corpus: x, seed: 1 });
  const orth = ProjectionHead.create({ inDim: d, outDim: k, seed: 1 });
  const wp = pca.getWeight();
  assert(orthError(wp, k, d) < 1e-4, `pca rows orthonormal: ${orthError(wp, k, d)}`);
  const vp = capturedVariance(x, n, d, wp, k);
  const vo = capturedVariance(x, n, d, orth.getWeight(), k);
  assert(vp > 0.99, `pca captured ${vp}`);
  assert(vp > vo + 0.3, `pca ${vp} vs orthogonal ${vo}`);
  // Directions come in decreasing order of variance.
  const first = capturedVariance(x, n, d, wp.slice(0, d), 1);
  const second = capturedVariance(x, n, d, wp.slice(d, 2 * d), 1);
  assert(first > second, `${first} > ${second}`);
  throws(() => ProjectionHead.create({ inDim: d, outDim: k, init: "pca" }), /needs a corpus/);
  pca.dispose();
  orth.dispose();
});

Deno.test("head: pca finds the exact top eigenvector of a known covariance", () => {
  // Points along (3, 4)/5 with a little orthogonal spread.
  const x = new Float32Array([0, 0, 3, 4, 6, 8, -3, -4, 0.4, -0.3, -0.4, 0.3]);
  const w = pcaDirections(x, 2, 1, { seed: 3 });
  assertAlmostEquals(Math.abs(w[0]), 0.6, 1e-4);
  assertAlmostEquals(Math.abs(w[1]), 0.8, 1e-4);
  assert(w[0] * w[1] > 0);
  // k above the data rank still gives orthonormal rows.
  const wide = pcaDirections(randomData(5, 4, 10), 10, 6, { seed: 1 });
  assert(orthError(wide, 6, 10) < 1e-4, `rank-deficient: ${orthError(wide, 6, 10)}`);
});

Deno.test("head: wasm backend agrees with cpu (forward and gradient)", async () => {
  const n = 16;
  const x = randomData(8, n, 32);
  const run = () => {
    const head = ProjectionHead.create({ inDim: 32, outDim: 8, seed: 2 });
    const xt = tf.tensor2d(x, [n, 32]);
    const { value, grads } = tf.variableGrads(() =>
      tf.sum(tf.square(tf.sub(head.apply(xt, { inputGrad: false }), 0.1))) as tf.Scalar
    );
    const out = { v: value.dataSync()[0], g: grads[head.weight.name].dataSync().slice() };
    tf.dispose([xt, value, grads[head.weight.name]]);
    head.dispose();
    return out;
  };
  const cpu = run();
  assert(await tf.setBackend("wasm"));
  try {
    const wasm = run();
    assertAlmostEquals(wasm.v, cpu.v, 1e-4);
    for (let i = 0; i < cpu.g.length; i++) assertAlmostEquals(wasm.g[i], cpu.g[i], 1e-4);
  } finally {
    await tf.setBackend("cpu");
  }
});

// lib/core/backend.ts (tested here: it has no test file of its own).

Deno.test("backend: cpu, wasm and auto initialise; gpu fails with what to install", async () => {
  try {
    assert((await initBackend("cpu")) === "cpu");
    assert((await initBackend("wasm")) === "wasm");
    let fellBack = "";
    assert((await initBackend("auto", { onFallback: (r) => (fellBack = r) })) === "wasm");
    assert(fellBack === "", fellBack);
    let msg = "";
    try {
      await initBackend("gpu");
    } catch (e) {
      msg = (e as Error).message;
    }
    assert(msg.includes("no GPU backend available"), msg);
    assert(msg.includes("@tensorflow/tfjs-node-gpu"), msg);
    assert(msg.includes("--unstable-webgpu"), msg);
    assert(msg.includes("install"), msg);
    assert(tf.getBackend() === "wasm", "a failed gpu init leaves the backend alone");
    await assertRejects(() => initBackend("tpu" as "gpu"), /unknown device "tpu"/);
  } finally {
    await tf.setBackend("cpu");
  }
});

async function assertRejects(f: () => Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await f();
  } catch (e) {
    assert(re.test((e as Error).message), (e as Error).message);
    return;
  }
  throw new Error("expected a rejection");
}

Deno.test("choleskyQRFactor: Z R⁻¹ has orthonormal columns; bad size refused", () => {
  const m = 12, k = 4;
  const z = randomData(4, m, k); // [m, k]
  const g = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      for (let r = 0; r < m; r++) g[a * k + b] += z[r * k + a] * z[r * k + b];
    }
  }
  const rInv = choleskyQRFactor(g, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) assert(rInv[i * k + j] === 0, "upper");
  const q = new Float32Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let a = 0; a < k; a++) s += z[r * k + a] * rInv[a * k + b];
      q[r * k + b] = s;
    }
  }
  // Columns of q orthonormal: rows of its transpose.
  const qt = new Float32Array(k * m);
  for (let r = 0; r < m; r++) for (let b = 0; b < k; b++) qt[b * m + r] = q[r * k + b];
  assert(orthError(qt, k, m) < 1e-5, `orth ${orthError(qt, k, m)}`);
  let msg = "";
  try {
    choleskyQRFactor(new Float64Array(3), 2);
  } catch (e) {
    msg = String(e);
  }
  assert(msg.includes("3 values is not 2×2"), msg);
});
