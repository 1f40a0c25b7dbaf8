/**
 * `deno task gen-data`: write the synthetic dataset (`lib/data/synthetic.ts`).
 *
 * @module
 */
import { exists } from "../lib/core/fs.ts";
import { fileWriteNeeds, requirePermissions } from "../lib/cli/permissions.ts";
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { writeSyntheticDataset } from "../lib/data/synthetic.ts";

/**
 * The `gen-data` command line.
 *
 * @example
 * ```ts
 * import { GEN_DATA_COMMAND } from "./gen_data.ts";
 * import { helpText } from "../lib/cli/cli.ts";
 * console.log(helpText(GEN_DATA_COMMAND));
 * ```
 */
export const GEN_DATA_COMMAND: CommandSpec = {
  name: "gen-data",
  usage: "deno task gen-data [--count N] [--seed S] [--out PATH] [--force]",
  description: "Generate the synthetic Vietnamese rental-listing dataset (native JSON format).",
  flags: {
    count: { type: "int", help: "number of examples", default: 1000, min: 1 },
    seed: { type: "int", help: "PRNG seed (same seed, same bytes)", default: 42, min: 0 },
    out: { type: "string", help: "output path", default: "data/gen-data-set.json" },
    force: { type: "boolean", help: "overwrite --out if it exists (e.g. the committed dataset)" },
  },
};

async function main(): Promise<void> {
  const { flags, help } = parseCommand(Deno.args, GEN_DATA_COMMAND);
  if (help) return console.log(helpText(GEN_DATA_COMMAND));
  const count = (flags.count as number | undefined) ?? 1000;
  const seed = (flags.seed as number | undefined) ?? 42;
  const out = (flags.out as string | undefined) ?? "data/gen-data-set.json";
  await requirePermissions("gen-data", fileWriteNeeds(out, "--out"));
  if (flags.force !== true && await exists(out)) {
    const committed = out === "data/gen-data-set.json" ? " (the committed dataset)" : "";
    throw new CliError(
      `gen-data: ${out} exists${committed}: pass --force to overwrite it, or --out NEW_PATH`,
    );
  }
  const bytes = await writeSyntheticDataset(out, { count, seed });
  console.log(`wrote ${count} examples to ${out} (${bytes} bytes)`);
}

if (import.meta.main) await runMain(main);
