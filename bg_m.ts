import { loadEncoder } from "./lib/encoder.ts";
import { loadDataset, uniqueTexts } from "./lib/dataset.ts";
const texts = uniqueTexts((await loadDataset("data/gen-data-set.json")).examples);
const enc = await loadEncoder();
for (let r = 0; r < 4; r++) {
  const t = performance.now();
  const res = await enc.encode(texts, { batchSize: 32 }) as any;
  const tm = res.timings;
  console.log("total", (performance.now() - t).toFixed(0), Object.entries(tm).map(([k, v]) => `${k} ${(v as number).toFixed(0)}`).join(" "));
}
