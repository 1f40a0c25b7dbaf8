/**
 * Choose and initialise the tfjs backend.
 *
 * - `auto`: wasm, falling back to cpu (the reason goes to `onFallback`).
 * - `wasm`, `cpu`: that backend or an error.
 * - `gpu`: `@tensorflow/tfjs-node-gpu` (Node with CUDA) or, where
 *   `navigator.gpu` exists (Deno with `--unstable-webgpu`),
 *   `@tensorflow/tfjs-backend-webgpu`. Neither is a dependency of this
 *   project: they are imported by a specifier computed at run time, so
 *   `deno check` does not need them, and the error says what to install.
 *
 * tfjs's console notices (e.g. "install the node backend") are silenced with
 * `tf.enableProdMode()`; initialisation failures are captured and reported in
 * the returned error or fallback reason instead.
 *
 * @module
 */

import * as tf from "./tf.ts";
import "@tensorflow/tfjs-backend-wasm";

/**
 * Where to run the tfjs kernels.
 */
export type Device = "auto" | "wasm" | "cpu" | "gpu";

/**
 * The accepted {@link Device} values, for CLI validation.
 *
 * @example
 * ```ts
 * import { DEVICES } from "./backend.ts";
 * if (DEVICES.join("|") !== "auto|wasm|cpu|gpu") throw new Error(DEVICES.join("|"));
 * ```
 */
export const DEVICES: readonly Device[] = ["auto", "wasm", "cpu", "gpu"];

/** What to install when no GPU backend works. */
const GPU_HINT = "To train on a GPU, run under Node with @tensorflow/tfjs-node-gpu installed " +
  "(CUDA), or use Deno with --unstable-webgpu on a machine with a WebGPU adapter and add " +
  '"@tensorflow/tfjs-backend-webgpu": "npm:@tensorflow/tfjs-backend-webgpu@4.22.0" to the ' +
  'deno.json imports. Otherwise use --device wasm (or "auto").';

/**
 * Initialise the backend for `device` and return the name of the backend in
 * use ("wasm", "cpu", "tensorflow" or "webgpu"). Throws an Error explaining
 * what was tried when the requested device is unavailable.
 *
 * @example
 * ```ts
 * import { initBackend } from "./backend.ts";
 * const name = await initBackend("auto", { onFallback: (why) => console.error(why) });
 * console.log(`tfjs backend: ${name}`);
 * ```
 */
export async function initBackend(
  device: Device = "auto",
  opts: { onFallback?: (reason: string) => void } = {},
): Promise<string> {
  if (!DEVICES.includes(device)) {
    throw new Error(`unknown device "${device}" (use one of: ${DEVICES.join(", ")})`);
  }
  if (device === "cpu" || device === "wasm") {
    const failure = await trySetBackend(device);
    if (failure) throw new Error(`could not initialise the ${device} backend: ${failure}`);
    return finish();
  }
  if (device === "auto") {
    const failure = await trySetBackend("wasm");
    if (!failure) return finish();
    const reason = `wasm backend unavailable (${failure}); falling back to cpu`;
    (opts.onFallback ?? ((r: string) => console.warn(`warning: ${r}`)))(reason);
    const cpuFailure = await trySetBackend("cpu");
    if (cpuFailure) throw new Error(`${reason}, but cpu failed too: ${cpuFailure}`);
    return finish();
  }
  // gpu
  const tried: string[] = [];
  const nodeGpu = await tryImportBackend("@tensorflow/tfjs-node-gpu", "tensorflow");
  if (!nodeGpu) return finish();
  tried.push(`@tensorflow/tfjs-node-gpu: ${nodeGpu}`);
  const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)
    ?.gpu;
  if (!gpu) {
    tried.push(
      "@tensorflow/tfjs-backend-webgpu: navigator.gpu is not available (Deno needs --unstable-webgpu)",
    );
  } else {
    let adapter: unknown = null;
    try {
      adapter = await gpu.requestAdapter();
    } catch (err) {
      tried.push(`WebGPU: requestAdapter failed: ${message(err)}`);
    }
    if (adapter) {
      const webgpu = await tryImportBackend("@tensorflow/tfjs-backend-webgpu", "webgpu");
      if (!webgpu) return finish();
      tried.push(`@tensorflow/tfjs-backend-webgpu: ${webgpu}`);
    } else if (tried.length === 1) {
      tried.push("WebGPU: navigator.gpu.requestAdapter() found no adapter");
    }
  }
  throw new Error(`no GPU backend available. Tried:\n  - ${tried.join("\n  - ")}\n${GPU_HINT}`);
}

function finish(): string {
  tf.enableProdMode();
  return tf.getBackend();
}

/** Import `specifier` (computed at run time) and switch to `backend`; the failure or null. */
async function tryImportBackend(specifier: string, backend: string): Promise<string | null> {
  if (!tf.findBackendFactory(backend)) {
    try {
      const spec = [specifier][0]; // keep the specifier opaque to static analysis
      await import(spec);
    } catch (err) {
      return `import failed: ${message(err).split("\n")[0]}`;
    }
    if (!tf.findBackendFactory(backend)) {
      return `imported, but it registered no "${backend}" backend (a second copy of tfjs-core?)`;
    }
  }
  return await trySetBackend(backend);
}

/**
 * `tf.setBackend(name)` with tfjs's own warnings captured: returns null on
 * success, else why it failed.
 */
async function trySetBackend(name: string): Promise<string | null> {
  if (!tf.findBackendFactory(name)) return `no "${name}" backend is registered`;
  const captured: string[] = [];
  const warn = console.warn;
  const wasProd = tf.env().getBool("PROD");
  tf.env().set("PROD", false); // tfjs reports init failures through its (PROD-silenced) warn
  console.warn = (...args: unknown[]) => captured.push(args.map(String).join(" "));
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    if (ok && tf.getBackend() === name) return null;
    const detail = captured.filter((m) => m.trim() !== "").slice(-1)[0];
    return detail ? detail.split("\n")[0] : `tf.setBackend("${name}") returned false`;
  } catch (err) {
    return message(err).split("\n")[0];
  } finally {
    console.warn = warn;
    tf.env().set("PROD", wasProd);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
