/**
 * Hard-negative mining: rank every listing against each query with a scorer
 * (the base encoder, a head, or lexical), and keep listings that differ from
 * the positive in a stated feature, with their weights.
 *
 * @example
 * ```ts
 * import { parseRange } from "./mod.ts";
 * const r = parseRange("3-10");
 * if (JSON.stringify(r) !== "[3,10]") throw new Error(JSON.stringify(r));
 * ```
 *
 * @module
 */

export {
  type Constraints,
  differingFeatures,
  type Features,
  formatMineReport,
  type MinedRecord,
  mineHardNegatives,
  type MineOptions,
  type MineReport,
  parseRange,
  readFeatures,
  sameFeatureValue,
} from "./mine.ts";

// Types of other packages that this package's API uses, so that this entry point names them.
export { type Example, type Negative, type WeightConfig } from "../data/dataset.ts";
