/**
 * The tfjs this project uses, imported in one place: the `@tensorflow/tfjs`
 * bundle (core, its chained tensor ops, the gradients and the cpu backend).
 * `@tensorflow/tfjs-core` alone would save about 250 MB of `node_modules`, but
 * it registers neither the gradients nor the chained ops, and their files are
 * bundler-style ESM (extensionless imports) that Deno cannot load. The wasm
 * backend is registered by `lib/core/backend.ts`.
 *
 * @example
 * ```ts
 * import * as tf from "./tf.ts";
 * const t = tf.tensor2d([[1, 2], [3, 4]]);
 * if (JSON.stringify(t.slice([0, 0], [1, 2]).arraySync()) !== JSON.stringify([[1, 2]])) throw new Error(`got ${JSON.stringify(t.slice([0, 0], [1, 2]).arraySync())}`);
 * ```
 *
 * @module
 */
export * from "@tensorflow/tfjs";
