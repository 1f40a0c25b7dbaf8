import { assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { resolveConfig } from "../lib/train/config.ts";
import type { Example } from "../lib/data/dataset.ts";
import {
  checkTrainConfig,
  checkTrainSplit,
  PreflightError,
  trainPathNeeds,
} from "../lib/train/preflight.ts";

const ex = (id: number, query: string): Example => ({
  id,
  query,
  positive: `p${id}`,
  negatives: [],
});

Deno.test("preflight: --out-dim above the encoder's dimension names both", () => {
  checkTrainConfig(resolveConfig({}, { outDim: 1024 }), 1024, "m");
  const err = assertThrows(
    () => checkTrainConfig(resolveConfig({}, { outDim: 5000 }), 1024, "data/models/x"),
    PreflightError,
  );
  assertStringIncludes(err.message, "--out-dim 5000");
  assertStringIncludes(err.message, "dimension 1024 (data/models/x/encoder.json)");
  assertThrows(
    () => checkTrainConfig(resolveConfig({}, { valFraction: 0, patience: 2 }), 1024, "m"),
    PreflightError,
    "--patience 2 needs a validation split",
  );
});

Deno.test("preflight: a split that trains nothing says why and what fixes it", () => {
  const cfg = resolveConfig({}, { valFraction: 0.5 });
  const two = [ex(0, "a"), ex(1, "b")];
  const err = assertThrows(
    () => checkTrainSplit(cfg, "d.json", two, two.slice(0, 1), two.slice(1)),
    PreflightError,
  );
  assertStringIncludes(err.message, "d.json: the train split has 1 example(s)");
  assertStringIncludes(err.message, "holding out 1 for validation (--val-fraction 0.5)");
  assertStringIncludes(err.message, "--val-fraction 0");
  assertThrows(
    () => checkTrainSplit(resolveConfig({}, { valFraction: 0 }), "d.json", [two[0]], [two[0]], []),
    PreflightError,
    "add examples",
  );
  // Two training examples are one step.
  checkTrainSplit(resolveConfig({}, { valFraction: 0 }), "d.json", two, two, []);
});

Deno.test("preflight: an empty validation split is an error unless --val-fraction 0", () => {
  const same = [ex(0, "phòng q10"), ex(1, "Phòng Q10 "), ex(2, "phòng q10")];
  const err = assertThrows(
    () => checkTrainSplit(resolveConfig(), "d.json", same, same, []),
    PreflightError,
  );
  assertStringIncludes(err.message, "the 3 examples have 1 distinct query");
  assertStringIncludes(err.message, "--val-fraction 0");
  checkTrainSplit(resolveConfig({}, { valFraction: 0 }), "d.json", same, same, []);
});

Deno.test("preflight: trainPathNeeds lists every path flag of a run", () => {
  const needs = trainPathNeeds(resolveConfig({}, { data: "/d.jsonl", cacheRoot: "/c" }));
  const show = needs.map((n) => `${n.kind} ${n.path} ${n.flag}`);
  assertEquals(show.includes("read /d.jsonl --data"), true);
  assertEquals(show.includes("write /c --cache-root"), true);
  assertEquals(show.includes("write checkpoints default --out"), true);
  const resumed = trainPathNeeds(resolveConfig(), { resume: "/runs/a" });
  assertEquals(resumed.filter((n) => n.path === "/runs/a").length, 2);
});
