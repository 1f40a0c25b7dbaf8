import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { LOCK_FILE, RunLock, RunLockedError } from "../lib/run/run_lock.ts";

Deno.test("run_lock: the lock file names its holder; a second lock is refused; release removes it", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await RunLock.acquire(dir, { command: "unit test" });
  const info = JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`));
  assertEquals([info.pid, info.command], [Deno.pid, "unit test"]);
  assert(typeof info.hostname === "string" && typeof info.started === "string");
  const err = await assertRejects(() => RunLock.acquire(dir), RunLockedError);
  assertStringIncludes(err.message, `in use by this process (PID ${Deno.pid})`);
  lock.release();
  lock.release(); // idempotent
  assertEquals(lock.held, false);
  assertEquals(await Deno.stat(`${dir}/${LOCK_FILE}`).catch(() => null), null);
  (await RunLock.acquire(dir)).release();
});

Deno.test("run_lock: a lock file whose holder is gone is reported as stale and taken over", async () => {
  const dir = await Deno.makeTempDir();
  // What a killed holder leaves: the file, but no kernel lock on it.
  const stale = { pid: 999999, hostname: "h", started: "2026-01-01T00:00:00Z", command: "old" };
  await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, JSON.stringify(stale));
  const notes: string[] = [];
  const lock = await RunLock.acquire(dir, { onInfo: (m) => notes.push(m) });
  assertStringIncludes(notes.join("\n"), "left by PID 999999 on h");
  assertStringIncludes(notes.join("\n"), "stale lock");
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/${LOCK_FILE}`)).pid, Deno.pid);
  lock.release();
});
