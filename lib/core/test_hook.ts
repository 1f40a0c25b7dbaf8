/**
 * Test hooks for crash-safety tests: a writer calls {@link pausePoint} at each
 * commit point, and when the named environment variable equals that point it
 * prints `<VAR>: paused at <point> (pid N)` on stderr and blocks for up to
 * 30 s, so that a test can SIGKILL it exactly there. Without env access, or
 * with the variable unset, a pause point costs one map lookup.
 *
 * @module
 */

const wanted = new Map<string, string | undefined>();

/**
 * Block here (up to 30 s) when environment variable `envVar` equals `point`.
 *
 * @example
 * ```ts
 * import { pausePoint } from "./test_hook.ts";
 * pausePoint("PHONGTRO_EXAMPLE_PAUSE", "after-write"); // returns at once: the variable is unset
 * ```
 */
export function pausePoint(envVar: string, point: string): void {
  if (!wanted.has(envVar)) {
    let value: string | undefined;
    try {
      if (Deno.permissions.querySync({ name: "env", variable: envVar }).state === "granted") {
        value = Deno.env.get(envVar) || undefined;
      }
    } catch { /* no env access */ }
    wanted.set(envVar, value);
  }
  if (wanted.get(envVar) !== point) return;
  console.error(`${envVar}: paused at ${point} (pid ${Deno.pid})`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);
}
