import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  compareConclusion,
  compareHead,
  comparisonNotes,
  headMethods,
  sampleTexts,
} from "../lib/eval/compare_head.ts";
import type { CompareRow } from "../lib/eval/compare.ts";
import { prefixWeight, syntheticTask } from "./compare_fixture.ts";

Deno.test("sampleTexts: all when under the cap; else a seeded, ordered subset", () => {
  const t = Array.from({ length: 50 }, (_, i) => `t${i}`);
  assertEquals(sampleTexts(t.slice(0, 3), 5), ["t0", "t1", "t2"]);
  const a = sampleTexts(t, 10, 1);
  assertEquals(a.length, 10);
  assertEquals(new Set(a).size, 10);
  assertEquals(a, [...a].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
  assertEquals(sampleTexts(t, 10, 1), a);
  assert(sampleTexts(t, 10, 2).join() !== a.join(), "another seed, another sample");
});

Deno.test("headMethods: prefixes of one projection, renormalised; bad weights refused", async () => {
  const w = prefixWeight(4, 6);
  const h = await headMethods(w, 6, 4, [4, 2]);
  const x = new Float32Array([3, 4, 0, 12, 9, 9]);
  const full = h.methods[0].project(x, 1);
  const two = h.methods[1].project(x, 1);
  h.dispose();
  assertEquals([h.methods[0].dim, h.methods[1].dim], [4, 2]);
  const n = 13;
  [3 / n, 4 / n, 0, 12 / n].forEach((v, i) => assert(Math.abs(full[i] - v) < 1e-5));
  [0.6, 0.8].forEach((v, i) => assert(Math.abs(two[i] - v) < 1e-5));
  await headMethods(w, 5, 4, [4]).then(
    () => assert(false, "should throw"),
    (e) => assertStringIncludes(String(e), "expected 4 × 5"),
  );
  await headMethods(w, 6, 4, [5]).then(
    () => assert(false, "should throw"),
    (e) => assertStringIncludes(String(e), "dim 5 is not in 1..4"),
  );
});

Deno.test("compareHead: base, PCA and head at each dim × 4 storages, on one task", async () => {
  const { task, table, fit } = syntheticTask();
  const c = await compareHead({
    task,
    table,
    fitTexts: fit,
    weight: prefixWeight(8, 16),
    outDim: 8,
    dims: [4, 8],
    maxFitTexts: 30,
    repeats: 1,
  });
  assertEquals(c.pcaFit, {
    texts: 30,
    of: 60,
    iterations: [{ dim: 8, iterations: 6 }],
    block: 16,
  });
  assertEquals([c.queries, c.docs], [12, 40]);
  assertEquals(
    [...new Set(c.rows.map((r) => `${r.method}-${r.dim}`))],
    ["base-16", "pca-8", "pca-4", "head-8", "head-4"],
  );
  assertEquals(c.rows.length, 5 * 4);
  const base = c.rows.find((r) => r.label === "base-16 fp32")!;
  assertEquals(base.bytesPerVector, 64);
  // The queries are close to their positives in the full space: base fp32 finds most.
  assert(base.metrics["recall@10"] > 0.5, `base R@10 ${base.metrics["recall@10"]}`);
  // Keeping 8 of 16 coordinates loses information, 4 loses more (same storage, fp32).
  const h8 = c.rows.find((r) => r.label === "head-8 fp32")!;
  const h4 = c.rows.find((r) => r.label === "head-4 fp32")!;
  assert(h8.metrics["mrr@10"] >= h4.metrics["mrr@10"], "head-8 ≥ head-4");
  assertEquals(h4.bytesPerVector, 16);
  const notes = comparisonNotes(c);
  assertStringIncludes(
    notes.at(-1)!,
    "a seeded sample of 30 of the 60 unique training-split texts",
  );
  assertStringIncludes(notes.at(-1)!, "6 subspace iterations at 8-d (a 16-column block");
  await compareHead({
    task,
    table,
    fitTexts: fit.slice(0, 1),
    weight: prefixWeight(8, 16),
    outDim: 8,
    dims: [8],
  })
    .then(
      () => assert(false, "should throw"),
      (e) => assertStringIncludes(String(e), "at least 2"),
    );
});

Deno.test("compareConclusion: read from the rows", () => {
  const m = (x: number) => ({
    "recall@1": x,
    "recall@5": x,
    "recall@10": x,
    "mrr@10": x,
    "ndcg@10": x,
  });
  const row = (
    method: string,
    dim: number,
    q: "fp32" | "int8" | "binary",
    rescore: number,
    x: number,
    bytes: number,
  ): CompareRow => ({
    method,
    dim,
    quantization: q,
    rescore,
    label: `${method}-${dim} ${q}`,
    metrics: m(x),
    bytesPerVector: bytes,
    msPerQuery: 1,
  });
  const rows = [
    row("base", 1024, "fp32", 0, 0.30, 4096),
    row("pca", 64, "fp32", 0, 0.20, 256),
    row("pca", 64, "binary", 0, 0.10, 8),
    row("head", 64, "fp32", 0, 0.35, 256),
    row("head", 64, "binary", 0, 0.15, 8),
    row("head", 64, "binary", 4, 0.34, 8),
  ];
  const text = compareConclusion(rows);
  assertEquals(text.length, 3);
  assertStringIncludes(text[0], "head-64 fp32 (256 bytes/vector), has mrr@10 0.3500: +0.0500");
  assertStringIncludes(text[0], "16.0× less storage");
  assertStringIncludes(text[1], "in all 2 pairs");
  // Re-scored binary keeps fp32 vectors: the smallest plain index is head-64 fp32.
  assertStringIncludes(text[2], "head-64 fp32: 256 bytes/vector (0.3500)");
  rows[2] = row("pca", 64, "binary", 0, 0.2, 8);
  assertStringIncludes(
    compareConclusion(rows)[1],
    "1 of 2 pairs; PCA is as good or better at 64 binary",
  );
  assertEquals(compareConclusion(rows.slice(1)), []);
});
