/**
 * The trainable projection head: a bias-free linear map `inDim → outDim`
 * (default 1024 → 256, 262,144 parameters) whose output is L2-normalised.
 *
 * The tf.Variable is stored as `[inDim, outDim]` so the forward pass is a
 * plain `x.matMul(W)`; checkpoints use the PyTorch `nn.Linear` layout
 * `[outDim, inDim]` through {@link ProjectionHead.getWeight} /
 * {@link ProjectionHead.setWeight}. The backward pass is a custom gradient that
 * transposes explicitly before each matmul: on the wasm backend a matmul with
 * `transposeA`/`transposeB` is 10-40x slower than transpose + plain matmul.
 *
 * @module
 */

import * as tf from "../core/tf.ts";
import { Rng } from "../core/rng.ts";

/**
 * How the head's weight is initialised.
 */
export type HeadInit = "orthogonal" | "pca";

/**
 * Options of {@link ProjectionHead.create}.
 */
export interface HeadOptions {
  /** Input (encoder) dimension. Default 1024. */
  inDim?: number;
  /** Output dimension. Default 256. */
  outDim?: number;
  /** "orthogonal" (default, seeded) or "pca" (needs `corpus`). */
  init?: HeadInit;
  /** Seed for the orthogonal init and the PCA start basis. Default 42. */
  seed?: number;
  /** Row-major `[n, inDim]` embeddings for the "pca" init. */
  corpus?: Float32Array;
  /** Subspace iterations for the "pca" init. Default 30. */
  pcaIterations?: number;
}

/** Small constant added under the square root of the L2 norm. */
const NORM_EPS = 1e-12;

/** `x @ W` whose gradient uses explicit transposes (fast on wasm). */
const linear = tf.customGrad((x, w, save) => {
  const xt = x as tf.Tensor2D;
  const wt = w as tf.Tensor2D;
  (save as tf.GradSaveFunc)([xt, wt]);
  return {
    value: tf.matMul(xt, wt),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g)];
    },
  };
});

/** Factory of `(W) => x @ W` for a fixed x, whose gradient skips dX. */
function linearNoInputGrad(x: tf.Tensor2D) {
  return tf.customGrad((w, save) => {
    const wt = w as tf.Tensor2D;
    (save as tf.GradSaveFunc)([x]);
    return {
      value: tf.matMul(x, wt),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
    };
  });
}

/**
 * A bias-free linear projection with L2-normalised output.
 *
 * @example
 * ```ts
 * import * as tf from "../core/tf.ts";
 * import { ProjectionHead } from "./head.ts";
 * const head = ProjectionHead.create({ inDim: 8, outDim: 4, seed: 1 });
 * const y = head.apply(tf.randomNormal([3, 8]));
 * if (y.shape.join("x") !== "3x4" || head.paramCount !== 32) throw new Error(`${y.shape} ${head.paramCount}`);
 * head.dispose();
 * ```
 */
export class ProjectionHead {
  /** Input dimension. */
  readonly inDim: number;
  /** Output dimension. */
  readonly outDim: number;
  /** The trainable weight, stored `[inDim, outDim]`. */
  readonly weight: tf.Variable<tf.Rank.R2>;

  /**
   * Wrap an existing `[inDim, outDim]` weight (stored layout). Prefer
   * {@link ProjectionHead.create}.
   */
  constructor(weight: tf.Variable<tf.Rank.R2>) {
    if (weight.rank !== 2) throw new Error(`ProjectionHead: weight must be 2-D`);
    this.weight = weight;
    [this.inDim, this.outDim] = weight.shape;
  }

  /**
   * Build a head with the chosen initialisation.
   *
   * - `orthogonal` (default): `outDim` seeded normal vectors of length
   *   `inDim`, orthonormalised by modified Gram–Schmidt, so `W Wᵀ = I`.
   * - `pca`: the rows are the top-`outDim` principal directions of `corpus`
   *   (centered covariance; see {@link pcaDirections}).
   *
   * @example
   * ```ts
   * import { ProjectionHead } from "./head.ts";
   * const head = ProjectionHead.create({ inDim: 16, outDim: 4, init: "orthogonal", seed: 7 });
   * if (JSON.stringify(head.getWeight().length) !== JSON.stringify(64)) throw new Error(`got ${JSON.stringify(head.getWeight().length)}`);
   * head.dispose();
   * ```
   */
  static create(opts: HeadOptions = {}): ProjectionHead {
    const inDim = opts.inDim ?? 1024;
    const outDim = opts.outDim ?? 256;
    const seed = opts.seed ?? 42;
    const init = opts.init ?? "orthogonal";
    if (!Number.isInteger(inDim) || !Number.isInteger(outDim) || inDim < 1 || outDim < 1) {
      throw new Error(`ProjectionHead: bad dimensions inDim=${inDim} outDim=${outDim}`);
    }
    let rows: Float32Array;
    if (init === "orthogonal") {
      rows = orthogonalRows(outDim, inDim, seed);
    } else if (init === "pca") {
      if (!opts.corpus) throw new Error(`ProjectionHead: init "pca" needs a corpus`);
      rows = pcaDirections(opts.corpus, inDim, outDim, {
        seed,
        iterations: opts.pcaIterations,
      });
    } else {
      throw new Error(`ProjectionHead: unknown init "${init}" (use "orthogonal" or "pca")`);
    }
    const w = tf.tidy(() =>
      tf.variable(tf.tensor2d(transpose(rows, outDim, inDim), [inDim, outDim]))
    );
    return new ProjectionHead(w as tf.Variable<tf.Rank.R2>);
  }

  /** Number of trainable parameters (`inDim · outDim`). */
  get paramCount(): number {
    return this.inDim * this.outDim;
  }

  /**
   * Project `[n, inDim]` to L2-normalised `[n, outDim]`, differentiable
   * w.r.t. the weight (and `x`, unless `inputGrad: false`, which skips the
   * `dX` matmul; asking tfjs for a gradient w.r.t. `x` then fails loudly).
   *
   * @example
   * ```ts
   * import * as tf from "../core/tf.ts";
   * import { ProjectionHead } from "./head.ts";
   * const head = ProjectionHead.create({ inDim: 8, outDim: 4 });
   * const loss = () => head.apply(tf.randomNormal([5, 8]), { inputGrad: false }).sum() as tf.Scalar;
   * const { grads } = tf.variableGrads(loss);
   * if (JSON.stringify(grads[head.weight.name].shape) !== JSON.stringify([8, 4])) throw new Error(`got ${JSON.stringify(grads[head.weight.name].shape)}`);
   * head.dispose();
   * ```
   */
  apply(x: tf.Tensor2D, opts: { inputGrad?: boolean } = {}): tf.Tensor2D {
    if (x.rank !== 2 || x.shape[1] !== this.inDim) {
      throw new Error(`ProjectionHead.apply: expected [n, ${this.inDim}], got [${x.shape}]`);
    }
    return tf.tidy(() => {
      const y = (opts.inputGrad ?? true)
        ? linear(x, this.weight) as tf.Tensor2D
        : linearNoInputGrad(x)(this.weight) as tf.Tensor2D;
      return l2Normalize(y);
    });
  }

  /**
   * Project a row-major `[n, inDim]` Float32Array in batches (no gradients)
   * and return the normalised `[n, outDim]` rows.
   *
   * @example
   * ```ts
   * import { ProjectionHead } from "./head.ts";
   * const head = ProjectionHead.create({ inDim: 4, outDim: 2 });
   * if (JSON.stringify(head.project(new Float32Array(12).fill(1), 3).length) !== JSON.stringify(6)) throw new Error(`got ${JSON.stringify(head.project(new Float32Array(12).fill(1), 3).length)}`);
   * head.dispose();
   * ```
   */
  project(data: Float32Array, n: number, batchSize = 4096): Float32Array {
    if (data.length !== n * this.inDim) {
      throw new Error(
        `ProjectionHead.project: ${data.length} values is not ${n} rows of ${this.inDim}`,
      );
    }
    const out = new Float32Array(n * this.outDim);
    for (let start = 0; start < n; start += batchSize) {
      const rows = Math.min(batchSize, n - start);
      const chunk = data.subarray(start * this.inDim, (start + rows) * this.inDim);
      const y = tf.tidy(() =>
        l2Normalize(tf.matMul(tf.tensor2d(chunk, [rows, this.inDim]), this.weight))
      );
      out.set(y.dataSync() as Float32Array, start * this.outDim);
      y.dispose();
    }
    return out;
  }

  /**
   * The weight in PyTorch `nn.Linear` layout, row-major `[outDim, inDim]`.
   *
   * @example
   * ```ts
   * import { ProjectionHead } from "./head.ts";
   * const head = ProjectionHead.create({ inDim: 4, outDim: 2 });
   * const w = head.getWeight(); // rows are orthonormal
   * if (JSON.stringify(w.length) !== JSON.stringify(8)) throw new Error(`got ${JSON.stringify(w.length)}`);
   * head.dispose();
   * ```
   */
  getWeight(): Float32Array {
    return transpose(this.weight.dataSync() as Float32Array, this.inDim, this.outDim);
  }

  /**
   * Replace the weight from PyTorch layout, row-major `[outDim, inDim]`.
   *
   * @example
   * ```ts
   * import { ProjectionHead } from "./head.ts";
   * const a = ProjectionHead.create({ inDim: 4, outDim: 2, seed: 1 });
   * const b = ProjectionHead.create({ inDim: 4, outDim: 2, seed: 2 });
   * b.setWeight(a.getWeight());
   * a.dispose();
   * b.dispose();
   * ```
   */
  setWeight(data: Float32Array): void {
    if (data.length !== this.paramCount) {
      throw new Error(
        `ProjectionHead.setWeight: expected ${this.outDim}x${this.inDim} = ${this.paramCount} values, got ${data.length}`,
      );
    }
    tf.tidy(() => {
      this.weight.assign(
        tf.tensor2d(transpose(data, this.outDim, this.inDim), [this.inDim, this.outDim]),
      );
    });
  }

  /**
   * Free the weight variable.
   *
   * @example
   * ```ts
   * import { ProjectionHead } from "./head.ts";
   * ProjectionHead.create({ inDim: 4, outDim: 2 }).dispose();
   * ```
   */
  dispose(): void {
    this.weight.dispose();
  }
}

/**
 * Row-wise L2 normalisation `x / sqrt(Σx² + 1e-12)`.
 *
 * @example
 * ```ts
 * import * as tf from "../core/tf.ts";
 * import { l2Normalize } from "./head.ts";
 * l2Normalize(tf.tensor2d([[3, 4]])).print(); // [[0.6, 0.8]]
 * ```
 */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), NORM_EPS))));
}

/**
 * `rows` seeded standard-normal vectors of length `cols`, orthonormalised by
 * modified Gram–Schmidt (twice, for float32-level orthogonality). Row-major
 * `[rows, cols]`; needs `rows ≤ cols`.
 *
 * @example
 * ```ts
 * import { orthogonalRows } from "./head.ts";
 * const w = orthogonalRows(2, 3, 42); // two orthonormal rows of length 3
 * if (JSON.stringify(w.length) !== JSON.stringify(6)) throw new Error(`got ${JSON.stringify(w.length)}`);
 * ```
 */
export function orthogonalRows(rows: number, cols: number, seed: number): Float32Array {
  if (rows > cols) {
    throw new Error(`orthogonalRows: cannot have ${rows} orthonormal rows of length ${cols}`);
  }
  const rng = new Rng(seed);
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = rng.normal();
  gramSchmidtRows(m, rows, cols);
  gramSchmidtRows(m, rows, cols);
  return Float32Array.from(m);
}

/** Modified Gram–Schmidt on the rows of a row-major matrix, in place. */
function gramSchmidtRows(m: Float64Array, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) {
    const ri = i * cols;
    for (let j = 0; j < i; j++) {
      const rj = j * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += m[ri + c] * m[rj + c];
      for (let c = 0; c < cols; c++) m[ri + c] -= dot * m[rj + c];
    }
    let norm = 0;
    for (let c = 0; c < cols; c++) norm += m[ri + c] * m[ri + c];
    norm = Math.sqrt(norm);
    if (!(norm > 1e-12)) throw new Error(`gramSchmidtRows: row ${i} is degenerate`);
    for (let c = 0; c < cols; c++) m[ri + c] /= norm;
  }
}

/**
 * The top-`k` principal directions of row-major `[n, dim]` embeddings, as
 * orthonormal rows `[k, dim]`, in decreasing order of variance.
 *
 * The data is **centered**: the rows are eigenvectors of the covariance, the
 * directions along which the corpus *varies*. Uncentered, the first direction
 * would nearly always be the mean embedding (all BGE-M3 vectors share a large
 * common component), which carries no information to tell listings apart.
 * The head has no bias, so the mean is not subtracted at projection time; the
 * directions are only used as a starting point for training.
 *
 * Method: covariance `C = XcᵀXc / (n-1)` (tfjs, explicit transpose), plus a
 * tiny ridge so `C` is full rank, then seeded subspace iteration `Q ← orth(C Q)`
 * with a Cholesky QR (Gram matrix and Cholesky in float64 JS, matmuls in
 * tfjs), finished by two more Cholesky QR passes for float32 orthonormality. Like Gram–Schmidt,
 * Cholesky QR keeps column `j` in the span of the first `j` columns, so the
 * columns converge to the eigenvectors in order.
 *
 * @example
 * ```ts
 * import { pcaDirections } from "./head.ts";
 * const x = new Float32Array([1, 2, 2, 4.1, 3, 6, 4, 7.9]); // 4 points in 2-D
 * console.log(pcaDirections(x, 2, 1)); // ≈ ±[0.45, 0.89]
 * ```
 */
export function pcaDirections(
  data: Float32Array,
  dim: number,
  k: number,
  opts: { seed?: number; iterations?: number } = {},
): Float32Array {
  const n = data.length / dim;
  if (!Number.isInteger(n) || n < 2) {
    throw new Error(`pcaDirections: corpus of ${data.length} values is not >= 2 rows of ${dim}`);
  }
  if (k > dim) throw new Error(`pcaDirections: k=${k} exceeds dim=${dim}`);
  const iterations = opts.iterations ?? 30;
  const cov = tf.tidy(() => {
    const x = tf.tensor2d(data, [n, dim]);
    const xc = tf.sub(x, tf.mean(x, 0, true));
    const c = tf.div(tf.matMul(tf.transpose(xc), xc), n - 1) as tf.Tensor2D;
    const trace = tf.sum(tf.mul(c, tf.eye(dim))).dataSync()[0];
    const ridge = Math.max(trace / dim, 1e-30) * 1e-6;
    return tf.add(c, tf.mul(tf.eye(dim), ridge)) as tf.Tensor2D;
  });
  // Start basis [dim, k]: seeded normals (columns are the candidate directions).
  const start = transpose(orthogonalRows(k, dim, opts.seed ?? 42), k, dim);
  let q = tf.tensor2d(start, [dim, k]);
  try {
    for (let it = 0; it < iterations; it++) {
      const next = tf.tidy(() => choleskyQR(tf.matMul(cov, q)));
      q.dispose();
      q = next;
    }
    for (let pass = 0; pass < 2; pass++) {
      const next = tf.tidy(() => choleskyQR(q));
      q.dispose();
      q = next;
    }
    const cols = q.dataSync() as Float32Array;
    return transpose(cols, dim, k);
  } finally {
    q.dispose();
    cov.dispose();
  }
}

/**
 * One Cholesky QR pass: columns of `z` [m,k] scaled to unit norm, the Gram
 * matrix `G = ZᵀZ` accumulated in float64 in JS (a float32 Gram matrix loses
 * everything beyond κ(Z) ≈ 3000), `G = RᵀR`, return `Z R⁻¹` (float32 matmul).
 */
function choleskyQR(z: tf.Tensor2D): tf.Tensor2D {
  const [m, k] = z.shape;
  const norms = tf.sqrt(tf.add(tf.sum(tf.square(z), 0, true), 1e-30));
  const zs = tf.div(z, norms) as tf.Tensor2D;
  const zd = zs.dataSync() as Float32Array;
  const g = new Float64Array(k * k);
  const row = new Float64Array(k);
  for (let r = 0; r < m; r++) {
    for (let a = 0; a < k; a++) row[a] = zd[r * k + a];
    for (let a = 0; a < k; a++) {
      const va = row[a];
      if (va === 0) continue;
      const ga = a * k;
      for (let b = a; b < k; b++) g[ga + b] += va * row[b];
    }
  }
  const rInv = choleskyQRFactor(g, k);
  return tf.matMul(zs, tf.tensor2d(rInv, [k, k]));
}

/**
 * The factor of one Cholesky QR pass: given the float64 Gram matrix
 * `G = ZᵀZ` (row-major k×k, upper triangle read; modified in place by a tiny
 * ridge so a rank-deficient `Z` stays factorable), return `R⁻¹` as float32,
 * where `G = RᵀR`; `Z R⁻¹` has orthonormal columns spanning the same nested
 * subspaces as `Z`'s. Shared by {@link pcaDirections} and the ONNX Runtime
 * PCA fit of `lib/eval/compare.ts`.
 *
 * @example
 * ```ts
 * import { choleskyQRFactor } from "./head.ts";
 * const r = choleskyQRFactor(new Float64Array([4, 0, 0, 9]), 2); // R⁻¹ of the Gram matrix's Cholesky factor
 * const want = [0.5, 0, 0, 1 / 3];
 * if (want.some((x, i) => Math.abs(r[i] - x) > 1e-7)) throw new Error(`${r}`); // float32
 * ```
 */
export function choleskyQRFactor(g: Float64Array, k: number): Float32Array {
  if (g.length !== k * k) {
    throw new RangeError(`choleskyQRFactor: ${g.length} values is not ${k}×${k}`);
  }
  // Tiny ridge: a rank-deficient Z (e.g. k above the data rank) stays factorable.
  for (let i = 0; i < k; i++) g[i * k + i] += 1e-10;
  return Float32Array.from(upperInverse(cholesky(g, k), k));
}

/** Upper-triangular R with RᵀR = G (row-major k×k, float64). */
function cholesky(g: Float64Array, k: number): Float64Array {
  const r = new Float64Array(k * k);
  for (let j = 0; j < k; j++) {
    let d = g[j * k + j];
    for (let p = 0; p < j; p++) d -= r[p * k + j] * r[p * k + j];
    if (!(d > 1e-10)) d = 1e-10; // rank-deficient column: keep going, later passes recover
    const rjj = Math.sqrt(d);
    r[j * k + j] = rjj;
    for (let i = j + 1; i < k; i++) {
      let s = g[j * k + i]; // upper triangle of G
      for (let p = 0; p < j; p++) s -= r[p * k + j] * r[p * k + i];
      r[j * k + i] = s / rjj;
    }
  }
  return r;
}

/** Inverse of an upper-triangular row-major k×k matrix (float64). */
function upperInverse(r: Float64Array, k: number): Float64Array {
  const inv = new Float64Array(k * k);
  for (let i = k - 1; i >= 0; i--) {
    inv[i * k + i] = 1 / r[i * k + i];
    for (let j = i + 1; j < k; j++) {
      let s = 0;
      for (let p = i + 1; p <= j; p++) s += r[i * k + p] * inv[p * k + j];
      inv[i * k + j] = -s / r[i * k + i];
    }
  }
  return inv;
}

/** Transpose a row-major `[rows, cols]` matrix into a new Float32Array `[cols, rows]`. */
function transpose(m: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  }
  return out;
}
