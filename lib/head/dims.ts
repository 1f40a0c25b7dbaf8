/**
 * Output dimensions of a trained head: which prefixes are usable
 * (`config.matryoshka` of a Matryoshka run, else only `outDim`), and taking a
 * prefix of vectors then renormalising it. Used by `encode`, `search`,
 * `export`, `eval` (`--dim N`) and `mine`.
 *
 * @module
 */
import { initBackend } from "../core/backend.ts";
import { UsageError } from "../core/errors.ts";
import type { LoadedCheckpoint } from "../run/checkpoint.ts";
import { ProjectionHead } from "./head.ts";

/**
 * `--dim` names a prefix the head was not trained for (a {@linkcode UsageError},
 * so scripts exit 2).
 *
 * @example
 * ```ts
 * import { DimError } from "./dims.ts";
 * if (new DimError("--dim 100 ...").name !== "DimError") throw new Error("name");
 * ```
 */
export class DimError extends UsageError {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "DimError";
  }
}

/**
 * The output dimensions a run was trained to serve, largest first: the
 * prefixes in `config.matryoshka` (a Matryoshka run), always including
 * `head.outDim`; a run without `matryoshka` serves only `outDim`.
 * Malformed entries are an error naming the file's field.
 *
 * @example
 * ```ts
 * import { trainedDims } from "./dims.ts";
 * const info = { head: { outDim: 256 }, config: { matryoshka: [256, 128, 64] } };
 * if (JSON.stringify(trainedDims(info)) !== JSON.stringify([256, 128, 64])) throw new Error(`got ${JSON.stringify(trainedDims(info))}`);
 * if (JSON.stringify(trainedDims({ head: { outDim: 256 }, config: {} })) !== JSON.stringify([256])) throw new Error(`got ${JSON.stringify(trainedDims({ head: { outDim: 256 }, config: {} }))}`);
 * ```
 */
export function trainedDims(
  info: { head: { outDim: number }; config: object },
): number[] {
  const outDim = info.head.outDim;
  const m = (info.config as { matryoshka?: unknown }).matryoshka;
  if (m === undefined || m === null) return [outDim];
  if (!Array.isArray(m)) {
    throw new DimError(`config.json: field "config.matryoshka" must be an array of integers`);
  }
  const dims = new Set<number>([outDim]);
  m.forEach((d, i) => {
    if (!Number.isInteger(d) || d < 1 || d > outDim) {
      throw new DimError(
        `config.json: field "config.matryoshka[${i}]" must be an integer in 1..${outDim}, got ${
          JSON.stringify(d)
        }`,
      );
    }
    dims.add(d);
  });
  return [...dims].sort((a, b) => b - a);
}

/**
 * Check a requested `--dim` against the run's trained dimensions and return
 * the dimension to use (`outDim` when none was requested). The error lists
 * the allowed values.
 *
 * @example
 * ```ts
 * import { resolveDim } from "./dims.ts";
 * const info = { head: { outDim: 256 }, config: { matryoshka: [256, 64] } };
 * if (JSON.stringify(resolveDim(info, 64)) !== JSON.stringify(64)) throw new Error(`got ${JSON.stringify(resolveDim(info, 64))}`);
 * if (JSON.stringify(resolveDim(info, undefined)) !== JSON.stringify(256)) throw new Error(`got ${JSON.stringify(resolveDim(info, undefined))}`);
 * // resolveDim(info, 100) throws: --dim 100 is not a trained dimension ... 256, 64
 * ```
 */
export function resolveDim(
  info: { head: { outDim: number }; config: object },
  dim: number | undefined,
  where = "the checkpoint",
): number {
  const dims = trainedDims(info);
  if (dim === undefined) return info.head.outDim;
  if (!dims.includes(dim)) {
    const how = dims.length === 1
      ? "it was not trained with --matryoshka, so only its full output"
      : "the Matryoshka prefixes it was trained on";
    throw new DimError(
      `--dim ${dim} is not a trained dimension of ${where}: ${how} can be used: ${dims.join(", ")}`,
    );
  }
  return dim;
}

/**
 * The first `dim` components of each row of a row-major `[n, fromDim]`
 * matrix, each row L2-normalised again (a zero row stays zero). With
 * `dim === fromDim` the rows are still renormalised (a copy).
 *
 * @example
 * ```ts
 * import { prefixNormalize } from "./dims.ts";
 * const x = new Float32Array([0.6, 0.0, 0.8, 0, 1, 0]); // 2 rows of 3
 * if (JSON.stringify(Array.from(prefixNormalize(x, 2, 3, 2))) !== JSON.stringify([1, 0, 0, 1])) throw new Error(`got ${prefixNormalize(x, 2, 3, 2)}`);
 * ```
 */
export function prefixNormalize(
  x: Float32Array,
  n: number,
  fromDim: number,
  dim: number,
): Float32Array {
  if (!Number.isInteger(dim) || dim < 1 || dim > fromDim) {
    throw new RangeError(`prefixNormalize: dim must be an integer in 1..${fromDim}, got ${dim}`);
  }
  if (x.length !== n * fromDim) {
    throw new RangeError(`prefixNormalize: got ${x.length} values, expected ${n} × ${fromDim}`);
  }
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const src = i * fromDim, dst = i * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = x[src + d];
      out[dst + d] = v;
      s += v * v;
    }
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let d = 0; d < dim; d++) out[dst + d] *= inv;
    }
  }
  return out;
}

/**
 * A function that projects base embeddings `[n, inDim]` through a loaded
 * head and keeps the `dim`-prefix, renormalised (the full output when `dim`
 * is absent or equals `outDim`). Call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { headProjector } from "./dims.ts";
 * import { loadCheckpoint } from "../run/checkpoint.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const p = await headProjector(await loadCheckpoint("checkpoints/latest"), 64);
 *   console.log(p.dim); // 64, if the run was trained with --matryoshka ...,64
 *   p.dispose();
 * }
 * ```
 */
export async function headProjector(
  ckpt: LoadedCheckpoint,
  dim?: number,
): Promise<
  { dim: number; project: (x: Float32Array, n: number) => Float32Array; dispose(): void }
> {
  const use = resolveDim(ckpt.info, dim, ckpt.dir);
  await initBackend("auto");
  const head = ProjectionHead.create({ inDim: ckpt.inDim, outDim: ckpt.outDim, seed: 0 });
  head.setWeight(ckpt.weight);
  return {
    dim: use,
    project: (x, n) => {
      const y = head.project(x, n);
      return use === ckpt.outDim ? y : prefixNormalize(y, n, ckpt.outDim, use);
    },
    dispose: () => head.dispose(),
  };
}
