/**
 * Permission preflight for every command. Each `deno task` runs with
 * path-scoped permissions (see `deno.json`), so a path outside them (a
 * dataset in `/tmp`, an `--out` elsewhere) would fail deep inside the run
 * with Deno's raw "run again with the --allow-read flag", which a task user
 * cannot pass. {@link requirePermissions} checks every path a command will
 * touch with `Deno.permissions.query` before any work, and when one is not
 * granted throws a {@link PermissionPreflightError} whose one-line message is
 * the exact `deno run` command that works: the task's own flags from
 * `deno.json`, with the missing paths added, and the same arguments.
 *
 * Usage in a script, right after parsing the flags:
 *
 * ```ts
 * import { requirePermissions } from "./permissions.ts";
 * const dataPath = "data/gen-data-set.json", outDir = await Deno.makeTempDir();
 * // resolves when every path is granted; otherwise throws the `deno run` line that works
 * await requirePermissions("train", [
 *   { kind: "read", path: dataPath, flag: "--data" },
 *   { kind: "write", path: outDir, flag: "--out" },
 * ]);
 * ```
 *
 * @module
 */
import denoConfig from "../../deno.json" with { type: "json" };
import { CliError } from "./cli.ts";
import { dirname, isRemoteUri } from "../core/fs.ts";
import { baseCommand } from "./tasks.ts";

/** One path a command needs, and the flag it came from (for the message). */
export interface PathNeed {
  /** `read` or `write` access. */
  kind: "read" | "write";
  /** The path as the user gave it (relative to the working directory, or absolute). */
  path: string;
  /** The flag or argument it came from, e.g. `--data` (or `default` for a built-in path). */
  flag: string;
}

/** A path a command needs but may not access. */
export interface MissingPermission extends PathNeed {
  /** Deno's permission state for it: `prompt` or `denied`. */
  state: Deno.PermissionState;
}

/** A permission the task lacks; the message says how to run the command with it. */
export class PermissionPreflightError extends CliError {
  /** What is missing. */
  readonly missing: MissingPermission[];
  /** The command that would work (also in the message). */
  readonly command: string;
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string, missing: MissingPermission[], command: string) {
    super(message);
    this.name = "PermissionPreflightError";
    this.missing = missing;
    this.command = command;
  }
}

/**
 * The needs of creating or replacing the file `path` atomically (temp file +
 * rename, see `lib/core/fs.ts`): read and write access to its directory, since
 * Deno's rename needs both on both paths.
 *
 * @example
 * ```ts
 * import { fileWriteNeeds } from "./permissions.ts";
 * const needs = fileWriteNeeds("out/head.onnx", "--out");
 * const expected = [{ kind: "read", path: "out", flag: "--out" }, { kind: "write", path: "out", flag: "--out" }];
 * if (JSON.stringify(needs) !== JSON.stringify(expected)) throw new Error(JSON.stringify(needs));
 * ```
 */
export function fileWriteNeeds(path: string, flag: string): PathNeed[] {
  const dir = dirname(path);
  return [{ kind: "read", path: dir, flag }, { kind: "write", path: dir, flag }];
}

/**
 * The needs that are not granted (`Deno.permissions.query` says `prompt` or
 * `denied`). Empty paths are skipped; duplicates are checked once.
 *
 * @example
 * ```ts
 * import { missingPermissions } from "./permissions.ts";
 * console.log(await missingPermissions([{ kind: "read", path: "deno.json", flag: "default" }]));
 * ```
 */
export async function missingPermissions(needs: PathNeed[]): Promise<MissingPermission[]> {
  const out: MissingPermission[] = [];
  const seen = new Set<string>();
  for (const need of needs) {
    // Object storage (s3://…) is reached by LanceDB's native client, not through file permissions.
    if (!need.path || isRemoteUri(need.path)) continue;
    const key = `${need.kind}\0${need.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { state } = await Deno.permissions.query({ name: need.kind, path: need.path });
    if (state !== "granted") out.push({ ...need, state });
  }
  return out;
}

/**
 * The plain `deno run` command of a task with its own permissions (the
 * table in `lib/cli/tasks.ts` for the launched tasks, else `deno.json`), or
 * undefined.
 *
 * @example
 * ```ts
 * import { taskCommand } from "./permissions.ts";
 * const cmd = taskCommand("train"); // "deno run --allow-read=. ... scripts/train.ts"
 * if (!cmd?.startsWith("deno run ") || !cmd.endsWith("scripts/train.ts")) throw new Error(cmd);
 * ```
 */
export function taskCommand(task: string): string | undefined {
  const launched = baseCommand(task);
  if (launched) return launched;
  const tasks = (denoConfig as { tasks?: Record<string, string> }).tasks ?? {};
  return tasks[task];
}

/**
 * Quote one word for a POSIX shell (only when needed).
 *
 * @example
 * ```ts
 * import { shellQuote } from "./permissions.ts";
 * if (shellQuote("phòng trọ") !== "'phòng trọ'" || shellQuote("--out") !== "--out") throw new Error("quoting");
 * ```
 */
export function shellQuote(word: string): string {
  if (word !== "" && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `deno run` command that runs `taskString` (a `deno.json` task such as
 * `deno run --allow-read=. --allow-write=checkpoints scripts/train.ts`) with
 * `missing` paths added to its `--allow-read` / `--allow-write` lists, and
 * `args` appended. Pure: no I/O.
 *
 * @example
 * ```ts
 * import { extendedCommand } from "./permissions.ts";
 * console.log(extendedCommand(
 *   "deno run --allow-read=. --allow-write=checkpoints scripts/train.ts",
 *   [{ kind: "read", path: "/tmp/my.jsonl", flag: "--data" }],
 *   ["--data", "/tmp/my.jsonl"],
 * ));
 * // deno run --allow-read=.,/tmp/my.jsonl --allow-write=checkpoints scripts/train.ts --data /tmp/my.jsonl
 * ```
 */
export function extendedCommand(taskString: string, missing: PathNeed[], args: string[]): string {
  const words = taskString.trim().split(/\s+/);
  for (const kind of ["read", "write"] as const) {
    const paths = [...new Set(missing.filter((m) => m.kind === kind).map((m) => m.path))];
    if (paths.length === 0) continue;
    const flag = `--allow-${kind}`;
    const i = words.findIndex((w) => w === flag || w.startsWith(`${flag}=`));
    if (i >= 0 && words[i] === flag) continue; // already unrestricted
    if (i >= 0) {
      const have = words[i].slice(flag.length + 1).split(",").filter((p) => p !== "");
      words[i] = `${flag}=${[...have, ...paths.filter((p) => !have.includes(p))].join(",")}`;
    } else {
      const at = words.indexOf("run") >= 0 ? words.indexOf("run") + 1 : 1;
      words.splice(at, 0, `${flag}=${paths.join(",")}`);
    }
  }
  return [...words, ...args.map(shellQuote)].join(" ");
}

/**
 * The paths a task string grants for `kind` (`["*"]` when unrestricted, `[]`
 * when none).
 *
 * @example
 * ```ts
 * import { grantedPaths } from "./permissions.ts";
 * if (JSON.stringify(grantedPaths("deno run --allow-read=data --allow-write=data x.ts", "read")) !== JSON.stringify(["data"])) throw new Error(`got ${JSON.stringify(grantedPaths("deno run --allow-read=data --allow-write=data x.ts", "read"))}`);
 * ```
 */
export function grantedPaths(taskString: string, kind: "read" | "write"): string[] {
  const flag = `--allow-${kind}`;
  for (const w of taskString.trim().split(/\s+/)) {
    if (w === flag) return ["*"];
    if (w.startsWith(`${flag}=`)) return w.slice(flag.length + 1).split(",").filter((p) => p);
  }
  return [];
}

/**
 * Check every path a command needs before it does any work. When one is not
 * granted, throw a {@link PermissionPreflightError} (exit code 2 through
 * `runMain`) with one line: what is missing (path and flag) and the exact
 * `deno run` command that grants it (the task's own permissions from
 * `deno.json`, extended by the missing paths, and the same arguments).
 *
 * @param task the `deno.json` task name (`train`, `eval`, ...)
 * @param needs the paths the command will read or write, each with its flag
 * @param args the command's arguments (default `Deno.args`)
 *
 * @example
 * ```ts
 * import { requirePermissions } from "./permissions.ts";
 * // Type-checked, not run: it needs a task's own permissions (it throws the working `deno run` line otherwise).
 * async function _example() {
 *   await requirePermissions("train", [
 *     { kind: "read", path: "data/gen-data-set.json", flag: "--data" },
 *     { kind: "write", path: "checkpoints", flag: "--out" },
 *   ]);
 * }
 * ```
 */
export async function requirePermissions(
  task: string,
  needs: PathNeed[],
  args: string[] = Deno.args,
): Promise<void> {
  const missing = await missingPermissions(needs);
  if (missing.length === 0) return;
  const byPath = new Map<string, { kinds: string[]; flag: string }>();
  for (const m of missing) {
    const entry = byPath.get(m.path) ?? { kinds: [], flag: m.flag };
    if (!entry.kinds.includes(m.kind)) entry.kinds.push(m.kind);
    byPath.set(m.path, entry);
  }
  const what = [...byPath].map(([path, e]) => `${e.kinds.join(" and ")} ${path} (${e.flag})`)
    .join(", ");
  const taskString = taskCommand(task);
  let command = "";
  let howTo = "Grant it with --allow-read / --allow-write";
  let where = "";
  if (taskString) {
    command = extendedCommand(taskString, missing, args);
    howTo = `Run it from the repository root as: ${command}`;
    const places = (["read", "write"] as const)
      .filter((kind) => missing.some((m) => m.kind === kind))
      .map((kind) => `${kind} under ${grantedPaths(taskString, kind).join(", ") || "(nothing)"}`);
    where = ` (or use paths this task may ${places.join("; ")})`;
  }
  throw new PermissionPreflightError(
    `${task}: this task may not ${what}. ${howTo}${where}`,
    missing,
    command,
  );
}
