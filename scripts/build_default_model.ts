/**
 * `deno task build-model [--out DIR] [--data FILE]`: build the offline default
 * encoder `lexical-1024` (a lexical stand-in, NOT BGE-M3) from the words of the
 * dataset. Deterministic: a rebuild writes identical bytes.
 *
 * @module
 */
import { type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { requirePermissions } from "../lib/permissions.ts";
import {
  buildDefaultModel,
  DEFAULT_DATA_PATH,
  DEFAULT_MODEL_DIR,
  DEFAULT_MODEL_NAME,
} from "../lib/default_model.ts";

/**
 * The command line of `deno task build-model`.
 *
 * @example
 * ```ts
 * import { helpText } from "../lib/cli.ts";
 * import { BUILD_MODEL_COMMAND } from "./build_default_model.ts";
 * console.log(helpText(BUILD_MODEL_COMMAND));
 * ```
 */
export const BUILD_MODEL_COMMAND: CommandSpec = {
  name: "build-model",
  usage: "deno task build-model [--out DIR] [--data FILE]",
  description:
    `Build the offline default encoder ${DEFAULT_MODEL_NAME} (lexical stand-in, not BGE-M3).`,
  flags: {
    out: { type: "string", help: "model folder to write", default: DEFAULT_MODEL_DIR },
    data: {
      type: "string",
      help: "dataset whose words form the vocabulary",
      default: DEFAULT_DATA_PATH,
    },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, BUILD_MODEL_COMMAND);
  if (help) return console.log(helpText(BUILD_MODEL_COMMAND));
  const out = (flags.out as string | undefined) ?? DEFAULT_MODEL_DIR;
  const dataPath = (flags.data as string | undefined) ?? DEFAULT_DATA_PATH;
  await requirePermissions("build-model", [
    { kind: "read", path: dataPath, flag: "--data" },
    { kind: "read", path: out, flag: "--out" },
    { kind: "write", path: out, flag: "--out" },
  ]);
  console.log(`Model: ${DEFAULT_MODEL_NAME} (offline lexical stand-in, NOT BGE-M3) -> ${out}`);
  const t0 = performance.now();
  const b = await buildDefaultModel(out, { dataPath });
  const sizes = Object.entries(b.files).map(([n, f]) => `${n} ${(f.length / 1e6).toFixed(2)} MB`);
  console.log(
    `Vocabulary: ${b.vocabSize} pieces (${b.wordPieces} whole words) from ${dataPath}; dim ${b.config.dim}`,
  );
  console.log(`Wrote ${sizes.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (import.meta.main) await runMain(main);
