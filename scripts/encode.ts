/**
 * `deno task encode "text" ... --checkpoint DIR [--json]`: encode texts with
 * the encoder + trained head and print each vector's shape and norm. Bulk:
 * `--input FILE` (one text per line, or JSONL with `text`), `--input -` for
 * stdin. A text of any length is cut to the encoder's maxLength tokens.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { loadProjectionModel } from "../lib/inference.ts";
import { readTexts } from "../lib/text_input.ts";

const SPEC: CommandSpec = {
  name: "encode",
  usage:
    'deno task encode "phòng trọ q10 giá rẻ" [more texts] [--input FILE|-] --checkpoint DIR [--json]',
  description: "Encode texts with the frozen encoder and a trained head (256-d, L2-normalised).",
  flags: {
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    model: { type: "string", help: "encoder model dir (default: the checkpoint's)" },
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
  let texts = positionals;
  if (flags.input !== undefined) {
    try {
      texts = [...positionals, ...await readTexts(flags.input as string)];
    } catch (err) {
      throw new CliError(`encode: --input ${(err as Error).message}`);
    }
  }
  if (texts.length === 0) {
    throw new CliError("encode: give at least one text to encode (or --input FILE, - for stdin)");
  }
  const model = await loadProjectionModel((flags.checkpoint as string) ?? "checkpoints/latest", {
    which: flags.which as "best" | "final" | undefined,
    model: flags.model as string | undefined,
    force: flags.force === true,
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
