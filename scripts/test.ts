/**
 * `deno task test [DENO TEST FLAGS] [FILE...]`: the README's test command. First checks the
 * system tools of the notebook tests (printing what is missing and the one
 * install line) and registers the Deno Jupyter kernel (idempotent, in the
 * user's Jupyter data directory), then runs `deno test` on `tests/` (or the
 * given files) with the test permissions below, and exits with its status.
 *
 * @module
 */
import { ensureDenoKernel, findMissingTools, installLine } from "./nb_run.ts";

/** The permissions `deno test` runs with (path-scoped; the browser test talks to localhost only). */
export const TEST_PERMISSIONS: readonly string[] = [
  "--allow-read=.,/tmp,/usr/bin/chromium",
  "--allow-write=/tmp,./data/cache,./checkpoints",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run=deno,jupyter,chromium,/usr/bin/chromium",
  "--allow-net=127.0.0.1",
];

async function main(): Promise<number> {
  const missing = await findMissingTools();
  if (missing.length) {
    console.log(`${installLine(missing)}\n(the tests that need them fail with this message)\n`);
  }
  if (!missing.some((m) => m.aptPackage === "jupyter-client")) {
    try {
      console.log(`Deno Jupyter kernel: ${await ensureDenoKernel()}\n`);
    } catch (err) {
      console.log(`Deno Jupyter kernel: could not register it: ${(err as Error).message}\n`);
    }
  }
  // Extra `deno test` flags pass through (e.g. --filter NAME); no file given means tests/.
  const args = [...Deno.args];
  if (!args.some((a) => !a.startsWith("-"))) args.push("tests/");
  const child = new Deno.Command("deno", {
    args: ["test", ...TEST_PERMISSIONS, ...args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main());
