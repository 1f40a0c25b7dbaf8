/**
 * The one way to load `onnxruntime-node` in this project.
 *
 * Why not a plain `import`: the Linux build of onnxruntime-node 1.30 ships
 * Microsoft's 1DS telemetry SDK, which starts when the first session creates
 * the ORT environment (`OrtSingletonData::OrtObjects` → `OrtEnv`). On start
 * it reads `/etc/machine-id` and `/proc/self/cmdline`, writes
 * `/tmp/mat-debug-<pid>.log` and an SQLite file under
 * `~/.cache/Microsoft/DeveloperTools/.onnxruntime/`, all from native code,
 * outside Deno's permission checks. It also matches the command line against a
 * `std::regex` (`(.*)[ ]*.*[…`); libstdc++'s regex executor recurses once per
 * character, so a command line of about 20 KB or more (a long query, or many
 * listings passed as arguments) overflows the 8 MB main-thread stack and
 * aborts the process with `thread 'main' has overflowed its stack` (issue
 * #9.8; seen with `gdb`: ~87,000 recursive frames inside `libonnxruntime.so`).
 *
 * ORT honours `ORT_DISABLE_TELEMETRY=1`, read when that environment is
 * created. {@link loadOrt} sets it (unless the user set it) before the module
 * is used, which removes both the crash and the file writes. It must run
 * before the first `InferenceSession.create` in the process, so every module
 * that needs ORT imports it through here.
 *
 * @module
 */

/** The `onnxruntime-node` module type. */
export type Ort = typeof import("onnxruntime-node");

let ortModule: Promise<Ort> | undefined;

/**
 * Turn off ORT's native telemetry for this process (sets
 * `ORT_DISABLE_TELEMETRY=1` unless already set). Returns false when the
 * environment cannot be written (no `--allow-env`).
 *
 * @example
 * ```ts
 * import { disableOrtTelemetry } from "./ort.ts";
 * disableOrtTelemetry();
 * ```
 */
export function disableOrtTelemetry(): boolean {
  try {
    if (Deno.env.get("ORT_DISABLE_TELEMETRY") === undefined) {
      Deno.env.set("ORT_DISABLE_TELEMETRY", "1");
    }
    return true;
  } catch {
    return false; // no env permission: ORT behaves as upstream
  }
}

/**
 * `onnxruntime-node`, imported on first use (so that code which never runs a
 * model needs no FFI), with its telemetry disabled first.
 *
 * @example
 * ```ts
 * import { loadOrt } from "./ort.ts";
 * const ort = await loadOrt();
 * const t = new ort.Tensor("float32", new Float32Array([1, 2]), [2]);
 * console.log(t.dims);
 * ```
 */
export function loadOrt(): Promise<Ort> {
  if (!ortModule) {
    disableOrtTelemetry();
    ortModule = import("onnxruntime-node");
  }
  return ortModule;
}
