/**
 * The optimiser: AdamW (decoupled weight decay) with global-norm clipping, as
 * PyTorch's `torch.optim.AdamW` plus `clip_grad_norm_`. {@link AdamW} owns
 * the trainable state (weight, moments, step) that a run directory commits
 * each epoch and restores on resume; {@link adamWUpdate} is the update rule.
 *
 * Relations: `tests/train_step_test.ts` checks the formula and the clipping;
 * `bench/torch_step.py` is the same step in PyTorch (`torch.optim.AdamW`),
 * timed against this one by `deno task bench`.
 *
 * @module
 */
import type { TrainState } from "../run/run_dir.ts";

/**
 * The trainable state: weight and AdamW moments, row-major `[outDim, inDim]`
 * (PyTorch `nn.Linear` layout), and the number of AdamW steps taken.
 *
 * @example
 * ```ts
 * import { createState } from "./optimizer.ts";
 * const s = createState(new Float32Array(8));
 * if (JSON.stringify([s.m.length, s.step]) !== JSON.stringify([8, 0])) throw new Error(`got ${JSON.stringify([s.m.length, s.step])}`);
 * ```
 */
export interface StepState {
  /** The weight, row-major `[outDim, inDim]`, updated in place. */
  weight: Float32Array;
  /** First moment (running mean of gradients), same layout. */
  m: Float32Array;
  /** Second moment (running mean of squared gradients), same layout. */
  v: Float32Array;
  /** AdamW steps taken (the bias corrections use it). */
  step: number;
}

/**
 * A fresh AdamW state around `weight` (zero moments, step 0).
 *
 * @example
 * ```ts
 * import { createState } from "./optimizer.ts";
 * if (JSON.stringify(Array.from(createState(new Float32Array(4)).v)) !== JSON.stringify([0, 0, 0, 0])) throw new Error(`got ${createState(new Float32Array(4)).v}`);
 * ```
 */
export function createState(weight: Float32Array): StepState {
  return {
    weight,
    m: new Float32Array(weight.length),
    v: new Float32Array(weight.length),
    step: 0,
  };
}

/** AdamW hyper-parameters. */
export interface AdamWOptions {
  /** Learning rate of the step. */
  lr: number;
  /** Decoupled weight decay λ (PyTorch AdamW's `weight_decay`). */
  weightDecay: number;
  /** Global-norm clip; 0 = off. */
  clipNorm: number;
  /**
   * What the decay pulls toward (same layout as the weight): absent, zero
   * (plain AdamW, `w -= lr·λ·w`); given, this target (`w -= lr·λ·(w − target)`).
   */
  decayTarget?: Float32Array;
  /** β₁ (default 0.9). */
  beta1?: number;
  /** β₂ (default 0.999). */
  beta2?: number;
  /** ε in the denominator (default 1e-8). */
  eps?: number;
}

/**
 * One AdamW update in place (decoupled weight decay, Loshchilov & Hutter
 * 2019), after global-norm clipping of `grad`:
 *
 * ```text
 * g ← g · min(1, c / ‖g‖)     m ← β₁m + (1−β₁)g     v ← β₂v + (1−β₂)g²
 * W ← W − lr (m/(1−β₁ᵗ) / (sqrt(v/(1−β₂ᵗ)) + ε) + λ W)
 * ```
 *
 * Returns the gradient norm before clipping.
 *
 * @example
 * ```ts
 * import { adamWUpdate, createState } from "./optimizer.ts";
 * const s = createState(new Float32Array([1, 1]));
 * const norm = adamWUpdate(s, new Float32Array([3, 4]), { lr: 0.1, weightDecay: 0, clipNorm: 1 });
 * if (norm !== 5 || Math.abs(s.weight[0] - 0.9) > 1e-6 || Math.abs(s.weight[1] - 0.9) > 1e-6) throw new Error(`${norm} ${s.weight}`);
 * ```
 */
export function adamWUpdate(state: StepState, grad: Float32Array, opts: AdamWOptions): number {
  const { weight: w, m, v } = state;
  if (grad.length !== w.length) {
    throw new RangeError(`adamWUpdate: gradient has ${grad.length} values, weight ${w.length}`);
  }
  const b1 = opts.beta1 ?? 0.9, b2 = opts.beta2 ?? 0.999, eps = opts.eps ?? 1e-8;
  let sq = 0;
  for (let i = 0; i < grad.length; i++) sq += grad[i] * grad[i];
  const norm = Math.sqrt(sq);
  const scale = opts.clipNorm > 0 && norm > opts.clipNorm ? opts.clipNorm / norm : 1;
  state.step += 1;
  const t = state.step;
  const c1 = 1 / (1 - b1 ** t), c2 = 1 / (1 - b2 ** t);
  const lr = opts.lr, wd = opts.weightDecay, target = opts.decayTarget;
  if (target && target.length !== w.length) {
    throw new RangeError(
      `adamWUpdate: decay target has ${target.length} values, weight ${w.length}`,
    );
  }
  for (let i = 0; i < w.length; i++) {
    const g = grad[i] * scale;
    const mi = b1 * m[i] + (1 - b1) * g;
    const vi = b2 * v[i] + (1 - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const decay = target ? w[i] - target[i] : w[i];
    w[i] -= lr * ((mi * c1) / (Math.sqrt(vi * c2) + eps) + wd * decay);
  }
  return norm;
}

/**
 * AdamW that owns what it updates: the weight `[outDim, inDim]`, the two
 * moments and the step count. {@link snapshot} and {@link restore} are what a
 * run directory commits and loads, so that a resumed run continues exactly.
 *
 * @example
 * ```ts
 * import { AdamW } from "./optimizer.ts";
 * const opt = new AdamW(new Float32Array([1, 1]), { lr: 0.1, weightDecay: 0, clipNorm: 1 });
 * const norm = opt.update(new Float32Array([3, 4]));
 * if (norm !== 5 || opt.step !== 1) throw new Error("one clipped step");
 * if (Math.abs(opt.weight[0] - 0.9) > 1e-6) throw new Error(`weight ${opt.weight}`);
 * const copy = new AdamW(new Float32Array(2), { lr: 0.1, weightDecay: 0, clipNorm: 1 });
 * copy.restore(opt.snapshot());
 * if (copy.weight[1] !== opt.weight[1] || copy.step !== 1) throw new Error("restore");
 * ```
 */
export class AdamW {
  /** The state updated in place: weight, moments and step. */
  readonly state: StepState;
  /** Clipping and weight decay; the learning rate comes with each {@link update}. */
  readonly options: AdamWOptions;

  /**
   * An optimiser around `weight`, with zero moments at step 0.
   *
   * @param weight Initial weight (updated in place).
   * @param options Weight decay, clip norm and betas; `lr` is the default rate.
   */
  constructor(weight: Float32Array, options: AdamWOptions) {
    this.state = createState(weight);
    this.options = options;
  }

  /** The current weight (the same array every step). */
  get weight(): Float32Array {
    return this.state.weight;
  }

  /** Steps taken. */
  get step(): number {
    return this.state.step;
  }

  /** One step with `grad` at learning rate `lr` (default: the options' `lr`); returns ‖grad‖. */
  update(grad: Float32Array, lr: number = this.options.lr): number {
    return adamWUpdate(this.state, grad, { ...this.options, lr });
  }

  /** The arrays a run directory commits (not copies: encode before the next step). */
  snapshot(): TrainState {
    const { weight, m, v, step } = this.state;
    return { weight, m, v, step };
  }

  /** Continue from a committed state (copied into this optimiser's arrays). */
  restore(st: TrainState): void {
    this.state.weight.set(st.weight);
    this.state.m.set(st.m);
    this.state.v.set(st.v);
    this.state.step = st.step;
  }
}
