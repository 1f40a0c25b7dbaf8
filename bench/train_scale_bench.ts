/**
 * Training time against dataset size, and the warm `deno task train` wall time.
 *
 * 1. Epoch time vs examples (1k → 16k → 64k): datasets from the project's
 *    own generator (`generate`, seed 1), embeddings synthetic (seeded random
 *    unit vectors; the table is capped at 65,536 rows and texts are mapped
 *    onto rows by their index, so the 64k run does not need 1.8 GB of
 *    vectors; the step cost does not depend on the table size). One epoch
 *    of `trainHead` (report off), the default onnxruntime step. Linear
 *    scaling means a constant time per example.
 * 2. `deno task train --epochs 10` on the committed data, run twice (the
 *    first fills the cache); the second run's wall time, start-up included.
 *
 * Run with `deno task bench`.
 *
 * @module
 */
import { resolveConfig } from "../lib/train/config.ts";
import { loadDataset, splitDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { Rng } from "../lib/core/rng.ts";
import { trainHead } from "../lib/train/trainer.ts";
import type { PreparedData } from "../lib/train/types.ts";
import { generate } from "../lib/data/synthetic.ts";
import { printTable, type Row } from "./peers.ts";

const DIM = 1024, TABLE_ROWS = 65536;

function syntheticTable(rows: number): Float32Array {
  const rng = new Rng(7);
  const t = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < DIM; i++) {
      const v = rng.next() - 0.5;
      t[r * DIM + i] = v;
      s += v * v;
    }
    const inv = 1 / Math.sqrt(s);
    for (let i = 0; i < DIM; i++) t[r * DIM + i] *= inv;
  }
  return t;
}

const table = syntheticTable(TABLE_ROWS);

async function prepared(count: number): Promise<PreparedData> {
  const path = `/tmp/phongtro-scale-${count}.json`;
  await Deno.writeTextFile(path, generate({ count, seed: 1 }));
  const dataset = await loadDataset(path);
  const { train, val } = splitDataset(dataset.examples, { valFraction: 0.1, seed: 42 });
  const texts = uniqueTexts(dataset.examples);
  const rowOf = new Map<string, number>();
  texts.forEach((t, i) => rowOf.set(t, i % TABLE_ROWS));
  return {
    dataset,
    train,
    val,
    encoder: { name: "synthetic", dir: "-", fingerprint: "synthetic", dim: DIM, params: 0 },
    texts,
    embeddings: table,
    rowOf,
    cache: { hits: 0, misses: 0, truncated: 0 },
  };
}

interface ScaleRow {
  examples: number;
  steps: number;
  trainSeconds: number;
  epochSeconds: number;
  valSeconds: number;
}

async function epochTime(count: number): Promise<ScaleRow> {
  const data = await prepared(count);
  const config = resolveConfig({}, { epochs: 1, out: `/tmp/phongtro-scale-run-${count}` });
  let first = 0, last = 0, steps = 0, epochSeconds = 0;
  await trainHead(config, data, {
    report: false,
    onEvent: (e) => {
      if (e.type === "step") {
        if (e.step === 1) first = performance.now();
        last = performance.now();
        steps = e.steps;
      } else if (e.type === "epoch" && e.record.epoch === 1) {
        epochSeconds = e.record.seconds ?? NaN;
      }
    },
  });
  const trainSeconds = (last - first) / 1000 * steps / Math.max(1, steps - 1);
  return {
    examples: data.train.length,
    steps,
    trainSeconds,
    epochSeconds,
    valSeconds: epochSeconds - trainSeconds,
  };
}

const rows: ScaleRow[] = [];
for (const n of [1000, 16000, 64000]) rows.push(await epochTime(n));
const perEx = (r: ScaleRow) => r.epochSeconds / r.examples * 1e6;
console.log(
  "\nEpoch time vs examples (one epoch incl. validation; synthetic embeddings, default step):",
);
console.log("| train examples | steps | steps s | epoch s (incl. val) | µs/example | vs 1k |");
console.log("|--:|--:|--:|--:|--:|--:|");
for (const r of rows) {
  console.log(
    `| ${r.examples} | ${r.steps} | ${r.trainSeconds.toFixed(2)} | ${r.epochSeconds.toFixed(2)} | ${
      perEx(r).toFixed(0)
    } | ${(perEx(r) / perEx(rows[0])).toFixed(2)}× |`,
  );
}

// Warm `deno task train --epochs 10`: wall time of the second of two runs.
async function trainWall(): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command("deno", {
    args: ["task", "train", "--epochs", "10", "--out", "checkpoints/bench/warm", "--quiet"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return (performance.now() - t0) / 1000;
}
const cold = await trainWall();
const warm = [await trainWall(), await trainWall()].sort((a, b) => a - b);
const warmRows: Row[] = [{
  what: "`deno task train --epochs 10`, warm cache, wall incl. start-up",
  ours: `best of 2 warm runs (the run before: ${cold.toFixed(2)} s)`,
  oursMs: warm[0] * 1000,
  peer: "goal ≤ 3 s",
  peerMs: 3000,
}];
printTable("Warm training run (ms)", warmRows);

Deno.bench("noop (this file prints tables; see above)", () => {});
