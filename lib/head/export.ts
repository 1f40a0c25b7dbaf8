/**
 * Export a trained head to ONNX, to chain after any ONNX encoder.
 *
 * @module
 */
import { loadCheckpoint } from "../run/checkpoint.ts";
import { resolveDim } from "./dims.ts";
import { linearHeadGraph } from "../core/onnx_build.ts";

/**
 * The checkpoint's head as ONNX bytes. With `dim` (a trained Matryoshka
 * prefix, see `lib/head/dims.ts`) the graph keeps the first `dim` output rows and
 * L2-normalises them, which is exactly "prefix, then renormalise".
 *
 * @example
 * ```ts
 * import { exportHead } from "./export.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const { bytes } = await exportHead("checkpoints/latest", "best");
 *   console.log(bytes.length);
 * }
 * ```
 */
export async function exportHead(
  dir: string,
  which: "best" | "final",
  dim?: number,
): Promise<{ bytes: Uint8Array; inDim: number; outDim: number }> {
  const ckpt = await loadCheckpoint(dir, { which });
  const outDim = resolveDim(ckpt.info, dim, ckpt.dir);
  // The checkpoint holds the PyTorch layout [out, in]; ONNX MatMul wants [in, out].
  // Rows beyond `outDim` (a Matryoshka prefix) are left out.
  const w = new Float32Array(ckpt.inDim * outDim);
  for (let o = 0; o < outDim; o++) {
    for (let i = 0; i < ckpt.inDim; i++) w[i * outDim + o] = ckpt.weight[o * ckpt.inDim + i];
  }
  return {
    bytes: linearHeadGraph(w, ckpt.inDim, outDim),
    inDim: ckpt.inDim,
    outDim,
  };
}
