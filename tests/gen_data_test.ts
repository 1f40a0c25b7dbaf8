import { assert, assertEquals, assertGreater, assertLess, assertNotEquals } from "./assert.ts";
import {
  CONSTRAINT_KEYS,
  type Constraints,
  generate,
  type GeneratedExample,
  priceText,
  stripDiacritics,
  violations,
} from "../lib/data/synthetic.ts";
import { loadDataset, loadWeightConfig, normalizeQuery } from "../lib/data/dataset.ts";

/** Number of atomic constraints a query names (each amenity/rule counts once). */
function constraintCount(c: Constraints): number {
  let n = 0;
  for (const [k, v] of Object.entries(c)) {
    assert(CONSTRAINT_KEYS.includes(k), `unknown constraint ${k}`);
    n += Array.isArray(v) ? v.length : 1;
  }
  return n;
}

/** The structural checks every generated example must pass. */
function checkExample(e: GeneratedExample, i: number): void {
  const where = `example ${i} (${e.query})`;
  assert(e.query.trim() !== "", where);
  const n = constraintCount(e.constraints);
  assert(n >= 1 && n <= 4, `${where}: ${n} constraints`);
  assertEquals(violations(e.positive.features, e.constraints), [], `${where}: positive`);
  assert(e.negatives.length >= 3 && e.negatives.length <= 7, `${where}: negatives`);
  const texts = new Set([e.positive.text]);
  const constrained = Object.keys(e.constraints);
  for (const neg of e.negatives) {
    assert(neg.differs.length >= 1 && neg.differs.length <= 2, `${where}: differs ${neg.differs}`);
    // Only constrained features change, and every change violates the query.
    for (const d of neg.differs) assert(constrained.includes(d), `${where}: ${d} unconstrained`);
    assertEquals(violations(neg.features, e.constraints), neg.differs, `${where}: ${neg.text}`);
    assert(!texts.has(neg.text), `${where}: duplicate negative text`);
    texts.add(neg.text);
    // Features outside `differs` are unchanged, except location features that follow a
    // changed city/district (a district belongs to a city, a landmark to a district).
    const pf = e.positive.features as unknown as Record<string, unknown>;
    const nf = neg.features as unknown as Record<string, unknown>;
    for (const k of Object.keys(pf)) {
      if (neg.differs.includes(k)) continue;
      if (k === "district" && neg.differs.includes("city")) continue;
      if (k === "landmark" && (neg.differs.includes("city") || neg.differs.includes("district"))) {
        continue;
      }
      assertEquals(nf[k], pf[k], `${where}: ${k} changed but not in differs`);
    }
  }
}

Deno.test("generate: same seed gives identical bytes, another seed differs", () => {
  const a = generate({ count: 40, seed: 7 });
  const b = generate({ count: 40, seed: 7 });
  assertEquals(a, b);
  assertNotEquals(generate({ count: 40, seed: 8 }), a);
  const parsed = JSON.parse(a);
  assertEquals(parsed.version, 1);
  assertEquals(parsed.examples.length, 40);
  (parsed.examples as GeneratedExample[]).forEach(checkExample);
});

Deno.test("priceText: the abbreviation styles", () => {
  assertEquals([0, 1, 2, 3].map((s) => priceText(3.5, s)), [
    "3tr5",
    "3,5 triệu",
    "3.500.000đ",
    "3.5tr",
  ]);
  assertEquals([0, 1, 2, 3].map((s) => priceText(12, s)), [
    "12tr",
    "12 triệu",
    "12.000.000đ",
    "12tr",
  ]);
  assertEquals(priceText(0.8, 0), "800k");
  assertEquals(stripDiacritics("Phòng trọ Đống Đa giá rẻ"), "Phong tro Dong Da gia re");
});

Deno.test("violations: checks every constraint kind", () => {
  const f = {
    city: "Hồ Chí Minh",
    district: "Quận 10",
    landmark: "ĐH Bách Khoa",
    price: 3.5,
    area: 20,
    room_type: "phòng trọ",
    amenities: ["máy lạnh", "WC riêng"],
    rules: ["giờ giấc tự do"],
  };
  assertEquals(
    violations(f, {
      city: "Hồ Chí Minh",
      district: "Quận 10",
      landmark: "ĐH Bách Khoa",
      price: { min: 3, max: 3.5 },
      area: { min: 20 },
      room_type: "phòng trọ",
      amenities: ["WC riêng"],
      rules: ["giờ giấc tự do"],
    }),
    [],
  );
  assertEquals(
    violations(f, {
      city: "Hà Nội",
      price: { max: 3 },
      area: { min: 25 },
      amenities: ["máy lạnh", "ban công"],
      rules: ["không chung chủ"],
    }),
    ["city", "price", "area", "amenities", "rules"],
  );
});

Deno.test("committed data: structure, constraints, weights, vocabulary", async () => {
  const text = await Deno.readTextFile("data/gen-data-set.json");
  const parsed = JSON.parse(text) as { version: number; examples: GeneratedExample[] };
  assertEquals(parsed.version, 1);
  assertEquals(parsed.examples.length, 1000);
  parsed.examples.forEach(checkExample);

  // Duplicate queries (same text, different positive) exist, so split grouping matters.
  const byQuery = new Map<string, Set<string>>();
  for (const e of parsed.examples) {
    const k = normalizeQuery(e.query);
    if (!byQuery.has(k)) byQuery.set(k, new Set());
    byQuery.get(k)!.add(e.positive.text);
  }
  const dupGroups = [...byQuery.values()].filter((s) => s.size > 1).length;
  assertGreater(dupGroups, 10);

  // Some queries are typed without diacritics.
  const plain = parsed.examples.filter((e) => stripDiacritics(e.query) === e.query).length;
  assertGreater(plain, 100);

  // Every differs feature has a weight; the loader agrees with the file.
  const weights = await loadWeightConfig("data/weight-config.json");
  for (const e of parsed.examples) {
    for (const n of e.negatives) for (const d of n.differs) assert(d in weights, d);
  }
  const ds = await loadDataset("data/gen-data-set.json", { weights });
  assertEquals(ds.examples.length, 1000);
  const e0 = parsed.examples[0];
  assertEquals(
    ds.examples[0].negatives.map((n) => n.weight),
    e0.negatives.map((n) => Math.max(...n.differs.map((d) => weights[d]))),
  );

  // Bounded vocabulary: distinct lowercased whitespace tokens of all texts.
  const tokens = new Set<string>();
  for (const e of parsed.examples) {
    for (const t of [e.query, e.positive.text, ...e.negatives.map((n) => n.text)]) {
      for (const w of t.toLowerCase().split(/\s+/)) if (w) tokens.add(w);
    }
  }
  assertLess(tokens.size, 3000);
});

Deno.test("committed data is what `deno task gen-data --count 1000 --seed 42` writes", async () => {
  const text = await Deno.readTextFile("data/gen-data-set.json");
  assertEquals(text === generate({ count: 1000, seed: 42 }), true);
});
