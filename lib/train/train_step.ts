/**
 * The fast training step: the head's forward pass, the weighted InfoNCE loss
 * (optionally Matryoshka) and its closed-form gradient with respect to the
 * weight, as **one small ONNX graph** run by onnxruntime-node (MLAS matmuls,
 * all cores). The update itself (AdamW, clipping) is `optimizer.ts`. The
 * weight is in PyTorch `nn.Linear` layout `[outDim, inDim]`, so saving it
 * needs no transpose.
 *
 * Notation (one batch; `N = B(2+K)` rows of `X = [queries; positives;
 * negatives]`, W `[O, D]`, τ the temperature, one Matryoshka prefix `d`):
 *
 * ```text
 * Yr = X Wᵀ                    [N, O]        (Gemm, transB)
 * Y  = Yr[:, :d] / sqrt(Σ Yr[:, :d]² + 1e-12)   rows split into Q, P [B, d], H [B, K, d]
 * S  = Q Pᵀ / τ + M             M = -1e30 on false negatives (j ≠ i, same positiveId)
 * Hl = a ⊙ (Σ_d H ⊙ Q) / τ + c  exp weighting: a = 1, c = log w (-1e30 where w ≤ 0)
 *                               logit weighting: a = w, c = 0
 * diag_i = Q_i·P_i / τ
 * L_d = α Σ_i (lse_j [S | Hl]_ij − diag_i) + β Σ_i (lse_j S_ji − diag_i)
 *       α = β = 1/(2B) symmetric, α = 1/B, β = 0 otherwise
 * L   = Σ_d λ_d L_d              (a single prefix d = O with λ = 1 without Matryoshka)
 * ```
 *
 * The gradient, with `A = softmax_row([S | Hl]) = [A_s | A_h]`, `C = softmax_col(S)`:
 *
 * ```text
 * G   = λ/τ (α A_s + β C − (α+β) I)          [B, B]
 * g_h = λ/τ α A_h ⊙ a                        [B, K]
 * dQ  = G P + Σ_k g_h[:, k] H[:, k]   dP = Gᵀ Q   dH[:, k] = g_h[:, k] Q
 * dYr[:, :d] += (dY − Y (Σ dY ⊙ Y)) / sqrt(Σ Yr[:, :d]² + 1e-12)
 * dW  = dYrᵀ X                               [O, D]  (Gemm, transA)
 * ```
 *
 * This is the same loss as `weightedInfoNCE` / `matryoshkaInfoNCE` in
 * `lib/train/loss.ts` (the tfjs references, used for autodiff checks in the tests).
 *
 * @module
 */
import type * as Ort from "onnxruntime-node";
import { loadOrt } from "../core/ort.ts";
import {
  buildModel,
  DataType,
  floatTensor,
  int64Tensor,
  node,
  valueInfo,
} from "../core/onnx_build.ts";
import type onnxProto from "onnx-proto";

type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

/**
 * What defines the loss of a step.
 */
export interface LossSpec {
  /** Softmax temperature τ. */
  temperature: number;
  /** Add the positive→query direction to the loss. */
  symmetric: boolean;
  /** `exp`: weights scale exp(s) (correct); `logit`: the original's bug, kept as a variant. */
  weighting: "exp" | "logit";
  /** Matryoshka prefixes (each ≤ outDim); default `[outDim]`. */
  dims?: number[];
  /** One weight per prefix; default all 1. */
  dimWeights?: number[];
}

/** Shapes of the step graph. */
export interface StepShape {
  /** Input (encoder) dimension. */
  inDim: number;
  /** Output (head) dimension. */
  outDim: number;
  /** Hard negatives per row (K ≥ 0). */
  negatives: number;
}

/** Logit of masked / zero-weight entries (as in lib/train/loss.ts). */
const MASKED = -1e30;

/**
 * Check and default the Matryoshka prefixes and their weights.
 *
 * @example
 * ```ts
 * import { resolveDims } from "./train_step.ts";
 * if (JSON.stringify(resolveDims(256, [256, 64])) !== JSON.stringify({ dims: [256, 64], weights: [1, 1] })) throw new Error(`got ${JSON.stringify(resolveDims(256, [256, 64]))}`);
 * ```
 */
export function resolveDims(
  outDim: number,
  dims?: number[],
  weights?: number[],
): { dims: number[]; weights: number[] } {
  const d = dims && dims.length ? dims : [outDim];
  for (const x of d) {
    if (!Number.isInteger(x) || x < 1 || x > outDim) {
      throw new RangeError(`matryoshka dim ${x} must be an integer in 1..${outDim} (out-dim)`);
    }
  }
  if (new Set(d).size !== d.length) throw new RangeError(`matryoshka dims repeat: ${d}`);
  const w = weights && weights.length ? weights : d.map(() => 1);
  if (w.length !== d.length) {
    throw new RangeError(`dims-weights has ${w.length} values for ${d.length} matryoshka dims`);
  }
  for (const x of w) {
    if (!(x >= 0) || !Number.isFinite(x)) {
      throw new RangeError(`dims-weights must be finite and ≥ 0, got ${x}`);
    }
  }
  return { dims: d, weights: w };
}

/**
 * Build the ONNX graph of one step. Inputs: `x [N, D]`, `weight [O, D]`,
 * `split3 [3]` (int64: B, B, B·K), `split2 [2]` (int64: B, K), `sim_bias
 * [B, B]`, `hn_scale [B, K]`, `hn_bias [B, K]`, `coef [2]` (α, β). Outputs:
 * `loss []` and `losses [dims]` (unweighted per prefix), plus `grad [O, D]`
 * when `withGrad`. With K = 0 the split inputs are `[B, B]` and `[B]` and there
 * are no `hn_*` inputs.
 *
 * @example
 * ```ts
 * import { stepGraph } from "./train_step.ts";
 * const bytes = stepGraph({ inDim: 8, outDim: 4, negatives: 2 },
 *   { temperature: 0.05, symmetric: true, weighting: "exp" }, true);
 * console.log(bytes.length > 0);
 * ```
 */
export function stepGraph(shape: StepShape, spec: LossSpec, withGrad: boolean): Uint8Array {
  const { inDim: D, outDim: O, negatives: K } = shape;
  const { dims, weights } = resolveDims(O, spec.dims, spec.dimWeights);
  const invT = 1 / spec.temperature;
  const nodes: NodeProto[] = [];
  const init: TensorProto[] = [];
  const n = (op: string, ins: string[], outs: string[], attrs = {}) =>
    nodes.push(node(op, ins, outs, attrs, `${op}_${outs[0]}`));
  const f = (name: string, v: number) => init.push(floatTensor(name, [], new Float32Array([v])));
  const i64 = (name: string, v: number[]) => init.push(int64Tensor(name, [v.length], v));

  f("inv_t", invT);
  f("eps", 1e-12);
  i64("ax0", [0]);
  i64("ax1", [1]);
  i64("ax2", [2]);
  n("Gemm", ["x", "weight"], ["yr"], { transB: { int: 1 } });
  n("Split", ["coef"], ["alpha", "beta"], { axis: { int: 0 } });
  n("Add", ["alpha", "beta"], ["alpha_beta"]);
  const hasHn = K > 0;
  const lossNames: string[] = [];
  const gradParts: string[] = [];
  dims.forEach((d, m) => {
    const p = `d${d}_`;
    const lam = weights[m];
    let yd = "yr";
    if (d < O) {
      i64(`${p}end`, [d]);
      n("Slice", ["yr", "ax0", `${p}end`, "ax1"], [`${p}yr`]);
      yd = `${p}yr`;
    }
    n("Mul", [yd, yd], [`${p}sq`]);
    n("ReduceSum", [`${p}sq`, "ax1"], [`${p}ss`], { keepdims: { int: 1 } });
    n("Add", [`${p}ss`, "eps"], [`${p}sse`]);
    n("Sqrt", [`${p}sse`], [`${p}norm`]);
    n("Div", [yd, `${p}norm`], [`${p}y`]);
    if (hasHn) {
      n("Split", [`${p}y`, "split3"], [`${p}q`, `${p}p`, `${p}hf`], { axis: { int: 0 } });
    } else {
      n("Split", [`${p}y`, "split3"], [`${p}q`, `${p}p`], { axis: { int: 0 } });
    }
    n("Transpose", [`${p}p`], [`${p}pt`], { perm: { ints: [1, 0] } });
    n("MatMul", [`${p}q`, `${p}pt`], [`${p}qp`]);
    n("Mul", [`${p}qp`, "inv_t"], [`${p}s0`]);
    n("Add", [`${p}s0`, "sim_bias"], [`${p}s`]);
    n("Mul", [`${p}q`, `${p}p`], [`${p}qpd`]);
    n("ReduceSum", [`${p}qpd`, "ax1"], [`${p}diag0`], { keepdims: { int: 0 } });
    n("Mul", [`${p}diag0`, "inv_t"], [`${p}diag`]);
    let rowLogits = `${p}s`;
    if (hasHn) {
      i64(`${p}h3shape`, [-1, K, d]);
      n("Reshape", [`${p}hf`, `${p}h3shape`], [`${p}h3`]);
      n("Unsqueeze", [`${p}q`, "ax1"], [`${p}q3`]);
      n("Mul", [`${p}h3`, `${p}q3`], [`${p}hq`]);
      n("ReduceSum", [`${p}hq`, "ax2"], [`${p}hs0`], { keepdims: { int: 0 } });
      n("Mul", [`${p}hs0`, "inv_t"], [`${p}hs`]);
      n("Mul", [`${p}hs`, "hn_scale"], [`${p}hl0`]);
      n("Add", [`${p}hl0`, "hn_bias"], [`${p}hl`]);
      n("Concat", [`${p}s`, `${p}hl`], [`${p}r`], { axis: { int: 1 } });
      rowLogits = `${p}r`;
    }
    n("ReduceLogSumExp", [rowLogits], [`${p}lser`], { axes: { ints: [1] }, keepdims: { int: 0 } });
    n("ReduceLogSumExp", [`${p}s`], [`${p}lsec`], { axes: { ints: [0] }, keepdims: { int: 0 } });
    n("Sub", [`${p}lser`, `${p}diag`], [`${p}lqp`]);
    n("Sub", [`${p}lsec`, `${p}diag`], [`${p}lpq`]);
    n("ReduceSum", [`${p}lqp`, "ax0"], [`${p}sqp`], { keepdims: { int: 1 } });
    n("ReduceSum", [`${p}lpq`, "ax0"], [`${p}spq`], { keepdims: { int: 1 } });
    n("Mul", [`${p}sqp`, "alpha"], [`${p}wqp`]);
    n("Mul", [`${p}spq`, "beta"], [`${p}wpq`]);
    n("Add", [`${p}wqp`, `${p}wpq`], [`${p}loss`]);
    lossNames.push(`${p}loss`);
    if (!withGrad) return;
    f(`${p}lam_t`, lam * invT);
    // G = λ/τ (α A_s + β C − (α+β) I)
    n("Softmax", [rowLogits], [`${p}a`], { axis: { int: 1 } });
    let as = `${p}a`;
    if (hasHn) {
      n("Split", [`${p}a`, "split2"], [`${p}as`, `${p}ah`], { axis: { int: 1 } });
      as = `${p}as`;
    }
    n("Softmax", [`${p}s`], [`${p}c`], { axis: { int: 0 } });
    n("Mul", [as, "alpha"], [`${p}g1`]);
    n("Mul", [`${p}c`, "beta"], [`${p}g2`]);
    n("Add", [`${p}g1`, `${p}g2`], [`${p}g3`]);
    n("EyeLike", [`${p}s`], [`${p}eye`]);
    n("Mul", [`${p}eye`, "alpha_beta"], [`${p}g4`]);
    n("Sub", [`${p}g3`, `${p}g4`], [`${p}g5`]);
    n("Mul", [`${p}g5`, `${p}lam_t`], [`${p}g`]);
    n("MatMul", [`${p}g`, `${p}p`], [`${p}dq0`]);
    n("Transpose", [`${p}g`], [`${p}gt`], { perm: { ints: [1, 0] } });
    n("MatMul", [`${p}gt`, `${p}q`], [`${p}dp`]);
    let dq = `${p}dq0`;
    const dyParts = [dq, `${p}dp`];
    if (hasHn) {
      n("Mul", [`${p}ah`, "hn_scale"], [`${p}gh0`]);
      n("Mul", [`${p}gh0`, "alpha"], [`${p}gh1`]);
      n("Mul", [`${p}gh1`, `${p}lam_t`], [`${p}gh`]);
      n("Unsqueeze", [`${p}gh`, "ax2"], [`${p}gh3`]);
      n("Mul", [`${p}gh3`, `${p}h3`], [`${p}ghh`]);
      n("ReduceSum", [`${p}ghh`, "ax1"], [`${p}dqh`], { keepdims: { int: 0 } });
      n("Add", [`${p}dq0`, `${p}dqh`], [`${p}dq`]);
      dq = `${p}dq`;
      n("Mul", [`${p}gh3`, `${p}q3`], [`${p}dh3`]);
      i64(`${p}hfshape`, [-1, d]);
      n("Reshape", [`${p}dh3`, `${p}hfshape`], [`${p}dh`]);
      dyParts.splice(0, 2, dq, `${p}dp`, `${p}dh`);
    }
    n("Concat", dyParts, [`${p}dy`], { axis: { int: 0 } });
    n("Mul", [`${p}dy`, `${p}y`], [`${p}dyy`]);
    n("ReduceSum", [`${p}dyy`, "ax1"], [`${p}dot`], { keepdims: { int: 1 } });
    n("Mul", [`${p}y`, `${p}dot`], [`${p}ydot`]);
    n("Sub", [`${p}dy`, `${p}ydot`], [`${p}dyn`]);
    n("Div", [`${p}dyn`, `${p}norm`], [`${p}dyr`]);
    if (d < O) {
      i64(`${p}pads`, [0, 0, 0, O - d]);
      n("Pad", [`${p}dyr`, `${p}pads`], [`${p}dyrp`], { mode: { string: "constant" } });
      gradParts.push(`${p}dyrp`);
    } else gradParts.push(`${p}dyr`);
  });
  // Weighted total loss and per-prefix losses.
  lossNames.forEach((name, m) => {
    f(`lam${m}`, weights[m]);
    n("Mul", [name, `lam${m}`], [`${name}_w`]);
  });
  if (lossNames.length === 1) {
    n("Identity", [`${lossNames[0]}_w`], ["loss1"]);
  } else {
    n("Sum", lossNames.map((l) => `${l}_w`), ["loss1"]);
  }
  init.push(int64Tensor("scalar_shape", [0], []));
  n("Reshape", ["loss1", "scalar_shape"], ["loss"]);
  n("Concat", lossNames, ["losses"], { axis: { int: 0 } });
  if (withGrad) {
    if (gradParts.length === 1) n("Identity", [gradParts[0]], ["dyr_total"]);
    else n("Sum", gradParts, ["dyr_total"]);
    n("Gemm", ["dyr_total", "x"], ["grad"], { transA: { int: 1 } });
  }
  const inputs = [
    valueInfo("x", DataType.FLOAT, ["n", D]),
    valueInfo("weight", DataType.FLOAT, [O, D]),
    valueInfo("split3", DataType.INT64, [hasHn ? 3 : 2]),
    valueInfo("coef", DataType.FLOAT, [2]),
    valueInfo("sim_bias", DataType.FLOAT, ["b", "b"]),
  ];
  if (hasHn) {
    inputs.push(
      valueInfo("split2", DataType.INT64, [2]),
      valueInfo("hn_scale", DataType.FLOAT, ["b", K]),
      valueInfo("hn_bias", DataType.FLOAT, ["b", K]),
    );
  }
  const outputs = [
    valueInfo("loss", DataType.FLOAT, []),
    valueInfo("losses", DataType.FLOAT, [dims.length]),
  ];
  if (withGrad) outputs.push(valueInfo("grad", DataType.FLOAT, [O, D]));
  return buildModel({
    name: withGrad ? "infonce_step" : "infonce_loss",
    nodes,
    inputs,
    outputs,
    initializers: init,
    doc: "Projection head + weighted InfoNCE (Matryoshka prefixes) and its gradient w.r.t. W",
  });
}

/**
 * One batch as the step consumes it: the gathered rows `x` (queries,
 * positives, then negatives row-major by query) and the loss inputs.
 */
export interface StepBatch {
  /** Row-major `[B(2+K), inDim]`. */
  x: Float32Array;
  /** B. */
  size: number;
  /** Hard-negative weights `[B, K]`. */
  weights: Float32Array;
  /** Query-group id per row (false-negative masking). */
  ids: ArrayLike<number>;
}

/**
 * The small per-batch loss inputs computed from the weights and ids:
 * `simBias [B,B]` (-1e30 on false negatives), `hnScale`, `hnBias [B,K]`,
 * and the direction coefficients `[α, β]`.
 *
 * @example
 * ```ts
 * import { lossInputs } from "./train_step.ts";
 * const li = lossInputs(new Float32Array([2, 0]), [0, 0], 1, { temperature: 0.05, symmetric: true, weighting: "exp" });
 * console.log(li.simBias, li.hnBias); // [0, -1e30, -1e30, 0]  [log 2, -1e30]
 * ```
 */
export function lossInputs(
  weights: Float32Array,
  ids: ArrayLike<number>,
  k: number,
  spec: LossSpec,
): { simBias: Float32Array; hnScale: Float32Array; hnBias: Float32Array; coef: Float32Array } {
  const b = ids.length;
  if (weights.length !== b * k) {
    throw new RangeError(`lossInputs: ${weights.length} weights for B=${b}, K=${k}`);
  }
  const simBias = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) if (i !== j && ids[i] === ids[j]) simBias[i * b + j] = MASKED;
  }
  const hnScale = new Float32Array(b * k);
  const hnBias = new Float32Array(b * k);
  for (let t = 0; t < b * k; t++) {
    const w = weights[t];
    if (spec.weighting === "exp") {
      hnScale[t] = 1;
      hnBias[t] = w > 0 ? Math.log(w) : MASKED;
    } else {
      hnScale[t] = w;
      hnBias[t] = 0;
    }
  }
  const coef = spec.symmetric ? new Float32Array([0.5 / b, 0.5 / b]) : new Float32Array([1 / b, 0]);
  return { simBias, hnScale, hnBias, coef };
}

/**
 * What computes a step: the loss (weighted over Matryoshka prefixes), the
 * per-prefix losses and the gradient w.r.t. the weight `[outDim, inDim]`;
 * the loss alone; and normalised projections. {@link OrtStep} (fast) and
 * `TfjsStep` (`lib/train/train_step_tfjs.ts`, the autodiff reference) implement it.
 *
 * @example
 * ```ts
 * import type { StepEngine } from "./train_step.ts";
 * // Type-checked, not run: it needs engine from a real run.
 * async function _example(engine: StepEngine) {
 *   console.log(engine.shape.outDim);
 * }
 * ```
 */
export interface StepEngine {
  /** The head's dimensions and the negatives per query. */
  readonly shape: StepShape;
  /** Loss and dL/dW of a batch at `weight`. */
  lossAndGrad(
    batch: StepBatch,
    weight: Float32Array,
  ): Promise<{ loss: number; losses: Float32Array; grad: Float32Array }>;
  /** Loss of a batch (total and per prefix), without the gradient. */
  loss(batch: StepBatch, weight: Float32Array): Promise<{ loss: number; losses: Float32Array }>;
  /** Project `[n, inDim]` rows to unit `[n, outDim]` rows. */
  project(x: Float32Array, n: number, weight: Float32Array): Promise<Float32Array>;
  /** Free the sessions or tensors. */
  dispose(): Promise<void>;
}

type OrtModule = typeof import("onnxruntime-node");

/** Intra-op threads for the step sessions: every core. */
function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * The loss and gradient engine on onnxruntime (CPU, MLAS). Built once per
 * (shape, loss spec); batches of any size B ≥ 2 run through the same sessions.
 *
 * @example
 * ```ts
 * import { OrtStep } from "./train_step.ts";
 * const step = await OrtStep.create({ inDim: 8, outDim: 4, negatives: 1 },
 *   { temperature: 0.05, symmetric: true, weighting: "exp" });
 * const x = new Float32Array(2 * 3 * 8).map((_, i) => Math.sin(i));
 * const batch = { x, size: 2, weights: new Float32Array([1, 1]), ids: [0, 1] };
 * const { loss, grad } = await step.lossAndGrad(batch, new Float32Array(32).fill(0.1));
 * console.log(loss, grad.length); // … 32
 * await step.dispose();
 * ```
 */
export class OrtStep implements StepEngine {
  /** The head's dimensions and the negatives per query. */
  readonly shape: StepShape;
  /** The loss computed. */
  readonly spec: LossSpec;
  /** Matryoshka prefixes trained (`[outDim]` without Matryoshka). */
  readonly dims: number[];
  #ort: OrtModule;
  #grad: Ort.InferenceSession;
  #loss: Ort.InferenceSession;
  #project?: Ort.InferenceSession;

  private constructor(
    ort: OrtModule,
    shape: StepShape,
    spec: LossSpec,
    grad: Ort.InferenceSession,
    loss: Ort.InferenceSession,
  ) {
    this.#ort = ort;
    this.shape = shape;
    this.spec = spec;
    this.dims = resolveDims(shape.outDim, spec.dims, spec.dimWeights).dims;
    this.#grad = grad;
    this.#loss = loss;
  }

  /**
   * Build the graphs and open the sessions (`threads` intra-op threads,
   * default: every core).
   *
   * @example
   * ```ts
   * import { OrtStep } from "./train_step.ts";
   * const s = await OrtStep.create({ inDim: 1024, outDim: 256, negatives: 7 },
   *   { temperature: 0.05, symmetric: true, weighting: "exp", dims: [256, 128, 64] });
   * await s.dispose();
   * ```
   */
  static async create(
    shape: StepShape,
    spec: LossSpec,
    opts: { threads?: number } = {},
  ): Promise<OrtStep> {
    const ort = await loadOrt();
    const options: Ort.InferenceSession.SessionOptions = {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: opts.threads ?? defaultThreads(),
      interOpNumThreads: 1,
      executionMode: "sequential",
      logSeverityLevel: 3,
    };
    const [grad, loss] = await Promise.all([
      ort.InferenceSession.create(stepGraph(shape, spec, true), options),
      ort.InferenceSession.create(stepGraph(shape, spec, false), options),
    ]);
    return new OrtStep(ort, shape, spec, grad, loss);
  }

  #feeds(batch: StepBatch, weight: Float32Array): Record<string, Ort.Tensor> {
    const { inDim: D, outDim: O, negatives: K } = this.shape;
    const b = batch.size;
    if (b < 2) throw new RangeError(`train step: a batch needs at least 2 rows, got ${b}`);
    if (batch.x.length !== b * (2 + K) * D) {
      throw new RangeError(
        `train step: x has ${batch.x.length} values, expected B(2+K)·D = ${b}·${2 + K}·${D}`,
      );
    }
    if (weight.length !== O * D) {
      throw new RangeError(`train step: weight has ${weight.length} values, expected ${O}·${D}`);
    }
    const T = this.#ort.Tensor;
    const li = lossInputs(batch.weights, batch.ids, K, this.spec);
    const feeds: Record<string, Ort.Tensor> = {
      x: new T("float32", batch.x, [b * (2 + K), D]),
      weight: new T("float32", weight, [O, D]),
      coef: new T("float32", li.coef, [2]),
      sim_bias: new T("float32", li.simBias, [b, b]),
      split3: new T(
        "int64",
        K > 0
          ? BigInt64Array.from([b, b, b * K].map(BigInt))
          : BigInt64Array.from([b, b].map(BigInt)),
        [K > 0 ? 3 : 2],
      ),
    };
    if (K > 0) {
      feeds.split2 = new T("int64", BigInt64Array.from([BigInt(b), BigInt(K)]), [2]);
      feeds.hn_scale = new T("float32", li.hnScale, [b, K]);
      feeds.hn_bias = new T("float32", li.hnBias, [b, K]);
    }
    return feeds;
  }

  /**
   * Loss (weighted over prefixes), the per-prefix losses, and the gradient
   * w.r.t. the weight, `[outDim, inDim]`.
   *
   * @example
   * ```ts
   * import { OrtStep, type StepBatch } from "./train_step.ts";
   * // Type-checked, not run: it needs step, batch, weight from a real run.
   * async function _example(step: OrtStep, batch: StepBatch, weight: Float32Array) {
   *   const { loss, grad } = await step.lossAndGrad(batch, weight);
   * }
   * ```
   */
  async lossAndGrad(
    batch: StepBatch,
    weight: Float32Array,
  ): Promise<{ loss: number; losses: Float32Array; grad: Float32Array }> {
    const out = await this.#grad.run(this.#feeds(batch, weight));
    return {
      loss: (out.loss.data as Float32Array)[0],
      losses: out.losses.data as Float32Array,
      grad: out.grad.data as Float32Array,
    };
  }

  /**
   * The loss alone (validation).
   *
   * @example
   * ```ts
   * import { OrtStep, type StepBatch } from "./train_step.ts";
   * // Type-checked, not run: it needs step, batch, weight from a real run.
   * async function _example(step: OrtStep, batch: StepBatch, weight: Float32Array) {
   *   const { loss, losses } = await step.loss(batch, weight);
   * }
   * ```
   */
  async loss(
    batch: StepBatch,
    weight: Float32Array,
  ): Promise<{ loss: number; losses: Float32Array }> {
    const out = await this.#loss.run(this.#feeds(batch, weight));
    return { loss: (out.loss.data as Float32Array)[0], losses: out.losses.data as Float32Array };
  }

  /**
   * Project row-major `[n, inDim]` rows with `weight` (`[outDim, inDim]`) and
   * L2-normalise each `[n, outDim]` row (no gradient), in blocks.
   *
   * @example
   * ```ts
   * import { OrtStep } from "./train_step.ts";
   * // Type-checked, not run: it needs step, weight, rows from a real run.
   * async function _example(step: OrtStep, weight: Float32Array, rows: Float32Array) {
   *   const y = await step.project(rows, rows.length / step.shape.inDim, weight);
   * }
   * ```
   */
  async project(x: Float32Array, n: number, weight: Float32Array): Promise<Float32Array> {
    const { inDim: D, outDim: O } = this.shape;
    if (x.length !== n * D) {
      throw new RangeError(`project: ${x.length} values is not ${n} rows of ${D}`);
    }
    this.#project ??= await this.#ort.InferenceSession.create(projectGraph(D, O), {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "all",
      intraOpNumThreads: defaultThreads(),
      logSeverityLevel: 3,
    });
    const out = new Float32Array(n * O);
    const T = this.#ort.Tensor;
    const w = new T("float32", weight, [O, D]);
    const block = 8192;
    for (let s = 0; s < n; s += block) {
      const rows = Math.min(block, n - s);
      const r = await this.#project.run({
        x: new T("float32", x.subarray(s * D, (s + rows) * D), [rows, D]),
        weight: w,
      });
      const y = r.y.data as Float32Array;
      normalizeRows(y, rows, O);
      out.set(y, s * O);
    }
    return out;
  }

  /**
   * Close the sessions.
   *
   * @example
   * ```ts
   * import { OrtStep } from "./train_step.ts";
   * // Type-checked, not run: it needs step from a real run.
   * async function _example(step: OrtStep) {
   *   await step.dispose();
   * }
   * ```
   */
  async dispose(): Promise<void> {
    await this.#grad.release();
    await this.#loss.release();
    await this.#project?.release();
  }
}

function projectGraph(D: number, O: number): Uint8Array {
  return buildModel({
    name: "project",
    nodes: [node("Gemm", ["x", "weight"], ["y"], { transB: { int: 1 } })],
    inputs: [
      valueInfo("x", DataType.FLOAT, ["n", D]),
      valueInfo("weight", DataType.FLOAT, [O, D]),
    ],
    outputs: [valueInfo("y", DataType.FLOAT, ["n", O])],
  });
}

/**
 * L2-normalise the rows of a row-major `[n, dim]` matrix in place
 * (`x / sqrt(Σx² + 1e-12)`, as the head does).
 *
 * @example
 * ```ts
 * import { normalizeRows } from "./train_step.ts";
 * const rows = normalizeRows(new Float32Array([3, 4]), 1, 2);
 * if (Math.abs(rows[0] - 0.6) > 1e-6 || Math.abs(rows[1] - 0.8) > 1e-6) throw new Error(`got ${rows}`);
 * ```
 */
export function normalizeRows(x: Float32Array, n: number, dim: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * dim;
    for (let t = 0; t < dim; t++) s += x[o + t] * x[o + t];
    const inv = 1 / Math.sqrt(s + 1e-12);
    for (let t = 0; t < dim; t++) x[o + t] *= inv;
  }
  return x;
}
