/**
 * Opt-in benchmark of the BGE-M3-shaped model (NOT in CI, not `deno task
 * bench`): `deno task bench:bge [--sample 96] [--batch-sizes 8,32,64]
 * [--long 512,2048] [--full] [--skip-options] [--json FILE]`.
 *
 * Needs `deno task build-model --shape bge-m3 --out data/models/bge-m3-shape`
 * (2.2 GB, seconds). Measures, on one machine in one run:
 * - tokenizer load time and heap (this project's fast path vs the
 *   `@huggingface/tokenizers` constructor), encoder load, session start, RSS;
 * - encode throughput (texts/s, tokens/s) at maxLength 512 on a seeded
 *   random sample of the dataset's unique texts, length-sorted batches of
 *   8/32/64, against a plain onnxruntime-node loop over the very same batches
 *   (its own session, same options): whole passes (ABBA with `--reps 2`),
 *   then interleaved batch by batch, which cancels load drift best;
 * - the cold time for all 6,825 texts: extrapolated from the sample's
 *   tokens/s and the dataset's token count (`--full` measures it instead);
 * - ORT session options and token-budget batching on the same sample;
 * - a single long text at each `--long` length (512 … 8192): time and RSS.
 *
 * `@huggingface/transformers` is not compared: it is not a dependency and
 * pulls in its own onnxruntime build; see README.
 *
 * @module
 */
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { type EncodeTimings, loadEncoder, type SessionOptions } from "../lib/encoder/encoder.ts";
import { loadOrt } from "../lib/core/ort.ts";
import { Rng } from "../lib/core/rng.ts";
import { loadTokenizer } from "../lib/encoder/tokenizer.ts";
import { parseCommand } from "../lib/cli/cli.ts";
import os from "node:os";
import process from "node:process";
import { Tokenizer } from "@huggingface/tokenizers";

const SPEC = {
  name: "bench:bge",
  usage: "deno task bench:bge [--model DIR] [--sample N] [--batch-sizes 8,32,64] [--long 512,2048]",
  description: "Benchmark the BGE-M3-shaped model (load, memory, throughput vs a plain ORT loop).",
  flags: {
    model: { type: "string" as const, help: "model folder", default: "data/models/bge-m3-shape" },
    sample: { type: "int" as const, help: "texts in the throughput sample", default: 96 },
    "batch-sizes": { type: "string" as const, help: "comma-separated", default: "8,32,64" },
    long: { type: "string" as const, help: "long-text lengths in tokens", default: "512,2048" },
    reps: {
      type: "int" as const,
      help: "repetitions per batch size (2+: ABBA order, medians)",
      default: 1,
    },
    full: { type: "boolean" as const, help: "also encode all texts cold (long on 2 cores)" },
    "skip-options": { type: "boolean" as const, help: "skip the session-option sweep" },
    "plain-first": {
      type: "boolean" as const,
      help:
        "create the plain loop's session before the project's (creation order matters, see README)",
    },
    json: { type: "string" as const, help: "also write the results as JSON to this file" },
  },
};

const { flags } = parseCommand(Deno.args, SPEC);
const modelDir = (flags.model as string) ?? "data/models/bge-m3-shape";
const sampleSize = (flags.sample as number) ?? 96;
const batchSizes = ((flags.batchSizes as string) ?? "8,32,64").split(",").map(Number);
const longLengths = ((flags.long as string) ?? "512,2048").split(",").map(Number);
const reps = (flags.reps as number) ?? 1;

try {
  await Deno.stat(`${modelDir}/model.onnx`);
} catch {
  console.error(
    `${modelDir}/model.onnx not found. Build it first: ` +
      `deno task build-model --shape bge-m3 --out ${modelDir}`,
  );
  Deno.exit(2);
}

const results: Record<string, unknown> = {};
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const rss = () => Deno.memoryUsage().rss;
/**
 * Peak RSS of a phase: RSS sampled every 10 ms while the phase runs (ORT runs
 * off the JS thread, so the timer keeps ticking). Deno grants /proc only with
 * -A, so the kernel's VmHWM is not used; `lifetimePeak` gives the exact
 * process-wide peak (getrusage).
 */
let sampledPeak = 0;
setInterval(() => {
  sampledPeak = Math.max(sampledPeak, Deno.memoryUsage().rss);
}, 10);
function resetPeak() {
  sampledPeak = Deno.memoryUsage().rss;
}
function peakRss(): number {
  return Math.max(sampledPeak, Deno.memoryUsage().rss);
}
const lifetimePeak = () => process.resourceUsage().maxRSS * 1024;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function cpuModel(): string {
  return os.cpus()[0]?.model ?? "unknown CPU";
}
function loadAvg(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}
const machine = `${cpuModel()}, ${navigator.hardwareConcurrency} cores, ${
  mb(Deno.systemMemoryInfo().total)
} RAM; load average at start ${loadAvg()}`;
console.log(`Machine: ${machine}`);
results.machine = machine;

// ---- tokenizer load: fast path vs the library's constructor --------------------------------
gc();
let h0 = Deno.memoryUsage().heapUsed;
let t = performance.now();
const tok = await loadTokenizer(modelDir);
const tokLoadMs = performance.now() - t;
gc();
const tokHeap = Deno.memoryUsage().heapUsed - h0;
const tokJson = JSON.parse(await Deno.readTextFile(`${modelDir}/tokenizer.json`));
gc();
h0 = Deno.memoryUsage().heapUsed;
t = performance.now();
let hfTok: Tokenizer | undefined = new Tokenizer(tokJson, {});
const hfLoadMs = performance.now() - t;
gc();
const hfHeap = Deno.memoryUsage().heapUsed - h0;
console.log(
  `Tokenizer load (${tokJson.model.vocab.length} pieces): this project ${
    tokLoadMs.toFixed(0)
  } ms (read + parse + build, heap +${mb(tokHeap)}); @huggingface/tokenizers constructor alone ${
    hfLoadMs.toFixed(0)
  } ms (heap +${mb(hfHeap)})`,
);
results.tokenizer = { loadMs: tokLoadMs, heapBytes: tokHeap, hfLoadMs, hfHeapBytes: hfHeap };

const allTexts = uniqueTexts((await loadDataset("data/gen-data-set.json")).examples);
t = performance.now();
const allIds = allTexts.map((s) => tok.encode(s, 512).ids);
const tokAllMs = performance.now() - t;
const allTokens = allIds.reduce((a, r) => a + r.length, 0);
t = performance.now();
for (const s of allTexts) hfTok.encode(s);
const hfAllMs = performance.now() - t;
hfTok = undefined;
console.log(
  `Tokenise ${allTexts.length} texts (${allTokens} tokens): this project ${
    tokAllMs.toFixed(0)
  } ms (cold memo), @huggingface/tokenizers ${hfAllMs.toFixed(0)} ms`,
);
results.tokenizeAll = { texts: allTexts.length, tokens: allTokens, ms: tokAllMs, hfMs: hfAllMs };

// ---- encoder load and session start ----------------------------------------------------------
const ortEarly = await loadOrt();
const SESSION_OPTS = {
  executionProviders: ["cpu"],
  graphOptimizationLevel: "all" as const,
  logSeverityLevel: 3 as const,
};
// Two sessions of the same 2.2 GB model in one process do not run alike: the
// one created second ran up to 16 % faster in a control run with two plain
// sessions. --plain-first gives that advantage to the plain loop instead.
const earlyPlain = flags.plainFirst
  ? await ortEarly.InferenceSession.create(`${modelDir}/model.onnx`, SESSION_OPTS)
  : undefined;
resetPeak();
t = performance.now();
const enc = await loadEncoder(modelDir);
const encLoadMs = performance.now() - t;
t = performance.now();
await enc.encode(["phòng trọ"]);
const sessionMs = performance.now() - t;
const rssSession = rss();
console.log(
  `loadEncoder ${encLoadMs.toFixed(0)} ms (config, tokenizer, fingerprint memo); ` +
    `session start + first text ${(sessionMs / 1000).toFixed(1)} s; RSS ${mb(rssSession)}, ` +
    `peak ${mb(peakRss())}`,
);
results.load = { encoderMs: encLoadMs, sessionMs, rssBytes: rssSession, peakBytes: peakRss() };

// ---- the sample and its batches --------------------------------------------------------------
const rng = new Rng(7);
const sampleIdx = rng.shuffle(Array.from({ length: allTexts.length }, (_, i) => i)).slice(
  0,
  Math.min(sampleSize, allTexts.length),
);
const sample = sampleIdx.map((i) => allTexts[i]);
const sampleIds = sample.map((s) => tok.encode(s, 512).ids);
const sampleTokens = sampleIds.reduce((a, r) => a + r.length, 0);
console.log(
  `Sample: ${sample.length} texts (seeded), ${sampleTokens} tokens (mean ${
    (sampleTokens / sample.length).toFixed(1)
  }; the dataset's mean ${(allTokens / allTexts.length).toFixed(1)})`,
);

/** The encoder's batches: length-sorted, `size` rows each. */
function batchesOf(ids: number[][], size: number): number[][] {
  const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}

const ort = await loadOrt();
/** A plain onnxruntime-node loop as a user would write it: pad, run, take CLS, normalise. */
async function plainBatch(
  session: import("onnxruntime-node").InferenceSession,
  rows: number[],
  out: Float32Array,
) {
  const dim = enc.dim;
  const len = Math.max(...rows.map((r) => sampleIds[r].length));
  const idsArr = new BigInt64Array(rows.length * len).fill(1n);
  const mask = new BigInt64Array(rows.length * len);
  rows.forEach((r, k) => {
    sampleIds[r].forEach((id, j) => {
      idsArr[k * len + j] = BigInt(id);
      mask[k * len + j] = 1n;
    });
  });
  const res = await session.run({
    input_ids: new ort.Tensor("int64", idsArr, [rows.length, len]),
    attention_mask: new ort.Tensor("int64", mask, [rows.length, len]),
  });
  const h = res.last_hidden_state.data as Float32Array;
  rows.forEach((r, k) => {
    const v = h.subarray(k * len * dim, k * len * dim + dim);
    let s = 0;
    for (let j = 0; j < dim; j++) s += v[j] * v[j];
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) out[r * dim + j] = v[j] * inv;
  });
}

async function plainLoop(session: import("onnxruntime-node").InferenceSession, size: number) {
  const out = new Float32Array(sample.length * enc.dim);
  const t0 = performance.now();
  for (const rows of batchesOf(sampleIds, size)) await plainBatch(session, rows, out);
  return { ms: performance.now() - t0, out };
}

resetPeak();
const plainSession = earlyPlain ??
  await ort.InferenceSession.create(`${modelDir}/model.onnx`, SESSION_OPTS);
results.sessionOrder = earlyPlain ? "plain created first" : "project created first";
console.log(`Session order: ${results.sessionOrder}`);
const median = (xs: number[]) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};
const rows: Record<string, unknown>[] = [];
console.log(
  `\n| batch | this project texts/s | plain ORT loop texts/s | ratio | tokenise | feeds | ORT run | pool | wrapper share | padded tokens |`,
);
console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const size of batchSizes) {
  const mine: number[] = [], plain: number[] = [];
  let timings: EncodeTimings | undefined;
  let maxDiff = 0;
  // ABBA order per repetition (project, plain, plain, project) so that a
  // drift in the machine's load hits both sides alike.
  let lastMine: Float32Array | undefined;
  const runMine = async () => {
    t = performance.now();
    const res = await enc.encode(sample, { batchSize: size });
    mine.push(performance.now() - t);
    timings = res.timings;
    lastMine = res.data;
  };
  const runPlain = async () => {
    const p = await plainLoop(plainSession, size);
    plain.push(p.ms);
    for (let i = 0; i < p.out.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(p.out[i] - lastMine![i]));
    }
  };
  for (let r = 0; r < reps; r++) {
    await runMine();
    await runPlain();
    if (reps > 1) {
      await runPlain();
      await runMine();
    }
  }
  const m = median(mine), p = median(plain);
  const row = {
    batch: size,
    textsPerSecond: (sample.length / m) * 1000,
    tokensPerSecond: (sampleTokens / m) * 1000,
    plainTextsPerSecond: (sample.length / p) * 1000,
    ratio: p / m,
    // Time the project spends outside session.run (tokenise, feeds, pool).
    wrapperShare: timings
      ? (timings.tokenizeMs + timings.feedMs + timings.poolMs) /
        (timings.tokenizeMs + timings.feedMs + timings.poolMs + timings.runMs)
      : NaN,
    maxAbsDiff: maxDiff,
    timings,
  };
  rows.push(row);
  console.log(
    `| ${size} | ${row.textsPerSecond.toFixed(2)} | ${row.plainTextsPerSecond.toFixed(2)} | ${
      row.ratio.toFixed(3)
    } | ${timings?.tokenizeMs.toFixed(0)} ms | ${timings?.feedMs.toFixed(0)} ms | ${
      ((timings?.runMs ?? 0) / 1000).toFixed(1)
    } s | ${timings?.poolMs.toFixed(0)} ms | ${
      (row.wrapperShare * 100).toFixed(2)
    } % | ${timings?.paddedTokens} |`,
  );
}
console.log(
  `(max |Δ| between the two loops' vectors: ${
    Math.max(...rows.map((r) => r.maxAbsDiff as number)).toExponential(1)
  }; peak RSS with both sessions open: ${mb(peakRss())})`,
);
results.throughput = rows;

// Interleaved per batch: each batch goes through the project (`encode` of that
// batch's texts) and through the plain loop, alternating which goes first, so
// a drift in the machine's load cancels batch by batch instead of pass by pass.
const interleaved: Record<string, unknown>[] = [];
console.log(`\n| batch | interleaved per batch: this project | plain ORT loop | ratio |`);
console.log(`|---:|---:|---:|---:|`);
for (const size of batchSizes) {
  let mineMs = 0, plainMs = 0;
  const scratch = new Float32Array(sample.length * enc.dim);
  const list = batchesOf(sampleIds, size);
  for (let bi = 0; bi < list.length; bi++) {
    const texts = list[bi].map((r) => sample[r]);
    const a = async () => {
      const t0 = performance.now();
      await enc.encode(texts, { batchSize: size });
      mineMs += performance.now() - t0;
    };
    const b = async () => {
      const t0 = performance.now();
      await plainBatch(plainSession, list[bi], scratch);
      plainMs += performance.now() - t0;
    };
    if (bi % 2 === 0) {
      await a();
      await b();
    } else {
      await b();
      await a();
    }
  }
  const row = {
    batch: size,
    textsPerSecond: (sample.length / mineMs) * 1000,
    plainTextsPerSecond: (sample.length / plainMs) * 1000,
    ratio: plainMs / mineMs,
  };
  interleaved.push(row);
  console.log(
    `| ${size} | ${row.textsPerSecond.toFixed(2)} texts/s | ${
      row.plainTextsPerSecond.toFixed(2)
    } texts/s | ${row.ratio.toFixed(3)} |`,
  );
}
results.interleaved = interleaved;
await plainSession.release();

// ---- cold time for all texts -----------------------------------------------------------------
const best = rows.reduce((a, b) =>
  (b.tokensPerSecond as number) > (a.tokensPerSecond as number) ? b : a
);
const estS = allTokens / (best.tokensPerSecond as number);
console.log(
  `\nCold encode of all ${allTexts.length} texts (${allTokens} tokens): ≈ ${
    (estS / 60).toFixed(1)
  } min ` +
    `(extrapolated from the sample's ${
      (best.tokensPerSecond as number).toFixed(0)
    } tokens/s at batch ${best.batch})`,
);
results.coldAll = { estimatedSeconds: estS, fromBatch: best.batch };
if (flags.full) {
  t = performance.now();
  let lastLog = 0;
  await enc.encode(allTexts, {
    batchSize: best.batch as number,
    onProgress: (done, total, rate) => {
      if (performance.now() - lastLog > 30_000 && rate?.etaMs !== undefined) {
        lastLog = performance.now();
        console.log(
          `  ${done}/${total}, ${rate.textsPerSecond.toFixed(1)} texts/s, ETA ${
            (rate.etaMs / 60000).toFixed(1)
          } min`,
        );
      }
    },
  });
  const s = (performance.now() - t) / 1000;
  console.log(`Measured: ${(s / 60).toFixed(1)} min (${(allTexts.length / s).toFixed(1)} texts/s)`);
  results.coldAll = { ...results.coldAll as object, measuredSeconds: s };
}

// ---- token-budget batching -------------------------------------------------------------------
const budgetRows: Record<string, unknown>[] = [];
for (const maxBatchTokens of [1024, 4096]) {
  t = performance.now();
  const res = await enc.encode(sample, { batchSize: 64, maxBatchTokens });
  const ms = performance.now() - t;
  const tm = (res as { timings?: EncodeTimings }).timings!;
  budgetRows.push({
    maxBatchTokens,
    textsPerSecond: (sample.length / ms) * 1000,
    batches: tm.batches,
    padded: tm.paddedTokens,
  });
  console.log(
    `batchSize 64, maxBatchTokens ${maxBatchTokens}: ${
      (sample.length / ms * 1000).toFixed(2)
    } texts/s (${tm.batches} batches, ${tm.paddedTokens} padded tokens)`,
  );
}
results.tokenBudget = budgetRows;
await enc.dispose();
gc();

// ---- session options ---------------------------------------------------------------------------
if (!flags.skipOptions) {
  const variants: [string, SessionOptions][] = [
    ["default (all, arena, pattern)", {}],
    ["intraOpThreads 1", { intraOpThreads: 1 }],
    ["graph basic", { graphOptimizationLevel: "basic" }],
    ["no arena, no mem pattern", { enableCpuMemArena: false, enableMemPattern: false }],
  ];
  const optRows: Record<string, unknown>[] = [];
  for (const [label, session] of variants) {
    resetPeak();
    const e = await loadEncoder(modelDir, { session });
    t = performance.now();
    await e.encode(["phòng trọ"]);
    const startMs = performance.now() - t;
    t = performance.now();
    await e.encode(sample, { batchSize: 32 });
    const ms = performance.now() - t;
    const row = {
      label,
      startMs,
      textsPerSecond: (sample.length / ms) * 1000,
      peakBytes: peakRss(),
    };
    optRows.push(row);
    console.log(
      `options ${label}: start ${(startMs / 1000).toFixed(1)} s, ${
        row.textsPerSecond.toFixed(2)
      } texts/s (batch 32), peak RSS ${mb(row.peakBytes)}`,
    );
    await e.dispose();
    gc();
  }
  results.options = optRows;
}

// ---- long texts ------------------------------------------------------------------------------
const longest = allTexts.reduce((a, b) => (b.length > a.length ? b : a));
const longRows: Record<string, unknown>[] = [];
console.log(`\nLongest listing: ${tok.encode(longest, 1e9).ids.length} tokens`);
for (const maxLength of longLengths) {
  const e = await loadEncoder(modelDir, { maxLength });
  await e.encode(["phòng trọ"]);
  gc();
  const text = longest.repeat(Math.ceil((maxLength * 1.2) / tok.encode(longest, 1e9).ids.length));
  resetPeak();
  const before = rss();
  t = performance.now();
  const r = await e.encode([text]);
  const ms = performance.now() - t;
  const row = { maxLength, ms, rssBefore: before, peakBytes: peakRss(), truncated: r.truncated };
  longRows.push(row);
  console.log(
    `maxLength ${maxLength}: one text of ${maxLength} tokens in ${(ms / 1000).toFixed(1)} s; RSS ${
      mb(before)
    } → peak ${mb(row.peakBytes)}`,
  );
  await e.dispose();
}
results.long = longRows;
results.loadAverageAtEnd = loadAvg();
results.lifetimePeakBytes = lifetimePeak();
console.log(
  `Load average at end: ${loadAvg()}; process peak RSS (getrusage) ${mb(lifetimePeak())}`,
);
if (flags.json) {
  await Deno.writeTextFile(flags.json as string, JSON.stringify(results, null, 2) + "\n");
}
Deno.exit(0); // stops the RSS sampler
