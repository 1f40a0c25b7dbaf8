/**
 * `deno task export --checkpoint DIR [--which best|final] [--out FILE]`:
 * write the head as `head.onnx` (input `embedding` [N,inDim] float32, output
 * `projected` [N,outDim], L2-normalised), to chain after any ONNX encoder.
 *
 * @module
 */
import { type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { resolveRunDir } from "../lib/run/checkpoint.ts";
import { atomicWrite, join } from "../lib/core/fs.ts";
import { exportHead } from "../lib/head/export.ts";
import { fileWriteNeeds, requirePermissions } from "../lib/cli/permissions.ts";

const SPEC: CommandSpec = {
  name: "export",
  usage: "deno task export --checkpoint DIR [--which best|final] [--dim N] [--out FILE]",
  description:
    "Export the trained head to ONNX: embedding [N,1024] -> projected [N,256] (L2-normalised).",
  flags: {
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    out: {
      type: "string",
      help: "output file (default: <checkpoint>/head.onnx, head-<dim>.onnx with --dim)",
    },
    dim: {
      type: "int",
      min: 1,
      help: "export a trained Matryoshka prefix: first N outputs, renormalised",
    },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const given = (flags.checkpoint as string | undefined) ?? "checkpoints/latest";
  const outFlag = flags.out as string | undefined;
  await requirePermissions("export", [
    { kind: "read", path: given, flag: "--checkpoint" },
    ...(outFlag ? fileWriteNeeds(outFlag, "--out") : []),
  ]);
  const dir = await resolveRunDir(given);
  const which = (flags.which as "best" | "final" | undefined) ?? "best";
  const dim = flags.dim as number | undefined;
  const out = (flags.out as string | undefined) ??
    join(dir, dim === undefined ? "head.onnx" : `head-${dim}.onnx`);
  await requirePermissions("export", [
    { kind: "read", path: dir, flag: "--checkpoint" },
    ...fileWriteNeeds(out, flags.out ? "--out" : "default --out <checkpoint>/head.onnx"),
  ]);
  const { bytes, inDim, outDim } = await exportHead(dir, which, dim);
  await atomicWrite(out, bytes);
  console.log(
    `Wrote ${out}: embedding [N,${inDim}] -> projected [N,${outDim}] (L2-normalised), ${bytes.length} bytes`,
  );
}

if (import.meta.main) await runMain(main);
