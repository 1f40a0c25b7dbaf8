/**
 * Low-level pieces every other package builds on: atomic file writes, the seeded
 * random generator, the one loader of `onnxruntime-node`, the tfjs backend,
 * ONNX graph building and the safetensors format. Nothing here knows about
 * datasets, heads or runs.
 *
 * @example
 * ```ts
 * import { Rng } from "./mod.ts";
 * const a = new Rng(7), b = new Rng(7);
 * const x = a.next(), y = b.next();
 * if (x !== y || !(x >= 0 && x < 1)) throw new Error("Rng must be seeded and in [0, 1)");
 * ```
 *
 * @module
 */

export { type Device, DEVICES, initBackend } from "./backend.ts";
export { atomicWrite, atomicWriteJson } from "./fs.ts";
export { disableOrtTelemetry, loadOrt, type Ort } from "./ort.ts";
export { linearHeadGraph, type LinearHeadOptions, type XlmrShape } from "./onnx_build.ts";
export { Rng } from "./rng.ts";
export {
  readSafetensors,
  type SafeTensor,
  type SafetensorsFile,
  writeSafetensors,
} from "./safetensors.ts";
export { UsageError } from "./errors.ts";
