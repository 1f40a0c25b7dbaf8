import * as tf from "../lib/core/tf.ts";
import "@tensorflow/tfjs-backend-wasm";
import { assert, assertEquals, assertLess, assertThrows } from "./assert.ts";
import { matryoshkaInfoNCE, weightedInfoNCE } from "../lib/train/loss.ts";
import { Rng } from "../lib/core/rng.ts";
import { adamWUpdate, createState } from "../lib/train/optimizer.ts";
import { gatherRows } from "../lib/eval/evaluation.ts";
import {
  lossInputs,
  type LossSpec,
  OrtStep,
  resolveDims,
  type StepBatch,
} from "../lib/train/train_step.ts";
import { TfjsStep } from "../lib/train/train_step_tfjs.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

interface Case {
  b: number;
  k: number;
  d: number;
  o: number;
  x: Float32Array;
  w: Float32Array;
  weights: Float32Array;
  ids: number[];
}

function randomCase(seed: number, b: number, k: number, d: number, o: number): Case {
  const rng = new Rng(seed);
  const x = new Float32Array(b * (2 + k) * d).map(() => rng.normal());
  const w = new Float32Array(o * d).map(() => rng.normal() * 0.3);
  // Some zero weights (exactly neutral under exp), the rest in [0.5, 3).
  const weights = new Float32Array(b * k).map((_, i) => i % 5 === 3 ? 0 : 0.5 + 2.5 * rng.next());
  // Rows 1 and 3 share a query group: each is a false negative of the other.
  const ids = Array.from({ length: b }, (_, i) => i === 3 ? 1 : i);
  return { b, k, d, o, x, w, weights, ids };
}

/** The tfjs autodiff reference: loss and dL/dW [o, d] through lib/train/loss.ts. */
function reference(c: Case, spec: LossSpec): { loss: number; grad: Float32Array } {
  const wv = tf.variable(tf.tensor2d(c.w, [c.o, c.d]));
  const { value, grads } = tf.variableGrads(() => {
    const y = tf.matMul(tf.tensor2d(c.x, [c.b * (2 + c.k), c.d]), wv, false, true);
    const yn = tf.div(y, tf.sqrt(tf.add(tf.sum(tf.square(y), -1, true), 1e-12))) as tf.Tensor2D;
    const q = yn.slice([0, 0], [c.b, -1]) as tf.Tensor2D;
    const p = yn.slice([c.b, 0], [c.b, -1]) as tf.Tensor2D;
    const hn = yn.slice([2 * c.b, 0], [c.b * c.k, -1]).reshape([c.b, c.k, c.o]) as tf.Tensor3D;
    const wt = tf.tensor2d(c.weights, [c.b, c.k]);
    const opts = { ...spec, positiveIds: c.ids };
    return spec.dims
      ? matryoshkaInfoNCE(q, p, hn, wt, { ...opts, dims: spec.dims })
      : weightedInfoNCE(q, p, hn, wt, opts);
  }, [wv]);
  const out = { loss: value.dataSync()[0], grad: grads[wv.name].dataSync() as Float32Array };
  tf.dispose([value, grads, wv]);
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  msg: string,
) {
  assertEquals(actual.length, expected.length, msg);
  const scale = Math.max(maxAbs(expected), 1e-6);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / scale;
    if (!(err <= tol)) {
      throw new Error(`${msg}: element ${i}: ${actual[i]} vs ${expected[i]} (rel. err ${err})`);
    }
  }
}

const batchOf = (c: Case): StepBatch => ({ x: c.x, size: c.b, weights: c.weights, ids: c.ids });

Deno.test("train_step: loss and gradient match tfjs autodiff for every option", async () => {
  const c = randomCase(1, 6, 3, 16, 8);
  for (const weighting of ["exp", "logit"] as const) {
    for (const symmetric of [true, false]) {
      for (const temperature of [0.05, 1]) {
        const spec = { temperature, symmetric, weighting };
        const step = await OrtStep.create({ inDim: c.d, outDim: c.o, negatives: c.k }, spec);
        const got = await step.lossAndGrad(batchOf(c), c.w);
        const ref = reference(c, spec);
        const what = `${weighting} symmetric=${symmetric} τ=${temperature}`;
        assertLess(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss), 1e-6, `${what} loss`);
        assertClose(got.grad, ref.grad, 1e-4, `${what} grad`);
        const lossOnly = await step.loss(batchOf(c), c.w);
        assertEquals(lossOnly.loss, got.loss, `${what}: the loss graph gives the same loss`);
        await step.dispose();
      }
    }
  }
});

Deno.test("train_step: Matryoshka loss and gradient match matryoshkaInfoNCE autodiff", async () => {
  const c = randomCase(2, 5, 2, 12, 8);
  const spec = {
    temperature: 0.1,
    symmetric: true,
    weighting: "exp" as const,
    dims: [8, 4, 2],
    dimWeights: [1, 0.5, 2],
  };
  const step = await OrtStep.create({ inDim: c.d, outDim: c.o, negatives: c.k }, spec);
  const got = await step.lossAndGrad(batchOf(c), c.w);
  const ref = reference(c, spec);
  assertLess(Math.abs(got.loss - ref.loss) / ref.loss, 1e-6, "loss");
  assertClose(got.grad, ref.grad, 1e-4, "grad");
  // Per-prefix losses: each is the plain weighted InfoNCE of that prefix.
  for (let i = 0; i < 3; i++) {
    const one = reference(c, { ...spec, dims: [spec.dims[i]], dimWeights: [1] });
    assertLess(Math.abs(got.losses[i] - one.loss) / one.loss, 1e-6, `prefix ${spec.dims[i]}`);
  }
  // The tfjs engine gives the same numbers.
  const tfStep = new TfjsStep({ inDim: c.d, outDim: c.o, negatives: c.k }, spec);
  const viaTf = await tfStep.lossAndGrad(batchOf(c), c.w);
  assertLess(Math.abs(viaTf.loss - got.loss) / got.loss, 1e-6, "TfjsStep loss");
  assertClose(viaTf.grad, got.grad, 1e-4, "TfjsStep grad");
  await tfStep.dispose();
  await step.dispose();
});

Deno.test("train_step: gradient matches central finite differences of the ONNX loss", async () => {
  const c = randomCase(3, 4, 2, 6, 4);
  for (const weighting of ["exp", "logit"] as const) {
    const spec = { temperature: 0.5, symmetric: true, weighting, dims: [4, 2] };
    const step = await OrtStep.create({ inDim: c.d, outDim: c.o, negatives: c.k }, spec);
    const { grad } = await step.lossAndGrad(batchOf(c), c.w);
    const h = 1e-2;
    for (let i = 0; i < c.w.length; i++) {
      const at = async (delta: number) => {
        const w = c.w.slice();
        w[i] += delta;
        return (await step.loss(batchOf(c), w)).loss;
      };
      // Central differences at h and h/2, Richardson-extrapolated (error O(h⁴)).
      const d1 = (await at(h) - await at(-h)) / (2 * h);
      const d2 = (await at(h / 2) - await at(-h / 2)) / h;
      const numeric = (4 * d2 - d1) / 3;
      const tol = 2e-3 * Math.max(Math.abs(numeric), 0.1);
      assertLess(
        Math.abs(grad[i] - numeric),
        tol,
        `${weighting} dL/dW[${i}]: ${grad[i]} vs ${numeric}`,
      );
    }
    await step.dispose();
  }
});

Deno.test("train_step: K = 0, and batches of any size through the same sessions", async () => {
  const c0 = randomCase(4, 5, 0, 8, 4);
  const spec = { temperature: 0.05, symmetric: true, weighting: "exp" as const };
  const s0 = await OrtStep.create({ inDim: 8, outDim: 4, negatives: 0 }, spec);
  const got0 = await s0.lossAndGrad(batchOf(c0), c0.w);
  const ref0 = reference(c0, spec);
  assertLess(Math.abs(got0.loss - ref0.loss) / ref0.loss, 1e-6, "K=0 loss");
  assertClose(got0.grad, ref0.grad, 1e-4, "K=0 grad");
  await s0.dispose();
  const step = await OrtStep.create({ inDim: 8, outDim: 4, negatives: 2 }, spec);
  for (const b of [2, 3, 7]) {
    const c = randomCase(10 + b, b, 2, 8, 4);
    const got = await step.lossAndGrad(batchOf(c), c.w);
    const ref = reference(c, spec);
    assertLess(Math.abs(got.loss - ref.loss) / ref.loss, 1e-6, `B=${b} loss`);
    assertClose(got.grad, ref.grad, 1e-4, `B=${b} grad`);
  }
  const c = randomCase(5, 3, 2, 8, 4);
  await assertRejectsMsg(() => step.lossAndGrad({ ...batchOf(c), size: 1 }, c.w), "at least 2");
  await assertRejectsMsg(
    () => step.lossAndGrad({ ...batchOf(c), x: c.x.subarray(8) }, c.w),
    "expected B(2+K)·D",
  );
  await step.dispose();
});

async function assertRejectsMsg(fn: () => Promise<unknown>, includes: string) {
  try {
    await fn();
  } catch (err) {
    assert((err as Error).message.includes(includes), (err as Error).message);
    return;
  }
  throw new Error(`expected a rejection mentioning "${includes}"`);
}

Deno.test("train_step: stable at τ = 0.01 with weights up to 1e6", async () => {
  const c = randomCase(6, 8, 3, 16, 8);
  c.weights[0] = 1e6;
  c.weights[5] = 1e-6;
  // A negative equal to its query: s/τ = 100.
  c.x.copyWithin(2 * 8 * 16, 0, 16);
  const spec = { temperature: 0.01, symmetric: true, weighting: "exp" as const };
  const step = await OrtStep.create({ inDim: 16, outDim: 8, negatives: 3 }, spec);
  const got = await step.lossAndGrad(batchOf(c), c.w);
  assert(Number.isFinite(got.loss), `loss ${got.loss}`);
  assert(got.grad.every(Number.isFinite), "gradient finite");
  const ref = reference(c, spec);
  assertLess(Math.abs(got.loss - ref.loss) / ref.loss, 1e-5, "loss");
  assertClose(got.grad, ref.grad, 1e-3, "grad");
  await step.dispose();
});

Deno.test("train_step: lossInputs masks false negatives and encodes both weightings", () => {
  const spec = { temperature: 0.05, symmetric: true, weighting: "exp" as const };
  const li = lossInputs(new Float32Array([2, 0, 1, 0.5]), [7, 7], 2, spec);
  assertEquals(Array.from(li.simBias), [0, -1e30, -1e30, 0].map(Math.fround));
  assertEquals(Array.from(li.hnBias), [Math.log(2), -1e30, 0, Math.log(0.5)].map(Math.fround));
  assertEquals(Array.from(li.hnScale), [1, 1, 1, 1]);
  assertEquals(Array.from(li.coef), [0.25, 0.25]);
  const lg = lossInputs(new Float32Array([2, 0]), [1, 2], 1, {
    ...spec,
    weighting: "logit",
    symmetric: false,
  });
  assertEquals(Array.from(lg.hnScale), [2, 0]);
  assertEquals(Array.from(lg.hnBias), [0, 0]);
  assertEquals(Array.from(lg.coef), [0.5, 0]);
  assertThrows(() => lossInputs(new Float32Array(3), [1, 2], 2, spec), RangeError, "3 weights");
});

Deno.test("train_step: adamWUpdate follows the AdamW formula with clipping", () => {
  const s = createState(new Float32Array([1, -2, 0.5]));
  const grads = [new Float32Array([3, 4, 0]), new Float32Array([0.1, -0.2, 0.3])];
  const opts = { lr: 0.1, weightDecay: 0.01, clipNorm: 1 };
  // Hand-written reference in float64.
  const w = [1, -2, 0.5], m = [0, 0, 0], v = [0, 0, 0];
  grads.forEach((g, t) => {
    const norm = Math.hypot(...g);
    const scale = norm > 1 ? 1 / norm : 1;
    for (let i = 0; i < 3; i++) {
      const gi = g[i] * scale;
      m[i] = 0.9 * m[i] + 0.1 * gi;
      v[i] = 0.999 * v[i] + 0.001 * gi * gi;
      const mh = m[i] / (1 - 0.9 ** (t + 1)), vh = v[i] / (1 - 0.999 ** (t + 1));
      w[i] -= 0.1 * (mh / (Math.sqrt(vh) + 1e-8) + 0.01 * w[i]);
    }
    const got = adamWUpdate(s, g, opts);
    assertLess(Math.abs(got - norm), 1e-6, "returns the norm before clipping");
  });
  assertEquals(s.step, 2);
  for (let i = 0; i < 3; i++) assertLess(Math.abs(s.weight[i] - w[i]), 1e-6, `w[${i}]`);
  assertThrows(() => adamWUpdate(s, new Float32Array(2), opts), RangeError, "2 values");
});

Deno.test("train_step: adamWUpdate with a decay target pulls toward it, not toward zero", () => {
  const target = new Float32Array([1, -2, 0.5]);
  const opts = { lr: 0.1, weightDecay: 0.5, clipNorm: 0, decayTarget: target };
  // A zero gradient leaves only the decay: at the target nothing moves.
  const s = createState(target.slice());
  adamWUpdate(s, new Float32Array(3), opts);
  assertEquals(Array.from(s.weight), Array.from(target));
  // Away from it, each step shrinks the distance by lr·λ = 5 %.
  const t = createState(new Float32Array([2, -2, 0]));
  adamWUpdate(t, new Float32Array(3), opts);
  const expected = [2 - 0.05 * 1, -2, 0 - 0.05 * -0.5];
  for (let i = 0; i < 3; i++) assertLess(Math.abs(t.weight[i] - expected[i]), 1e-6, `w[${i}]`);
  // Plain AdamW (no target) decays toward zero instead.
  const z = createState(new Float32Array([2, -2, 0]));
  adamWUpdate(z, new Float32Array(3), { ...opts, decayTarget: undefined });
  assertLess(Math.abs(z.weight[1] - (-2 * 0.95)), 1e-6);
  assertThrows(
    () => adamWUpdate(t, new Float32Array(3), { ...opts, decayTarget: new Float32Array(2) }),
    RangeError,
    "decay target has 2 values",
  );
});

Deno.test("train_step: onnxruntime and tfjs engines follow the same 5-step trajectory", async () => {
  const spec = { temperature: 0.1, symmetric: true, weighting: "exp" as const };
  const shape = { inDim: 12, outDim: 6, negatives: 2 };
  const a = await OrtStep.create(shape, spec);
  const b = new TfjsStep(shape, spec);
  const c = randomCase(7, 6, 2, 12, 6);
  const sa = createState(c.w.slice()), sb = createState(c.w.slice());
  const opts = { lr: 0.01, weightDecay: 0.01, clipNorm: 1 };
  for (let t = 0; t < 5; t++) {
    adamWUpdate(sa, (await a.lossAndGrad(batchOf(c), sa.weight)).grad, opts);
    adamWUpdate(sb, (await b.lossAndGrad(batchOf(c), sb.weight)).grad, opts);
  }
  assertClose(sa.weight, sb.weight, 1e-4, "weights after 5 steps");
  const pa = await a.project(c.x.subarray(0, 3 * 12), 3, sa.weight);
  const pb = await b.project(c.x.subarray(0, 3 * 12), 3, sa.weight);
  assertClose(pa, pb, 1e-5, "projections");
  await a.dispose();
  await b.dispose();
});

Deno.test("train_step: gatherRows and resolveDims", () => {
  const m = new Float32Array([1, 2, 3, 4, 5, 6]);
  assertEquals(gatherRows(m, 2, [2, 0, 2]), new Float32Array([5, 6, 1, 2, 5, 6]));
  const out = new Float32Array(6).fill(9);
  gatherRows(m, 2, [1], out, 1);
  assertEquals(out, new Float32Array([9, 9, 3, 4, 9, 9]));
  assertEquals(resolveDims(8), { dims: [8], weights: [1] });
  assertThrows(() => resolveDims(8, [16]), RangeError, "1..8");
  assertThrows(() => resolveDims(8, [4, 4]), RangeError, "repeat");
  assertThrows(() => resolveDims(8, [8, 4], [1]), RangeError, "1 values for 2");
});
