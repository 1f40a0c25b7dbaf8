/**
 * `deno task test [DENO TEST FLAGS] [FILE...]`: the README's test command, and
 * its own set-up on a fresh machine. First it checks the system tools of the
 * notebook and browser tests (Jupyter, Chromium). When some are missing:
 *
 * - as root with `apt-get` on the PATH, it installs them itself
 *   (`apt-get update`, then `apt-get install -y …`), saying so first;
 * - otherwise it stops before running any test, printing what is missing and
 *   the one install line, and exits 3.
 *
 * Then it registers the Deno Jupyter kernel (idempotent, in the user's Jupyter
 * data directory), runs `deno test --doc` on `tests/` and `lib/` (the tests,
 * and every documentation example; or only the given files) with the test
 * permissions below, and exits with its status. `--no-setup` skips the
 * install step (the check still runs and still stops early).
 * `--jupyter-bin=CMD` and `--chromium-bin=CMD` name the tools to look for
 * (for the test of this set-up path).
 *
 * @module
 */
import {
  ensureDenoKernel,
  findMissingTools,
  installLine,
  type MissingTool,
} from "../lib/notebook/notebook.ts";

/** The permissions `deno test` runs with (path-scoped; the browser test talks to localhost only). */
export const TEST_PERMISSIONS: readonly string[] = [
  "--allow-read=.,/tmp,/usr/bin/chromium",
  "--allow-write=/tmp,./data/cache,./checkpoints",
  "--allow-env",
  "--allow-ffi",
  "--allow-sys",
  "--allow-run=deno,jupyter,chromium,/usr/bin/chromium,ln,mkfifo,mount,umount",
  "--allow-net=127.0.0.1",
];

/** True when this process runs as root and `apt-get` can be started. */
async function canAptInstall(): Promise<boolean> {
  try {
    const id = await new Deno.Command("id", { args: ["-u"], stdout: "piped", stderr: "null" })
      .output();
    if (new TextDecoder().decode(id.stdout).trim() !== "0") return false;
    const apt = await new Deno.Command("apt-get", { args: ["--version"], stdout: "null" })
      .output();
    return apt.success;
  } catch {
    return false;
  }
}

/** `apt-get update` then `apt-get install -y PKGS`, output passed through; true on success. */
async function aptInstall(packages: string[]): Promise<boolean> {
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-q"], ["install", "-y", "-q", ...packages]]) {
    const status = await new Deno.Command("apt-get", { args, env, stdout: "inherit" }).spawn()
      .status;
    if (!status.success) return false;
  }
  return true;
}

/** The permissions of `deno task test` itself (deno.json), for {@link continueInNewProcess}. */
const OWN_PERMISSIONS = "--allow-run=deno,jupyter,chromium,id,apt-get";

/** Install what is missing when possible; true when apt-get ran and succeeded. */
async function setUp(missing: MissingTool[], install: boolean): Promise<boolean> {
  if (missing.length === 0) return false;
  const packages = [...new Set(missing.map((m) => m.aptPackage))];
  if (!install || !await canAptInstall()) return false;
  console.log(
    `set-up: installing the test tools with apt-get: ${packages.join(" ")} ` +
      `(missing: ${missing.map((m) => m.tool).join(", ")})`,
  );
  if (await aptInstall(packages)) return true;
  console.log("set-up: apt-get failed");
  return false;
}

/**
 * Run this script again, without the install step, in a new process: Deno
 * resolved `--allow-run=jupyter,chromium` when this one started, before
 * apt-get installed them, so this process may not start them.
 */
async function continueInNewProcess(): Promise<number> {
  console.log("set-up: installed; continuing in a new process that can start the new tools");
  const child = new Deno.Command("deno", {
    args: ["run", OWN_PERMISSIONS, new URL(import.meta.url).pathname, "--no-setup", ...Deno.args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

async function main(): Promise<number> {
  const own = (name: string) => Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
  const tools = { jupyter: own("jupyter-bin"), chromium: own("chromium-bin") };
  const args = Deno.args.filter((a) =>
    a !== "--no-setup" && !a.startsWith("--jupyter-bin=") && !a.startsWith("--chromium-bin=")
  );
  const install = !Deno.args.includes("--no-setup");
  const missing = await findMissingTools(tools);
  if (await setUp(missing, install)) return await continueInNewProcess();
  if (missing.length) {
    console.log(`${installLine(missing)}\nno test was run: install these first, then run again`);
    return 3;
  }
  try {
    console.log(`Deno Jupyter kernel: ${await ensureDenoKernel()}\n`);
  } catch (err) {
    console.log(`Deno Jupyter kernel: could not register it: ${(err as Error).message}\n`);
    return 3;
  }
  // Extra `deno test` flags pass through (e.g. --filter NAME). No file given means every test:
  // tests/, and every documentation example of lib/ (`--doc`: each is type-checked and run).
  if (!args.some((a) => !a.startsWith("-"))) args.push("--doc", "tests/", "lib/");
  const child = new Deno.Command("deno", {
    args: ["test", ...TEST_PERMISSIONS, ...args],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main());
