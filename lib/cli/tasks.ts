/**
 * The commands behind `deno task`, in one table: each command's script, the
 * permissions it always holds (its own project folders), and which flags name
 * paths it reads or writes. `scripts/launch.ts` reads the flags (and the paths
 * a run or config file recorded), and starts the script with exactly those
 * paths added to its `--allow-read` / `--allow-write`: data anywhere works,
 * and the process still holds only what its inputs need.
 *
 * @example
 * ```ts
 * import { TASKS } from "./tasks.ts";
 * if (JSON.stringify(TASKS.train.script) !== JSON.stringify("scripts/train.ts")) throw new Error(`got ${JSON.stringify(TASKS.train.script)}`);
 * ```
 *
 * @module
 */

/** How a flag's value is used. */
export type PathUse =
  /** a file or folder that is only read */
  | "read"
  /** a folder that is created or written into (read and write on it) */
  | "write"
  /** a file replaced atomically (read and write on its folder) */
  | "write-file"
  /** a run directory: read, plus the data, weights and model its config.json recorded */
  | "run"
  /** a run directory written into (resume, export): as `run`, and write on it */
  | "run-write"
  /** an index folder that is read: plus the checkpoint and model its `paths.json` names */
  | "index"
  /** a JSON config file: read, plus the paths it names (data, weights, model, out, cacheRoot) */
  | "config";

/** One command. */
export interface TaskSpec {
  /** The script, relative to the project root. */
  script: string;
  /** Permission flags it always holds (path lists relative to the project root). */
  permissions: string[];
  /** Extra environment for the script. */
  env?: Record<string, string>;
  /** The flags that name paths, and how each is used. */
  paths: Record<string, PathUse>;
}

const ORT = ["--allow-ffi", "--allow-env", "--allow-sys"];
const LANCE = [
  "--allow-ffi=node_modules",
  "--allow-env=NAPI_RS_NATIVE_LIBRARY_PATH,NAPI_RS_FORCE_WASI",
  "--allow-sys=cpus,networkInterfaces,hostname",
];

/**
 * Set by `scripts/launch.ts` to its own PID for the script it starts: the
 * script then stops when the launcher is gone (killed with SIGKILL, which it
 * cannot forward), instead of running on as an orphan.
 *
 * @example
 * ```ts
 * import { LAUNCHED_ENV } from "./tasks.ts";
 * if (JSON.stringify(LAUNCHED_ENV) !== JSON.stringify("PHONGTRO_LAUNCHED")) throw new Error(`got ${JSON.stringify(LAUNCHED_ENV)}`);
 * ```
 */
export const LAUNCHED_ENV = "PHONGTRO_LAUNCHED";

/** Every launched command, by task name. */
export const TASKS: Record<string, TaskSpec> = {
  "gen-data": {
    script: "scripts/gen_data.ts",
    permissions: ["--allow-read=data", "--allow-write=data"],
    paths: { out: "write-file" },
  },
  "build-model": {
    script: "scripts/build_default_model.ts",
    permissions: ["--allow-read=.", "--allow-write=data/models", "--allow-env=DEBUG"],
    paths: { data: "read", out: "write" },
  },
  "quantize-model": {
    script: "scripts/quantize_model.ts",
    permissions: ["--allow-read=data/models", "--allow-write=data/models"],
    paths: { model: "read", out: "write" },
  },
  embed: {
    script: "scripts/embed.ts",
    permissions: ["--allow-read=.", "--allow-write=data/cache", ...ORT],
    paths: { data: "read", model: "read", "cache-root": "write", cache: "write" },
  },
  train: {
    script: "scripts/train.ts",
    permissions: ["--allow-read=.", "--allow-write=checkpoints,data/cache", ...ORT],
    paths: {
      data: "read",
      weights: "read",
      model: "read",
      out: "write",
      "cache-root": "write",
      config: "config",
      resume: "run-write",
    },
  },
  eval: {
    script: "scripts/eval.ts",
    permissions: ["--allow-read=.", "--allow-write=data/cache", ...ORT],
    paths: {
      checkpoint: "run",
      "checkpoint-mined": "run",
      data: "read",
      weights: "read",
      corpus: "read",
      model: "read",
      "cache-root": "write",
    },
  },
  search: {
    script: "scripts/search.ts",
    permissions: ["--allow-read=.", "--allow-write=data/cache", ...ORT],
    paths: {
      checkpoint: "run",
      data: "read",
      corpus: "read",
      model: "read",
      queries: "read",
      index: "index",
      "cache-root": "write",
    },
  },
  encode: {
    script: "scripts/encode.ts",
    permissions: ["--allow-read=.", "--allow-write=data/cache", ...ORT],
    paths: { checkpoint: "run", model: "read", input: "read" },
  },
  export: {
    script: "scripts/export.ts",
    permissions: ["--allow-read=.", "--allow-write=checkpoints", ...ORT],
    paths: { checkpoint: "run-write", out: "write-file" },
  },
  mine: {
    script: "scripts/mine.ts",
    permissions: ["--allow-read=.", "--allow-write=data/cache,data/mined,checkpoints", ...ORT],
    paths: {
      data: "read",
      out: "write-file",
      corpus: "read",
      checkpoint: "run",
      model: "read",
      weights: "read",
      "cache-root": "write",
    },
  },
  index: {
    script: "scripts/index.ts",
    permissions: ["--allow-read=.", "--allow-write=data/index,data/cache", ...LANCE],
    env: { LANCEDB_LOG: "error" },
    paths: {
      listings: "read",
      checkpoint: "run",
      model: "read",
      index: "write",
      "cache-root": "write",
    },
  },
  serve: {
    script: "scripts/serve.ts",
    permissions: [
      "--allow-net=127.0.0.1",
      "--allow-read=data/index,data/models,checkpoints,node_modules",
      ...LANCE,
    ],
    env: { LANCEDB_LOG: "error" },
    paths: { index: "index", checkpoint: "run", model: "read" },
  },
};

/**
 * The plain `deno run` command of a task with its base permissions (what the
 * task ran before the launcher, and what tests run), or undefined.
 *
 * @example
 * ```ts
 * import { baseCommand } from "./tasks.ts";
 * const cmd = baseCommand("gen-data");
 * if (cmd !== "deno run --allow-read=data --allow-write=data scripts/gen_data.ts") throw new Error(cmd);
 * ```
 */
export function baseCommand(task: string): string | undefined {
  const t = TASKS[task];
  return t ? ["deno", "run", ...t.permissions, t.script].join(" ") : undefined;
}
