/**
 * Control experiment for `bench:bge`: two identical plain onnxruntime-node
 * sessions of the BGE-M3-shaped model in one process, run interleaved batch
 * by batch (alternating which goes first, two passes). Any difference is not
 * this project's wrapper: it is what creation order does to two 2.2 GB
 * sessions. Run: `deno run --allow-read=. --allow-env --allow-ffi --allow-sys
 * bench/bge_session_order.ts` (after `deno task build-model --shape bge-m3
 * --out data/models/bge-m3-shape`).
 *
 * @module
 */
import type { InferenceSession } from "onnxruntime-node";
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { loadOrt } from "../lib/core/ort.ts";
import { Rng } from "../lib/core/rng.ts";
import { loadTokenizer } from "../lib/encoder/tokenizer.ts";

const dir = Deno.args[0] ?? "data/models/bge-m3-shape";
const ort = await loadOrt();
const tok = await loadTokenizer(dir);
const all = uniqueTexts((await loadDataset("data/gen-data-set.json")).examples);
const pick = new Rng(7).shuffle(all.map((_, i) => i)).slice(0, 96);
const ids = pick.map((i) => tok.encode(all[i], 512).ids);
const opts = {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all" as const,
  logSeverityLevel: 3 as const,
};
const first = await ort.InferenceSession.create(`${dir}/model.onnx`, opts);
const second = await ort.InferenceSession.create(`${dir}/model.onnx`, opts);
const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);

async function run(s: InferenceSession, rows: number[]) {
  const len = Math.max(...rows.map((r) => ids[r].length));
  const a = new BigInt64Array(rows.length * len).fill(1n);
  const m = new BigInt64Array(rows.length * len);
  rows.forEach((r, k) =>
    ids[r].forEach((id, j) => {
      a[k * len + j] = BigInt(id);
      m[k * len + j] = 1n;
    })
  );
  await s.run({
    input_ids: new ort.Tensor("int64", a, [rows.length, len]),
    attention_mask: new ort.Tensor("int64", m, [rows.length, len]),
  });
}

let t1 = 0, t2 = 0;
for (const pass of [0, 1]) {
  for (let i = 0, bi = pass; i < order.length; i += 64, bi++) {
    const rows = order.slice(i, i + 64);
    const a = async () => {
      const t = performance.now();
      await run(first, rows);
      t1 += performance.now() - t;
    };
    const b = async () => {
      const t = performance.now();
      await run(second, rows);
      t2 += performance.now() - t;
    };
    if (bi % 2 === 0) {
      await a();
      await b();
    } else {
      await b();
      await a();
    }
  }
}
console.log(
  `first-created session ${(t1 / 1000).toFixed(1)} s, second-created ${
    (t2 / 1000).toFixed(1)
  } s (same batches, interleaved); second/first time ${(t2 / t1).toFixed(3)}`,
);
await first.release();
await second.release();
