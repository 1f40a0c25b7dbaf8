/**
 * `deno task <name> [args]` starts here. The launcher reads the command's
 * flags (and the paths that a named run's `config.json` or a `--config` file
 * recorded), resolves links, and starts the real script with exactly those
 * paths added to its permissions (the table in `lib/cli/tasks.ts`). So a dataset
 * in `/tmp/u/mydata.jsonl`, a run in `~/runs/a` or an index anywhere work
 * without a hand-written `deno run` line, and the script still holds only
 * what its inputs need.
 *
 * The launcher itself holds `--allow-read` (to read the flags' run and config
 * files and resolve links) and `--allow-run=deno`, nothing else: no write, no
 * network, no FFI. It forwards SIGTERM to the script; Ctrl-C reaches the
 * script directly (the terminal signals the whole process group), and the
 * launcher waits for it and exits with its code.
 *
 * @module
 */
import { dirname, isRemoteUri } from "../lib/core/fs.ts";
import { LAUNCHED_ENV, TASKS, type TaskSpec } from "../lib/cli/tasks.ts";

/** The extra paths a command needs, from its arguments. */
export interface Grants {
  read: string[];
  write: string[];
}

/** The value of `--name` in `args` (`--name v` or `--name=v`), or undefined. */
function flagValue(args: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") break;
    if (args[i] === `--${name}` && i + 1 < args.length) value = args[++i];
    else if (args[i].startsWith(`--${name}=`)) value = args[i].slice(name.length + 3);
  }
  return value;
}

/** `path` and, when it is a link, what it points to (both are checked by Deno). */
function withTarget(path: string): string[] {
  try {
    const real = Deno.realPathSync(path);
    return real === path ? [path] : [path, real];
  } catch {
    return [path];
  }
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch {
    return undefined; // the script reports a bad file with its own message
  }
}

/**
 * A run directory as the scripts resolve it (`checkpoints/latest` holds a run
 * name): `resolveRunDir` of `lib/run/checkpoint.ts` without its checks, which the
 * script makes; the launcher imports nothing that needs the npm packages.
 */
function runDir(dir: string): string {
  try {
    if (Deno.statSync(dir).isFile) {
      const name = Deno.readTextFileSync(dir).trim();
      return name.startsWith("/") ? name : `${dirname(dir)}/${name}`;
    }
  } catch { /* the script names the missing run */ }
  return dir;
}

const RECORDED = ["data", "weights", "model", "corpus", "out", "cacheRoot"] as const;

/** The paths a config object names (train's config, or a run's `config.json`). */
function recordedPaths(cfg: Record<string, unknown> | undefined): string[] {
  if (!cfg) return [];
  const out: string[] = [];
  for (const key of RECORDED) if (typeof cfg[key] === "string" && cfg[key]) out.push(cfg[key]);
  return out;
}

/**
 * The paths `args` of `task` need beyond its base permissions. Pure apart
 * from reading run and config files and resolving links.
 */
export function grantsFor(task: TaskSpec, args: string[]): Grants {
  const read: string[] = [];
  const write: string[] = [];
  const add = (list: string[], p: string) => {
    if (!p || isRemoteUri(p)) return; // s3://, gs://: not a local path
    for (const q of withTarget(p)) if (!list.includes(q)) list.push(q);
  };
  const addRun = (dir: string, writable: boolean) => {
    const run = runDir(dir);
    for (const p of [dir, run]) add(read, p);
    if (writable) add(write, run);
    const info = readJson(`${run}/config.json`);
    const dataset = info?.dataset as { path?: unknown } | undefined;
    const cfg = info?.config as Record<string, unknown> | undefined;
    for (const p of recordedPaths(cfg)) add(read, p);
    // A resumed run writes where it wrote before: its cache root too.
    if (writable && typeof cfg?.cacheRoot === "string" && cfg.cacheRoot) add(write, cfg.cacheRoot);
    if (typeof dataset?.path === "string") add(read, dataset.path);
  };
  const addIndex = (dir: string) => {
    add(read, dir);
    const paths = readJson(`${dir}/paths.json`); // written by lib/serve/indexer.ts
    if (!flagValue(args, "checkpoint") && typeof paths?.checkpoint === "string") {
      addRun(paths.checkpoint, false);
    }
    if (!flagValue(args, "model") && typeof paths?.model === "string") add(read, paths.model);
  };
  for (const [flag, use] of Object.entries(task.paths)) {
    const value = flagValue(args, flag);
    if (value === undefined) {
      if (use === "index") addIndex("data/index");
      if (use === "run" || use === "run-write") {
        if (flag === "checkpoint") addRun("checkpoints/latest", use === "run-write");
      }
      continue;
    }
    if (use === "index") addIndex(value);
    else if (use === "read") add(read, value);
    else if (use === "write") {
      add(read, value);
      add(write, value);
    } else if (use === "write-file") {
      add(read, dirname(value));
      add(write, dirname(value));
    } else if (use === "run" || use === "run-write") addRun(value, use === "run-write");
    else if (use === "config") {
      add(read, value);
      const cfg = readJson(value);
      for (const p of recordedPaths(cfg)) add(read, p);
      if (typeof cfg?.out === "string") add(write, cfg.out);
      if (typeof cfg?.cacheRoot === "string") add(write, cfg.cacheRoot);
    }
  }
  // Writes go through a temp file and a rename, which also needs read. A folder
  // that does not exist yet is created with its missing parents (which a failed
  // run removes again): those need read and write, and the first existing
  // parent is looked at (read).
  for (const p of [...write]) {
    add(read, p);
    for (let d = p; !exists(d);) {
      const up = dirname(d);
      if (up === d) break;
      if (exists(up)) {
        add(read, up);
        break;
      }
      add(read, up);
      add(write, up);
      d = up;
    }
  }
  return { read, write };
}

/** `spec`'s permission flags with `grants` added to the path lists. */
export function permissionFlags(spec: TaskSpec, grants: Grants): string[] {
  const flags = [...spec.permissions];
  for (const kind of ["read", "write"] as const) {
    const extra = grants[kind];
    if (extra.length === 0) continue;
    const name = `--allow-${kind}`;
    const i = flags.findIndex((f) => f === name || f.startsWith(`${name}=`));
    if (i >= 0 && flags[i] === name) continue; // already unrestricted
    if (i < 0) flags.push(`${name}=${extra.join(",")}`);
    else {
      const have = flags[i].slice(name.length + 1).split(",");
      flags[i] = `${name}=${[...have, ...extra.filter((p) => !have.includes(p))].join(",")}`;
    }
  }
  // The script reads LAUNCHED_ENV to stop when the launcher is gone (lib/cli/cli.ts).
  const e = flags.findIndex((f) => f === "--allow-env" || f.startsWith("--allow-env="));
  if (e < 0) flags.push(`--allow-env=${LAUNCHED_ENV}`);
  else if (flags[e] !== "--allow-env") flags[e] = `${flags[e]},${LAUNCHED_ENV}`;
  return flags;
}

/**
 * On the first run (no `node_modules/.deno` yet) install the npm packages
 * quietly, saying so in one line, instead of Deno's line per package.
 */
async function installOnFirstRun(): Promise<void> {
  if (exists("node_modules/.deno")) return;
  console.error("First run: installing the pinned npm packages into node_modules (about 830 MB)…");
  const t0 = performance.now();
  const out = await new Deno.Command("deno", {
    args: ["install", "--quiet"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    // The command itself will fail with Deno's own message; show what install said.
    console.error(new TextDecoder().decode(out.stderr).trim());
    return;
  }
  console.error(`Installed in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
}

async function main(): Promise<number> {
  const [name, ...args] = Deno.args;
  const spec = TASKS[name ?? ""];
  if (!spec) {
    console.error(
      `error: launch: unknown task "${name}" (known: ${Object.keys(TASKS).join(", ")})`,
    );
    return 2;
  }
  await installOnFirstRun();
  const flags = permissionFlags(spec, grantsFor(spec, args));
  const child = new Deno.Command("deno", {
    args: ["run", ...flags, spec.script, ...args],
    env: { ...spec.env, [LAUNCHED_ENV]: String(Deno.pid) },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C reaches the child through the process group: do not die before it.
  Deno.addSignalListener("SIGINT", () => {});
  const term = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  };
  Deno.addSignalListener("SIGTERM", term);
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main());
