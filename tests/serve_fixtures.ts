/**
 * Fixtures shared by the index, server and page tests: one small trained
 * checkpoint (default encoder) and an index of the default data built with it.
 *
 * @module
 */
import { indexListings, type IndexReport } from "../lib/serve/indexer.ts";
import { readListings } from "../lib/data/listings.ts";
import { smallDataset, trainSmallRun } from "./fixtures.ts";
import { taskCommand } from "../lib/cli/permissions.ts";

/** Train a small head (60 examples, 2 epochs) into `<dir>/run`. */
export async function trainedRun(): Promise<
  { dir: string; run: string; cache: string; data: string }
> {
  const fx = await smallDataset(60, 11);
  return { dir: fx.dir, run: await trainSmallRun(fx), cache: fx.cache, data: fx.data };
}

/**
 * A trained run and an index of every listing of `data/gen-data-set.json`
 * (exact search, base vectors stored) in its temp dir.
 */
export async function defaultDataIndex(): Promise<
  { dir: string; run: string; cache: string; index: string; report: IndexReport }
> {
  const fx = await trainedRun();
  const index = `${fx.dir}/index`;
  const report = await indexListings({
    listings: await readListings("data/gen-data-set.json", "all"),
    index,
    checkpoint: fx.run,
    cacheRoot: fx.cache,
    ann: "none",
    recallSample: 5,
  });
  return { ...fx, index, report };
}

/**
 * The permission flags of a task (its base permissions in `lib/cli/tasks.ts`,
 * never `-A`), with extra paths added to its `--allow-read` / `--allow-write`
 * (tests work in temp dirs).
 */
export function taskPermissions(
  task: string,
  extra: { read?: string; write?: string } = {},
): string[] {
  const flags = taskCommand(task)!.split(/\s+/).filter((a) => a.startsWith("-"));
  if (flags.some((f) => f === "-A" || f === "--allow-all")) throw new Error(`${task}: -A`);
  return flags.map((f) =>
    f.startsWith("--allow-read=") && extra.read
      ? `${f},${extra.read}`
      : f.startsWith("--allow-write=") && extra.write
      ? `${f},${extra.write}`
      : f
  );
}

/**
 * Read a `serve` process's stdout until its "Serving http://127.0.0.1:PORT/"
 * line; the base URL ("" if stdout ended first) and what was read.
 */
export async function servingUrl(
  lines: ReadableStreamDefaultReader<string>,
): Promise<{ url: string; out: string }> {
  let out = "";
  let url = "";
  while (!url) {
    const { value, done } = await lines.read();
    if (done) break;
    out += value;
    url = out.match(/Serving (http:\/\/127\.0\.0\.1:\d+)\//)?.[1] ?? "";
  }
  return { url, out };
}
