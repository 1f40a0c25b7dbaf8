/**
 * The hostile-user suite of issue 9: every bad input and fault case, run
 * against the real CLIs as child processes with exactly the base permissions
 * of their tasks (`lib/cli/tasks.ts`, the ones `scripts/launch.ts` starts them
 * with before adding the paths a command names; read from there, so the suite
 * follows the tasks), extended by the temp directory where a case needs it
 * (the way the permission message tells a user to). Each case asserts the exit code, a
 * message that names the file, record, field or flag, and that no run
 * directory or partial (`*.tmp`) file is left behind.
 *
 * Cases whose fix lives on another branch are written here too, with
 * `ignore: true` and the branch that fixes them; they are switched on when
 * that branch is merged.
 *
 * @module
 */
import denoConfig from "../deno.json" with { type: "json" };
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { loadCheckpoint, readRunInfo } from "../lib/run/checkpoint.ts";
import { saveWeight } from "./run_fixtures.ts";
import { exists, sha256Hex } from "../lib/core/fs.ts";
import { generate } from "../lib/data/synthetic.ts";
import { taskCommand } from "../lib/cli/permissions.ts";

/** Each task's plain `deno run` command (launched tasks: their base permissions in lib/cli/tasks.ts). */
const TASKS: Record<string, string> = Object.fromEntries(
  Object.keys((denoConfig as { tasks: Record<string, string> }).tasks).map((t) => [
    t,
    taskCommand(t)!,
  ]),
);

/** The base permission flags and script of a task, with extra paths granted. */
function taskInvocation(
  task: string,
  extra: { read?: string[]; write?: string[] } = {},
): { flags: string[]; script: string } {
  const words = TASKS[task].trim().split(/\s+/);
  const at = words.indexOf("run");
  const end = words.findIndex((w, i) => i > at && w.endsWith(".ts"));
  assert(at >= 0 && end > at, `task ${task} is "deno run <flags> <script>": ${TASKS[task]}`);
  const flags = words.slice(at + 1, end).map((w) => {
    for (const kind of ["read", "write"] as const) {
      const add = extra[kind] ?? [];
      if (add.length && w.startsWith(`--allow-${kind}=`)) return `${w},${add.join(",")}`;
    }
    return w;
  });
  return { flags, script: words[end] };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a task's script as `deno run` with the task's permissions (plus `extra`). */
async function runTask(
  task: string,
  args: string[],
  extra: { read?: string[]; write?: string[] } = {},
): Promise<Run> {
  const { flags, script } = taskInvocation(task, extra);
  return await runDeno([...flags, script, ...args]);
}

async function runDeno(runArgs: string[]): Promise<Run> {
  const out = await new Deno.Command("deno", {
    args: ["run", ...runArgs],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Exit code `code`, and every `parts` string in stderr (the error line). */
function assertFails(r: Run, code: number, ...parts: string[]): void {
  const all = `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assertEquals(r.code, code, all);
  for (const p of parts) assertStringIncludes(r.stderr, p, all);
  assert(!r.stderr.includes("    at "), `no stack trace: ${all}`);
}

/** No `*.tmp` file anywhere under `dir`. */
async function assertNoPartialFiles(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    assert(!e.name.endsWith(".tmp"), `partial file left behind: ${path}`);
    if (e.isDirectory) await assertNoPartialFiles(path);
  }
}

async function assertNoRunDir(path: string): Promise<void> {
  assert(!(await exists(path)), `no run directory may be created: ${path} exists`);
}

// ---------------------------------------------------------------------------
// Shared fixture: a temp dir with a small dataset, the weight config, one cache
// and one trained 128-d run (reused by the eval/search/encode cases).

interface Fixture {
  root: string;
  data: string;
  weights: string;
  cache: string;
  run: string;
  /** read+write access to `root`, for runTask. */
  grant: { read: string[]; write: string[] };
  /** Common train flags: small and fast, on the fixture's data and cache. */
  train: string[];
}

let fixture: Promise<Fixture> | undefined;
let outCounter = 0;

function getFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "phongtro-fuzz-" });
    const data = `${root}/data.json`;
    await Deno.writeTextFile(data, generate({ count: 40, seed: 7 }));
    const weights = `${root}/weights.json`;
    await Deno.copyFile("data/weight-config.json", weights);
    const cache = `${root}/cache`;
    const grant = { read: [root], write: [root] };
    const train = [
      "--data",
      data,
      "--weights",
      weights,
      "--cache-root",
      cache,
      "--epochs",
      "1",
      "--batch-size",
      "8",
      "--negatives",
      "3",
      "--quiet",
    ];
    const run = `${root}/run128`;
    const r = await runTask("train", [...train, "--out-dim", "128", "--out", run], grant);
    assertEquals(r.code, 0, r.stderr + r.stdout);
    return { root, data, weights, cache, run, grant, train };
  })();
  return fixture;
}

/** A fresh `--out` path under the fixture root (not created). */
function freshOut(fx: Fixture): string {
  return `${fx.root}/out-${++outCounter}`;
}

/** Write a dataset derived from the fixture's, changed by `edit`, and return its path. */
async function variantData(
  fx: Fixture,
  name: string,
  edit: (examples: Record<string, unknown>[]) => void,
): Promise<string> {
  const doc = JSON.parse(await Deno.readTextFile(fx.data));
  edit(doc.examples);
  const path = `${fx.root}/${name}`;
  await Deno.writeTextFile(path, JSON.stringify(doc));
  return path;
}

/**
 * Copy a run directory (files only) without its `manifest.json`: the copy
 * stands for a hand-made checkpoint that the tests then edit (with the
 * manifest, readers would refuse the edit itself before the check under test).
 */
async function copyRun(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isFile && e.name !== "manifest.json") {
      await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Item 4: a run that would train nothing is refused before any work.

Deno.test("fuzz 4: a 2-example dataset is refused: the train split has 1 example", async () => {
  const fx = await getFixture();
  const two = await variantData(fx, "two.json", (ex) => ex.splice(2));
  const out = freshOut(fx);
  const r = await runTask("train", [...fx.train, "--data", two, "--out", out], fx.grant);
  assertFails(r, 2, two, "the train split has 1 example(s)", "--val-fraction 0");
  assertEquals(r.stdout, "", "refused before loading the encoder");
  await assertNoRunDir(out);
  await assertNoPartialFiles(fx.root);
});

Deno.test("fuzz 4: --val-fraction 0.99 is refused: nothing would be trained", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const r = await runTask("train", [...fx.train, "--val-fraction", "0.99", "--out", out], fx.grant);
  assertFails(r, 2, fx.data, "the train split has 1 example(s)", "--val-fraction 0.99");
  await assertNoRunDir(out);
});

// ---------------------------------------------------------------------------
// Item 5: settings that used to crash later are supported or refused up front.

Deno.test("fuzz 5: --val-fraction 0 trains without validation; best = final", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const args = [...fx.train, "--val-fraction", "0", "--out", out].filter((a) => a !== "--quiet");
  const r = await runTask("train", args, fx.grant);
  assertEquals(r.code, 0, r.stderr + r.stdout);
  assertStringIncludes(r.stdout, "No validation split (--val-fraction 0)");
  assertStringIncludes(r.stdout, "40 train / 0 val examples");
  const best = await loadCheckpoint(out, { which: "best" });
  const final = await loadCheckpoint(out, { which: "final" });
  assertEquals(best.weight, final.weight);
  assertEquals((await readRunInfo(out)).best?.epoch, 1);
  // eval of such a run has no validation split to recover: it says so and how to evaluate it.
  const e = await runTask("eval", ["--checkpoint", out, "--cache-root", fx.cache], fx.grant);
  assertFails(e, 2, "the val split is empty", "--val-fraction 0", "--split all");
  const all = await runTask(
    "eval",
    ["--checkpoint", out, "--cache-root", fx.cache, "--split", "all"],
    fx.grant,
  );
  assertEquals(all.code, 0, all.stderr);
});

Deno.test("fuzz 5: --val-fraction 0 with --patience is refused, naming both flags", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const r = await runTask(
    "train",
    [...fx.train, "--val-fraction", "0", "--patience", "2", "--out", out],
    fx.grant,
  );
  assertFails(r, 2, "--patience 2", "--val-fraction");
  await assertNoRunDir(out);
});

Deno.test("fuzz 5: a dataset whose queries are all the same is refused, naming the problem", async () => {
  const fx = await getFixture();
  const same = await variantData(fx, "same-query.json", (ex) => {
    for (const e of ex) e.query = "phòng trọ q10";
  });
  const out = freshOut(fx);
  const r = await runTask("train", [...fx.train, "--data", same, "--out", out], fx.grant);
  assertFails(r, 2, same, "1 distinct query", "--val-fraction 0");
  await assertNoRunDir(out);
  // As the message says, it trains without validation.
  const ok = await runTask(
    "train",
    [...fx.train, "--data", same, "--val-fraction", "0", "--out", out],
    fx.grant,
  );
  assertEquals(ok.code, 0, ok.stderr);
});

Deno.test("fuzz 5: --out or --cache-root naming a file is refused before any work", async () => {
  const fx = await getFixture();
  const file = `${fx.root}/a-file`;
  await Deno.writeTextFile(file, "x");
  for (const flag of ["--out", "--cache-root"]) {
    const r = await runTask("train", [...fx.train, flag, file], fx.grant);
    assertFails(r, 2, `${flag} ${file} is a file`);
    assertEquals(r.stdout, "");
  }
  assertEquals(await Deno.readTextFile(file), "x");
});

Deno.test("fuzz 5: --negatives 0 trains with in-batch negatives only", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const args = fx.train.map((a, i) => fx.train[i - 1] === "--negatives" ? "0" : a);
  const r = await runTask("train", [...args, "--out", out, "--json"], fx.grant);
  assertEquals(r.code, 0, r.stderr + r.stdout);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assertEquals(lines.at(-1).done, true);
  assert(lines.filter((l) => "epoch" in l).every((l) => Number.isFinite(l.valLoss)), r.stdout);
});

Deno.test("fuzz 5: --out-dim 5000 is refused, naming the flag and the encoder's dimension", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const r = await runTask("train", [...fx.train, "--out-dim", "5000", "--out", out], fx.grant);
  assertFails(r, 2, "--out-dim 5000", "dimension 1024", "lexical-1024/encoder.json");
  assertEquals(r.stdout, "");
  await assertNoRunDir(out);
});

Deno.test("fuzz 5: bad flag values name the flag and leave no run directory", async () => {
  const fx = await getFixture();
  const cases: [string[], number, string][] = [
    [["--epochs", "0"], 2, "--epochs must be an integer >= 1"],
    [["--batch-size", "1"], 2, "--batch-size must be an integer >= 2"],
    [["--lr", "-1"], 2, "--lr must be a number >= 0"],
    [["--lr", "abc"], 2, "--lr must be a number"],
    [["--weighting", "sigmoid"], 2, "--weighting must be one of exp|logit"],
    [["--val-fraction", "1"], 1, "--val-fraction"],
    [["--epoch", "3"], 2, "unknown flag --epoch"],
  ];
  for (const [flags, code, msg] of cases) {
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, ...flags, "--out", out], fx.grant);
    assertFails(r, code, msg);
    await assertNoRunDir(out);
  }
});

// ---------------------------------------------------------------------------
// Item 6: paths outside the task's permissions get one line with the command that works.

Deno.test("fuzz 6: train with --data and --out outside the task's permissions", async () => {
  const fx = await getFixture();
  const out = freshOut(fx);
  const r = await runTask("train", ["--data", fx.data, "--out", out]);
  assertFails(
    r,
    2,
    `read ${fx.data} (--data)`,
    `read and write ${out} (--out)`,
    `--allow-read=.,${fx.data},${out} --allow-write=checkpoints,data/cache,${out} `,
    `scripts/train.ts --data ${fx.data} --out ${out}`,
  );
  assertEquals(r.stderr.trim().split("\n").length, 1, "one line");
  assertEquals(r.stdout, "", "checked before any loading");
  assert(!r.stderr.includes("run again with"), "not Deno's raw permission error");
  await assertNoRunDir(out);
});

Deno.test("fuzz 6: every task checks its path flags first", async () => {
  const fx = await getFixture();
  const corpus = `${fx.root}/corpus.txt`;
  await Deno.writeTextFile(corpus, "phòng trọ q10\n");
  const cases: [string, string[], string][] = [
    ["train", ["--cache-root", fx.cache], `read and write ${fx.cache} (--cache-root)`],
    ["train", ["--weights", fx.weights], `read ${fx.weights} (--weights)`],
    ["train", ["--config", `${fx.root}/cfg.json`], `read ${fx.root}/cfg.json (--config)`],
    ["train", ["--resume", fx.run], `read ${fx.run} (--resume)`],
    ["train", ["--model", `${fx.root}/model`], `read ${fx.root}/model (--model)`],
    ["eval", ["--checkpoint", fx.run], `read ${fx.run} (--checkpoint)`],
    ["eval", ["--data", fx.data], `read ${fx.data} (--data)`],
    ["search", ["phòng trọ", "--corpus", corpus], `read ${corpus} (--corpus)`],
    ["search", ["phòng trọ", "--cache-root", fx.cache], `${fx.cache} (--cache-root)`],
    ["encode", ["phòng trọ", "--checkpoint", fx.run], `read ${fx.run} (--checkpoint)`],
    ["export", ["--checkpoint", fx.run], `read ${fx.run} (--checkpoint)`],
    ["export", ["--out", `${fx.root}/h.onnx`], `read and write ${fx.root} (--out)`],
    ["embed", ["--data", fx.data], `read ${fx.data} (--data)`],
    ["embed", ["--cache-root", fx.cache], `read and write ${fx.cache} (--cache-root)`],
    ["gen-data", ["--out", `${fx.root}/g.json`], `read and write ${fx.root} (--out)`],
    ["build-model", ["--out", `${fx.root}/m`], `read and write ${fx.root}/m (--out)`],
    ["nb:run", ["--out", `${fx.root}/nb`], `read and write ${fx.root}/nb (--out)`],
  ];
  for (const [task, args, msg] of cases) {
    const r = await runTask(task, args);
    assertFails(r, 2, `${task}: this task may not`, msg, "Run it from the repository root as: ");
    assertEquals(r.stderr.trim().split("\n").length, 1, `${task}: one line`);
  }
  await assertNoPartialFiles(fx.root);
  assert(!(await exists(`${fx.root}/g.json`)) && !(await exists(`${fx.root}/m`)));
});

Deno.test("fuzz 6: the command in the permission message works as given", async () => {
  const fx = await getFixture();
  const out = `${fx.root}/gen-${++outCounter}.json`;
  const r = await runTask("gen-data", ["--count", "3", "--out", out]);
  assertFails(r, 2, "Run it from the repository root as: deno run ");
  const command = r.stderr.split("Run it from the repository root as: ")[1].split(" (or ")[0];
  const words = command.trim().split(" ");
  assertEquals(words.slice(0, 2), ["deno", "run"]);
  const ok = await runDeno(words.slice(2));
  assertEquals(ok.code, 0, ok.stderr);
  assertEquals(JSON.parse(await Deno.readTextFile(out)).examples.length, 3);
});

// ---------------------------------------------------------------------------
// Item 11: smaller defects, each with its own named error.

Deno.test("fuzz 11: an all-zero checkpoint is refused by search, eval and encode", async () => {
  const fx = await getFixture();
  const zero = `${fx.root}/zero-run`;
  await copyRun(fx.run, zero);
  await saveWeight(zero, "best", new Float32Array(128 * 1024), 128, 1024, { epoch: "1" });
  const common = ["--checkpoint", zero];
  const cases: [string, string[]][] = [
    ["search", ["phòng trọ q10", ...common, "--cache-root", fx.cache]],
    ["eval", [...common, "--cache-root", fx.cache]],
    ["encode", ["phòng trọ q10", ...common]],
  ];
  for (const [task, args] of cases) {
    const r = await runTask(task, args, fx.grant);
    assertFails(r, 1, `${zero}/best.safetensors`, "all zeros");
  }
  await assertNoPartialFiles(fx.root);
});

Deno.test("fuzz 11: a head whose input dimension differs from the encoder's is named", async () => {
  const fx = await getFixture();
  const odd = `${fx.root}/dim512-run`;
  await copyRun(fx.run, odd);
  const info = JSON.parse(await Deno.readTextFile(`${odd}/config.json`));
  info.head.inDim = 512;
  await Deno.writeTextFile(`${odd}/config.json`, JSON.stringify(info));
  const w = new Float32Array(128 * 512);
  for (let r = 0; r < 128; r++) w[r * 512 + r] = 1;
  await saveWeight(odd, "best", w, 128, 512, { epoch: "1" });
  for (const task of ["eval", "search", "encode"]) {
    const args = task === "eval" ? [] : ["phòng trọ q10"];
    const r = await runTask(
      task,
      [...args, "--checkpoint", odd, "--cache-root", fx.cache].filter(
        (a, i, all) => task !== "encode" || (a !== "--cache-root" && all[i - 1] !== "--cache-root"),
      ),
      fx.grant,
    );
    assertFails(r, 1, "takes 512-d input", "gives 1024-d embeddings", "fingerprint");
  }
});

Deno.test("fuzz 11: encode refuses empty and invisible-only texts, naming the argument", async () => {
  const fx = await getFixture();
  const empty = await runTask("encode", ["", "--checkpoint", fx.run], fx.grant);
  assertFails(empty, 2, "text argument 1 of 1 is empty");
  const zw = await runTask("encode", ["phòng", "\u200b\u200b ", "--checkpoint", fx.run], fx.grant);
  assertFails(zw, 2, "text argument 2 of 2", "\\u200b");
  const search = await runTask("search", ["\u200b", "--checkpoint", fx.run], fx.grant);
  assertFails(search, 2, "search: give a query");
});

Deno.test("fuzz 11: gen-data refuses to overwrite a file without --force", async () => {
  const fx = await getFixture();
  const path = `${fx.root}/keep.json`;
  await Deno.writeTextFile(path, "keep me\n");
  const r = await runTask("gen-data", ["--count", "2", "--out", path], fx.grant);
  assertFails(r, 2, path, "--force");
  assertEquals(await Deno.readTextFile(path), "keep me\n");
  const forced = await runTask("gen-data", ["--count", "2", "--out", path, "--force"], fx.grant);
  assertEquals(forced.code, 0, forced.stderr);
  assertEquals(JSON.parse(await Deno.readTextFile(path)).examples.length, 2);
  // The committed dataset, with the task's own permissions and no flags.
  const before = await sha256Hex(await Deno.readFile("data/gen-data-set.json"));
  const plain = await runTask("gen-data", ["--count", "5"]);
  assertFails(plain, 2, "data/gen-data-set.json exists (the committed dataset)", "--force");
  assertEquals(await sha256Hex(await Deno.readFile("data/gen-data-set.json")), before);
  await assertNoPartialFiles("data");
});

Deno.test("fuzz 11: eval and search print the head's real dimension", async () => {
  const fx = await getFixture();
  const r = await runTask("eval", ["--checkpoint", fx.run, "--cache-root", fx.cache], fx.grant);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "projected (128-d)");
  assert(!r.stdout.includes("256-d"), r.stdout);
  const s = await runTask(
    "search",
    ["phòng trọ q10", "--checkpoint", fx.run, "--cache-root", fx.cache, "--data", fx.data],
    fx.grant,
  );
  assertEquals(s.code, 0, s.stderr);
  assertStringIncludes(s.stdout, `head ${fx.run} (128-d)`);
});

// ---------------------------------------------------------------------------
// Cases fixed on other branches (switched on when they are merged).

Deno.test({
  // Fixed on branch `cachescale` (dataset loader: NaN gets its line and record).
  name: "fuzz 11: a literal NaN in the dataset names the line or record",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const path = `${fx.root}/nan.json`;
    const text = (await Deno.readTextFile(fx.data)).replace(
      '"differs":["city"]',
      '"differs":["city"],"weight":NaN',
    );
    await Deno.writeTextFile(path, text);
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, "--data", path, "--out", out], fx.grant);
    assert(r.code === 1 || r.code === 2, r.stderr);
    assertStringIncludes(r.stderr, path);
    assertStringIncludes(r.stderr, "NaN");
    assert(/line \d+|record \d+|examples\[\d+\]/.test(r.stderr), r.stderr);
    await assertNoRunDir(out);
  },
});

Deno.test({
  // Fixed on branch `cachescale` (weights beyond float32 are named, not a NaN loss).
  name: "fuzz 11: a weight of 1e300 is named (it overflows float32)",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const path = await variantData(fx, "huge-weight.json", (ex) => {
      (ex[0].negatives as Record<string, unknown>[])[0].weight = 1e300;
    });
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, "--data", path, "--out", out], fx.grant);
    assert(r.code === 1 || r.code === 2, r.stderr);
    assertStringIncludes(r.stderr, path);
    assertStringIncludes(r.stderr, "weight");
    assert(!r.stderr.includes("--lr"), "not the NaN-loss advice");
    await assertNoRunDir(out);
  },
});

Deno.test({
  // Fixed on branch `cachescale` (unknown and empty weight configs).
  name: "fuzz 11: unknown keys and {} in --weights are named",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const typo = `${fx.root}/typo-weights.json`;
    await Deno.writeTextFile(typo, JSON.stringify({ city: 3, distrct: 2.5 }));
    const empty = `${fx.root}/empty-weights.json`;
    await Deno.writeTextFile(empty, "{}");
    for (const [path, word] of [[typo, "distrct"], [empty, empty]]) {
      const out = freshOut(fx);
      const r = await runTask("train", [...fx.train, "--weights", path, "--out", out], fx.grant);
      assert(r.code === 1 || r.code === 2, r.stderr);
      assertStringIncludes(r.stderr, word);
      assert(!r.stderr.includes("no weight config loaded"), r.stderr);
      await assertNoRunDir(out);
    }
  },
});

Deno.test({
  // Fixed on branch `cachescale` (JSONL saved as .json: detected or hinted).
  name: "fuzz 11: JSONL saved as .json is detected or gets a hint about the extension",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const path = `${fx.root}/flag.json`;
    const rows = Array.from(
      { length: 20 },
      (_, i) => JSON.stringify({ query: `phòng ${i}`, pos: [`listing ${i}`], neg: [`other ${i}`] }),
    );
    await Deno.writeTextFile(path, rows.join("\n") + "\n");
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, "--data", path, "--out", out], fx.grant);
    if (r.code !== 0) {
      assertStringIncludes(r.stderr, path);
      assert(/jsonl/i.test(r.stderr), `a hint about .jsonl: ${r.stderr}`);
      await assertNoRunDir(out);
    }
  },
});

Deno.test({
  // Fixed on branch `cachescale` (queries of only zero-width characters).
  name: "fuzz 11: a query of only zero-width characters is refused, naming the record",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const path = await variantData(fx, "zw-query.json", (ex) => {
      ex[3].query = "\u200b\u200c\u200d";
    });
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, "--data", path, "--out", out], fx.grant);
    assert(r.code === 1 || r.code === 2, r.stderr);
    assertStringIncludes(r.stderr, path);
    assertStringIncludes(r.stderr, "query");
    await assertNoRunDir(out);
  },
});

Deno.test({
  // Fixed on branch `cachescale` (the checksum covers the text -> row index).
  name: "fuzz 9: swapping two texts inside a cache segment is detected and never used",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const cache = `${fx.root}/cache-swap`;
    const embed = ["--data", fx.data, "--cache-root", cache];
    const first = await runTask("embed", embed, fx.grant);
    assertEquals(first.code, 0, first.stderr);
    const [dir] = [...Deno.readDirSync(cache)].filter((e) => e.isDirectory).map((e) => e.name);
    const seg = [...Deno.readDirSync(`${cache}/${dir}`)].find((e) => e.isFile && e.name !== "");
    assert(seg, `no cache segment in ${cache}/${dir}`);
    const path = `${cache}/${dir}/${seg.name}`;
    // Swap two texts of the same byte length: the file stays well-formed.
    const bytes = await Deno.readFile(path);
    // One char per byte (TextDecoder's "latin1" is windows-1252, which remaps 0x80-0x9f).
    let latin = "";
    for (let i = 0; i < bytes.length; i += 8192) {
      latin += String.fromCharCode(...bytes.subarray(i, i + 8192));
    }
    const byLength = new Map<number, [number, string]>();
    let pair: [number, string, number, string] | undefined;
    const textsAt = latin.indexOf('{"texts":[');
    assert(textsAt > 0, `no texts block in ${path}`);
    for (const m of latin.slice(textsAt + 10).matchAll(/"([^"\\]{8,300})"/g)) {
      const seen = byLength.get(m[0].length);
      if (seen && seen[1] !== m[0]) {
        pair = [seen[0], seen[1], textsAt + 10 + m.index!, m[0]];
        break;
      }
      byLength.set(m[0].length, [textsAt + 10 + m.index!, m[0]]);
    }
    assert(pair, "no two texts of equal length to swap");
    const latin1 = (t: string) => Uint8Array.from(t, (c) => c.charCodeAt(0));
    bytes.set(latin1(pair[3]), pair[0]);
    bytes.set(latin1(pair[1]), pair[2]);
    await Deno.writeFile(path, bytes);
    const r = await runTask("embed", embed, fx.grant);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout + r.stderr, path);
    assert(/corrupt|checksum|mismatch/i.test(r.stdout + r.stderr), r.stdout + r.stderr);
  },
});

Deno.test({
  // Fixed on branch `bgescale` (the stack overflow with a 20-40 KB command line).
  name: "fuzz 8: a 40 KB query does not crash search (it is truncated)",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const long = "phòng trọ q10 ".repeat(3000);
    const r = await runTask(
      "search",
      [long, "--checkpoint", fx.run, "--cache-root", fx.cache, "--data", fx.data],
      fx.grant,
    );
    assertEquals(r.code, 0, r.stderr.slice(0, 2000));
  },
});

Deno.test({
  // Fixed on branch `runsafe` (one writer per run directory).
  name: "fuzz 2: a second training into a run directory in use fails at once",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const out = freshOut(fx);
    const { flags, script } = taskInvocation("train", fx.grant);
    const first = new Deno.Command("deno", {
      args: ["run", ...flags, script, ...fx.train, "--epochs", "100000", "--out", out],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 600 && !(await exists(`${out}/config.json`)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = await runTask("train", [...fx.train, "--seed", "2", "--out", out], fx.grant);
      assert(r.code !== 0, "the second writer must fail");
      assertStringIncludes(r.stderr, out);
      assertStringIncludes(r.stderr, String(first.pid));
    } finally {
      first.kill("SIGKILL");
      await first.status;
    }
  },
});

Deno.test({
  // Fixed on branch `runsafe` (resume refuses a different --data, naming the field).
  name: "fuzz 3: --resume with a different --data is refused, naming the field",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const copy = `${fx.root}/resume-copy`;
    await copyRun(fx.run, copy);
    const other = await variantData(fx, "other.json", (ex) => ex.splice(30));
    const r = await runTask(
      "train",
      ["--resume", copy, "--data", other, "--epochs", "2", "--cache-root", fx.cache],
      fx.grant,
    );
    assert(r.code !== 0, r.stdout);
    assertStringIncludes(r.stderr, "data");
    assertStringIncludes(r.stderr, other);
    assertEquals((await readRunInfo(copy)).lastEpoch, 1, "the run is unchanged");
  },
});

Deno.test({
  // Fixed on branch `runsafe` (a run outside checkpoints/ says latest was not moved).
  name: "fuzz 7: a run outside checkpoints/ says that checkpoints/latest was not moved",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const out = freshOut(fx);
    const args = [...fx.train, "--out", out].filter((a) => a !== "--quiet");
    const r = await runTask("train", args, fx.grant);
    assertEquals(r.code, 0, r.stderr);
    assert(/latest/.test(r.stdout + r.stderr), r.stdout);
  },
});

Deno.test({
  // Fixed on branch `runsafe` (leftover *.tmp files are removed on the next start).
  name: "fuzz 1: leftover *.tmp files in a run directory are removed on --resume",
  ignore: false,
  async fn() {
    const fx = await getFixture();
    const copy = `${fx.root}/resume-tmp`;
    await copyRun(fx.run, copy);
    await Deno.writeTextFile(`${copy}/final.safetensors.123.abcd1234.tmp`, "partial");
    const r = await runTask(
      "train",
      [...fx.train, "--resume", copy, "--epochs", "2"],
      fx.grant,
    );
    assertEquals(r.code, 0, r.stderr);
    await assertNoPartialFiles(copy);
  },
});

// ---------------------------------------------------------------------------
// Issue 20: bounded inputs, head values, conflicting listings.

/** `ln -s` (Deno.symlink needs unscoped read and write permissions). */
async function symlink(target: string, path: string): Promise<void> {
  const r = await new Deno.Command("ln", { args: ["-s", target, path] }).output();
  assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
}

Deno.test("fuzz 20.3: --data as a link to /dev/zero, a FIFO or a folder is refused at once, naming it", async () => {
  const fx = await getFixture();
  const zero = `${fx.root}/zero-link.json`;
  await symlink("/dev/zero", zero);
  const fifo = `${fx.root}/pipe.jsonl`;
  const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assertEquals(mk.code, 0);
  const folder = `${fx.root}/a-folder.json`;
  await Deno.mkdir(folder);
  const cases: [string, string][] = [
    [zero, "(a link to /dev/zero): not a regular file"],
    [fifo, "not a regular file (a device, FIFO or socket)"],
    [folder, "is a folder, not a file"],
  ];
  for (const [path, why] of cases) {
    const out = freshOut(fx);
    const r = await runTask("train", [...fx.train, "--data", path, "--out", out], {
      read: [fx.root, "/dev/zero"],
      write: [fx.root],
    });
    assertFails(r, 1, path, why);
    await assertNoRunDir(out);
    const e = await runTask("embed", ["--data", path, "--cache-root", fx.cache], {
      read: [fx.root, "/dev/zero"],
      write: [fx.root],
    });
    assertFails(e, 1, path, why);
  }
});

Deno.test("fuzz 20.3: a JSONL line longer than the record limit is refused, naming the line", async () => {
  const fx = await getFixture();
  const path = `${fx.root}/long-line.jsonl`;
  const big = "a".repeat(17 * 1024 * 1024);
  await Deno.writeTextFile(path, `{"query": "phòng q10", "pos": ["${big}"]}\n`);
  const out = freshOut(fx);
  const r = await runTask("train", [...fx.train, "--data", path, "--out", out], fx.grant);
  assertFails(r, 1, path, "line 1", "longer than 16 MiB");
  await assertNoRunDir(out);
});

Deno.test("fuzz 20.4: a finite huge value in a head's weights is refused by encode, search and eval", async () => {
  const fx = await getFixture();
  const bad = `${fx.root}/huge-run`;
  await copyRun(fx.run, bad);
  const ck = await loadCheckpoint(fx.run, { which: "best" });
  const w = Float32Array.from(ck.weight);
  w[5 * 1024 + 7] = 1e30;
  await saveWeight(bad, "best", w, 128, 1024, { epoch: "1" });
  const common = ["--checkpoint", bad];
  const cases: [string, string[]][] = [
    ["encode", ["phòng trọ q10", ...common]],
    ["search", ["phòng trọ q10", ...common, "--cache-root", fx.cache]],
    ["eval", [...common, "--cache-root", fx.cache]],
  ];
  for (const [task, args] of cases) {
    const r = await runTask(task, args, fx.grant);
    assertFails(r, 1, `${bad}/best.safetensors`, "row 5, column 7", "1.00e+30");
  }
});

Deno.test("fuzz 20.6: the same id and text with other metadata is an error naming both lines", async () => {
  const fx = await getFixture();
  const path = `${fx.root}/conflict.jsonl`;
  await Deno.writeTextFile(
    path,
    [
      { id: "p1", text: "phòng trọ q10 giá 3tr", price: 3 },
      { id: "p2", text: "chung cư mini q7", price: 5 },
      { id: "p1", text: "phòng trọ q10 giá 3tr", price: 4 },
    ].map((o) => JSON.stringify(o)).join("\n") + "\n",
  );
  const index = `${fx.root}/conflict-index`;
  const r = await runTask(
    "index",
    ["--listings", path, "--checkpoint", fx.run, "--index", index, "--cache-root", fx.cache],
    fx.grant,
  );
  assertFails(r, 2, "--listings", `${path}: line 3`, "repeats line 1", "other metadata");
  assert(!(await exists(`${index}/listings.lance`)), "nothing was indexed");
});

Deno.test("fuzz 20: invalid UTF-8 and invisible-only listings are refused before encoding", async () => {
  const fx = await getFixture();
  const utf = `${fx.root}/bad-utf8.txt`;
  await Deno.writeFile(
    utf,
    new Uint8Array([...new TextEncoder().encode("phòng trọ q10\n"), 0x70, 0xff, 0xfe, 0x0a]),
  );
  const blank = `${fx.root}/blank.jsonl`;
  await Deno.writeTextFile(
    blank,
    `{"id": "a", "text": "phòng q1"}\n{"id": "b", "text": "\u200b\u200d"}\n`,
  );
  const cases: [string, string[]][] = [
    [utf, [`${utf}: line 2`, "not valid UTF-8"]],
    [blank, [`${blank}: line 2`, "invisible"]],
  ];
  for (const [path, parts] of cases) {
    const index = `${fx.root}/idx-${++outCounter}`;
    const r = await runTask(
      "index",
      ["--listings", path, "--checkpoint", fx.run, "--index", index, "--cache-root", fx.cache],
      fx.grant,
    );
    assertFails(r, 2, "--listings", ...parts);
  }
});

Deno.test("fuzz 20: a tokenizer.json that is a link to another file is refused without echoing it", async () => {
  const fx = await getFixture();
  const model = `${fx.root}/model-passwd`;
  await Deno.mkdir(model);
  for await (const e of Deno.readDir("data/models/lexical-1024")) {
    if (e.isFile && e.name !== "tokenizer.json") {
      await Deno.copyFile(`data/models/lexical-1024/${e.name}`, `${model}/${e.name}`);
    }
  }
  const secret = `${fx.root}/secret.txt`;
  await Deno.writeTextFile(secret, "root:x:0:0:root:/root:/bin/bash\n");
  await symlink(secret, `${model}/tokenizer.json`);
  const r = await runTask(
    "encode",
    ["phòng trọ q10", "--model", model, "--checkpoint", fx.run],
    fx.grant,
  );
  assertFails(r, 1, `${model}/tokenizer.json`, "not valid JSON");
  assert(!r.stderr.includes("root:x"), r.stderr);
});

Deno.test("fuzz 20: a run whose manifest.json was deleted is loaded with a warning, not silently", async () => {
  const fx = await getFixture();
  const lost = `${fx.root}/lost-manifest`;
  await Deno.mkdir(lost);
  for await (const e of Deno.readDir(fx.run)) {
    if (e.isFile && e.name !== "manifest.json") {
      await Deno.copyFile(`${fx.run}/${e.name}`, `${lost}/${e.name}`);
    }
  }
  const r = await runTask("encode", ["phòng trọ q10", "--checkpoint", lost], fx.grant);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, `${lost} has no manifest.json, so its files are not verified`);
  const ok = await runTask("encode", ["phòng trọ q10", "--checkpoint", fx.run], fx.grant);
  assert(!ok.stderr.includes("manifest"), ok.stderr);
});

Deno.test("fuzz 20: mine --range past the corpus is a flag error, not empty negatives", async () => {
  const fx = await getFixture();
  const out = `${fx.root}/mined-${++outCounter}.jsonl`;
  const r = await runTask(
    "mine",
    ["--data", fx.data, "--cache-root", fx.cache, "--range", "100000-200000", "--out", out],
    fx.grant,
  );
  assertFails(r, 2, "--range 100000-200000", "starts past the corpus");
  assert(!(await exists(out)), "no output file");
});

Deno.test("fuzz 20: two index runs into one new directory: one writes, the other is told who holds it", async () => {
  const fx = await getFixture();
  const index = `${fx.root}/race-index`;
  const args = ["--checkpoint", fx.run, "--index", index, "--cache-root", fx.cache];
  const [a, b] = await Promise.all([
    runTask("index", args, fx.grant),
    runTask("index", args, fx.grant),
  ]);
  const codes = [a.code, b.code].sort();
  assert(codes[0] === 0, `one run completes: ${a.stderr} ${b.stderr}`);
  const loser = a.code === 0 ? b : a;
  if (loser.code !== 0) assertFails(loser, 1, index, "is in use by another indexing");
  assert(!`${a.stderr}${b.stderr}`.includes(".rs:"), "no raw Lance error");
});

Deno.test("fuzz 20: --ann on a table too small for it is refused before anything is written", async () => {
  const fx = await getFixture();
  const index = `${fx.root}/small-ann-${++outCounter}`;
  const listings = `${fx.root}/three.txt`;
  await Deno.writeTextFile(listings, "phòng trọ q10\nchung cư mini q7\nnhà nguyên căn q3\n");
  const r = await runTask(
    "index",
    [
      "--checkpoint",
      fx.run,
      "--listings",
      listings,
      "--index",
      index,
      "--cache-root",
      fx.cache,
      "--ann",
      "ivf_flat",
    ],
    fx.grant,
  );
  assertFails(r, 1, "--ann ivf_flat", "at least 256 listings", "--ann none");
  assert(!(await exists(`${index}/listings.lance`)), "no table was written");
});

Deno.test("fuzz 20: --out as a link to a folder of other files is refused without writing into it", async () => {
  const fx = await getFixture();
  const target = `${fx.root}/precious`;
  await Deno.mkdir(target);
  await Deno.writeTextFile(`${target}/notes.txt`, "mine");
  const link = `${fx.root}/out-link-${++outCounter}`;
  await symlink(target, link);
  const r = await runTask("train", [...fx.train, "--out", link], fx.grant);
  assertFails(r, 1, "holds files that are not a training run", "notes.txt");
  const names = [...Deno.readDirSync(target)].map((e) => e.name);
  assertEquals(names, ["notes.txt"]);
});

Deno.test("fuzz 20: a full disk under --cache-root is named, and no partial segment is left", async (t) => {
  const fx = await getFixture();
  const mnt = `${fx.root}/tiny-fs`;
  await Deno.mkdir(mnt);
  const m = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=300k", "tmpfs", mnt],
  })
    .output().catch(() => null);
  if (!m?.success) {
    // Needs root (and a kernel that lets this container mount); then the case was checked by hand.
    await t.step({ name: "mount a 300 KB tmpfs (not permitted here)", ignore: true, fn() {} });
    return;
  }
  try {
    const r = await runTask("embed", ["--data", fx.data, "--cache-root", `${mnt}/cache`], {
      read: [fx.root],
      write: [fx.root],
    });
    assertFails(r, 1, `${mnt}/cache`, "no space left on the device", "--cache-root");
    await assertNoPartialFiles(mnt);
  } finally {
    await new Deno.Command("umount", { args: [mnt] }).output();
  }
});
