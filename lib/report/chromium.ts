/**
 * Headless Chromium, for rendering the project's offline HTML (reports,
 * figures) to a DOM dump or a PNG. Uses Debian's `chromium` with the flags
 * that keep it off the network.
 *
 * @module
 */

/** Flags for every headless run: no sandbox (root in CI), no GPU, no network chatter. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--hide-scrollbars",
  "--virtual-time-budget=5000",
];

/**
 * Run headless Chromium with {@link CHROMIUM_FLAGS}, a fresh profile in
 * `profileDir`, and `args`. A missing binary or a failed run throws an
 * Error that says what to install or what Chromium printed.
 *
 * @example
 * ```ts ignore
 * import { runChromium } from "./chromium.ts";
 * const { stdout } = await runChromium(["--dump-dom", "file:///tmp/report.html"], "/tmp/profile");
 * console.log(stdout.includes("main-svg"));
 * ```
 */
export async function runChromium(
  args: string[],
  profileDir: string,
  chromium = "chromium",
): Promise<{ stdout: string; stderr: string }> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(chromium, {
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profileDir}`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        `headless Chromium is needed: "${chromium}" was not found on PATH. ` +
          `Install it (Debian/Ubuntu: apt-get install chromium); CI installs it.`,
      );
    }
    throw err;
  }
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${chromium} exited with ${out.code}:\n${stderr.slice(-2000)}`);
  return { stdout, stderr };
}
