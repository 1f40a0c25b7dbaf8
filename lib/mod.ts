/**
 * phongtro-head: train a small projection head (1024→256) on top of a
 * frozen BGE-M3 encoder for search over Vietnamese rental listings.
 *
 * The public API at a glance:
 *
 * - **data**: {@link loadDataset}, {@link loadWeightConfig}, {@link splitDataset}, {@link batches}
 * - **encoder**: {@link loadEncoder}, {@link ensureDefaultModel}, {@link embedTexts} (cache)
 * - **loss**: {@link weightedInfoNCE} (`weighting: "exp"` correct, `"logit"` the original bug),
 *   {@link matryoshkaInfoNCE}
 * - **fast step**: {@link OrtStep} (onnxruntime: forward, loss, closed-form gradient),
 *   {@link adamWUpdate}, {@link TfjsStep} (tfjs autodiff reference)
 * - **head**: {@link ProjectionHead}
 * - **training**: {@link resolveConfig}, {@link prepareTraining}, {@link trainHead}
 * - **checkpoints / inference**: {@link loadCheckpoint}, {@link loadProjectionModel},
 *   {@link RunDir} (one locked writer per run directory, one manifest per epoch)
 * - **evaluation**: {@link retrievalTask}, {@link compareBaseAndHead}, {@link topK}, {@link SearchIndex},
 *   {@link rankingMetrics}
 * - **plots**: {@link lossCurves}, {@link pcaScatter}, {@link displayPlot}, {@link writeReport}
 * - **beyond the head**: {@link mineHardNegatives} (hard-negative mining), {@link resolveDim} /
 *   {@link prefixNormalize} (Matryoshka prefixes), {@link buildIndex} / {@link searchIndex}
 *   (int8 and binary vectors), {@link compareMethods} / {@link compareFigure} (`eval --compare`)
 * - **serving**: {@link readListings}, {@link indexListings}, {@link VectorStore} (LanceDB),
 *   {@link openSearchService}, {@link serveSearch}, {@link renderSearchPage}
 *
 * @example
 * ```ts
 * import { loadProjectionModel } from "./mod.ts";
 * // Type-checked, not run: it needs a trained run (`deno task train`).
 * async function _example() {
 *   const model = await loadProjectionModel("checkpoints/latest");
 *   const { dim, data } = await model.encode(["phòng trọ q10 giá rẻ có máy lạnh"]);
 *   console.log(dim, data.length); // 256 256
 *   await model.dispose();
 * }
 * ```
 *
 * @module
 */

export * from "./core/mod.ts";
export * from "./data/mod.ts";
export * from "./encoder/mod.ts";
export * from "./head/mod.ts";
export * from "./train/mod.ts";
export * from "./run/mod.ts";
export * from "./eval/mod.ts";
export * from "./mine/mod.ts";
export * from "./report/mod.ts";
export * from "./serve/mod.ts";
export * from "./cli/mod.ts";
export * from "./notebook/mod.ts";
