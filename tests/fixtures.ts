/**
 * Shared test fixtures: a small generated dataset in a temp dir, and a
 * runner for the project's CLIs as child processes.
 *
 * @module
 */
import { generate } from "../lib/data/synthetic.ts";

/** Write a small generated dataset and the committed weight config into a new temp dir. */
export async function smallDataset(
  count = 48,
  seed = 7,
): Promise<{ dir: string; data: string; weights: string; cache: string }> {
  const dir = await Deno.makeTempDir({ prefix: "phongtro-test-" });
  const data = `${dir}/data.json`;
  await Deno.writeTextFile(data, generate({ count, seed }));
  const weights = `${dir}/weight-config.json`;
  await Deno.copyFile("data/weight-config.json", weights);
  return { dir, data, weights, cache: `${dir}/cache` };
}

/**
 * Train a small head (batch 16, 3 negatives, `--device cpu`, no report) on a
 * {@link smallDataset} into `<dir>/run` and return that path. The trainer is
 * imported on first use, so test files that only run CLIs don't load it.
 */
export async function trainSmallRun(
  fx: { dir: string; data: string; weights: string; cache: string },
  epochs = 2,
): Promise<string> {
  const { resolveConfig } = await import("../lib/train/config.ts");
  const { prepareTraining, trainHead } = await import("../lib/train/trainer.ts");
  const out = `${fx.dir}/run`;
  const config = resolveConfig({}, {
    epochs,
    batchSize: 16,
    negatives: 3,
    data: fx.data,
    weights: fx.weights,
    cacheRoot: fx.cache,
    out,
    device: "cpu",
  });
  await trainHead(config, await prepareTraining(config), { report: false });
  return out;
}

/** Permissions for CLI runs in tests: read the repo and /tmp, write /tmp only. */
export const TEST_PERMISSIONS = [
  "--allow-read=.,/tmp",
  "--allow-write=/tmp",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
];

/** Run `deno run <perms> scripts/<script> <args>` and capture its output. */
export async function runScript(
  script: string,
  args: string[],
  opts: { permissions?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command("deno", {
    args: ["run", ...(opts.permissions ?? TEST_PERMISSIONS), `scripts/${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const out = await cmd.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Write the first `count` examples of a native dataset as FlagEmbedding JSONL
 * (`{"query", "pos": [...], "neg": [...]}`) to `out`.
 */
export async function writeFlagEmbedding(native: string, out: string, count: number) {
  const doc = JSON.parse(await Deno.readTextFile(native));
  await Deno.writeTextFile(
    out,
    doc.examples.slice(0, count).map((
      e: { query: string; positive: { text: string }; negatives: { text: string }[] },
    ) =>
      JSON.stringify({
        query: e.query,
        pos: [e.positive.text],
        neg: e.negatives.map((n) => n.text),
      })
    ).join("\n") + "\n",
  );
}

/** Copy a directory tree (files and folders; an index, a run directory). */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}
