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
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
import "@tensorflow/tfjs-backend-cpu";
export * from "@tensorflow/tfjs-core";
