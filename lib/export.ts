/**
 * Export a trained head to ONNX, to chain after any ONNX encoder.
 *
 * @module
 */
import { loadCheckpoint } from "./checkpoint.ts";
import { linearHeadGraph } from "./onnx_build.ts";

/**
 * The checkpoint's head as ONNX bytes.
 *
 * @example
 * ```ts
 * import { exportHead } from "./export.ts";
 * const { bytes } = await exportHead("checkpoints/latest", "best");
 * console.log(bytes.length);
 * ```
 */
export async function exportHead(
  dir: string,
  which: "best" | "final",
): Promise<{ bytes: Uint8Array; inDim: number; outDim: number }> {
  const ckpt = await loadCheckpoint(dir, { which });
  // The checkpoint holds the PyTorch layout [out, in]; ONNX MatMul wants [in, out].
  const w = new Float32Array(ckpt.inDim * ckpt.outDim);
  for (let o = 0; o < ckpt.outDim; o++) {
    for (let i = 0; i < ckpt.inDim; i++) w[i * ckpt.outDim + o] = ckpt.weight[o * ckpt.inDim + i];
  }
  return {
    bytes: linearHeadGraph(w, ckpt.inDim, ckpt.outDim),
    inDim: ckpt.inDim,
    outDim: ckpt.outDim,
  };
}
