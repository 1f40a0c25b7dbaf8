import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import {
  annKindFor,
  annRecall,
  IndexMismatchError,
  type IndexRow,
  inferColumns,
  VectorStore,
} from "../lib/serve/vector_store.ts";
import { topK } from "../lib/eval/metrics.ts";
import { Rng } from "../lib/core/rng.ts";

function unit(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}

/** `n` unit vectors around `clusters` random centres (noise `noise` per coordinate). */
function clustered(n: number, dim: number, clusters: number, noise: number, seed: number) {
  const rng = new Rng(seed);
  const centres = Array.from(
    { length: clusters },
    () => Float32Array.from({ length: dim }, () => rng.normal()),
  );
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rng.next() * clusters)];
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = c[j] + noise * rng.normal();
    data.set(unit(v), i * dim);
  }
  return data;
}

const ENCODER = { name: "toy", dir: "/nonexistent", fingerprint: "aa11", dim: 8 };
const CKPT = { path: "/tmp/ckpt", which: "best", sha256: "bb22" };

function toyRows(): IndexRow[] {
  const rng = new Rng(3);
  const cities = ["Hà Nội", "Hồ Chí Minh"];
  return Array.from({ length: 40 }, (_, i) => ({
    id: `L${i}`,
    text: `listing ${i}`,
    meta: {
      city: cities[i % 2],
      price: 1 + (i % 7),
      amenities: i % 3 === 0 ? ["máy lạnh", "WC riêng"] : ["gác lửng"],
    },
    vector: unit(Float32Array.from({ length: 4 }, () => rng.normal())),
    base: unit(Float32Array.from({ length: 8 }, () => rng.normal())),
  }));
}

async function toyStore(rows = toyRows()) {
  const dir = await Deno.makeTempDir({ prefix: "vector-store-" });
  const store = await VectorStore.create(dir, {
    checkpoint: CKPT,
    encoder: ENCODER,
    dim: 4,
    baseDim: 8,
    columns: inferColumns(rows),
  });
  await store.upsert(rows);
  return { dir, store, rows };
}

Deno.test("vector store: exact search equals the in-memory exact top-k, for head and base columns", async () => {
  const { store, rows } = await toyStore();
  try {
    const q = unit(new Float32Array([0.3, -1, 0.2, 0.5]));
    const hits = await store.search(q, { k: 10 });
    const docs = new Float32Array(rows.length * 4);
    rows.forEach((r, i) => docs.set(r.vector, i * 4));
    const ref = await topK(q, 1, docs, rows.length, 4, 10);
    assertEquals(hits.map((h) => h.id), Array.from(ref.indices, (i) => rows[i].id));
    hits.forEach((h, i) => assert(Math.abs(h.score - ref.scores[i]) < 1e-5));
    assertEquals(hits[0].rank, 1);
    assertEquals(hits[0].meta, rows.find((r) => r.id === hits[0].id)!.meta);
    const qb = unit(new Float32Array([1, 0, 0, 0, 0, 0, 0, 1]));
    const base = await store.search(qb, { k: 5, column: "base" });
    const bdocs = new Float32Array(rows.length * 8);
    rows.forEach((r, i) => bdocs.set(r.base!, i * 8));
    const bref = await topK(qb, 1, bdocs, rows.length, 8, 5);
    assertEquals(base.map((h) => h.id), Array.from(bref.indices, (i) => rows[i].id));
  } finally {
    store.close();
  }
});

Deno.test("vector store: metadata filters (string, number, list) and a bad filter names itself", async () => {
  const { store, rows } = await toyStore();
  try {
    const q = rows[0].vector;
    const hn = await store.search(q, { k: 40, where: "city = 'Hà Nội'" });
    assertEquals(hn.length, 20);
    assert(hn.every((h) => h.meta.city === "Hà Nội"));
    const cheap = await store.search(q, { k: 40, where: "price <= 2 AND city = 'Hồ Chí Minh'" });
    assert(cheap.length > 0 && cheap.every((h) => (h.meta.price as number) <= 2));
    const ac = await store.search(q, { k: 40, where: "array_has(amenities, 'máy lạnh')" });
    assertEquals(
      ac.length,
      rows.filter((r) => (r.meta.amenities as string[]).includes("máy lạnh")).length,
    );
    await assertRejects(
      () => store.search(q, { k: 5, where: "colour = 'red'" }),
      Error,
      "colour = 'red'",
    );
  } finally {
    store.close();
  }
});

Deno.test("vector store: upsert replaces changed listings, sync deletes missing ids, deleteIds removes", async () => {
  const { dir, store, rows } = await toyStore();
  try {
    const same = await store.upsert(rows);
    assertEquals([same.inserted, same.updated, same.deleted, same.rows], [0, 0, 0, 40]);
    const changed = rows.slice(0, 30).map((r) => ({ ...r }));
    changed[0] = { ...changed[0], text: "listing 0, now with a balcony", vector: rows[1].vector };
    const extra = { ...rows[5], id: "NEW", text: "a new listing" };
    const r = await store.upsert([...changed, extra], { deleteMissing: true });
    assertEquals([r.inserted, r.updated, r.deleted, r.rows], [1, 1, 10, 31]);
    const top = await store.search(rows[1].vector, { k: 2 });
    assertEquals(top.map((h) => h.id).sort(), ["L0", "L1"]);
    assert(top.some((h) => h.text === "listing 0, now with a balcony"));
    assertEquals(await store.deleteIds(["L2", "L3", "missing"]), 2);
    assertEquals(await store.count(), 29);
    assertEquals(await store.count("id = 'L35'"), 0);
    // The changes are on disk: a fresh open sees them.
    const again = await VectorStore.open(dir);
    assertEquals(await again.count(), 29);
    again.close();
  } finally {
    store.close();
  }
});

Deno.test("vector store: a query with another encoder or head is refused; a missing index is named", async () => {
  const { dir, store } = await toyStore();
  try {
    const reopened = await VectorStore.open(dir);
    assertEquals(reopened.info.checkpoint, CKPT);
    assertEquals(reopened.info.encoder.fingerprint, ENCODER.fingerprint);
    reopened.checkCompatible({ fingerprint: "aa11", checkpointSha256: "bb22" });
    reopened.checkCompatible({ fingerprint: "aa11", checkpointSha256: null });
    assertThrows(
      () => reopened.checkCompatible({ fingerprint: "ff99", checkpointSha256: "bb22" }),
      IndexMismatchError,
      'built with encoder "toy"',
    );
    assertThrows(
      () => reopened.checkCompatible({ fingerprint: "aa11", checkpointSha256: "cc33" }),
      IndexMismatchError,
      "--checkpoint /tmp/ckpt",
    );
    reopened.close();
    const empty = await Deno.makeTempDir();
    await assertRejects(() => VectorStore.open(empty), Error, "no listings index here");
    await assertRejects(
      () => store.search(new Float32Array(3), { k: 1 }),
      Error,
      "query has 3 values",
    );
    assertThrows(
      () =>
        inferColumns([{ id: "a", text: "x", meta: { p: 1 } }, {
          id: "b",
          text: "y",
          meta: { p: "1" },
        }]),
      Error,
      'listing "b": metadata field "p" is a string',
    );
  } finally {
    store.close();
  }
});

Deno.test("vector store: ANN (IVF) recall@10 >= 0.95 against the exact scan on 50k synthetic 256-d vectors", async () => {
  const n = 50_000, dim = 256;
  const data = clustered(n, dim, 200, 0.5, 17);
  const dir = await Deno.makeTempDir({ prefix: "vector-store-ann-" });
  const store = await VectorStore.create(dir, {
    checkpoint: CKPT,
    encoder: ENCODER,
    dim,
    baseDim: 0,
    columns: {},
  });
  try {
    const rows: IndexRow[] = Array.from({ length: n }, (_, i) => ({
      id: `d${i}`,
      text: `doc ${i}`,
      meta: {},
      vector: data.subarray(i * dim, (i + 1) * dim),
    }));
    await store.upsert(rows);
    assertEquals(await store.count(), n);
    const ann = await store.buildAnn("ivf_flat");
    assertEquals(store.info.ann?.kind, "ivf_flat");
    assert(ann.partitions > 1 && ann.nprobes < ann.partitions, JSON.stringify(ann));
    // Queries are noisy copies of corpus vectors, not corpus vectors.
    const rng = new Rng(5);
    const queries = Array.from({ length: 50 }, (_, i) => {
      const base = data.subarray(i * 997 * dim, (i * 997 + 1) * dim);
      return unit(base.map((x) => x + 0.05 * rng.normal()));
    });
    const r = await annRecall(store, queries, 10);
    assert(r.recall >= 0.95, `recall@10 ${r.recall} (ann ${r.annMs} ms, exact ${r.exactMs} ms)`);
    // The ANN info survives a reopen, and dropping it returns to exact search.
    const again = await VectorStore.open(dir);
    assertEquals(again.info.ann?.kind, "ivf_flat");
    await again.dropAnn();
    assertEquals(again.info.ann, null);
    again.close();
  } finally {
    store.close();
  }
});

Deno.test("vector store: quantised ANN kinds (ivf_pq, hnsw_sq, ivf_rq) keep recall@10 >= 0.9 with re-ranking", async () => {
  assertEquals(["fp32", "int8", "binary"].map((q) => annKindFor(q as "fp32")), [
    "ivf_flat",
    "hnsw_sq",
    "ivf_rq",
  ]);
  const n = 4000, dim = 128;
  const data = clustered(n, dim, 40, 0.5, 23);
  const rows: IndexRow[] = Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    text: `doc ${i}`,
    meta: {},
    vector: data.subarray(i * dim, (i + 1) * dim),
  }));
  const rng = new Rng(9);
  const queries = Array.from({ length: 30 }, (_, i) => {
    const base = data.subarray(i * 131 * dim, (i * 131 + 1) * dim);
    return unit(base.map((x) => x + 0.05 * rng.normal()));
  });
  for (const kind of ["ivf_pq", "hnsw_sq", "ivf_rq"] as const) {
    const store = await VectorStore.create(await Deno.makeTempDir({ prefix: `vs-${kind}-` }), {
      checkpoint: CKPT,
      encoder: ENCODER,
      dim,
      baseDim: 0,
      columns: {},
    });
    try {
      await store.upsert(rows);
      const ann = await store.buildAnn(kind);
      assertEquals(ann.kind, kind);
      assert(ann.refineFactor > 0, "quantised kinds re-rank with full vectors");
      const r = await annRecall(store, queries, 10);
      assert(r.recall >= 0.9, `${kind}: recall@10 ${r.recall}`);
      // Scores are cosine similarities whatever the index's distance.
      const [top] = await store.search(queries[0], { k: 1 });
      const [exact] = await store.search(queries[0], { k: 1, exact: true });
      assertEquals(top.id, exact.id);
      assert(Math.abs(top.score - exact.score) < 1e-4, `${kind}: ${top.score} vs ${exact.score}`);
    } finally {
      store.close();
    }
  }
});
