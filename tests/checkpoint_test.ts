import { assertEquals, assertRejects, assertThrows } from "./assert.ts";
import {
  CheckpointError,
  loadCheckpoint,
  readRunInfo,
  resolveRunDir,
  type RunInfo,
  updateLatest,
} from "../lib/run/checkpoint.ts";
import {
  loadOptimizerState,
  saveOptimizerState,
  saveWeight,
  writeRunInfo,
} from "./run_fixtures.ts";
import { resolveConfig } from "../lib/train/config.ts";

async function fakeRun(root: string, name: string, outDim = 2, inDim = 3): Promise<string> {
  const dir = `${root}/${name}`;
  const info: RunInfo = {
    format: "phongtro-head/v1",
    status: "complete",
    created: "",
    updated: "",
    config: resolveConfig(),
    encoder: { name: "tiny", dir: "x", fingerprint: "f".repeat(64), dim: inDim, params: 10 },
    dataset: {
      path: "d.json",
      sha256: "0",
      format: "native",
      examples: 2,
      train: 1,
      val: 1,
      splitSeed: 42,
      valFraction: 0.1,
    },
    head: { inDim, outDim, params: inDim * outDim },
    backend: "cpu",
    lastEpoch: 1,
    step: 3,
    best: null,
  };
  await writeRunInfo(dir, info);
  const w = Float32Array.from({ length: outDim * inDim }, (_, i) => i / 10);
  await saveWeight(dir, "best", w, outDim, inDim, { epoch: "1" });
  return dir;
}

Deno.test("checkpoint: save -> load roundtrip, and checkpoints/latest pointer resolves", async () => {
  const root = await Deno.makeTempDir();
  const dir = await fakeRun(root, "run-a");
  await updateLatest(root, dir);
  assertEquals(await resolveRunDir(`${root}/latest`), `${root}/run-a`);
  const ckpt = await loadCheckpoint(`${root}/latest`, { which: "best" });
  assertEquals([ckpt.outDim, ckpt.inDim], [2, 3]);
  assertEquals(ckpt.weight, Float32Array.from({ length: 6 }, (_, i) => i / 10));
  assertEquals((await readRunInfo(`${root}/latest`)).step, 3);
  // A newer run moves the pointer.
  await fakeRun(root, "run-b");
  await updateLatest(root, `${root}/run-b`);
  assertEquals(await resolveRunDir(`${root}/latest`), `${root}/run-b`);
});

Deno.test("checkpoint: validation on load names the file and the problem", async () => {
  const root = await Deno.makeTempDir();
  const dir = await fakeRun(root, "run");
  await assertRejects(
    () => loadCheckpoint(dir, { fingerprint: "a".repeat(64) }),
    CheckpointError,
    "Use --force",
  );
  // --force loads with a warning.
  const warnings: string[] = [];
  await loadCheckpoint(dir, {
    fingerprint: "a".repeat(64),
    force: true,
    onWarning: (m) => warnings.push(m),
  });
  // The fingerprint warning, and (this hand-made run has no manifest.json) the unverified one.
  assertEquals(warnings.filter((w) => w.includes("fingerprint")).length, 1);
  assertEquals(warnings.filter((w) => w.includes("no manifest.json")).length, 1);
  assertEquals(warnings.length, 2);
  // Wrong shape against config.json.
  await saveWeight(dir, "final", new Float32Array(8), 2, 4, {});
  await assertRejects(
    () => loadCheckpoint(dir, { which: "final" }),
    CheckpointError,
    "config.json says [2,3]",
  );
  // Non-finite weights.
  await saveWeight(dir, "final", Float32Array.from([0, 1, NaN, 0, 0, 0]), 2, 3, {});
  await assertRejects(() => loadCheckpoint(dir, { which: "final" }), CheckpointError, "non-finite");
  // Missing directory, broken config.json.
  await assertRejects(() => readRunInfo(`${root}/nope`), CheckpointError, "checkpoint not found");
  await Deno.writeTextFile(`${dir}/config.json`, "{");
  await assertRejects(() => readRunInfo(dir), CheckpointError, "invalid JSON");
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ format: "other" }));
  await assertRejects(() => readRunInfo(dir), CheckpointError, 'field "format"');
});

Deno.test("checkpoint: optimizer state roundtrip and shape check", async () => {
  const dir = await Deno.makeTempDir();
  const m = Float32Array.from([1, 2, 3, 4, 5, 6]), v = Float32Array.from([6, 5, 4, 3, 2, 1]);
  await saveOptimizerState(dir, { m, v, step: 7, shape: [2, 3] });
  const st = await loadOptimizerState(dir, [2, 3]);
  assertEquals([st.m, st.v, st.step], [m, v, 7]);
  await assertRejects(() => loadOptimizerState(dir, [3, 2]), CheckpointError, "expected [3,2]");
});

Deno.test("checkpoint: degenerate heads are rejected on load, naming the file and the rows", async () => {
  const { assertHeadFitsEncoder, validateHeadWeight } = await import("../lib/run/checkpoint.ts");
  validateHeadWeight(Float32Array.from([1, 0, 0, 0, 1, 0]), 2, 3, "w");
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0], "is all zeros"],
    [[1, 2, 3, 0, 0, 0], "1 all-zero row(s) (first: row 1)"],
    [[1, 2, 3, 1, 2, 3], "rows 0 and 1 are identical"],
    [[1, 2, 3, 1, Infinity, 3], "non-finite value (Infinity) at row 1, column 1"],
  ];
  for (const [w, msg] of cases) {
    assertThrows(
      () => validateHeadWeight(Float32Array.from(w), 2, 3, "x.st"),
      CheckpointError,
      msg,
    );
  }
  const root = await Deno.makeTempDir();
  const dir = await fakeRun(root, "run");
  await saveWeight(dir, "best", new Float32Array(6), 2, 3, {});
  await assertRejects(() => loadCheckpoint(dir), CheckpointError, `${dir}/best.safetensors`);
  // The input dimension must be the encoder's, even with --force.
  await saveWeight(dir, "best", Float32Array.from([1, 0, 0, 0, 1, 0]), 2, 3, {});
  const ckpt = await loadCheckpoint(dir);
  assertHeadFitsEncoder(ckpt, { name: "tiny", dim: 3, fingerprint: "f".repeat(64) });
  const err = assertThrows(
    () => assertHeadFitsEncoder(ckpt, { name: "big", dim: 1024, fingerprint: "a".repeat(64) }),
    CheckpointError,
    "takes 3-d input",
  );
  assertEquals(err.message.includes("gives 1024-d embeddings"), true);
  assertEquals(err.message.includes("fingerprint aaaaaaaaaaaa"), true);
});
