/**
 * `deno task encode "text" ... --checkpoint DIR [--dim N] [--json]`: encode texts with
 * the encoder + trained head and print each vector's shape and norm. Bulk:
 * `--input FILE` (one text per line, or JSONL with `text`), `--input -` for
 * stdin. A text of any length is cut to the encoder's maxLength tokens.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { escapeInvisible, isBlankText, loadProjectionModel } from "../lib/head/inference.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { readTexts } from "../lib/data/text_input.ts";

const SPEC: CommandSpec = {
  name: "encode",
  usage:
    'deno task encode "phòng trọ q10 giá rẻ" [more texts] [--input FILE|-] --checkpoint DIR [--dim N] [--json]',
  description: "Encode texts with the frozen encoder and a trained head (256-d, L2-normalised).",
  flags: {
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    model: { type: "string", help: "encoder model dir (default: the checkpoint's)" },
    dim: {
      type: "int",
      min: 1,
      help: "a trained Matryoshka prefix: first N dims, renormalised (default: the full output)",
    },
    json: { type: "boolean", help: "print the vectors as JSON" },
    input: {
      type: "string",
      help: "also read texts from FILE (one per line, or JSONL with text), - for stdin",
    },
    force: { type: "boolean", help: "load even if the encoder fingerprint differs" },
  },
};

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const dir = (flags.checkpoint as string | undefined) ?? "checkpoints/latest";
  const input = flags.input as string | undefined;
  await requirePermissions("encode", [
    { kind: "read", path: dir, flag: "--checkpoint" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
    { kind: "read", path: input && input !== "-" ? input : "", flag: "--input" },
  ]);
  let texts = positionals;
  if (input !== undefined) {
    try {
      texts = [...positionals, ...await readTexts(input)];
    } catch (err) {
      throw new CliError(`encode: --input ${(err as Error).message}`);
    }
  }
  if (texts.length === 0) {
    throw new CliError("encode: give at least one text to encode (or --input FILE, - for stdin)");
  }
  const blank = texts.findIndex(isBlankText);
  if (blank >= 0) {
    const which = blank < positionals.length
      ? `text argument ${blank + 1} of ${positionals.length}`
      : `--input text ${blank + 1 - positionals.length} (${input})`;
    throw new CliError(
      `encode: ${which} is empty or only whitespace/invisible characters ` +
        `(${escapeInvisible(texts[blank])}); give a non-empty text`,
    );
  }
  const model = await loadProjectionModel(dir, {
    which: flags.which as "best" | "final" | undefined,
    model: flags.model as string | undefined,
    force: flags.force === true,
    dim: flags.dim as number | undefined,
  });
  const t0 = performance.now();
  const { dim, data } = await model.encode(texts);
  const ms = performance.now() - t0;
  const vectors = texts.map((_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim)));
  if (flags.json) {
    console.log(JSON.stringify({ model: model.encoder.name, dim, vectors }));
  } else {
    console.log(
      `Model: ${model.encoder.name} + head ${model.checkpoint.dir} (${model.checkpoint.which})`,
    );
    console.log(`Shape: [${texts.length}, ${dim}] in ${ms.toFixed(1)} ms`);
    vectors.forEach((v, i) => {
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      const shown = texts[i].length > 80 ? `${texts[i].slice(0, 77)}...` : texts[i];
      console.log(`  [${i}] norm ${norm.toFixed(6)}  "${shown}"`);
    });
  }
  await model.dispose();
}

if (import.meta.main) await runMain(main);
