/**
 * The README's test command on a machine without the test tools: with
 * `--no-setup` (or without root and apt-get) it must stop before running any
 * test, naming what is missing and the one install line.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";

Deno.test("deno task test stops before any test when Jupyter and Chromium are missing", async () => {
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-run=deno,id,apt-get,/nonexistent/jupyter,/nonexistent/chromium",
      "scripts/test.ts",
      "--no-setup",
      "--jupyter-bin=/nonexistent/jupyter",
      "--chromium-bin=/nonexistent/chromium",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 3, text);
  assertStringIncludes(text, "missing for the notebook tests: jupyter nbconvert");
  assertStringIncludes(text, "chromium");
  assertStringIncludes(
    text,
    "install: sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client " +
      "python3-notebook chromium",
  );
  assertStringIncludes(text, "no test was run");
  assert(!text.includes("running "), `no deno test started: ${text}`);
});
