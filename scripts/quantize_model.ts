/**
 * `deno task quantize-model --model DIR --out DIR`: an int8 copy of an
 * encoder (dynamic quantisation of its MatMul/Gemm weights, per output
 * channel; activations quantised at run time), as a model folder of its own.
 * See `lib/encoder/quantize_model.ts`.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { quantizeModel } from "../lib/encoder/quantize_model.ts";

const SPEC: CommandSpec = {
  name: "quantize-model",
  usage: "deno task quantize-model --model DIR --out DIR [--force]",
  description:
    "Write an int8 copy of an encoder: MatMul/Gemm weights to int8 per output channel, " +
    "activations quantised at run time (ONNX Runtime's DynamicQuantizeMatMul).",
  flags: {
    model: {
      type: "string",
      help: "the encoder's folder (model.onnx, tokenizer.json, encoder.json)",
    },
    out: { type: "string", help: "the new model folder (must not exist, unless --force)" },
    "min-elements": {
      type: "int",
      min: 1,
      help: "weights with fewer values stay float32",
      default: 4096,
    },
    force: { type: "boolean", help: "replace --out if it exists" },
  },
};

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  if (positionals.length) {
    throw new CliError(`quantize-model: unexpected argument "${positionals[0]}"`);
  }
  const model = flags.model as string | undefined;
  const out = flags.out as string | undefined;
  if (!model) throw new CliError("quantize-model: --model DIR is required");
  if (!out) throw new CliError("quantize-model: --out DIR is required");
  await requirePermissions("quantize-model", [
    { kind: "read", path: model, flag: "--model" },
    { kind: "read", path: out, flag: "--out" },
    { kind: "write", path: out, flag: "--out" },
  ]);
  const r = await quantizeModel(model, out, {
    minElements: flags.minElements as number | undefined,
    force: flags.force === true,
    onLog: (s) => console.log(s),
  });
  for (const s of r.skipped.slice(0, 5)) console.log(`  float32: ${s.node} (${s.why})`);
  if (r.skipped.length > 5) console.log(`  … and ${r.skipped.length - 5} more`);
  console.log(`Wrote ${out}; use it with --model ${out}`);
}

if (import.meta.main) await runMain(main);
