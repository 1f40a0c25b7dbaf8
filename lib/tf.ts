/**
 * The tfjs this project uses: `@tensorflow/tfjs-core` with its chained tensor
 * ops (`t.slice(...)`, `t.reshape(...)`) and the pure-JS cpu backend
 * registered, instead of the `@tensorflow/tfjs` bundle, which also installs
 * layers, the converter, tfjs-data and WebGL (about 250 MB of `node_modules`
 * this project never loads). The wasm backend is registered by
 * `lib/backend.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * const t = tf.tensor2d([[1, 2], [3, 4]]);
 * console.log(t.slice([0, 0], [1, 2]).arraySync()); // [[1, 2]]
 * ```
 *
 * @module
 */
// The types of the chained ops (module augmentations of Tensor), without their
// runtime files: those are bundler-style ESM (extensionless imports) that Deno
// cannot load, so the methods are registered below, as each of those files does.
import type {} from "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js";
import "@tensorflow/tfjs-backend-cpu";
import * as core from "@tensorflow/tfjs-core";
export * from "@tensorflow/tfjs-core";

type Method = (this: core.Tensor, ...args: unknown[]) => unknown;
const ops = core as unknown as Record<string, (...args: unknown[]) => unknown>;
const proto = core.Tensor.prototype as unknown as Record<string, Method>;
/** Chained ops that are `op(this, ...args)` (tfjs-core 4.22's `public/chained_ops`). */
const PLAIN = ("abs acos acosh add all any argMax argMin asin asinh atan atan2 atanh avgPool " +
  "batchToSpaceND batchNorm broadcastTo cast ceil clipByValue conv1d conv2d conv2dTranspose cos " +
  "cosh cumprod cumsum depthToSpace depthwiseConv2d dilation2d div divNoNan dot elu equal erf " +
  "euclideanNorm exp expandDims expm1 fft floor floorDiv gather greater greaterEqual ifft irfft " +
  "isFinite isInf isNaN leakyRelu less lessEqual localResponseNormalization log log1p logSigmoid " +
  "logSoftmax logSumExp logicalAnd logicalNot logicalOr logicalXor matMul max maxPool maximum " +
  "mean min minimum mirrorPad mod mul neg norm notEqual oneHot onesLike pad pool pow prelu prod " +
  "reciprocal relu relu6 reshape resizeBilinear resizeNearestNeighbor reverse rfft round rsqrt " +
  "selu separableConv2d sigmoid sign sin sinh slice softmax softplus spaceToBatchND split sqrt " +
  "square squaredDifference squeeze step stridedSlice sub sum tan tanh tile topk transpose unique " +
  "unsortedSegmentSum unstack zerosLike").split(" ");
for (const name of PLAIN) {
  const op = ops[name];
  if (typeof op !== "function" || name in proto) continue;
  proto[name] = function (...args) {
    this.throwIfDisposed();
    return op(this, ...args);
  };
}
const special: Record<string, Method> = {
  as1D() {
    return core.reshape(this, [this.size]);
  },
  as2D(rows, columns) {
    return core.reshape(this, [rows as number, columns as number]);
  },
  as3D(a, b, c) {
    return core.reshape(this, [a, b, c] as number[]);
  },
  as4D(a, b, c, d) {
    return core.reshape(this, [a, b, c, d] as number[]);
  },
  as5D(a, b, c, d, e) {
    return core.reshape(this, [a, b, c, d, e] as number[]);
  },
  asScalar() {
    if (this.size !== 1) throw new Error("The array must have only 1 element.");
    return core.reshape(this, []);
  },
  asType(dtype) {
    return core.cast(this, dtype as core.DataType);
  },
  toBool() {
    return core.cast(this, "bool");
  },
  toFloat() {
    return core.cast(this, "float32");
  },
  toInt() {
    return core.cast(this, "int32");
  },
  flatten() {
    return core.reshape(this, [this.size]);
  },
  reshapeAs(x) {
    return core.reshape(this, (x as core.Tensor).shape);
  },
  concat(x, axis) {
    const rest = x instanceof core.Tensor ? [x] : x as core.Tensor[];
    return core.concat([this, ...rest], axis as number | undefined);
  },
  stack(x, axis) {
    const rest = x instanceof core.Tensor ? [x] : x as core.Tensor[];
    return core.stack([this, ...rest], axis as number | undefined);
  },
  where(condition, x) {
    return core.where(condition as core.Tensor, this, x as core.Tensor);
  },
};
for (const [name, fn] of Object.entries(special)) {
  if (name in proto) continue;
  proto[name] = function (...args) {
    this.throwIfDisposed();
    return fn.apply(this, args);
  };
}
