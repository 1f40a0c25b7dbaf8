import { assert, assertEquals, assertLess, assertStringIncludes } from "./assert.ts";
import * as ort from "onnxruntime-node";
import * as tf from "../lib/core/tf.ts";
import { loadCheckpoint } from "../lib/run/checkpoint.ts";
import { ProjectionHead } from "../lib/head/head.ts";
import { initBackend } from "../lib/core/backend.ts";
import { Rng } from "../lib/core/rng.ts";
import { runScript, smallDataset, trainSmallRun, writeFlagEmbedding } from "./fixtures.ts";

/** One small trained checkpoint shared by the tests below. */
const fixture = (async () => {
  const fx = await smallDataset(60, 11);
  return { ...fx, run: await trainSmallRun(fx) };
})();

Deno.test("eval CLI: --json reports base and projected metrics on the checkpoint's val split", async () => {
  const fx = await fixture;
  const r = await runScript("eval.ts", [
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--json",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  for (const side of ["base", "projected"]) {
    assertEquals(Object.keys(out[side]).sort(), [
      "mrr@10",
      "ndcg@10",
      "recall@1",
      "recall@10",
      "recall@5",
    ]);
    for (const v of Object.values(out[side]) as number[]) assert(v >= 0 && v <= 1);
  }
  assert(out.n_queries > 0 && out.n_docs > out.n_queries);
  assert(typeof out.per_feature.base === "object" && typeof out.per_feature.projected === "object");
  // The table form, and a foreign dataset in the FlagEmbedding format.
  const jsonl = `${fx.dir}/flag.jsonl`;
  await writeFlagEmbedding(fx.data, jsonl, 10);
  const t = await runScript("eval.ts", [
    "--checkpoint",
    fx.run,
    "--cache-root",
    fx.cache,
    "--data",
    jsonl,
  ]);
  assertEquals(t.code, 0, t.stderr);
  assertStringIncludes(t.stdout, "recall@1");
  assertStringIncludes(t.stdout, "projected (256-d)");
  assertStringIncludes(t.stdout, "has no feature labels");
  assert(!t.stdout.includes("Hard negatives that differ"), t.stdout);
});

Deno.test("eval CLI: --data naming the run's own training data evaluates its val split", async () => {
  const fx = await fixture;
  const base = ["--checkpoint", fx.run, "--cache-root", fx.cache, "--json"];
  const plain = await runScript("eval.ts", base);
  const own = await runScript("eval.ts", [...base, "--data", fx.data]);
  const all = await runScript("eval.ts", [...base, "--data", fx.data, "--split", "all"]);
  for (const r of [plain, own, all]) assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(own.stderr, "Split: val (");
  assertStringIncludes(own.stderr, "is the data");
  const n = (r: { stdout: string }) => JSON.parse(r.stdout).n_queries as number;
  assertEquals(n(own), n(plain));
  assertEquals(JSON.parse(own.stdout).projected, JSON.parse(plain.stdout).projected);
  assert(n(all) > n(own), `all (${n(all)}) includes the training queries, val has ${n(own)}`);
});

Deno.test("eval CLI: a checkpoint whose encoder fingerprint differs is refused", async () => {
  const fx = await fixture;
  const cfgPath = `${fx.run}/config.json`;
  const copy = `${fx.dir}/other`;
  await Deno.mkdir(copy, { recursive: true });
  for (const f of ["best.safetensors", "final.safetensors", "metrics.jsonl"]) {
    await Deno.copyFile(`${fx.run}/${f}`, `${copy}/${f}`);
  }
  const info = JSON.parse(await Deno.readTextFile(cfgPath));
  info.encoder.fingerprint = "0".repeat(64);
  await Deno.writeTextFile(`${copy}/config.json`, JSON.stringify(info));
  const r = await runScript("eval.ts", ["--checkpoint", copy, "--cache-root", fx.cache]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "fingerprint");
  assertStringIncludes(r.stderr, "--force");
});

Deno.test("search CLI: ranks listings, and a repeated search encodes only the query", async () => {
  const fx = await fixture;
  const args = [
    "phòng trọ q10 giá rẻ có máy lạnh",
    "--checkpoint",
    fx.run,
    "--data",
    fx.data,
    "--cache-root",
    fx.cache,
    "--k",
    "3",
  ];
  const r = await runScript("search.ts", args);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, " 1. ");
  assertStringIncludes(r.stdout, " 3. ");
  assertStringIncludes(r.stdout, "Time: ");
  const again = await runScript("search.ts", [
    "phòng trọ gò vấp có gác",
    ...args.slice(1),
    "--json",
  ]);
  assertEquals(again.code, 0, again.stderr);
  const out = JSON.parse(again.stdout);
  assertEquals(out.results.length, 3);
  assertEquals(out.encoded, 1); // the corpus came from the cache
  const base = await runScript("search.ts", [...args, "--base"]);
  assertEquals(base.code, 0, base.stderr);
  assertStringIncludes(base.stdout, "base vectors (1024-d)");
});

Deno.test("search CLI: k <= 0 and an empty corpus are clear errors", async () => {
  const fx = await fixture;
  const r = await runScript("search.ts", ["phòng trọ", "--checkpoint", fx.run, "--k", "0"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "--k must be");
  const empty = `${fx.dir}/empty.txt`;
  await Deno.writeTextFile(empty, "\n\n");
  const e = await runScript("search.ts", [
    "phòng trọ",
    "--checkpoint",
    fx.run,
    "--corpus",
    empty,
    "--cache-root",
    fx.cache,
  ]);
  assertEquals(e.code, 1);
  assertStringIncludes(e.stderr, "corpus is empty");
});

Deno.test("export CLI: head.onnx in onnxruntime matches the tfjs head (max abs diff < 1e-5)", async () => {
  const fx = await fixture;
  const r = await runScript("export.ts", ["--checkpoint", fx.run]);
  assertEquals(r.code, 0, r.stderr);
  const session = await ort.InferenceSession.create(`${fx.run}/head.onnx`);
  assertEquals(session.inputNames, ["embedding"]);
  const n = 16;
  const rng = new Rng(3);
  const x = Float32Array.from({ length: n * 1024 }, () => rng.normal());
  const out = await session.run({ embedding: new ort.Tensor("float32", x, [n, 1024]) });
  const y = out[session.outputNames[0]];
  assertEquals(y.dims, [n, 256]);
  await initBackend("cpu");
  const ckpt = await loadCheckpoint(fx.run, { which: "best" });
  const head = ProjectionHead.create({ inDim: 1024, outDim: 256, seed: 0 });
  head.setWeight(ckpt.weight);
  const expected = head.project(x, n);
  head.dispose();
  let maxDiff = 0;
  const got = y.data as Float32Array;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
  }
  assertLess(maxDiff, 1e-5);
  assertEquals(tf.getBackend(), "cpu");
});
