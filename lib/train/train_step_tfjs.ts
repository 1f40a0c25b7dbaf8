/**
 * The tfjs reference of the training step ({@link TfjsStep}): the same
 * {@link StepEngine} interface as the onnxruntime step in `lib/train/train_step.ts`,
 * but the gradient comes from tfjs autodiff through `weightedInfoNCE` /
 * `matryoshkaInfoNCE` (`lib/train/loss.ts`). Used by `--device wasm|cpu|gpu` and by
 * the tests that check the closed-form gradient of the fast step.
 *
 * @module
 */
import * as tf from "../core/tf.ts";
import { ProjectionHead } from "../head/head.ts";
import { matryoshkaInfoNCE, weightedInfoNCE } from "./loss.ts";
import {
  type LossSpec,
  resolveDims,
  type StepBatch,
  type StepEngine,
  type StepShape,
} from "./train_step.ts";

/** `[rows, cols]` row-major → `[cols, rows]`. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  }
  return out;
}

/**
 * The step on the current tfjs backend, with autodiff. Slower than
 * `OrtStep` (it re-uploads the weight each call); a reference and fallback.
 *
 * @example
 * ```ts
 * import { TfjsStep } from "./train_step_tfjs.ts";
 * const step = new TfjsStep({ inDim: 8, outDim: 4, negatives: 1 },
 *   { temperature: 0.05, symmetric: true, weighting: "exp" });
 * const x = new Float32Array(2 * 3 * 8).map((_, i) => Math.sin(i));
 * const r = await step.lossAndGrad({ x, size: 2, weights: new Float32Array([1, 1]), ids: [0, 1] },
 *   new Float32Array(32).fill(0.1));
 * console.log(r.loss, r.grad.length);
 * await step.dispose();
 * ```
 */
export class TfjsStep implements StepEngine {
  /** The head's dimensions and the negatives per query. */
  readonly shape: StepShape;
  /** The loss computed. */
  readonly spec: LossSpec;
  /** Matryoshka prefixes trained. */
  readonly dims: number[];
  /** Weight of each prefix's loss. */
  readonly dimWeights: number[];
  #head: ProjectionHead;

  /** A tfjs step on the current backend for `shape` and `spec`. */
  constructor(shape: StepShape, spec: LossSpec) {
    this.shape = shape;
    this.spec = spec;
    const r = resolveDims(shape.outDim, spec.dims, spec.dimWeights);
    this.dims = r.dims;
    this.dimWeights = r.weights;
    this.#head = new ProjectionHead(
      tf.variable(tf.zeros([shape.inDim, shape.outDim])) as tf.Variable<tf.Rank.R2>,
    );
  }

  #losses(x: tf.Tensor2D, batch: StepBatch): tf.Scalar[] {
    const { outDim: O, negatives: K } = this.shape;
    const b = batch.size;
    const y = this.#head.apply(x, { inputGrad: false });
    const q = y.slice([0, 0], [b, -1]) as tf.Tensor2D;
    const p = y.slice([b, 0], [b, -1]) as tf.Tensor2D;
    const hn = y.slice([2 * b, 0], [b * K, -1]).reshape([b, K, O]) as tf.Tensor3D;
    const w = tf.tensor2d(batch.weights, [b, K]);
    const opts = {
      temperature: this.spec.temperature,
      symmetric: this.spec.symmetric,
      weighting: this.spec.weighting,
      positiveIds: Array.from(batch.ids),
    };
    return this.dims.map((d) =>
      d === O
        ? weightedInfoNCE(q, p, hn, w, opts)
        : matryoshkaInfoNCE(q, p, hn, w, { ...opts, dims: [d] })
    );
  }

  #input(batch: StepBatch, weight: Float32Array): tf.Tensor2D {
    const { inDim: D, negatives: K } = this.shape;
    this.#head.setWeight(weight);
    return tf.tensor2d(batch.x, [batch.size * (2 + K), D]);
  }

  /**
   * Loss and gradient `[outDim, inDim]` by tfjs autodiff.
   *
   * @example
   * ```ts
   * import type { TfjsStep } from "./train_step_tfjs.ts";
   * // Type-checked, not run: it needs step, batch, w from a real run.
   * async function _example(step: TfjsStep, batch: import("./train_step.ts").StepBatch, w: Float32Array) {
   *   const { loss, grad } = await step.lossAndGrad(batch, w);
   * }
   * ```
   */
  lossAndGrad(
    batch: StepBatch,
    weight: Float32Array,
  ): Promise<{ loss: number; losses: Float32Array; grad: Float32Array }> {
    const x = this.#input(batch, weight);
    const losses = new Float32Array(this.dims.length);
    const { value, grads } = tf.variableGrads(() => {
      const parts = this.#losses(x, batch);
      parts.forEach((l, i) => losses[i] = l.dataSync()[0]);
      return tf.addN(parts.map((l, i) => tf.mul(l, this.dimWeights[i]))) as tf.Scalar;
    }, [this.#head.weight]);
    const loss = value.dataSync()[0];
    const g = grads[this.#head.weight.name].dataSync() as Float32Array;
    tf.dispose([value, grads, x]);
    return Promise.resolve({
      loss,
      losses,
      grad: transpose(g, this.shape.inDim, this.shape.outDim),
    });
  }

  /**
   * The loss alone.
   *
   * @example
   * ```ts
   * import type { TfjsStep } from "./train_step_tfjs.ts";
   * // Type-checked, not run: it needs step, batch, w from a real run.
   * async function _example(step: TfjsStep, batch: import("./train_step.ts").StepBatch, w: Float32Array) {
   *   const { loss } = await step.loss(batch, w);
   * }
   * ```
   */
  loss(batch: StepBatch, weight: Float32Array): Promise<{ loss: number; losses: Float32Array }> {
    const x = this.#input(batch, weight);
    const losses = tf.tidy(() => this.#losses(x, batch).map((l) => l.dataSync()[0]));
    x.dispose();
    const loss = losses.reduce((s, l, i) => s + l * this.dimWeights[i], 0);
    return Promise.resolve({ loss, losses: Float32Array.from(losses) });
  }

  /**
   * Normalised projections `[n, outDim]`.
   *
   * @example
   * ```ts
   * import type { TfjsStep } from "./train_step_tfjs.ts";
   * // Type-checked, not run: it needs step, rows, w from a real run.
   * async function _example(step: TfjsStep, rows: Float32Array, w: Float32Array) {
   *   const y = await step.project(rows, rows.length / 1024, w);
   * }
   * ```
   */
  project(x: Float32Array, n: number, weight: Float32Array): Promise<Float32Array> {
    this.#head.setWeight(weight);
    return Promise.resolve(this.#head.project(x, n));
  }

  /**
   * Free the tfjs variable.
   *
   * @example
   * ```ts
   * import type { TfjsStep } from "./train_step_tfjs.ts";
   * // Type-checked, not run: it needs step from a real run.
   * async function _example(step: TfjsStep) {
   *   await step.dispose();
   * }
   * ```
   */
  dispose(): Promise<void> {
    this.#head.dispose();
    return Promise.resolve();
  }
}
