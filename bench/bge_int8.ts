/**
 * Opt-in benchmark of the int8 encoder (`deno task quantize-model`) against
 * the float32 one it was made from, in one run (NOT in CI):
 * `deno task bench:int8 [--fp32 DIR] [--int8 DIR] [--sample 48] [--full]`.
 *
 * Needs `deno task build-model --shape bge-m3 --out data/models/bge-m3-shape`
 * and `deno task quantize-model --model data/models/bge-m3-shape --out
 * data/models/bge-m3-shape-int8`. The shape model's weights are RANDOM: its
 * vectors mean nothing, so the agreement numbers say how faithful int8 is to
 * float32 for this architecture, not how good either is for search.
 *
 * - tokens/s of both on a seeded sample of the dataset's unique texts
 *   (batches of 32, the two models alternated, medians of 3 passes);
 * - cosine of int8 against float32 vectors (mean and worst) on the sample,
 *   and on the small real-architecture test model (2 layers, hidden 64) on
 *   500 texts;
 * - `--full`: every unique text (6,825) cold through each model in a child
 *   process (`/usr/bin/time` for the peak RSS), and the overlap of their top-10
 *   neighbours (each text as a query against all).
 *
 * @module
 */
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { buildShapeModel, TINY_XLMR_SHAPE } from "../lib/encoder/bge_shape.ts";
import { quantizeModel } from "../lib/encoder/quantize_model.ts";
import { topK } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";
import { parseCommand } from "../lib/cli/cli.ts";

const { flags: given } = parseCommand(Deno.args, {
  name: "bench:int8",
  usage: "deno task bench:int8 [--fp32 DIR] [--int8 DIR] [--sample 48] [--full]",
  description: "int8 against float32 encoder: tokens/s, vector agreement, cold encode, RSS.",
  flags: {
    fp32: { type: "string", help: "float32 model", default: "data/models/bge-m3-shape" },
    int8: { type: "string", help: "int8 model", default: "data/models/bge-m3-shape-int8" },
    sample: { type: "int", help: "texts in the throughput sample", default: 48 },
    full: { type: "boolean", help: "encode all texts cold with each (long on 2 cores)" },
    "encode-all": { type: "string", help: "(internal) encode all texts with DIR into --vectors" },
    vectors: { type: "string", help: "(internal) where --encode-all writes" },
  },
});

// parseCommand leaves defaults to the caller.
const flags = {
  fp32: "data/models/bge-m3-shape",
  int8: "data/models/bge-m3-shape-int8",
  sample: 48,
  ...given,
} as Record<string, string | number | boolean | undefined>;
const { examples } = await loadDataset("data/gen-data-set.json");
const texts = uniqueTexts(examples);

if (flags.encodeAll) {
  // Child process of --full: one model, all texts, cold.
  const enc = await loadEncoder(flags.encodeAll as string);
  const t0 = performance.now();
  const out = await enc.encode(texts, { batchSize: 32 });
  const s = (performance.now() - t0) / 1000;
  await Deno.writeFile(flags.vectors as string, new Uint8Array(out.data.buffer));
  console.log(
    JSON.stringify({ seconds: s, texts: texts.length, tokens: out.timings?.paddedTokens }),
  );
  await enc.dispose();
  Deno.exit(0);
}

const rng = new Rng(7);
const sample = rng.shuffle(texts.slice()).slice(0, flags.sample as number);
const cos = (a: Float32Array, b: Float32Array, n: number, dim: number) => {
  let sum = 0, worst = 1;
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let j = 0; j < dim; j++) d += a[i * dim + j] * b[i * dim + j];
    sum += d;
    worst = Math.min(worst, d);
  }
  return { mean: sum / n, worst };
};

const fp32 = await loadEncoder(flags.fp32 as string);
const int8 = await loadEncoder(flags.int8 as string);
console.log(`float32: ${fp32.dir} (${fp32.fingerprint.slice(0, 12)})`);
console.log(
  `int8:    ${int8.dir} (${int8.fingerprint.slice(0, 12)}, precision ${int8.config.precision})`,
);
console.log("The shape model's weights are random: agreement, not quality.\n");
await fp32.encode(sample.slice(0, 4));
await int8.encode(sample.slice(0, 4)); // sessions open, warm
const runs: Record<string, number[]> = { fp32: [], int8: [] };
let tokens = 0;
let vf: Float32Array = new Float32Array(0), vi: Float32Array = new Float32Array(0);
for (let rep = 0; rep < 3; rep++) {
  for (const [name, enc] of [["fp32", fp32], ["int8", int8]] as const) {
    const t = performance.now();
    const r = await enc.encode(sample, { batchSize: 32 });
    runs[name].push(performance.now() - t);
    tokens = r.timings?.paddedTokens ?? tokens;
    if (name === "fp32") vf = r.data;
    else vi = r.data;
  }
}
const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const tps = (ms: number) => tokens / (ms / 1000);
const c = cos(vf, vi, sample.length, fp32.dim);
console.log(
  "| model | tokens/s (sample of " + sample.length + ", " + tokens + " tokens) | vs float32 |",
);
console.log("| --- | ---: | ---: |");
console.log(`| float32 | ${tps(med(runs.fp32)).toFixed(0)} | 1.00× |`);
console.log(
  `| int8 | ${tps(med(runs.int8)).toFixed(0)} | ${(med(runs.fp32) / med(runs.int8)).toFixed(2)}× |`,
);
console.log(
  `\ncosine int8 vs float32, shape model, ${sample.length} texts: mean ${
    c.mean.toFixed(5)
  }, worst ${c.worst.toFixed(5)}`,
);
await fp32.dispose();
await int8.dispose();

{
  const dir = await Deno.makeTempDir({ prefix: "int8-small-" });
  await buildShapeModel(dir, texts.slice(0, 2000), { shape: TINY_XLMR_SHAPE, vocabSize: 3000 });
  await quantizeModel(dir, `${dir}-int8`);
  const a = await loadEncoder(dir), b = await loadEncoder(`${dir}-int8`);
  const part = texts.slice(0, 500);
  const ca = cos((await a.encode(part)).data, (await b.encode(part)).data, part.length, a.dim);
  console.log(
    `cosine int8 vs float32, small real-architecture test model (2 layers, hidden 64), 500 texts: mean ${
      ca.mean.toFixed(5)
    }, worst ${ca.worst.toFixed(5)}`,
  );
  await a.dispose();
  await b.dispose();
}

if (flags.full) {
  const res: Record<string, { seconds: number; rssMb: number; data: Float32Array }> = {};
  for (const [name, dir] of [["int8", flags.int8], ["fp32", flags.fp32]] as const) {
    const vec = await Deno.makeTempFile({ suffix: ".f32" });
    const out = await new Deno.Command("/usr/bin/time", {
      args: [
        "-v",
        "deno",
        "run",
        "--allow-read=.,/tmp",
        "--allow-write=/tmp",
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
        "bench/bge_int8.ts",
        "--encode-all",
        dir as string,
        "--vectors",
        vec,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "{}";
    const rss = Number(err.match(/Maximum resident set size \(kbytes\): (\d+)/)?.[1] ?? NaN) / 1024;
    const bytes = await Deno.readFile(vec);
    res[name] = {
      seconds: JSON.parse(line).seconds,
      rssMb: rss,
      data: new Float32Array(bytes.buffer),
    };
    console.log(
      `${name}: ${texts.length} texts cold in ${
        (res[name].seconds / 60).toFixed(1)
      } min, peak RSS ${rss.toFixed(0)} MB`,
    );
  }
  const dim = 1024, n = texts.length, k = 11;
  const a = await topK(res.fp32.data, n, res.fp32.data, n, dim, k);
  const b = await topK(res.int8.data, n, res.int8.data, n, dim, k);
  let shared = 0;
  for (let q = 0; q < n; q++) {
    const want = new Set(
      Array.from(a.indices.subarray(q * k, (q + 1) * k)).filter((j) => j !== q).slice(0, 10),
    );
    const got = Array.from(b.indices.subarray(q * k, (q + 1) * k)).filter((j) => j !== q).slice(
      0,
      10,
    );
    shared += got.filter((j) => want.has(j)).length;
  }
  const full = cos(res.fp32.data, res.int8.data, n, dim);
  console.log(
    `top-10 neighbour overlap int8 vs float32 over ${n} texts: ${
      (100 * shared / (10 * n)).toFixed(1)
    } %`,
  );
  console.log(`cosine over all ${n}: mean ${full.mean.toFixed(5)}, worst ${full.worst.toFixed(5)}`);
}
