/**
 * Load a dataset and list its unique texts, for {@link ../bench/scale.ts}'s
 * peak-RSS runs: `deno run --allow-read bench/scale_load.ts FILE`.
 *
 * @module
 */
import { loadDataset, uniqueTexts } from "../lib/dataset.ts";

if (import.meta.main) {
  const t0 = performance.now();
  const ds = await loadDataset(Deno.args[0]);
  const texts = uniqueTexts(ds.examples);
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `${ds.examples.length} examples, ${texts.length} unique texts, ${secs.toFixed(1)} s`,
  );
}
