import { assert, assertEquals } from "./assert.ts";
import { disableOrtTelemetry, loadOrt } from "../lib/core/ort.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { loadDataset } from "../lib/data/dataset.ts";

async function probe(args: string[]) {
  await ensureDefaultModel();
  // A clean environment without ORT_DISABLE_TELEMETRY (this test process has
  // set it), so the probe proves that the library sets it itself.
  const env: Record<string, string> = {};
  for (const k of ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "NO_COLOR"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      "--allow-read=.",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      "tests/long_argv_probe.ts",
      ...args,
    ],
    clearEnv: true,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, `probe exited ${out.code}: ${stderr.slice(-500)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

Deno.test("ort: loadOrt disables ORT's native telemetry before the first session", async () => {
  assert(disableOrtTelemetry());
  const ort = await loadOrt();
  assertEquals(Deno.env.get("ORT_DISABLE_TELEMETRY"), "1");
  assertEquals(typeof ort.InferenceSession.create, "function");
});

// Issue #9.8: a 20-40 KB command line crashed the process with a stack
// overflow inside ORT's telemetry (std::regex over /proc/self/cmdline).
Deno.test("ort: a 70 KB query on the command line encodes (truncated), no stack overflow", async () => {
  const query = "phòng trọ q10 ".repeat(5000);
  const r = await probe([query]);
  assertEquals(r.texts, 1);
  assert(r.argBytes > 40_000, `argument of ${r.argBytes} bytes`);
  assertEquals(r.dim, 1024);
  assertEquals(r.truncated, 1);
});

Deno.test("ort: 200 listings as arguments encode, no stack overflow", async () => {
  const ds = await loadDataset("data/gen-data-set.json");
  const listings = [...new Set(ds.examples.map((e) => e.positive))].slice(0, 200);
  assertEquals(listings.length, 200);
  const r = await probe(listings);
  assertEquals(r.texts, 200);
  assert(r.argBytes > 20_000, `arguments of ${r.argBytes} bytes`);
  assertEquals(r.truncated, 0);
});
