import { buildShapeModel, TINY_XLMR_SHAPE } from "../lib/encoder/bge_shape.ts";
import { collectTexts } from "../lib/encoder/default_model.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { quantizeModel } from "../lib/encoder/quantize_model.ts";
const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")));
const dir = await Deno.makeTempDir();
await buildShapeModel(dir, texts.slice(0, 400), { shape: TINY_XLMR_SHAPE, vocabSize: 800 });
const r = await quantizeModel(dir, dir + "-int8", { onLog: console.log });
const a = await loadEncoder(dir), b = await loadEncoder(dir + "-int8");
console.log(a.fingerprint.slice(0, 8), b.fingerprint.slice(0, 8), b.config);
const sample = texts.slice(0, 200);
const va = await a.encode(sample), vb = await b.encode(sample);
let min = 1, sum = 0;
for (let i = 0; i < sample.length; i++) {
  let d = 0;
  for (let j = 0; j < va.dim; j++) d += va.data[i * va.dim + j] * vb.data[i * va.dim + j];
  min = Math.min(min, d);
  sum += d;
}
console.log("cosine mean", sum / sample.length, "worst", min, r.skipped);
