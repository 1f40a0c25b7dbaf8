import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import {
  differingFeatures,
  mineHardNegatives,
  parseRange,
  readConstraints,
  readFeatures,
  sameFeatureValue,
  violations,
} from "../lib/mine/mine.ts";
import { loadDataset, loadWeightConfig, negativeWeight } from "../lib/data/dataset.ts";
import { runScript, smallDataset, trainSmallRun } from "./fixtures.ts";

/** Unit vector in 2-D whose dot product with [1, 0] is `s`. */
const at = (s: number) => [s, Math.sqrt(1 - s * s)];

const WEIGHTS = { city: 3, district: 2.5, price: 2 };

function toyEmbed(scores: Record<string, number>) {
  const calls: string[][] = [];
  const embed = (texts: string[]) => {
    calls.push(texts);
    return Promise.resolve({
      dim: 2,
      data: new Float32Array(texts.flatMap((t) => {
        if (!(t in scores)) throw new Error(`no toy vector for ${t}`);
        return at(scores[t]);
      })),
    });
  };
  return { embed, calls };
}

Deno.test("mineHardNegatives: each filter removes what it should, and weights follow features", async () => {
  // Query q scores 1 against itself; the positive scores 0.8.
  const scores = {
    q: 1,
    pos: 0.8,
    "  POS ": 0.99, // the positive again (case/space): filter "positive"
    twin: 0.95, // same features as the positive: filter "same-features"
    close: 0.79, // within the margin 0.05 of the positive
    ratio: 0.75, // above 0.9 × 0.8 = 0.72 but not within the margin
    a: 0.5, // differs in district
    b: 0.3, // differs in city and price
    plain: 0.2, // no features: weight 1
  };
  const features = new Map<string, Record<string, unknown>>([
    ["pos", { city: "HN", district: "Ba Đình", price: 3 }],
    ["twin", { city: "HN", district: "Ba Đình", price: 3 }],
    ["close", { city: "HN", district: "Tây Hồ", price: 3 }],
    ["ratio", { city: "HN", district: "Tây Hồ", price: 3 }],
    ["a", { city: "HN", district: "Tây Hồ", price: 3 }],
    ["b", { city: "HCM", district: "Ba Đình", price: 5 }],
  ]);
  const { embed, calls } = toyEmbed(scores);
  const { records, report } = await mineHardNegatives(
    [{ id: 0, query: "q", positive: "pos", negatives: [{ text: "a", weight: 1, differs: [] }] }],
    ["  POS ", "twin", "close", "ratio", "b", "plain", "a"],
    embed,
    {
      range: [0, 100],
      numNegatives: 5,
      margin: 0.05,
      maxScoreRatio: 0.9,
      sample: "top",
      weightsFromFeatures: { weights: WEIGHTS, features },
    },
  );
  assertEquals(records.length, 1);
  assertEquals(records[0].neg, ["a", "b", "plain"]);
  assertEquals(records[0].neg_weights, [2.5, 3, 1]);
  assertEquals(records[0].neg_differs, [["district"], ["city", "price"], []]);
  assertEquals(report.removed, {
    positive: 2,
    satisfies: 0,
    sameFeatures: 1,
    margin: 1,
    maxScoreRatio: 1,
  });
  assertEquals(report.inWindow, 8); // every listing incl. the positive itself
  assertEquals(report.passed, 3);
  assertEquals(report.short, 1);
  assertEquals([report.weighted, report.unweighted], [2, 1]);
  // One embed call, each text once.
  assertEquals(calls.length, 1);
  assertEquals(calls[0].length, new Set(calls[0]).size);
  assertEquals(calls[0].length, 9);
});

Deno.test("mineHardNegatives: rank window, the query's other positives, top vs random sampling", async () => {
  const scores: Record<string, number> = { q: 1, p1: 0.9, p2: 0.85 };
  const cands: string[] = [];
  for (let i = 0; i < 10; i++) {
    scores[`c${i}`] = 0.8 - i * 0.05;
    cands.push(`c${i}`);
  }
  const examples = [
    { id: 0, query: "q", positive: "p1", negatives: [] },
    { id: 1, query: "q", positive: "p2", negatives: [] },
  ];
  const top = await mineHardNegatives(examples, cands, toyEmbed(scores).embed, {
    range: [3, 8],
    numNegatives: 2,
    sample: "top",
  });
  // Ranking: p1 p2 c0 | c1 c2 c3 c4 c5 | c6 ...: window [3, 8) = c1..c5, p2 never appears.
  assertEquals(top.records.map((r) => r.neg), [["c1", "c2"], ["c1", "c2"]]);
  assertEquals(top.records.map((r) => r.pos), [["p1"], ["p2"]]);
  assertEquals(top.report.removed.positive, 0);
  const wide = await mineHardNegatives(examples, cands, toyEmbed(scores).embed, {
    range: [0, 4],
    numNegatives: 2,
    sample: "top",
  });
  // Window p1 p2 c0 c1: both positives are dropped for both examples (the other positive too).
  assertEquals(wide.records.map((r) => r.neg), [["c0", "c1"], ["c0", "c1"]]);
  assertEquals(wide.report.removed.positive, 4);
  const rnd = await mineHardNegatives(examples, cands, toyEmbed(scores).embed, {
    range: [3, 8],
    numNegatives: 3,
    sample: "random",
    seed: 1,
  });
  for (const r of rnd.records) {
    assertEquals(r.neg.length, 3);
    const ranks = r.neg.map((t) => Number(t.slice(1)));
    assert(ranks.every((x) => x >= 1 && x <= 5), `outside the window: ${r.neg}`);
    assertEquals([...ranks].sort((a, b) => a - b), ranks, "written in rank order");
  }
  const again = await mineHardNegatives(examples, cands, toyEmbed(scores).embed, {
    range: [3, 8],
    numNegatives: 3,
    sample: "random",
    seed: 1,
  });
  assertEquals(again.records, rnd.records, "seeded");
});

Deno.test("mineHardNegatives: constraints drop unlabelled positives; differs are the violated constraints", async () => {
  const scores = { q: 1, pos: 0.9, ok: 0.8, cheap: 0.7, far: 0.6 };
  const f = (district: string, price: number, amenities: string[]) => ({
    district,
    price,
    amenities,
  });
  const features = new Map<string, Record<string, unknown>>([
    ["pos", f("Q1", 3, ["máy lạnh", "wc"])],
    ["ok", f("Q1", 2.5, ["máy lạnh"])], // meets every constraint: an unlabelled positive
    ["cheap", f("Q1", 4, ["máy lạnh"])], // over budget
    ["far", f("Q3", 5, [])], // wrong district, over budget, no máy lạnh
  ]);
  const constraints = { district: "Q1", price: { max: 3.5 }, amenities: ["máy lạnh"] };
  const { records, report } = await mineHardNegatives(
    [{ id: 0, query: "q", positive: "pos", negatives: [] }],
    ["ok", "cheap", "far"],
    toyEmbed(scores).embed,
    {
      range: [0, 10],
      numNegatives: 5,
      sample: "top",
      constraints: { byExample: [constraints], features },
      weightsFromFeatures: { weights: { ...WEIGHTS, amenities: 1.5 }, features },
    },
  );
  assertEquals(report.removed.satisfies, 1);
  assertEquals(records[0].neg, ["cheap", "far"]);
  assertEquals(records[0].neg_differs, [["price"], ["district", "price", "amenities"]]);
  assertEquals(records[0].neg_weights, [2, 2.5]);
  assertEquals(violations(features.get("far")!, { area: { min: 10 } }), ["area"]);
});

Deno.test("mine helpers: ranges, feature comparison", () => {
  assertEquals(parseRange("10-100"), [10, 100]);
  for (const bad of ["10", "100-10", "a-b", "5-5"]) {
    let msg = "";
    try {
      parseRange(bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    assertStringIncludes(msg, "--range");
  }
  assert(sameFeatureValue(["x", "y"], ["y", "x"]));
  assert(!sameFeatureValue(["x"], ["x", "y"]));
  assertEquals(
    differingFeatures({ city: "A", price: 1, area: 2 }, { city: "B", price: 1 }, {
      ...WEIGHTS,
      area: 1,
    }),
    ["city"],
  );
});

Deno.test("mine CLI end to end: corpus, filters, weights from features, cache reuse, head scorer", async () => {
  const fx = await smallDataset(40, 5);
  const native = JSON.parse(await Deno.readTextFile(fx.data));
  const corpus = `${fx.dir}/corpus.txt`;
  // An exact duplicate of a positive, a new listing, and a JSONL line.
  await Deno.writeTextFile(
    corpus,
    `${
      native.examples[0].positive.text
    }\nPhòng trọ mới xây Q.7 giá 2tr5\n{"text": "KTX sleepbox Q.1 giá 1tr"}\n`,
  );
  const out = `${fx.dir}/mined.jsonl`;
  const args = [
    "--data",
    fx.data,
    "--corpus",
    corpus,
    "--out",
    out,
    "--weights",
    fx.weights,
    "--cache-root",
    fx.cache,
    "--range",
    "0-1000",
    "--num-negatives",
    "4",
    "--margin",
    "0.01",
    "--max-score-ratio",
    "0.9",
    "--weights-from-features",
    "--json",
  ];
  const r = await runScript("mine.ts", args);
  assertEquals(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assertEquals(rep.examples, 40);
  assertEquals(rep.cache.hits, 0);
  assert(rep.cache.misses > 0);
  // Window [0, 1000) is the whole corpus: it holds every example's own positive, so "positive" fires at least once each.
  assert(rep.removed.positive >= 40, `positive filter: ${rep.removed.positive}`);
  assert(rep.removed.margin > 0, "margin filter removed nothing");
  assert(rep.removed.maxScoreRatio > 0, "ratio filter removed nothing");
  assertEquals(rep.removed.satisfies, 0, "--drop-satisfying is off");
  assertEquals(
    rep.inWindow,
    rep.removed.positive + rep.removed.sameFeatures + rep.removed.margin +
      rep.removed.maxScoreRatio + rep.passed,
  );
  // The output loads as FlagEmbedding data, in input order, without positives among negatives.
  const weights = await loadWeightConfig(fx.weights);
  const mined = await loadDataset(out, { weights });
  assertEquals(mined.examples.length, 40);
  const features = await readFeatures(fx.data);
  const lines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
  let checked = 0;
  lines.forEach((rec, i) => {
    assertEquals(rec.query, native.examples[i].query);
    assertEquals(rec.pos, [native.examples[i].positive.text]);
    assert(rec.neg.length <= 4);
    const pos = features.get(rec.pos[0])!;
    rec.neg.forEach((t: string, j: number) => {
      assert(t !== rec.pos[0]);
      const f = features.get(t);
      if (!f) return assertEquals(rec.neg_weights[j], 1);
      const d = differingFeatures(pos, f, weights);
      assert(d.length > 0, "a twin of the positive was mined");
      assertEquals(rec.neg_differs[j], d);
      assertEquals(rec.neg_weights[j], negativeWeight(undefined, d, weights));
      checked++;
    });
  });
  assert(checked > 0);
  // Second run: every text comes from the cache, and the output is the same (seeded).
  const first = await Deno.readTextFile(out);
  const again = await runScript("mine.ts", args);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(JSON.parse(again.stdout).cache.misses, 0);
  assertEquals(await Deno.readTextFile(out), first);
  // --drop-satisfying: no mined negative meets its query's constraints; differs = violations.
  const sat = await runScript("mine.ts", [...args, "--drop-satisfying"]);
  assertEquals(sat.code, 0, sat.stderr);
  assert(JSON.parse(sat.stdout).removed.satisfies > 0, "no candidate satisfied a query");
  const constraints = await readConstraints(fx.data);
  const satLines = (await Deno.readTextFile(out)).trim().split("\n").map((l) => JSON.parse(l));
  satLines.forEach((rec, i) => {
    rec.neg.forEach((t: string, j: number) => {
      const f = features.get(t);
      if (!f) return assertEquals(rec.neg_differs[j], []); // a --corpus listing: no features
      const v = violations(f, constraints[i]!);
      assert(v.length > 0, `example ${i}: mined a listing that satisfies the query`);
      assertEquals(rec.neg_differs[j], v);
    });
  });

  // A second round scored by a trained head, on the mined file itself (JSONL input).
  await trainSmallRun(fx, 1);
  const out2 = `${fx.dir}/mined2.jsonl`;
  const r2 = await runScript("mine.ts", [
    "--data",
    out,
    "--out",
    out2,
    "--checkpoint",
    `${fx.dir}/run`,
    "--weights",
    fx.weights,
    "--cache-root",
    fx.cache,
    "--range",
    "2-30",
  ]);
  assertEquals(r2.code, 0, r2.stderr);
  assertStringIncludes(r2.stdout, "Scorer: head");
  assertStringIncludes(r2.stdout, "0 encoded");
  assertEquals((await loadDataset(out2, { weights })).examples.length, 40);

  // Bad input is named.
  const bad = await runScript("mine.ts", [...args.slice(0, 4), "--out", `${fx.dir}/x.json`]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "--out must end in .jsonl");
  const badRange = await runScript("mine.ts", [...args, "--range", "50-10"]);
  assertEquals(badRange.code, 2);
  assertStringIncludes(badRange.stderr, "--range 50-10");
  const noFeat = await runScript("mine.ts", [
    "--data",
    out,
    "--out",
    `${fx.dir}/y.jsonl`,
    "--weights-from-features",
  ]);
  assertEquals(noFeat.code, 2);
  assertStringIncludes(noFeat.stderr, "only the native .json format");
  assertStringIncludes(noFeat.stderr, "--weights-from-features");
});
