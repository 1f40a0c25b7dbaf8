import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertStringIncludes,
} from "./assert.ts";
import {
  batches,
  DatasetError,
  type Example,
  loadDataset,
  loadWeightConfig,
  negativeWeight,
  normalizeQuery,
  queryGroups,
  splitDataset,
  uniqueTexts,
} from "../lib/data/dataset.ts";
import { sha256Hex } from "../lib/core/fs.ts";

const WEIGHTS = { district: 2.5, price: 2.0, area: 1.2 };

const dir = await Deno.makeTempDir({ prefix: "dataset_test_" });
let fileNo = 0;
async function write(text: string, ext = "json"): Promise<string> {
  const path = `${dir}/f${fileNo++}.${ext}`;
  await Deno.writeTextFile(path, text);
  return path;
}

function good(i: number): Record<string, unknown> {
  return {
    query: `phòng trọ q${i}`,
    positive: { text: `Cho thuê phòng trọ quận ${i}`, features: { district: `Quận ${i}` } },
    negatives: [
      { text: `Cho thuê phòng trọ quận ${i + 1}`, differs: ["district"] },
      { text: `Cho thuê phòng trọ quận ${i} giá 9tr`, differs: ["price", "district"] },
      { text: `Cho thuê phòng trọ quận ${i} 10m2`, differs: ["area"], weight: 0.5 },
      `Cho thuê nhà nguyên căn quận ${i}`,
    ],
  };
}

/** Write `examples` (with example `index` replaced by `bad`) and expect a DatasetError. */
async function expectError(
  text: string,
  want: { record: number | null; field: string | null; kind?: "example" | "line"; has?: string },
  ext = "json",
): Promise<void> {
  const path = await write(text, ext);
  const err = await assertRejects(
    () => loadDataset(path, { weights: WEIGHTS }),
    DatasetError,
  );
  assertStringIncludes(err.message, path);
  assertEquals(err.file, path);
  assertEquals(err.record, want.record);
  assertEquals(err.field, want.field);
  if (want.record !== null) {
    assertStringIncludes(err.message, `${want.kind ?? "example"} ${want.record}`);
  }
  if (want.field !== null) assertStringIncludes(err.message, `"${want.field}"`);
  if (want.has) assertStringIncludes(err.message, want.has);
}

function withBad(index: number, patch: (r: Record<string, unknown>) => void): string {
  const ex = [good(1), good(2), good(3), good(4)];
  patch(ex[index]);
  return JSON.stringify({ version: 1, examples: ex }, null, 2);
}

Deno.test("native: a valid file loads, weights are resolved, sha256 is of the bytes", async () => {
  const text = JSON.stringify({ version: 1, examples: [good(1), good(2)] });
  const path = await write(text);
  const ds = await loadDataset(path, { weights: WEIGHTS });
  assertEquals(ds.format, "native");
  assertEquals(ds.path, path);
  assertEquals(ds.sha256, await sha256Hex(new TextEncoder().encode(text)));
  assertEquals(ds.examples.length, 2);
  const e = ds.examples[1];
  assertEquals(e.id, 1);
  assertEquals(e.query, "phòng trọ q2");
  assertEquals(e.positive, "Cho thuê phòng trọ quận 2");
  assertEquals(e.negatives.map((n) => n.weight), [2.5, 2.5, 0.5, 1.0]);
  assertEquals(e.negatives[3].differs, []);
});

Deno.test("native: a bare array of examples and string positives are accepted", async () => {
  const path = await write(JSON.stringify([{ query: "q", positive: "p", negatives: ["n"] }]));
  const ds = await loadDataset(path, { weights: {} });
  assertEquals(ds.examples, [{
    id: 0,
    query: "q",
    positive: "p",
    negatives: [{ text: "n", weight: 1, differs: [] }],
  }]);
});

Deno.test("negativeWeight: explicit, else max over differs, else 1.0", () => {
  assertEquals(negativeWeight(undefined, ["price", "district"], WEIGHTS), 2.5);
  assertEquals(negativeWeight(0, ["district"], WEIGHTS), 0);
  assertEquals(negativeWeight(undefined, [], WEIGHTS), 1);
});

Deno.test("native: bad JSON names the file and the line", async () => {
  const text = withBad(0, () => {}).replace('"phòng trọ q3"', '"phòng trọ q3",,');
  await expectError(text, { record: 2, field: "query", has: "invalid JSON at line 69" });
  // A bare array: the error is located in example 1, after its "positive" field.
  const arr =
    '[\n {"query": "a", "positive": "p"},\n {"query": "b", "positive": "p" "negatives": []}\n]';
  await expectError(arr, { record: 1, field: "positive", has: "line 3" });
  // Outside the examples array: no record.
  await expectError('{"version": 1 "examples": []}', { record: null, field: null, has: "line 1" });
});

Deno.test("native: empty file and no examples are errors", async () => {
  await expectError("", { record: null, field: null, has: "empty" });
  await expectError("  \n", { record: null, field: null, has: "empty" });
  await expectError(JSON.stringify({ version: 1, examples: [] }), {
    record: null,
    field: null,
    has: "no examples",
  });
  await expectError("[]", { record: null, field: null, has: "no examples" });
  await expectError(JSON.stringify({ version: 1 }), { record: null, field: "examples" });
  await expectError(JSON.stringify({ version: 2, examples: [good(1)] }), {
    record: null,
    field: "version",
  });
});

Deno.test("native: missing or empty query", async () => {
  await expectError(withBad(2, (r) => delete r.query), { record: 2, field: "query" });
  await expectError(withBad(1, (r) => (r.query = "  ")), { record: 1, field: "query" });
  await expectError(withBad(3, (r) => (r.query = 7)), { record: 3, field: "query" });
});

Deno.test("native: missing, empty or non-string positive", async () => {
  await expectError(withBad(1, (r) => delete r.positive), { record: 1, field: "positive" });
  await expectError(withBad(2, (r) => (r.positive = "")), { record: 2, field: "positive" });
  await expectError(withBad(0, (r) => (r.positive = { text: "" })), {
    record: 0,
    field: "positive.text",
  });
  await expectError(withBad(3, (r) => (r.positive = { text: 42 })), {
    record: 3,
    field: "positive.text",
  });
  await expectError(withBad(3, (r) => (r.positive = { features: {} })), {
    record: 3,
    field: "positive.text",
  });
});

Deno.test("native: bad negative entries", async () => {
  const neg = (r: Record<string, unknown>) => r.negatives as unknown[];
  await expectError(withBad(1, (r) => (r.negatives = "x")), { record: 1, field: "negatives" });
  await expectError(withBad(1, (r) => (neg(r)[2] = 5)), { record: 1, field: "negatives[2]" });
  await expectError(withBad(2, (r) => (neg(r)[0] = null)), { record: 2, field: "negatives[0]" });
  await expectError(withBad(2, (r) => (neg(r)[3] = "")), { record: 2, field: "negatives[3]" });
  await expectError(withBad(3, (r) => (neg(r)[1] = { text: ["a"] })), {
    record: 3,
    field: "negatives[1].text",
  });
  await expectError(withBad(3, (r) => (neg(r)[1] = { differs: [] })), {
    record: 3,
    field: "negatives[1].text",
  });
  await expectError(withBad(0, (r) => (neg(r)[0] = { text: "t", differs: "district" })), {
    record: 0,
    field: "negatives[0].differs",
  });
});

Deno.test("native: NaN, non-numeric and negative weights", async () => {
  const setW = (w: unknown) =>
  (
    r: Record<string, unknown>,
  ) => ((r.negatives as Record<string, unknown>[])[1].weight = w);
  for (const w of ["NaN", "2", null, -1, -0.001, [1], true]) {
    await expectError(withBad(2, setW(w)), { record: 2, field: "negatives[1].weight" });
  }
  // JSON has no NaN/Infinity literals: 1e999 parses to Infinity, which is rejected too.
  const text = withBad(0, setW(12345)).replace("12345", "1e999");
  await expectError(text, { record: 0, field: "negatives[1].weight" });
  // A literal NaN (not JSON) names the example, the field and the line.
  const nan = withBad(0, setW(12345)).replace("12345", "NaN");
  await expectError(nan, {
    record: 0,
    field: "negatives[1].weight",
    has: `NaN is not valid JSON at line ${nan.slice(0, nan.indexOf("NaN")).split("\n").length},`,
  });
  const inf = withBad(3, setW(12345)).replace("12345", "-Infinity");
  await expectError(inf, { record: 3, field: "negatives[1].weight", has: "-Infinity" });
  // 1e300 is finite in JSON but Infinity in float32.
  const big = withBad(1, setW(12345)).replace("12345", "1e300");
  await expectError(big, { record: 1, field: "negatives[1].weight", has: "float32" });
});

Deno.test("native: unknown feature in differs", async () => {
  const patch = (
    r: Record<string, unknown>,
  ) => ((r.negatives as Record<string, unknown>[])[1].differs = ["price", "colour"]);
  await expectError(withBad(3, patch), {
    record: 3,
    field: "negatives[1].differs[1]",
    has: '"colour"',
  });
});

Deno.test("jsonl: FlagEmbedding records load; each pos becomes an example", async () => {
  const lines = [
    JSON.stringify({ query: "phong tro q10", pos: ["a", "b"], neg: ["x", "y"] }),
    "",
    JSON.stringify({ query: "ccmn cầu giấy", pos: ["c"], neg: ["z"], neg_weights: [2.5] }),
    JSON.stringify({ query: "ktx", pos: ["d"] }),
  ];
  const path = await write(lines.join("\n") + "\n", "jsonl");
  const ds = await loadDataset(path, { weights: {} });
  assertEquals(ds.format, "flagembedding");
  assertEquals(ds.examples.map((e) => [e.id, e.query, e.positive]), [
    [0, "phong tro q10", "a"],
    [1, "phong tro q10", "b"],
    [2, "ccmn cầu giấy", "c"],
    [3, "ktx", "d"],
  ]);
  assertEquals(ds.examples[0].negatives, [
    { text: "x", weight: 1, differs: [] },
    { text: "y", weight: 1, differs: [] },
  ]);
  assertEquals(ds.examples[2].negatives, [{ text: "z", weight: 2.5, differs: [] }]);
  assertEquals(ds.examples[3].negatives, []);
  assertEquals(queryGroups(ds.examples), [0, 0, 1, 2]);
});

Deno.test("jsonl: errors name the line number and the field", async () => {
  const ok = JSON.stringify({ query: "q", pos: ["p"], neg: ["n"] });
  const file = (bad: string) => [ok, ok, bad, ok].join("\n");
  const cases: [string, string | null][] = [
    ['{"query": "q", "pos": ["p"],', "pos"],
    ["[1, 2]", null],
    [JSON.stringify({ pos: ["p"] }), "query"],
    [JSON.stringify({ query: "", pos: ["p"] }), "query"],
    [JSON.stringify({ query: "q" }), "pos"],
    [JSON.stringify({ query: "q", pos: [] }), "pos"],
    [JSON.stringify({ query: "q", pos: ["p", 3] }), "pos[1]"],
    [JSON.stringify({ query: "q", pos: ["p"], neg: "n" }), "neg"],
    [JSON.stringify({ query: "q", pos: ["p"], neg: ["n", {}] }), "neg[1]"],
    [
      JSON.stringify({ query: "q", pos: ["p"], neg: ["n"], neg_weights: ["NaN"] }),
      "neg_weights[0]",
    ],
    [JSON.stringify({ query: "q", pos: ["p"], neg: ["n"], neg_weights: [-1] }), "neg_weights[0]"],
    [JSON.stringify({ query: "q", pos: ["p"], neg: ["n"], neg_weights: [1, 2] }), "neg_weights"],
    [JSON.stringify({ query: "q", pos: ["p"], neg: ["n"], neg_weights: 1 }), "neg_weights"],
  ];
  for (const [bad, field] of cases) {
    await expectError(file(bad), { record: 3, field, kind: "line" }, "jsonl");
  }
  // A literal NaN is not JSON: reported with its line and field.
  await expectError(
    file('{"query": "q", "pos": ["p"], "neg": ["n"], "neg_weights": [NaN]}'),
    { record: 3, field: "neg_weights[0]", kind: "line", has: "NaN is not valid JSON" },
    "jsonl",
  );
  await expectError(
    file('{"query": "q", "pos": ["p"], "neg": ["n"], "neg_weights": [1e300]}'),
    { record: 3, field: "neg_weights[0]", kind: "line", has: "float32" },
    "jsonl",
  );
  // Only zero-width characters: no text at all.
  await expectError(
    file(JSON.stringify({ query: "\u200b\u200c\u200d\ufeff", pos: ["p"] })),
    { record: 3, field: "query", kind: "line", has: "zero-width" },
    "jsonl",
  );
  await expectError("\n\n", { record: null, field: null, has: "empty" }, "jsonl");
});

Deno.test("native: a query of only zero-width characters names the example", async () => {
  await expectError(withBad(2, (r) => (r.query = "\u200b\u2060")), {
    record: 2,
    field: "query",
    has: "zero-width",
  });
  await expectError(withBad(1, (r) => ((r.negatives as unknown[])[3] = "\u200b")), {
    record: 1,
    field: "negatives[3]",
  });
});

Deno.test("weights: unknown keys, {} and float32 overflow are named errors", async () => {
  const typo = await write(JSON.stringify({ ...WEIGHTS, distrct: 3 }));
  const w = await loadWeightConfig(typo);
  const data = await write(JSON.stringify({ version: 1, examples: [good(1), good(2)] }));
  const err = await assertRejects(() => loadDataset(data, { weights: w }), DatasetError);
  assertEquals([err.file, err.field], [typo, "distrct"]);
  assertStringIncludes(err.message, 'did you mean "district"');
  assertStringIncludes(err.message, "features in the data: area, district, price");
  // The typo instead of the key: the record names the feature and the suspect key.
  const only = await write(JSON.stringify({ price: 2, area: 1, distrct: 3 }));
  const e1 = await assertRejects(
    () =>
      loadDataset(data, {
        weights: { ...(JSON.parse(Deno.readTextFileSync(only))) },
        weightsFile: only,
      }),
    DatasetError,
  );
  assertEquals([e1.record, e1.field], [0, "negatives[0].differs[0]"]);
  assertStringIncludes(e1.message, `not in the weight config ${only}`);
  assertStringIncludes(e1.message, 'is "distrct" in the weight config a typo of "district"?');
  // Keys the data does not use are fine when they are standard features.
  const std = await write(JSON.stringify({ district: 2.5, price: 2, area: 1, rules: 1.2 }));
  assertEquals(
    (await loadDataset(data, { weights: await loadWeightConfig(std) })).examples.length,
    2,
  );
  // An inline config is named as such.
  const e2 = await assertRejects(
    () => loadDataset(data, { weights: { ...WEIGHTS, colour: 1 }, weightsFile: "cfg.json" }),
    DatasetError,
  );
  assertEquals([e2.file, e2.field], ["cfg.json", "colour"]);

  const empty = await write("{}");
  const e3 = await assertRejects(() => loadWeightConfig(empty), DatasetError);
  assertStringIncludes(e3.message, empty);
  assertStringIncludes(e3.message, "the weight config is empty");
  const big = await write('{"district": 1e300}');
  const e4 = await assertRejects(() => loadWeightConfig(big), DatasetError);
  assertEquals(e4.field, "district");
  assertStringIncludes(e4.message, "float32");
  const nan = await write('{"district": 2.5,\n "price": NaN}');
  const e5 = await assertRejects(() => loadWeightConfig(nan), DatasetError);
  assertEquals(e5.field, "price");
  assertStringIncludes(e5.message, "NaN is not valid JSON at line 2");
});

Deno.test("format: JSONL saved as .json is read as JSONL; one JSONL record gets a hint", async () => {
  const lines = [
    JSON.stringify({ query: "q1", pos: ["a"], neg: ["x"] }),
    JSON.stringify({ query: "q2", pos: ["b"] }),
  ];
  const path = await write(lines.join("\n") + "\n", "json");
  const ds = await loadDataset(path, { weights: {} });
  assertEquals(ds.format, "flagembedding");
  assertEquals(ds.examples.map((e) => e.query), ["q1", "q2"]);
  await expectError(lines[0], { record: null, field: "examples", has: "name the file .jsonl" });
});

Deno.test("streaming: large files across chunk boundaries load like a whole-file parse", async () => {
  // The committed dataset is 3 MB (several 1 MiB chunks): compare with JSON.parse.
  const text = await Deno.readTextFile("data/gen-data-set.json");
  const whole = JSON.parse(text).examples as {
    query: string;
    positive: { text: string } | string;
    negatives: ({ text: string } | string)[];
  }[];
  const ds = await loadDataset("data/gen-data-set.json");
  assertEquals(ds.examples.length, whole.length);
  ds.examples.forEach((e, i) => {
    const w = whole[i];
    assertEquals(e.query, w.query);
    assertEquals(e.positive, typeof w.positive === "string" ? w.positive : w.positive.text);
    assertEquals(
      e.negatives.map((n) => n.text),
      w.negatives.map((n) => typeof n === "string" ? n : n.text),
    );
  });
  assertEquals(ds.sha256, await sha256Hex(new TextEncoder().encode(text)));
  // JSONL with CRLF and lines longer than a chunk; an error far into the file names its line.
  const long = "phòng trọ ".repeat(150_000); // ~1.6 MB
  const jl = [
    JSON.stringify({ query: "q", pos: [long], neg: ["n"] }),
    ...Array.from({ length: 3000 }, (_, i) => JSON.stringify({ query: `q${i}`, pos: [`p${i}`] })),
  ].join("\r\n") + "\r\n";
  const path = await write(jl, "jsonl");
  const big = await loadDataset(path, { weights: {} });
  assertEquals(big.examples.length, 3001);
  assertEquals(big.examples[0].positive, long);
  assertEquals(big.examples[3000].positive, "p2999");
  await expectError(jl.replace('"p2500"', '"p2500",'), {
    record: 2502,
    field: null,
    kind: "line",
    has: "invalid JSON",
  }, "jsonl");
  // Native: an error in an example past the first chunk names it and its line.
  const many = Array.from({ length: 4000 }, (_, i) => good(i));
  const nat = JSON.stringify({ version: 1, examples: many }, null, 1);
  const at = nat.indexOf('"phòng trọ q3500"');
  const line = nat.slice(0, at).split("\n").length;
  await expectError(nat.replace('"phòng trọ q3500"', '"phòng trọ q3500" x'), {
    record: 3500,
    field: "query",
    has: `line ${line}`,
  });
});

Deno.test("loadWeightConfig: validates finite numbers >= 0", async () => {
  const okPath = await write(JSON.stringify({ district: 2.5, price: 0 }));
  assertEquals(await loadWeightConfig(okPath), { district: 2.5, price: 0 });
  for (const bad of [{ district: -1 }, { district: "2" }, { district: null }, { d: { x: 1 } }]) {
    const path = await write(JSON.stringify(bad));
    const err = await assertRejects(() => loadWeightConfig(path), DatasetError);
    assertStringIncludes(err.message, path);
    assertEquals(err.field, Object.keys(bad)[0]);
    assertStringIncludes(err.message, `"${Object.keys(bad)[0]}"`);
  }
  for (const bad of ["[1]", "{", "", "3"]) {
    const path = await write(bad);
    const err = await assertRejects(() => loadWeightConfig(path), DatasetError);
    assertStringIncludes(err.message, path);
  }
});

Deno.test("committed weight config is valid and has district 2.5, price 2.0", async () => {
  const w = await loadWeightConfig("data/weight-config.json");
  assertEquals(w.district, 2.5);
  assertEquals(w.price, 2.0);
});

// -----------------------------------------------------------------------------------------------
// Split

function synthetic(n: number): Example[] {
  const out: Example[] = [];
  for (let i = 0; i < n; i++) {
    // Every 5th example repeats an earlier query with different case/spacing.
    const q = i % 5 === 4 ? `  PHÒNG   trọ ${i - 3} ` : `phòng trọ ${i}`;
    const negatives = Array.from({ length: i % 4 }, (_, k) => ({
      text: `neg ${i}.${k}`,
      weight: k + 1,
      differs: [],
    }));
    out.push({ id: i, query: q, positive: `pos ${i}`, negatives });
  }
  return out;
}

Deno.test("normalizeQuery: NFC, lowercase, trim, collapse spaces", () => {
  assertEquals(normalizeQuery("  Phòng\t trọ  Q10 "), "phòng trọ q10");
  assertEquals(normalizeQuery("pho\u0300ng"), "phòng");
});

Deno.test("splitDataset: deterministic, leak-free, about 90/10", () => {
  const ex = synthetic(200);
  const a = splitDataset(ex);
  const b = splitDataset(ex, { valFraction: 0.1, seed: 42 });
  assertEquals(a, b);
  assertEquals(a.train.length + a.val.length, 200);
  assert(a.val.length >= 20 && a.val.length <= 22, `val ${a.val.length}`);
  const trainQ = new Set(a.train.map((e) => normalizeQuery(e.query)));
  for (const e of a.val) assert(!trainQ.has(normalizeQuery(e.query)), `leak: ${e.query}`);
  // Input order is kept on each side.
  assertEquals(a.train.map((e) => e.id), [...a.train.map((e) => e.id)].sort((x, y) => x - y));
  const c = splitDataset(ex, { seed: 7 });
  assertNotEquals(c.val.map((e) => e.id), a.val.map((e) => e.id));
  assertEquals(splitDataset(ex, { valFraction: 0 }).val, []);
});

Deno.test("splitDataset: committed dataset split is leak-free", async () => {
  const { examples } = await loadDataset("data/gen-data-set.json");
  const { train, val } = splitDataset(examples);
  assert(val.length >= 95 && val.length <= 110, `val ${val.length}`);
  const trainQ = new Set(train.map((e) => normalizeQuery(e.query)));
  for (const e of val) assert(!trainQ.has(normalizeQuery(e.query)));
});

// -----------------------------------------------------------------------------------------------
// Batches

Deno.test("batches: fixed shapes, deterministic per (seed, epoch), group ids", () => {
  const ex = synthetic(50);
  const opts = { batchSize: 8, negatives: 3, seed: 1, epoch: 0 };
  const a = [...batches(ex, opts)];
  assertEquals(a, [...batches(ex, opts)]);
  const groups = queryGroups(ex);
  const seen: number[] = [];
  for (const b of a) {
    const n = b.queries.length;
    assertEquals(b.positives.length, n);
    assertEquals(b.negatives.length, n * 3);
    assertEquals(b.weights.length, n * 3);
    assertEquals(b.positiveIds, b.exampleIds.map((id) => groups[id]));
    seen.push(...b.exampleIds);
  }
  // 50 = 6 * 8 + 2: the last 2-row batch is kept.
  assertEquals(a.map((b) => b.queries.length), [8, 8, 8, 8, 8, 8, 2]);
  assertEquals([...seen].sort((x, y) => x - y), ex.map((e) => e.id));
  const e1 = [...batches(ex, { ...opts, epoch: 1 })];
  assertNotEquals(e1[0].exampleIds, a[0].exampleIds);
  const s2 = [...batches(ex, { ...opts, seed: 2 })];
  assertNotEquals(s2[0].exampleIds, a[0].exampleIds);
});

Deno.test("batches: a last batch of 1 row is dropped", () => {
  const ex = synthetic(17);
  const sizes = [...batches(ex, { batchSize: 8, negatives: 2, seed: 3, epoch: 0 })].map((b) =>
    b.queries.length
  );
  assertEquals(sizes, [8, 8]);
  const one = [...batches(ex, { batchSize: 1, negatives: 2, seed: 3, epoch: 0 })];
  assertEquals(one.length, 17);
});

Deno.test("batches: same query in a batch shares a positiveId", () => {
  const ex = synthetic(10); // example 4 repeats example 1's query, 9 repeats 6
  const [b] = [...batches(ex, { batchSize: 10, negatives: 1, seed: 0, epoch: 0 })];
  const idOf = (exampleId: number) => b.positiveIds[b.exampleIds.indexOf(exampleId)];
  assertEquals(idOf(1), idOf(4));
  assertEquals(idOf(6), idOf(9));
  assertNotEquals(idOf(1), idOf(6));
});

function rowsOf(b: { negatives: string[]; weights: Float32Array }, K: number, r: number) {
  return Array.from({ length: K }, (_, k) => [b.negatives[r * K + k], b.weights[r * K + k]]);
}

Deno.test("batches: negative sampling and filling", () => {
  const ex: Example[] = [
    { id: 0, query: "a", positive: "pa", negatives: [] },
    {
      id: 1,
      query: "b",
      positive: "pb",
      negatives: [{ text: "b1", weight: 2, differs: [] }, { text: "b2", weight: 3, differs: [] }],
    },
    {
      id: 2,
      query: "c",
      positive: "pc",
      negatives: Array.from({ length: 9 }, (_, k) => ({ text: `c${k}`, weight: 1, differs: [] })),
    },
  ];
  const K = 5;
  for (const fill of ["resample", "mask"] as const) {
    const [b] = [...batches(ex, { batchSize: 3, negatives: K, seed: 9, epoch: 0, fill })];
    const row = (id: number) => rowsOf(b, K, b.exampleIds.indexOf(id));
    // Zero negatives: padded with the positive text at weight 0.
    assertEquals(row(0), Array.from({ length: K }, () => ["pa", 0]));
    // More than K: K distinct, without replacement.
    const c = row(2).map(([t]) => t);
    assertEquals(new Set(c).size, K);
    // Fewer than K.
    const r1 = row(1);
    if (fill === "mask") {
      assertEquals(r1, [["b1", 2], ["b2", 3], ["b1", 0], ["b1", 0], ["b1", 0]]);
    } else {
      for (const [t, w] of r1) assertEquals(w, t === "b1" ? 2 : 3);
      // ceil(5/2) = 3 copies of each, 5 drawn without replacement: each appears 2 or 3 times.
      const count = r1.filter(([t]) => t === "b1").length;
      assert(count === 2 || count === 3);
    }
  }
  const [k0] = [...batches(ex, { batchSize: 3, negatives: 0, seed: 9, epoch: 0 })];
  assertEquals(k0.negatives, []);
  assertEquals(k0.weights.length, 0);
});

Deno.test("uniqueTexts: all, queries, passages", () => {
  const ex: Example[] = [
    { id: 0, query: "q", positive: "p", negatives: [{ text: "n", weight: 1, differs: [] }] },
    { id: 1, query: "q", positive: "n", negatives: [{ text: "p", weight: 1, differs: [] }] },
  ];
  assertEquals(uniqueTexts(ex), ["q", "p", "n"]);
  assertEquals(uniqueTexts(ex, { kind: "queries" }), ["q"]);
  assertEquals(uniqueTexts(ex, { kind: "passages" }), ["p", "n"]);
});
