/**
 * `deno task nb:run [NOTEBOOK...] [--out checkpoints/notebooks] [--no-html]`:
 * execute the notebooks headless (`lib/notebook/notebook.ts`), writing
 * executed copies and HTML exports to `--out`. Exits non-zero, naming the
 * notebook, the cell and the error, when any cell raised.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { atomicWriteJson, join } from "../lib/core/fs.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import {
  DEFAULT_NB_OUT,
  ensureDenoKernel,
  executeNotebook,
  formatErrors,
  type NotebookRun,
  NOTEBOOKS,
} from "../lib/notebook/notebook.ts";

const SPEC: CommandSpec = {
  name: "nb:run",
  usage: "deno task nb:run [NOTEBOOK...] [--out DIR] [--no-html]",
  description: "Execute the notebooks headless (Deno kernel, nbconvert); fail on any cell error.",
  flags: {
    out: { type: "string", help: "output folder", default: DEFAULT_NB_OUT },
    html: { type: "boolean", help: "also export HTML (--no-html to skip)", default: true },
  },
};

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const outDir = (flags.out as string | undefined) ?? DEFAULT_NB_OUT;
  const notebooks = positionals.length ? positionals : [...NOTEBOOKS];
  await requirePermissions("nb:run", [
    ...notebooks.map((nb) => ({ kind: "read" as const, path: nb, flag: "NOTEBOOK" })),
    { kind: "read", path: outDir, flag: "--out" },
    { kind: "write", path: outDir, flag: "--out" },
  ]);
  for (const nb of notebooks) {
    try {
      await Deno.stat(nb);
    } catch {
      throw new CliError(`nb:run: no such notebook: ${nb}`);
    }
  }
  console.log(`Deno Jupyter kernel: ${await ensureDenoKernel()}`);
  const runs: NotebookRun[] = [];
  for (const nb of notebooks) {
    console.log(`${nb} ...`);
    const r = await executeNotebook(nb, { outDir, html: flags.html !== false });
    runs.push(r);
    const status = r.errors.length ? `${r.errors.length} error(s)` : "ok";
    console.log(
      `  ${status} in ${r.seconds.toFixed(1)} s -> ${r.executed}${r.html ? `, ${r.html}` : ""}`,
    );
  }
  const summary = runs.map(({ notebook, executed, html, seconds, errors }) => ({
    notebook,
    executed,
    html,
    seconds: Number(seconds.toFixed(2)),
    errors,
  }));
  try {
    await atomicWriteJson(join(outDir, "summary.json"), summary);
  } catch {
    // Only a convenience; --out may lie outside the task's write permission.
  }
  const report = formatErrors(runs);
  if (report) throw new Error(`cell errors:\n${report}`);
}

if (import.meta.main) await runMain(main);
