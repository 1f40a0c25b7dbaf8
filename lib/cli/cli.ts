/**
 * Command-line parsing for every script, in one place. A thin layer over
 * `node:util` `parseArgs` that adds typed values (number, integer, choice),
 * `--no-<flag>` negation for booleans, generated `--help`, and errors that
 * name the flag and the allowed values.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UsageError } from "../core/errors.ts";
import { LAUNCHED_ENV } from "./tasks.ts";

/** One flag of a command. */
export interface FlagSpec {
  /** `string` (free text), `number`, `int`, `boolean`, or `choice` (needs `choices`). */
  type: "string" | "number" | "int" | "boolean" | "choice";
  /** One line of help text. */
  help: string;
  /** Allowed values of a `choice` flag. */
  choices?: readonly string[];
  /** Shown in `--help`; parsing never fills defaults (config merging does). */
  default?: unknown;
  /** Smallest allowed value of a numeric flag. */
  min?: number;
  /** Single-letter alias. */
  short?: string;
}

/** A command's name, usage line and flags. */
export interface CommandSpec {
  name: string;
  usage: string;
  description?: string;
  flags: Record<string, FlagSpec>;
}

/** Thrown for a bad command line; scripts print its message and exit 2. */
export class CliError extends UsageError {
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** The result of {@link parseCommand}. */
export interface ParsedCommand {
  /** Flags given on the command line, converted to their types (camelCase keys). */
  flags: Record<string, string | number | boolean>;
  /** Positional arguments. */
  positionals: string[];
  /** True when `--help` was given. */
  help: boolean;
}

/** `batch-size` → `batchSize`. */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Parse `args` against `spec`. Unknown flags and bad values throw
 * {@link CliError} naming the flag and what it accepts.
 *
 * @example
 * ```ts
 * import { parseCommand } from "./cli.ts";
 * const { flags } = parseCommand(["--epochs", "3", "--no-symmetric"], {
 *   name: "train",
 *   usage: "deno task train [flags]",
 *   flags: {
 *     epochs: { type: "int", help: "epochs", min: 1 },
 *     symmetric: { type: "boolean", help: "symmetric loss" },
 *   },
 * });
 * if (JSON.stringify(flags) !== JSON.stringify({ epochs: 3, symmetric: false })) throw new Error(`got ${JSON.stringify(flags)}`);
 * ```
 */
export function parseCommand(args: string[], spec: CommandSpec): ParsedCommand {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type === "boolean" ? "boolean" : "string" };
    if (f.short) options[name].short = f.short;
    if (f.type === "boolean") options[`no-${name}`] = { type: "boolean" };
  }
  // `--lr -1`: parseArgs would take "-1" for a flag; join it so the value check names the flag.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const f = args[i].startsWith("--") ? spec.flags[args[i].slice(2)] : undefined;
    if (
      (f?.type === "number" || f?.type === "int") && i + 1 < args.length &&
      /^-(\d|\.\d|Infinity)/.test(args[i + 1])
    ) {
      joined.push(`${args[i]}=${args[++i]}`);
    } else joined.push(args[i]);
  }
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message;
    const m = msg.match(/Unknown option '([^']+)'/);
    if (m) {
      throw new CliError(
        `${spec.name}: unknown flag ${m[1]}. Known flags: ${
          Object.keys(spec.flags).map((f) => `--${f}`).join(", ")
        } (see --help)`,
      );
    }
    const v = msg.match(
      /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/,
    );
    if (v) throw new CliError(`${spec.name}: flag ${v[1]} needs a value`);
    throw new CliError(`${spec.name}: ${msg}`);
  }
  const flags: Record<string, string | number | boolean> = {};
  for (const [name, raw] of Object.entries(parsed.values)) {
    if (name === "help") continue;
    if (name.startsWith("no-") && !(name in spec.flags)) {
      flags[camelCase(name.slice(3))] = false;
      continue;
    }
    const f = spec.flags[name];
    flags[camelCase(name)] = convertFlag(
      spec.name,
      name,
      f,
      raw as string | boolean,
    );
  }
  return {
    flags,
    positionals: parsed.positionals,
    help: parsed.values.help === true,
  };
}

/** Convert and check one raw flag value. */
export function convertFlag(
  command: string,
  name: string,
  f: FlagSpec,
  raw: string | boolean,
): string | number | boolean {
  if (f.type === "boolean") return raw as boolean;
  const value = String(raw);
  if (f.type === "string") return value;
  if (f.type === "choice") {
    if (!f.choices!.includes(value)) {
      throw new CliError(
        `${command}: --${name} must be one of ${f.choices!.join("|")}, got "${value}"`,
      );
    }
    return value;
  }
  const n = Number(value);
  const kind = f.type === "int" ? "an integer" : "a number";
  if (
    value.trim() === "" || !Number.isFinite(n) ||
    (f.type === "int" && !Number.isInteger(n))
  ) {
    throw new CliError(`${command}: --${name} must be ${kind}, got "${value}"`);
  }
  if (f.min !== undefined && n < f.min) {
    throw new CliError(
      `${command}: --${name} must be ${kind} >= ${f.min}, got ${value}`,
    );
  }
  return n;
}

/**
 * Render `--help` text for a command.
 *
 * @example
 * ```ts
 * import { helpText } from "./cli.ts";
 * console.log(helpText({ name: "x", usage: "deno task x", flags: {} }));
 * ```
 */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: ${spec.usage}`, ""];
  if (spec.description) lines.push(spec.description, "");
  lines.push("Flags:");
  for (const [name, f] of Object.entries(spec.flags)) {
    const value = f.type === "boolean"
      ? ""
      : f.type === "choice"
      ? ` <${f.choices!.join("|")}>`
      : f.type === "string"
      ? " <value>"
      : " <n>";
    const def = f.default === undefined ? "" : ` (default: ${JSON.stringify(f.default)})`;
    const neg = f.type === "boolean" && f.default === true ? `, --no-${name}` : "";
    lines.push(`  --${name}${neg}${value}`.padEnd(40) + ` ${f.help}${def}`);
  }
  lines.push("  --help, -h".padEnd(40) + " show this help");
  return lines.join("\n");
}

/**
 * Run a script's `main`, turning a {@link CliError} (any `UsageError` of the
 * library) into a one-line message
 * and exit code 2, and any other error into its message and exit code 1.
 *
 * @example
 * ```ts
 * import { runMain } from "./cli.ts";
 * if (import.meta.main) await runMain(async () => console.log("hi"));
 * ```
 */
export async function runMain(main: () => Promise<void>): Promise<void> {
  watchLauncher();
  try {
    await main();
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    if (debugEnabled()) console.error(err);
    Deno.exit(1);
  }
}

/** Under the launcher: exit (143) once the parent process is no longer the launcher. */
function watchLauncher(): void {
  let launcher = 0;
  try {
    if (Deno.permissions.querySync({ name: "env", variable: LAUNCHED_ENV }).state === "granted") {
      launcher = Number(Deno.env.get(LAUNCHED_ENV) ?? 0);
    }
  } catch { /* no env access: not launched */ }
  if (!launcher || Deno.ppid !== launcher) return;
  const timer = setInterval(() => {
    if (Deno.ppid === launcher) return;
    console.error("error: the launcher (deno task) is gone; stopping");
    Deno.exit(143);
  }, 500);
  Deno.unrefTimer(timer);
}

/** True when `DEBUG` is set and readable (no permission prompt or error otherwise). */
function debugEnabled(): boolean {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "DEBUG" }).state !== "granted") {
      return false;
    }
    return Boolean(Deno.env.get("DEBUG"));
  } catch {
    return false;
  }
}
