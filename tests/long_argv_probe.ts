/**
 * Probe for tests/ort_test.ts: encodes every command-line argument with the
 * default encoder and prints one JSON line. Run with a huge command line to
 * check that ORT starts (issue #9.8).
 *
 * @module
 */
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";

const enc = await loadEncoder(await ensureDefaultModel());
const r = await enc.encode(Deno.args);
console.log(JSON.stringify({
  texts: Deno.args.length,
  argBytes: new TextEncoder().encode(Deno.args.join(" ")).length,
  dim: r.dim,
  truncated: r.truncated,
  telemetry: Deno.env.get("ORT_DISABLE_TELEMETRY") ?? null,
}));
await enc.dispose();
