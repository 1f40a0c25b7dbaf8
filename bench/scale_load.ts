/**
 * Load a dataset and list its unique texts, for `bench/scale.ts`'s peak-RSS
 * runs: `deno run --allow-read bench/scale_load.ts FILE`. With
 * `--prepare CACHE_ROOT` it runs the trainer's data preparation instead
 * (load, split, and the embedding matrix read from a warm cache).
 *
 * @module
 */
import { resolveConfig } from "../lib/train/config.ts";
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { prepareTraining } from "../lib/train/trainer.ts";

if (import.meta.main) {
  const t0 = performance.now();
  const [path, flag, cacheRoot] = Deno.args;
  let line: string;
  if (flag === "--prepare") {
    const data = await prepareTraining(resolveConfig({}, { data: path, cacheRoot }));
    line = `${data.dataset.examples.length} examples, ${data.texts.length} × ${data.encoder.dim} ` +
      `matrix (${(data.embeddings.byteLength / 1e6).toFixed(0)} MB), ${data.cache.misses} encoded`;
  } else {
    const ds = await loadDataset(path);
    const texts = uniqueTexts(ds.examples);
    line = `${ds.examples.length} examples, ${texts.length} unique texts`;
  }
  console.log(`${line}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
