/**
 * One training step of the head (B=128, K=7, 1024→256, symmetric weighted
 * InfoNCE + clipping + AdamW) and its parts, each beside a peer measured in
 * the same run:
 *
 * - the step on onnxruntime (`OrtStep`, the default) vs its PyTorch twin
 *   (`bench/torch_step.py`, same maths, 1 and 2 threads) and vs the tfjs-wasm
 *   autodiff reference (`TfjsStep`, `--device wasm`);
 * - the forward matmul `[1152×1024]·[1024×256]`: tfjs-wasm `matMul` vs
 *   onnxruntime `MatMul`;
 * - gathering the batch's 1152 rows of a `[6825×1024]` matrix: tfjs-wasm
 *   `gather` vs typed-array row copies.
 *
 * Synthetic embeddings of the committed dataset's size. Run with
 * `deno task bench` (the table is printed first, then deno's own bench rows).
 *
 * @module
 */
import * as tf from "../lib/core/tf.ts";
import * as ort from "onnxruntime-node";
import { initBackend } from "../lib/core/backend.ts";
import { buildModel, DataType, node, valueInfo } from "../lib/core/onnx_build.ts";
import { Rng } from "../lib/core/rng.ts";
import { adamWUpdate, createState } from "../lib/train/optimizer.ts";
import { OrtStep, type StepBatch, type StepEngine } from "../lib/train/train_step.ts";
import { gatherRows } from "../lib/eval/evaluation.ts";
import { TfjsStep } from "../lib/train/train_step_tfjs.ts";
import { printTable, runPythonPeer, time } from "./peers.ts";

await initBackend("wasm");
const B = 128, K = 7, D = 1024, O = 256, N = 6825, ROWS = B * (2 + K);
const rng = new Rng(1);
const emb = new Float32Array(N * D);
for (let i = 0; i < emb.length; i++) emb[i] = rng.normal() / 32;
const rows = Int32Array.from({ length: ROWS }, () => rng.int(N));
const weights = new Float32Array(B * K).fill(1);
const ids = Array.from({ length: B }, (_, i) => i);
const spec = { temperature: 0.05, symmetric: true, weighting: "exp" as const };
const shape = { inDim: D, outDim: O, negatives: K };
const init = new Float32Array(O * D).map(() => rng.normal() / 32);

function stepper(engine: StepEngine) {
  const state = createState(init.slice());
  const x = new Float32Array(ROWS * D);
  return async () => {
    gatherRows(emb, D, rows, x);
    const batch: StepBatch = { x, size: B, weights, ids };
    const { grad } = await engine.lossAndGrad(batch, state.weight);
    adamWUpdate(state, grad, { lr: 1e-3, weightDecay: 0.01, clipNorm: 1 });
  };
}

const ortStep = await OrtStep.create(shape, spec);
const ortStep1 = await OrtStep.create(shape, spec, { threads: 1 });
const tfjsStep = new TfjsStep(shape, spec);
const stepOrt = stepper(ortStep);
const stepOrt1 = stepper(ortStep1);
const stepTfjs = stepper(tfjsStep);

// [1152×1024]·[1024×256]: tfjs-wasm matMul vs onnxruntime MatMul.
const xMat = new Float32Array(ROWS * D).map(() => rng.normal());
const wMat = new Float32Array(D * O).map(() => rng.normal());
const tfX = tf.tensor2d(xMat, [ROWS, D]), tfW = tf.tensor2d(wMat, [D, O]);
const tfMatMul = () => {
  const y = tf.matMul(tfX, tfW);
  y.dataSync();
  y.dispose();
};
const mmSession = await ort.InferenceSession.create(
  buildModel({
    name: "matmul",
    nodes: [node("MatMul", ["x", "w"], ["y"])],
    inputs: [valueInfo("x", DataType.FLOAT, ["n", D]), valueInfo("w", DataType.FLOAT, [D, O])],
    outputs: [valueInfo("y", DataType.FLOAT, ["n", O])],
  }),
  { executionProviders: ["cpu"], intraOpNumThreads: navigator.hardwareConcurrency },
);
const ortX = new ort.Tensor("float32", xMat, [ROWS, D]);
const ortW = new ort.Tensor("float32", wMat, [D, O]);
const ortMatMul = () => mmSession.run({ x: ortX, w: ortW });

// Gather 1152 rows: tf.gather vs typed-array copies.
const tfEmb = tf.tensor2d(emb, [N, D]);
const tfRows = tf.tensor1d(rows, "int32");
const tfGather = () => {
  const g = tf.gather(tfEmb, tfRows);
  g.dataSync();
  g.dispose();
};
const gatherBuf = new Float32Array(ROWS * D);
const jsGather = () => {
  gatherRows(emb, D, rows, gatherBuf);
};

const RUNS = 30;
const tOrt = await time(stepOrt, RUNS, 5);
const tTfjs = await time(stepTfjs, 10, 2);
const torch1 = await runPythonPeer("torch_step.py", ["--threads", "1", "--steps", String(RUNS)], 1);
const torch2 = await runPythonPeer("torch_step.py", ["--threads", "2", "--steps", String(RUNS)], 2);
const torch = torch1.ok && torch2.ok
  ? { ok: true as const, lines: [...torch1.lines, ...torch2.lines] }
  : torch1.ok
  ? torch1
  : torch2;
const tOrt2 = await time(stepOrt, RUNS, 2); // again after the peer, to see the drift
const tOrt1 = await time(stepOrt1, RUNS, 2);
const tTfMM = await time(tfMatMul, 20);
const tOrtMM = await time(ortMatMul, 20);
const tTfGather = await time(tfGather, 10);
const tJsGather = await time(jsGather, 50);

const threads = navigator.hardwareConcurrency;
const stepMs = Math.min(tOrt.median, tOrt2.median);
const rowsOut = [];
if (torch.ok) {
  const one = torch.lines.find((l) => l.threads === 1);
  if (one) {
    rowsOut.push({
      what: `training step B=${B} K=${K} 1024→256`,
      ours: `onnxruntime step (1 thread), median of ${RUNS}`,
      oursMs: tOrt1.median,
      peer: `PyTorch ${one.torch} twin, 1 thread(s), BLAS: ${one.blas}`,
      peerMs: one.median_ms as number,
    });
  }
  for (const l of torch.lines) {
    rowsOut.push({
      what: `training step B=${B} K=${K} 1024→256`,
      ours: `onnxruntime step (${threads} threads), median of 2×${RUNS}`,
      oursMs: stepMs,
      peer: `PyTorch ${l.torch} twin, ${l.threads} thread(s), BLAS: ${l.blas}`,
      peerMs: l.median_ms as number,
    });
  }
} else {
  rowsOut.push({
    what: `training step B=${B} K=${K}`,
    ours: `onnxruntime step (${threads} threads)`,
    oursMs: stepMs,
    peer: `PyTorch twin skipped: ${torch.why}`,
  });
}
rowsOut.push(
  {
    what: "training step, tfjs reference",
    ours: "onnxruntime step",
    oursMs: stepMs,
    peer: "tfjs-wasm autodiff (TfjsStep, --device wasm)",
    peerMs: tTfjs.median,
  },
  {
    what: `matmul [${ROWS}×${D}]·[${D}×${O}]`,
    ours: `onnxruntime MatMul (${threads} threads)`,
    oursMs: tOrtMM.median,
    peer: "tfjs-wasm matMul",
    peerMs: tTfMM.median,
  },
  {
    what: `gather ${ROWS} rows of [${N}×${D}]`,
    ours: "typed-array row copies",
    oursMs: tJsGather.median,
    peer: "tfjs-wasm gather",
    peerMs: tTfGather.median,
  },
);
printTable("Training step (medians; ratio = this project / peer, < 1 is faster)", rowsOut);
console.log(
  `onnxruntime step: ${tOrt.median.toFixed(2)} ms before the peer, ${
    tOrt2.median.toFixed(2)
  } ms after (min ${
    Math.min(tOrt.min, tOrt2.min).toFixed(2)
  } ms); GFLOP/s of the two big matmuls: ${(2 * 2 * ROWS * D * O / (stepMs * 1e6)).toFixed(0)}`,
);

Deno.bench(`train step (B=${B}, K=${K}, 1024→256, onnxruntime)`, {
  group: "step",
  baseline: true,
  n: 30,
  warmup: 3,
}, async () => {
  await stepOrt();
});
Deno.bench(`train step (B=${B}, K=${K}, 1024→256, tfjs-wasm reference)`, {
  group: "step",
  n: 5,
  warmup: 1,
}, async () => {
  await stepTfjs();
});
Deno.bench(`matmul [${ROWS}x${D}]·[${D}x${O}] onnxruntime`, {
  group: "matmul",
  baseline: true,
  n: 20,
}, async () => {
  await ortMatMul();
});
Deno.bench(`matmul [${ROWS}x${D}]·[${D}x${O}] tfjs-wasm`, { group: "matmul", n: 20 }, tfMatMul);
Deno.bench(`gather ${ROWS} rows typed-array`, { group: "gather", baseline: true, n: 50 }, jsGather);
Deno.bench(`gather ${ROWS} rows tfjs-wasm`, { group: "gather", n: 10 }, tfGather);
