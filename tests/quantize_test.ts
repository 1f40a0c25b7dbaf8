import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  buildIndex,
  bytesPerVector,
  dequantizeInt8,
  fitInt8Scales,
  hammingTopK,
  packSigns,
  popcount32,
  quantizeInt8,
  searchIndex,
} from "../lib/eval/quantize.ts";
import { topK } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";

function randomUnit(n: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      // Uneven scales per dimension, so per-dimension int8 scales matter.
      const v = rng.normal() * (1 + (d % 4));
      x[i * dim + d] = v;
      s += v * v;
    }
    for (let d = 0; d < dim; d++) x[i * dim + d] /= Math.sqrt(s);
  }
  return x;
}

Deno.test("bytesPerVector: fp32 4·d, int8 d, binary d/8 rounded up", () => {
  assertEquals(bytesPerVector("fp32", 1024), 4096);
  assertEquals(bytesPerVector("int8", 256), 256);
  assertEquals(bytesPerVector("binary", 64), 8);
  assertEquals(bytesPerVector("binary", 65), 9);
});

Deno.test("int8: per-dimension scales from the corpus, error within half a step, clamping", () => {
  const n = 50, dim = 16;
  const x = randomUnit(n, dim, 3);
  const scales = fitInt8Scales(x, n, dim);
  for (let d = 0; d < dim; d++) {
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(x[i * dim + d]));
    assert(Math.abs(scales[d] - m / 127) < 1e-9, `scale ${d}`);
  }
  const codes = quantizeInt8(x, n, dim, scales);
  const back = dequantizeInt8(codes, n, dim, scales);
  let hit127 = 0;
  for (let i = 0; i < n * dim; i++) {
    assert(Math.abs(back[i] - x[i]) <= scales[i % dim] / 2 + 1e-7, `value ${i}`);
    if (Math.abs(codes[i]) === 127) hit127++;
  }
  assert(hit127 >= dim, "each dimension's extreme maps to ±127");
  // A query beyond the corpus range is clamped, not wrapped.
  const q = new Float32Array(dim).fill(10);
  assert(quantizeInt8(q, 1, dim, scales).every((c) => c === 127));
  assertEquals(fitInt8Scales(new Float32Array(4), 2, 2), new Float32Array([1, 1]));
});

Deno.test("int8 search ranks almost like fp32", async () => {
  const nd = 400, nq = 40, dim = 32;
  const docs = randomUnit(nd, dim, 5);
  const qs = randomUnit(nq, dim, 6);
  const exact = await topK(qs, nq, docs, nd, dim, 10);
  const r = await searchIndex(buildIndex(docs, nd, dim, "int8"), qs, nq, { k: 10 });
  let overlap = 0;
  for (let q = 0; q < nq; q++) {
    const a = new Set(exact.indices.subarray(q * 10, q * 10 + 10));
    for (const j of r.indices.subarray(q * 10, q * 10 + 10)) if (a.has(j)) overlap++;
  }
  assert(overlap / (nq * 10) > 0.9, `int8 top-10 overlap ${overlap / (nq * 10)}`);
});

Deno.test("binary: packed sign bits, popcount, Hamming top-k equals brute force", () => {
  assertEquals(packSigns(new Float32Array([1, -1, 0, 2]), 1, 4), new Uint32Array([0b1001]));
  const rng = new Rng(9);
  for (let t = 0; t < 200; t++) {
    const v = (rng.next() * 2 ** 32) >>> 0;
    let naive = 0;
    for (let b = 0; b < 32; b++) naive += (v >>> b) & 1;
    assertEquals(popcount32(v), naive);
  }
  const nd = 300, nq = 7, dim = 70; // 3 words, the last one partial
  const docs = randomUnit(nd, dim, 11), qs = randomUnit(nq, dim, 12);
  const db = packSigns(docs, nd, dim), qb = packSigns(qs, nq, dim);
  const r = hammingTopK(qb, nq, db, nd, dim, 15);
  for (let q = 0; q < nq; q++) {
    const naive: number[] = [];
    for (let j = 0; j < nd; j++) {
      let h = 0;
      for (let d = 0; d < dim; d++) if ((qs[q * dim + d] > 0) !== (docs[j * dim + d] > 0)) h++;
      naive.push(h);
    }
    const sorted = [...naive].sort((a, b) => a - b).slice(0, 15);
    const got = Array.from(r.distances.subarray(q * 15, q * 15 + 15));
    assertEquals(got, sorted);
    for (let c = 0; c < 15; c++) {
      assertEquals(naive[r.indices[q * 15 + c]], got[c]);
      assert(Math.abs(r.scores[q * 15 + c] - (1 - 2 * got[c] / dim)) < 1e-6);
    }
  }
});

Deno.test("binary: equal distances are not ordered by corpus position", () => {
  const dim = 8, nd = 40;
  const docs = new Float32Array(nd * dim).fill(1); // all identical
  const r = hammingTopK(
    packSigns(new Float32Array(dim).fill(1), 1, dim),
    1,
    packSigns(docs, nd, dim),
    nd,
    dim,
    10,
  );
  assertEquals(new Set(r.indices).size, 10);
  assert(
    Array.from(r.indices).some((j, i) => j !== i),
    "ties fell back to corpus order (would favour whatever is listed first)",
  );
});

Deno.test("binary re-scoring: exact fp32 order among the candidates; needs the float vectors", async () => {
  const nd = 200, nq = 10, dim = 24;
  const docs = randomUnit(nd, dim, 21), qs = randomUnit(nq, dim, 22);
  const exact = await topK(qs, nq, docs, nd, dim, 5);
  const idx = buildIndex(docs, nd, dim, "binary", { keepFloat: true });
  assertEquals(idx.bytesPerVector, 3);
  // Re-scoring the whole corpus (5 × 40 ≥ 200) is exact search.
  const all = await searchIndex(idx, qs, nq, { k: 5, rescore: 40 });
  assertEquals(all.indices, exact.indices);
  // With 4 × k candidates: every result is among the Hamming candidates, in fp32 order.
  const some = await searchIndex(idx, qs, nq, { k: 5, rescore: 4 });
  const cand = hammingTopK(packSigns(qs, nq, dim), nq, idx.codes as Uint32Array, nd, dim, 20);
  for (let q = 0; q < nq; q++) {
    const c = new Set(cand.indices.subarray(q * 20, q * 20 + 20));
    for (let r = 0; r < 5; r++) {
      assert(c.has(some.indices[q * 5 + r]));
      if (r > 0) assert(some.scores[q * 5 + r - 1] >= some.scores[q * 5 + r]);
    }
  }
  let msg = "";
  try {
    await searchIndex(buildIndex(docs, nd, dim, "binary"), qs, nq, { k: 5, rescore: 4 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, "keepFloat");
});

Deno.test("int8 search over several blocks equals one exact search of the dequantised corpus", async () => {
  const nd = 40_000, nq = 6, dim = 8; // 3 blocks of at most 16,384
  const docs = randomUnit(nd, dim, 31), qs = randomUnit(nq, dim, 32);
  const idx = buildIndex(docs, nd, dim, "int8");
  assert(idx.codes instanceof Int8Array && idx.codes.length === nd * dim);
  const got = await searchIndex(idx, qs, nq, { k: 7 });
  const dq = dequantizeInt8(idx.codes as Int8Array, nd, dim, idx.scales!);
  const qd = dequantizeInt8(quantizeInt8(qs, nq, dim, idx.scales!), nq, dim, idx.scales!);
  const want = await topK(qd, nq, dq, nd, dim, 7);
  assertEquals(got.indices, want.indices);
  assert(Array.from(got.indices).some((j) => j >= 16_384), "only the first block was searched");
});

Deno.test("hammingTopK: the WebAssembly kernel (large corpora) gives the exact nearest distances, odd word counts too", async () => {
  const { Rng } = await import("../lib/core/rng.ts");
  const { hammingTopK, packSigns, popcount32 } = await import("../lib/eval/quantize.ts");
  for (const dim of [256, 96]) {
    const rng = new Rng(dim);
    const nd = 3000, nq = 5, k = 10;
    const docs = packSigns(
      Float32Array.from({ length: nd * dim }, () => rng.next() - 0.5),
      nd,
      dim,
    );
    const qs = packSigns(Float32Array.from({ length: nq * dim }, () => rng.next() - 0.5), nq, dim);
    const words = Math.ceil(dim / 32);
    const r = hammingTopK(qs, nq, docs, nd, dim, k);
    for (let q = 0; q < nq; q++) {
      const all = Array.from({ length: nd }, (_, j) => {
        let h = 0;
        for (let w = 0; w < words; w++) h += popcount32(qs[q * words + w] ^ docs[j * words + w]);
        return h;
      });
      const want = [...all].sort((a, b) => a - b).slice(0, k);
      assertEquals(
        Array.from(r.distances.subarray(q * k, (q + 1) * k)),
        want,
        `dim ${dim}, query ${q}`,
      );
      for (let c = 0; c < k; c++) {
        assertEquals(all[r.indices[q * k + c]], r.distances[q * k + c]);
      }
    }
  }
});
