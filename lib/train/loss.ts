/**
 * The training loss: a weighted InfoNCE over in-batch positives and weighted
 * hard negatives, on tfjs tensors.
 *
 * With `s(a, b) = a·b / τ` (τ the temperature) and L2-normalised embeddings,
 * the query→positive loss of row `i` is
 *
 * ```text
 * ℓ_qp(i) = -s(q_i, p_i) + log( Σ_j exp s(q_i, p_j) + Σ_k w_ik · exp s(q_i, hn_ik) )
 * ```
 *
 * where `j` runs over the in-batch positives (columns `j ≠ i` that share row
 * `i`'s `positiveId` are false negatives and are masked out) and `k` over the
 * row's hard negatives. The positive→query direction has no hard negatives:
 *
 * ```text
 * ℓ_pq(i) = -s(q_i, p_i) + log Σ_j exp s(q_j, p_i)
 * ```
 *
 * **Why the weight goes on `exp(s)`** (`weighting: "exp"`, the default): a
 * weight `w` on `exp(s)` is exactly "this negative counted `w` times" in the
 * softmax denominator. It does not depend on the similarity scale, `w = 2` is
 * the same as listing the negative twice and `w = 0` removes it. It is computed
 * stably in log space as the logit `s + log w` followed by a max-shifted
 * log-sum-exp, so small temperatures and large weights do not overflow.
 *
 * **What `weighting: "logit"` does wrong** (the original Python project's
 * bug, kept only for demonstrations): it uses the logit `w · s`. For a
 * negative with `s < 0`, raising `w` pushes its logit further down, so its
 * share of the loss *falls*: the meaning of the weight inverts. `w = 0` sets
 * the logit to 0, i.e. `exp(0) = 1` in the denominator: it does not remove
 * the negative. And `w` acts as a per-negative rescaling of the temperature
 * (`w·s/τ = s/(τ/w)`), not as a multiplicity.
 *
 * @module
 */

import * as tf from "../core/tf.ts";

/**
 * How a hard negative's weight enters the loss: "exp" (`w · exp(s)`, correct)
 * or "logit" (`exp(w · s)`, the original bug).
 */
export type Weighting = "exp" | "logit";

/**
 * Options of {@link weightedInfoNCE} and {@link lossDirections}.
 */
export interface InfoNCEOptions {
  /** Softmax temperature τ; similarities are divided by it. Default 0.05. */
  temperature?: number;
  /** Average the query→positive and positive→query directions. Default true. */
  symmetric?: boolean;
  /** "exp" (correct, default) or "logit" (the original bug, for demonstrations). */
  weighting?: Weighting;
  /** Group id per row; a column `j ≠ i` with the same id as row `i` is masked out. */
  positiveIds?: number[];
}

/** Logit used for masked / zero-weight entries: exp(MASKED - max) is exactly 0. */
const MASKED = -1e30;

/**
 * The per-row losses of both directions, each a `[B]` tensor: `qp` (query→
 * positive, with the weighted hard negatives) and `pq` (positive→query).
 *
 * @example
 * ```ts
 * import * as tf from "../core/tf.ts";
 * import { lossDirections } from "./loss.ts";
 * const q = tf.tensor2d([[1, 0], [0, 1]]);
 * const p = tf.tensor2d([[0.8, 0.6], [0.6, 0.8]]);
 * const hn = tf.tensor3d([[[0, 1]], [[1, 0]]]);
 * const w = tf.tensor2d([[1], [2]]);
 * const { qp, pq } = lossDirections(q, p, hn, w, { temperature: 0.1 });
 * console.log(qp.arraySync(), pq.arraySync());
 * ```
 */
export function lossDirections(
  q: tf.Tensor2D,
  p: tf.Tensor2D,
  hn: tf.Tensor3D,
  w: tf.Tensor2D,
  opts: InfoNCEOptions = {},
): { qp: tf.Tensor1D; pq: tf.Tensor1D } {
  const temperature = opts.temperature ?? 0.05;
  const weighting = opts.weighting ?? "exp";
  checkShapes(q, p, hn, w, opts.positiveIds);
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new Error(`weightedInfoNCE: temperature must be a positive number, got ${temperature}`);
  }
  if (weighting !== "exp" && weighting !== "logit") {
    throw new Error(`weightedInfoNCE: weighting must be "exp" or "logit", got ${weighting}`);
  }
  const [b, d] = q.shape;
  const k = hn.shape[1];
  return tf.tidy(() => {
    const invT = 1 / temperature;
    // [B,B] similarities s(q_i, p_j); explicit transpose (fast on wasm).
    let sim = tf.mul(tf.matMul(q, tf.transpose(p)), invT) as tf.Tensor2D;
    const diag = tf.mul(tf.sum(tf.mul(q, p), -1), invT) as tf.Tensor1D;
    if (opts.positiveIds) {
      const mask = falseNegativeMask(opts.positiveIds);
      if (mask) sim = tf.where(tf.tensor2d(mask, [b, b], "bool"), tf.fill([b, b], MASKED), sim);
    }
    let rowLogits: tf.Tensor2D = sim;
    if (k > 0) {
      // [B,K] s(q_i, hn_ik) without a batched transposed matmul.
      const hnSim = tf.mul(tf.sum(tf.mul(hn, tf.reshape(q, [b, 1, d])), -1), invT) as tf.Tensor2D;
      // log w only where w > 0 (no -Infinity anywhere, so no NaN in any gradient).
      const positive = tf.greater(w, 0);
      const hnLogits = weighting === "exp"
        ? tf.where(
          positive,
          tf.add(hnSim, tf.log(tf.where(positive, w, tf.onesLike(w)))),
          tf.fill([b, k], MASKED),
        )
        : tf.mul(w, hnSim);
      rowLogits = tf.concat([sim, hnLogits as tf.Tensor2D], 1);
    }
    const qp = tf.sub(tf.logSumExp(rowLogits, 1), diag) as tf.Tensor1D;
    const pq = tf.sub(tf.logSumExp(sim, 0), diag) as tf.Tensor1D;
    return { qp, pq };
  });
}

/**
 * Weighted InfoNCE (see the module doc for the formula): the mean over the
 * batch of the query→positive loss, or of the mean of both directions when
 * `symmetric` (default). Returns a scalar.
 *
 * @example
 * ```ts
 * import * as tf from "../core/tf.ts";
 * import { weightedInfoNCE } from "./loss.ts";
 * const q = tf.tensor2d([[1, 0], [0, 1]]);
 * const p = tf.tensor2d([[0.8, 0.6], [0.6, 0.8]]);
 * const hn = tf.tensor3d([[[0, 1]], [[1, 0]]]);
 * const w = tf.tensor2d([[1], [2.5]]);
 * const loss = weightedInfoNCE(q, p, hn, w, { temperature: 0.05, positiveIds: [7, 8] });
 * console.log(loss.dataSync()[0]);
 * ```
 */
export function weightedInfoNCE(
  q: tf.Tensor2D,
  p: tf.Tensor2D,
  hn: tf.Tensor3D,
  w: tf.Tensor2D,
  opts: InfoNCEOptions = {},
): tf.Scalar {
  const symmetric = opts.symmetric ?? true;
  return tf.tidy(() => {
    const { qp, pq } = lossDirections(q, p, hn, w, opts);
    return (symmetric ? tf.mean(tf.mul(tf.add(qp, pq), 0.5)) : tf.mean(qp)) as tf.Scalar;
  });
}

/**
 * Options of {@link matryoshkaInfoNCE}: the InfoNCE options plus the prefixes.
 */
export interface MatryoshkaOptions extends InfoNCEOptions {
  /** Prefix lengths of the last axis (each ≤ D). */
  dims: number[];
  /** One weight per prefix; default all 1. */
  dimWeights?: number[];
}

/**
 * Matryoshka loss (Kusupati et al. 2022; sentence-transformers'
 * `MatryoshkaLoss`): the weighted sum, over prefix lengths `d`, of
 * {@link weightedInfoNCE} on the first `d` coordinates of every embedding,
 * each row renormalised to unit length:
 *
 * ```text
 * L = Σ_d λ_d · weightedInfoNCE(n(q[:, :d]), n(p[:, :d]), n(hn[:, :, :d]), w)
 * n(x) = x / sqrt(Σ x² + 1e-12)   (row-wise)
 * ```
 *
 * so that each prefix of the head's output is a usable embedding on its own.
 * The tfjs reference of the fast step in `lib/train/train_step.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "../core/tf.ts";
 * import { matryoshkaInfoNCE } from "./loss.ts";
 * const q = tf.tensor2d([[1, 0, 0, 0], [0, 1, 0, 0]]);
 * const p = tf.tensor2d([[0.8, 0.6, 0, 0], [0.6, 0.8, 0, 0]]);
 * const hn = tf.tensor3d([[[0, 1, 0, 0]], [[1, 0, 0, 0]]]);
 * const w = tf.tensor2d([[1], [2]]);
 * console.log(matryoshkaInfoNCE(q, p, hn, w, { dims: [4, 2], temperature: 0.1 }).dataSync()[0]);
 * ```
 */
export function matryoshkaInfoNCE(
  q: tf.Tensor2D,
  p: tf.Tensor2D,
  hn: tf.Tensor3D,
  w: tf.Tensor2D,
  opts: MatryoshkaOptions,
): tf.Scalar {
  const d = q.shape[1];
  const weights = opts.dimWeights ?? opts.dims.map(() => 1);
  if (weights.length !== opts.dims.length) {
    throw new Error(
      `matryoshkaInfoNCE: ${weights.length} dimWeights for ${opts.dims.length} dims`,
    );
  }
  for (const dim of opts.dims) {
    if (!Number.isInteger(dim) || dim < 1 || dim > d) {
      throw new Error(`matryoshkaInfoNCE: prefix ${dim} must be an integer in 1..${d}`);
    }
  }
  return tf.tidy(() => {
    const norm = <T extends tf.Tensor>(x: T): T =>
      tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12))) as T;
    let total: tf.Scalar = tf.scalar(0);
    opts.dims.forEach((dim, i) => {
      const qd = norm(q.slice([0, 0], [-1, dim]) as tf.Tensor2D);
      const pd = norm(p.slice([0, 0], [-1, dim]) as tf.Tensor2D);
      const hd = norm(hn.slice([0, 0, 0], [-1, -1, dim]) as tf.Tensor3D);
      total = tf.add(total, tf.mul(weightedInfoNCE(qd, pd, hd, w, opts), weights[i]));
    });
    return total;
  });
}

/**
 * One hard negative's softmax share of a loss denominator, in plain numbers:
 * `exp(ℓ) / (exp(ℓ) + Σ exp(otherLogits))` with `ℓ = sim/τ + log(weight)`
 * ("exp") or `ℓ = weight · sim/τ` ("logit"). `otherLogits` are the remaining
 * denominator logits, already divided by τ; the default is a single positive of
 * similarity 1 (`[1/τ]`). This is the negative's contribution to the gradient
 * that pushes it away, which is what its weight should scale.
 *
 * @example
 * ```ts
 * import { negativeShare } from "./loss.ts";
 * // exp: raising the weight raises the share; logit: for sim < 0 it lowers it.
 * const at = (w: number, weighting?: "exp" | "logit") =>
 *   negativeShare(-0.2, w, { temperature: 0.5, weighting });
 * if (!(at(3) > at(1))) throw new Error("exp: a larger weight must raise the share");
 * if (!(at(3, "logit") < at(1, "logit"))) throw new Error("logit: for sim < 0 it lowers it");
 * ```
 */
export function negativeShare(
  sim: number,
  weight: number,
  opts: { temperature?: number; weighting?: Weighting; otherLogits?: number[] } = {},
): number {
  const temperature = opts.temperature ?? 0.05;
  const weighting = opts.weighting ?? "exp";
  const others = opts.otherLogits ?? [1 / temperature];
  const logit = weighting === "exp"
    ? (weight > 0 ? sim / temperature + Math.log(weight) : -Infinity)
    : weight * sim / temperature;
  if (logit === -Infinity) return 0;
  const all = [logit, ...others];
  const m = Math.max(...all);
  let denom = 0;
  for (const l of all) denom += Math.exp(l - m);
  return Math.exp(logit - m) / denom;
}

/** Row-major [B,B] mask (1 = masked) or null when nothing is masked. */
function falseNegativeMask(ids: number[]): Int32Array | null {
  const b = ids.length;
  const mask = new Int32Array(b * b);
  let any = false;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      if (i !== j && ids[i] === ids[j]) {
        mask[i * b + j] = 1;
        any = true;
      }
    }
  }
  return any ? mask : null;
}

function checkShapes(
  q: tf.Tensor,
  p: tf.Tensor,
  hn: tf.Tensor,
  w: tf.Tensor,
  ids: number[] | undefined,
): void {
  const fail = (msg: string) => {
    throw new Error(
      `weightedInfoNCE: ${msg} (q ${fmt(q)}, p ${fmt(p)}, hn ${fmt(hn)}, w ${fmt(w)})`,
    );
  };
  if (q.rank !== 2 || p.rank !== 2) fail("q and p must be [B,D]");
  if (q.shape[0] !== p.shape[0] || q.shape[1] !== p.shape[1]) fail("q and p shapes differ");
  if (hn.rank !== 3 || hn.shape[0] !== q.shape[0] || hn.shape[2] !== q.shape[1]) {
    fail("hn must be [B,K,D]");
  }
  if (w.rank !== 2 || w.shape[0] !== hn.shape[0] || w.shape[1] !== hn.shape[1]) {
    fail("w must be [B,K]");
  }
  if (ids && ids.length !== q.shape[0]) {
    fail(`positiveIds has ${ids.length} entries for a batch of ${q.shape[0]}`);
  }
}

function fmt(t: tf.Tensor): string {
  return `[${t.shape.join(",")}]`;
}
