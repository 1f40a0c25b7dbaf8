import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { CliError } from "../lib/cli/cli.ts";
import {
  extendedCommand,
  fileWriteNeeds,
  grantedPaths,
  missingPermissions,
  PermissionPreflightError,
  requirePermissions,
  shellQuote,
  taskCommand,
} from "../lib/cli/permissions.ts";

const TRAIN = "deno run --allow-read=. --allow-write=checkpoints,data/cache --allow-ffi " +
  "scripts/train.ts";

Deno.test("permissions: extendedCommand adds missing paths to the task's own lists", () => {
  const cmd = extendedCommand(TRAIN, [
    { kind: "read", path: "/tmp/my.jsonl", flag: "--data" },
    { kind: "read", path: "/tmp/x", flag: "--out" },
    { kind: "write", path: "/tmp/x", flag: "--out" },
  ], ["--data", "/tmp/my.jsonl", "--out", "/tmp/x", "--lr", "0.01"]);
  assertEquals(
    cmd,
    "deno run --allow-read=.,/tmp/my.jsonl,/tmp/x --allow-write=checkpoints,data/cache,/tmp/x " +
      "--allow-ffi scripts/train.ts --data /tmp/my.jsonl --out /tmp/x --lr 0.01",
  );
});

Deno.test("permissions: extendedCommand inserts a missing --allow-write and quotes arguments", () => {
  const cmd = extendedCommand(
    "deno run --allow-read=. scripts/search.ts",
    [{ kind: "write", path: "/tmp/c", flag: "--cache-root" }],
    ["phòng trọ q10", "--cache-root", "/tmp/c", "it's"],
  );
  assertEquals(
    cmd,
    "deno run --allow-write=/tmp/c --allow-read=. scripts/search.ts 'phòng trọ q10' " +
      `--cache-root /tmp/c 'it'\\''s'`,
  );
  // An unrestricted flag stays unrestricted; a path already listed is not repeated.
  assertEquals(
    extendedCommand("deno run --allow-read --allow-write=a x.ts", [
      { kind: "read", path: "/r", flag: "--data" },
      { kind: "write", path: "a", flag: "--out" },
    ], []),
    "deno run --allow-read --allow-write=a x.ts",
  );
});

Deno.test("permissions: helpers", () => {
  assertEquals(grantedPaths(TRAIN, "write"), ["checkpoints", "data/cache"]);
  assertEquals(grantedPaths("deno run --allow-read x.ts", "read"), ["*"]);
  assertEquals(grantedPaths("deno run x.ts", "read"), []);
  assertEquals(shellQuote("--out"), "--out");
  assertEquals(shellQuote(""), "''");
  assertEquals(fileWriteNeeds("/tmp/a/head.onnx", "--out"), [
    { kind: "read", path: "/tmp/a", flag: "--out" },
    { kind: "write", path: "/tmp/a", flag: "--out" },
  ]);
  assertEquals(fileWriteNeeds("head.onnx", "--out")[0].path, ".");
  // Every script task of deno.json is known, and none grants everything.
  for (const task of ["train", "eval", "search", "encode", "export", "embed", "gen-data"]) {
    const cmd = taskCommand(task);
    assert(cmd?.startsWith("deno run "), `${task}: ${cmd}`);
    assert(!/(^| )-A( |$)/.test(cmd!), `${task} must not use -A`);
  }
  assertEquals(taskCommand("no-such-task"), undefined);
});

// The test process may read the repo and /tmp (see the `test` task) but not /etc.
const etcReadable = Deno.permissions.querySync({ name: "read", path: "/etc/hostname" })
  .state === "granted";

Deno.test({
  name: "permissions: requirePermissions reports what is missing in one line, with the command",
  ignore: etcReadable,
  async fn() {
    assertEquals(
      await missingPermissions([{ kind: "read", path: "deno.json", flag: "default" }]),
      [],
    );
    const missing = await missingPermissions([
      { kind: "read", path: "/etc/hostname", flag: "--data" },
      { kind: "read", path: "/etc/hostname", flag: "--data" }, // checked once
      { kind: "read", path: "", flag: "--corpus" }, // not given: skipped
    ]);
    assertEquals(missing.map((m) => m.path), ["/etc/hostname"]);
    const err = await assertRejects(
      () =>
        requirePermissions("train", [
          { kind: "read", path: "/etc/hostname", flag: "--data" },
          { kind: "read", path: "data/weight-config.json", flag: "--weights" },
        ], ["--data", "/etc/hostname"]),
      PermissionPreflightError,
    );
    assert(err instanceof CliError, "a CliError: the scripts exit with code 2");
    assertEquals(err.message.split("\n").length, 1);
    assertStringIncludes(err.message, "train: this task may not read /etc/hostname (--data)");
    assertStringIncludes(err.message, "--allow-read=.,/etc/hostname ");
    assertStringIncludes(err.message, "scripts/train.ts --data /etc/hostname");
    assertEquals(err.missing.length, 1);
    assertStringIncludes(err.message, err.command);
  },
});
