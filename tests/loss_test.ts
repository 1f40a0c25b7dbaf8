import * as tf from "../lib/core/tf.ts";
import "@tensorflow/tfjs-backend-wasm";
import { ok as assert } from "node:assert";
import {
  type InfoNCEOptions,
  lossDirections,
  negativeShare,
  weightedInfoNCE,
} from "../lib/train/loss.ts";
import { Rng } from "../lib/core/rng.ts";

tf.enableProdMode();
await tf.setBackend("cpu");

// ---------------------------------------------------------------- helpers

function assertAlmostEquals(actual: number, expected: number, tol: number, msg = ""): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${msg ? msg + ": " : ""}expected ${expected}, got ${actual} (tol ${tol})`);
  }
}

type Mat = number[][];

/** Plain-JS reference: per-row losses written out from the formula. */
function refDirections(
  q: Mat,
  p: Mat,
  hn: Mat[],
  w: Mat,
  opts: InfoNCEOptions = {},
): { qp: number[]; pq: number[] } {
  const t = opts.temperature ?? 0.05;
  const weighting = opts.weighting ?? "exp";
  const ids = opts.positiveIds;
  const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);
  const s = (a: number[], b: number[]) => dot(a, b) / t;
  const masked = (i: number, j: number) => ids !== undefined && i !== j && ids[i] === ids[j];
  const b = q.length;
  const qp: number[] = [];
  const pq: number[] = [];
  for (let i = 0; i < b; i++) {
    let denom = 0;
    for (let j = 0; j < b; j++) if (!masked(i, j)) denom += Math.exp(s(q[i], p[j]));
    for (let k = 0; k < hn[i].length; k++) {
      denom += weighting === "exp"
        ? w[i][k] * Math.exp(s(q[i], hn[i][k]))
        : Math.exp(w[i][k] * s(q[i], hn[i][k]));
    }
    qp.push(-s(q[i], p[i]) + Math.log(denom));
    let denom2 = 0;
    for (let j = 0; j < b; j++) if (!masked(i, j)) denom2 += Math.exp(s(q[j], p[i]));
    pq.push(-s(q[i], p[i]) + Math.log(denom2));
  }
  return { qp, pq };
}

function refLoss(q: Mat, p: Mat, hn: Mat[], w: Mat, opts: InfoNCEOptions = {}): number {
  const { qp, pq } = refDirections(q, p, hn, w, opts);
  const rows = (opts.symmetric ?? true) ? qp.map((x, i) => (x + pq[i]) / 2) : qp;
  return rows.reduce((a, x) => a + x, 0) / rows.length;
}

function tfLoss(q: Mat, p: Mat, hn: Mat[], w: Mat, opts: InfoNCEOptions = {}): number {
  return tf.tidy(() =>
    weightedInfoNCE(
      tf.tensor2d(q),
      tf.tensor2d(p),
      tf.tensor3d(hn, [q.length, hn[0].length, q[0].length]),
      tf.tensor2d(w, [q.length, hn[0].length]),
      opts,
    ).dataSync()[0]
  );
}

function unit(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => Math.fround(x / n));
}

function randomUnit(rng: Rng, d: number): number[] {
  return unit(Array.from({ length: d }, () => rng.normal()));
}

function randomCase(seed: number, b: number, k: number, d: number) {
  const rng = new Rng(seed);
  const q = Array.from({ length: b }, () => randomUnit(rng, d));
  const p = Array.from({ length: b }, () => randomUnit(rng, d));
  const hn = Array.from({ length: b }, () => Array.from({ length: k }, () => randomUnit(rng, d)));
  const w = Array.from(
    { length: b },
    () => Array.from({ length: k }, () => Math.fround(0.5 + 2 * rng.next())),
  );
  return { q, p, hn, w };
}

// 2×2 fixture, D = 3.
const Q: Mat = [unit([1, 0.2, 0]), unit([0.1, 1, 0.3])];
const P: Mat = [unit([0.9, 0.3, 0.1]), unit([0.2, 0.8, 0.5])];
const HN2: Mat[] = [
  [unit([0.2, 1, 0]), unit([-1, 0.3, 0.2])],
  [unit([1, 0, 0.1]), unit([0.3, -0.2, -1])],
];
const W2: Mat = [[2, 0.5], [1.5, 3]];
const HN1: Mat[] = HN2.map((r) => [r[0]]);
const W1: Mat = W2.map((r) => [r[0]]);

// ---------------------------------------------------------------- values

Deno.test("loss: hand-written 2x2, K=1, exp, symmetric", () => {
  const t = 0.5;
  const d = (a: number[], b: number[]) => (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / t;
  const [q0, q1] = Q;
  const [p0, p1] = P;
  const [[h0], [h1]] = HN1;
  const [[w0], [w1]] = W1;
  const qp0 = -d(q0, p0) +
    Math.log(Math.exp(d(q0, p0)) + Math.exp(d(q0, p1)) + w0 * Math.exp(d(q0, h0)));
  const qp1 = -d(q1, p1) +
    Math.log(Math.exp(d(q1, p0)) + Math.exp(d(q1, p1)) + w1 * Math.exp(d(q1, h1)));
  const pq0 = -d(q0, p0) + Math.log(Math.exp(d(q0, p0)) + Math.exp(d(q1, p0)));
  const pq1 = -d(q1, p1) + Math.log(Math.exp(d(q0, p1)) + Math.exp(d(q1, p1)));
  const expected = ((qp0 + pq0) / 2 + (qp1 + pq1) / 2) / 2;
  assertAlmostEquals(tfLoss(Q, P, HN1, W1, { temperature: t }), expected, 1e-5);
  // Same rows masked (same positive id): the off-diagonal columns vanish.
  const qp0m = -d(q0, p0) + Math.log(Math.exp(d(q0, p0)) + w0 * Math.exp(d(q0, h0)));
  const qp1m = -d(q1, p1) + Math.log(Math.exp(d(q1, p1)) + w1 * Math.exp(d(q1, h1)));
  assertAlmostEquals(
    tfLoss(Q, P, HN1, W1, { temperature: t, positiveIds: [4, 4], symmetric: false }),
    (qp0m + qp1m) / 2,
    1e-5,
  );
});

Deno.test("loss: values match the per-row formula for every option (B=2, K=1 and K=2)", () => {
  for (const [hn, w] of [[HN1, W1], [HN2, W2]] as const) {
    for (const weighting of ["exp", "logit"] as const) {
      for (const symmetric of [true, false]) {
        for (const positiveIds of [undefined, [0, 1], [3, 3]]) {
          for (const temperature of [0.05, 0.5]) {
            const opts = { weighting, symmetric, positiveIds, temperature };
            const got = tfLoss(Q, P, hn as Mat[], w as Mat, opts);
            const want = refLoss(Q, P, hn as Mat[], w as Mat, opts);
            const tol = 1e-5 * Math.max(1, Math.abs(want));
            assertAlmostEquals(got, want, tol, JSON.stringify({ k: w[0].length, ...opts }));
          }
        }
      }
    }
  }
});

Deno.test("loss: larger random batch with duplicate ids matches the reference", () => {
  const { q, p, hn, w } = randomCase(7, 6, 3, 5);
  w[1][2] = 0;
  const positiveIds = [0, 1, 0, 2, 1, 3];
  for (const weighting of ["exp", "logit"] as const) {
    const opts = { weighting, positiveIds, temperature: 0.1 };
    const want = refLoss(q, p, hn, w, opts);
    assertAlmostEquals(tfLoss(q, p, hn, w, opts), want, 1e-5 * Math.max(1, Math.abs(want)));
  }
});

Deno.test("loss: symmetric is the mean of the two directions", () => {
  const { q, p, hn, w } = randomCase(3, 4, 2, 6);
  tf.tidy(() => {
    const args = [tf.tensor2d(q), tf.tensor2d(p), tf.tensor3d(hn), tf.tensor2d(w)] as const;
    const { qp, pq } = lossDirections(...args, { temperature: 0.2 });
    const sym = weightedInfoNCE(...args, { temperature: 0.2 }).dataSync()[0];
    const one = weightedInfoNCE(...args, { temperature: 0.2, symmetric: false }).dataSync()[0];
    const mqp = tf.mean(qp).dataSync()[0];
    const mpq = tf.mean(pq).dataSync()[0];
    assertAlmostEquals(sym, (mqp + mpq) / 2, 1e-6);
    assertAlmostEquals(one, mqp, 1e-6);
    const ref = refDirections(q, p, hn, w, { temperature: 0.2 });
    const qpv = qp.dataSync();
    const pqv = pq.dataSync();
    for (let i = 0; i < 4; i++) {
      assertAlmostEquals(qpv[i], ref.qp[i], 1e-5);
      assertAlmostEquals(pqv[i], ref.pq[i], 1e-5);
    }
  });
});

// ---------------------------------------------------------------- weight semantics

Deno.test("loss: all weights 1 equals plain InfoNCE with the negatives appended as columns", () => {
  const { q, p, hn } = randomCase(11, 4, 3, 6);
  const ones = q.map(() => [1, 1, 1]);
  const t = 0.1;
  const got = tfLoss(q, p, hn, ones, { temperature: t, symmetric: false });
  const want = tf.tidy(() => {
    const qt = tf.tensor2d(q);
    const logits = tf.stack(
      q.map((_, i) =>
        tf.concat([
          tf.matMul(qt.slice([i, 0], [1, -1]), tf.transpose(tf.tensor2d(p))).reshape([-1]),
          tf.matMul(qt.slice([i, 0], [1, -1]), tf.transpose(tf.tensor2d(hn[i]))).reshape([-1]),
        ])
      ),
    ).div(t) as tf.Tensor2D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 7);
    return tf.losses.softmaxCrossEntropy(labels, logits).dataSync()[0];
  });
  assertAlmostEquals(got, want, 1e-5);
});

Deno.test("loss: w = 0 drops the negative, w = 2 counts it twice (exp weighting)", () => {
  const { q, p, hn, w } = randomCase(5, 3, 2, 4);
  for (const symmetric of [true, false]) {
    const opts = { temperature: 0.07, symmetric };
    // w = 0 on the second negative == only the first negative.
    const w0 = w.map((r) => [r[0], 0]);
    assertAlmostEquals(
      tfLoss(q, p, hn, w0, opts),
      tfLoss(q, p, hn.map((r) => [r[0]]), w.map((r) => [r[0]]), opts),
      1e-5,
    );
    // w = 2 == the same negative listed twice with weight 1.
    const twice = tfLoss(q, p, hn.map((r) => [r[0], r[0]]), q.map(() => [1, 1]), opts);
    assertAlmostEquals(tfLoss(q, p, hn.map((r) => [r[0]]), q.map(() => [2]), opts), twice, 1e-5);
  }
});

Deno.test("loss: under logit weighting w = 0 does not remove the negative", () => {
  const { q, p, hn, w } = randomCase(5, 3, 2, 4);
  // At temperature 1 the extra exp(0) = 1 term is visible next to the in-batch terms.
  const opts = { temperature: 1, weighting: "logit" as const };
  const w0 = w.map((r) => [r[0], 0]);
  const dropped = tfLoss(q, p, hn.map((r) => [r[0]]), w.map((r) => [r[0]]), opts);
  assert(Math.abs(tfLoss(q, p, hn, w0, opts) - dropped) > 1e-3);
  assert(Math.abs(tfLoss(q, p, hn, w, opts) - tfLoss(q, p, hn, w, { temperature: 1 })) > 1e-3);
});

Deno.test("loss: logit weighting inverts the weight for a negative with sim < 0", () => {
  const t = 0.5;
  const sim = -0.3;
  const share = (w: number, weighting: "exp" | "logit") =>
    negativeShare(sim, w, { temperature: t, weighting });
  // exp: the share grows with the weight; logit: it shrinks.
  assert(share(1, "exp") < share(2, "exp") && share(2, "exp") < share(5, "exp"));
  assert(share(1, "logit") > share(2, "logit") && share(2, "logit") > share(5, "logit"));
  assertAlmostEquals(share(0, "exp"), 0, 1e-12);
  assert(share(0, "logit") > 0.1); // exp(0) = 1 stays in the denominator
  // negativeShare agrees with the tensor loss: L(with) - L(without) = -log(1 - share).
  const q = [unit([1, 0])];
  const pos = [unit([1, 0])]; // s(q, p) = 1 -> the default otherLogits [1/t]
  const neg = [[unit([sim, Math.sqrt(1 - sim * sim)])]];
  for (const weighting of ["exp", "logit"] as const) {
    for (const w of [0.5, 1, 3]) {
      const opts = { temperature: t, weighting, symmetric: false };
      const withNeg = tfLoss(q, pos, neg, [[w]], opts);
      const without = tfLoss(q, pos, neg, [[0]], { ...opts, weighting: "exp" });
      assertAlmostEquals(withNeg - without, -Math.log(1 - share(w, weighting)), 1e-5);
    }
  }
});

// ---------------------------------------------------------------- gradients

Deno.test("loss: gradients match central finite differences (q, p, hn)", () => {
  const b = 3, k = 2, d = 4;
  const { q, p, hn, w } = randomCase(21, b, k, d);
  w[2][1] = 0;
  const eps = 1e-2;
  for (const weighting of ["exp", "logit"] as const) {
    for (const positiveIds of [undefined, [1, 2, 1]]) {
      const opts = { temperature: 1, weighting, positiveIds };
      const wt = tf.tensor2d(w);
      const f = (qt: tf.Tensor, pt: tf.Tensor, ht: tf.Tensor) =>
        weightedInfoNCE(qt as tf.Tensor2D, pt as tf.Tensor2D, ht as tf.Tensor3D, wt, opts);
      const inputs = [tf.tensor2d(q), tf.tensor2d(p), tf.tensor3d(hn)];
      const grads = tf.grads(f)(inputs).map((g) => g.dataSync());
      const base = inputs.map((t) => t.dataSync().slice());
      for (let a = 0; a < 3; a++) {
        for (let i = 0; i < base[a].length; i++) {
          const evalAt = (delta: number) => {
            const v = base[a].slice();
            v[i] += delta;
            return tf.tidy(() => {
              const args = inputs.map((t, c) => c === a ? tf.tensor(v, t.shape) : t);
              return f(args[0], args[1], args[2]).dataSync()[0];
            });
          };
          const numeric = (evalAt(eps) - evalAt(-eps)) / (2 * eps);
          const tol = 1e-3 * Math.max(Math.abs(numeric), 0.1);
          assertAlmostEquals(grads[a][i], numeric, tol, `${weighting} input ${a} elem ${i}`);
        }
      }
      tf.dispose([wt, ...inputs]);
    }
  }
});

Deno.test("loss: finite loss and gradients at temperature 0.01 with weights up to 1e6", () => {
  const b = 8, k = 3, d = 16;
  const { q, p, hn } = randomCase(99, b, k, d);
  // Make some negatives nearly identical to the query (s/t ~ 100) to stress exp overflow.
  hn[0][0] = q[0].slice();
  hn[3][1] = q[3].slice();
  const w = q.map((_, i) => [1e6, i % 2 === 0 ? 0 : 1e-3, 1]);
  for (const weighting of ["exp", "logit"] as const) {
    const opts = { temperature: 0.01, weighting, positiveIds: [0, 1, 2, 0, 4, 5, 1, 7] };
    const wt = tf.tensor2d(w);
    const inputs = [tf.tensor2d(q), tf.tensor2d(p), tf.tensor3d(hn)];
    const { value, grads } = tf.valueAndGrads((qt: tf.Tensor, pt: tf.Tensor, ht: tf.Tensor) =>
      weightedInfoNCE(qt as tf.Tensor2D, pt as tf.Tensor2D, ht as tf.Tensor3D, wt, opts)
    )(inputs);
    const v = value.dataSync()[0];
    assert(Number.isFinite(v), `${weighting}: loss ${v}`);
    for (const g of grads) assert(g.dataSync().every(Number.isFinite), `${weighting}: gradient`);
    if (weighting === "exp") {
      const want = refLoss(q, p, hn, w, opts);
      assertAlmostEquals(v, want, 1e-4 * Math.abs(want));
    }
    tf.dispose([wt, value, ...grads, ...inputs]);
  }
});

// ---------------------------------------------------------------- backends and validation

Deno.test("loss: wasm backend gives the same values as cpu", async () => {
  const { q, p, hn, w } = randomCase(8, 5, 2, 8);
  const opts = { temperature: 0.05, positiveIds: [0, 1, 0, 2, 3] };
  const onCpu = tfLoss(q, p, hn, w, opts);
  assert(await tf.setBackend("wasm"));
  try {
    assertAlmostEquals(tfLoss(q, p, hn, w, opts), onCpu, 1e-4);
  } finally {
    await tf.setBackend("cpu");
  }
});

Deno.test("loss: shape errors are explicit", () => {
  const { q, p, hn, w } = randomCase(1, 2, 1, 3);
  let msg = "";
  try {
    tfLoss(q, p.slice(0, 1), hn, w);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(msg.includes("weightedInfoNCE") && msg.includes("[1,3]"), msg);
});
