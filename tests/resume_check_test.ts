import { assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import type { RunInfo } from "../lib/run/checkpoint.ts";
import { resolveConfig } from "../lib/train/config.ts";
import {
  fileSha256,
  formatResumeChanges,
  resumeChanges,
  resumeRefusal,
} from "../lib/run/resume_check.ts";

function fakeInfo(): RunInfo {
  return {
    format: "phongtro-head/v1",
    status: "complete",
    created: "",
    updated: "",
    config: resolveConfig({}, { outDim: 2 }),
    encoder: { name: "tiny", dir: "x", fingerprint: "f".repeat(64), dim: 3, params: 10 },
    dataset: {
      path: "data/gen-data-set.json",
      sha256: "a".repeat(64),
      format: "native",
      examples: 2,
      train: 1,
      val: 1,
      splitSeed: 42,
      valFraction: 0.1,
    },
    head: { inDim: 3, outDim: 2, params: 6 },
    backend: "cpu",
    lastEpoch: 0,
    step: 0,
    best: null,
  };
}

Deno.test("resume_check: resume changes name each field, old -> new; --force allows data changes, never a shape change", () => {
  const info = fakeInfo();
  const same = resumeChanges(info, { ...info.config, data: "./data/gen-data-set.json" }, {
    dataSha256: info.dataset.sha256,
  });
  assertEquals(same, []);
  const changes = resumeChanges(
    info,
    { ...info.config, data: "other.jsonl", seed: 7, epochs: 20 },
    {
      dataSha256: "b".repeat(64),
      fingerprint: "f".repeat(64),
    },
  );
  assertEquals(changes.map((c) => [c.field, c.kind]), [
    ["--epochs", "note"],
    ["--seed", "refuse"],
    ["--data", "refuse"],
    ["data sha256", "refuse"],
  ]);
  const err = resumeRefusal("runs/x", changes, false)!;
  assertStringIncludes(err.message, "--data: data/gen-data-set.json -> other.jsonl");
  assertStringIncludes(err.message, "--seed: 42 -> 7");
  assertStringIncludes(err.message, `data sha256: ${"a".repeat(12)}… -> ${"b".repeat(12)}…`);
  assertStringIncludes(err.message, "--force");
  assertEquals(resumeRefusal("runs/x", changes, true), null);
  const shape = resumeChanges(info, { ...info.config, outDim: 8 });
  assertMatch(resumeRefusal("runs/x", shape, true)!.message, /--out-dim: 2 -> 8/);
});

Deno.test("resume_check: the weight file's sha256 and the encoder fingerprint are compared when known", async () => {
  const info = { ...fakeInfo(), dataset: { ...fakeInfo().dataset, weightsSha256: "c".repeat(64) } };
  const now = await fileSha256("data/weight-config.json");
  assertEquals(typeof now, "string");
  assertEquals(await fileSha256("/nonexistent/file.json"), undefined);
  const changes = resumeChanges(info, info.config, {
    weightsSha256: now,
    fingerprint: "e".repeat(64),
  });
  assertEquals(changes.map((c) => [c.field, c.kind]), [
    ["weights sha256", "refuse"],
    ["encoder fingerprint", "refuse"],
  ]);
  assertStringIncludes(
    formatResumeChanges(changes),
    `encoder fingerprint: ${"f".repeat(12)}… -> ${"e".repeat(12)}…`,
  );
  // Old runs without weightsSha256 are not compared on it.
  assertEquals(resumeChanges(fakeInfo(), fakeInfo().config, { weightsSha256: now }), []);
});
