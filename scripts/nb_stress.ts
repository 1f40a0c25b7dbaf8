/**
 * `deno task nb:stress [NOTEBOOK...] [--runs 10] [--out checkpoints/nb_stress]`:
 * run each notebook with a plain `jupyter nbconvert --to notebook --execute`
 * (default environment, no extra config, no `--allow-errors`): one reference
 * run, then `--runs` more, one after the other. A run fails when nbconvert
 * exits non-zero (a cell error, a corrupt kernel message); it loses outputs
 * when a code cell shows other outputs (count, output type, MIME types) than
 * in the reference run. Prints one line per run and a summary, writes
 * `summary.json` to `--out`, and exits 1 on any failure or lost output.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { atomicWriteJson, join } from "../lib/core/fs.ts";
import {
  compareOutputs,
  type NotebookJson,
  NOTEBOOKS,
  outputSignature,
} from "../lib/notebook/notebook.ts";

const SPEC: CommandSpec = {
  name: "nb:stress",
  usage: "deno task nb:stress [NOTEBOOK...] [--runs N] [--out DIR]",
  description:
    "Run notebooks repeatedly with plain nbconvert; compare each run's outputs per cell with a reference run.",
  flags: {
    runs: { type: "int", help: "runs per notebook after the reference run", default: 10 },
    out: { type: "string", help: "output folder", default: "checkpoints/nb_stress" },
  },
};

interface RunResult {
  notebook: string;
  run: number;
  seconds: number;
  ok: boolean;
  error?: string;
  lost: string[];
  maxOutputChars: number;
}

/** One plain nbconvert execution; returns the executed notebook or the error. */
async function plainRun(notebook: string, outDir: string, name: string) {
  const t0 = performance.now();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("jupyter", {
      args: [
        "nbconvert",
        "--to",
        "notebook",
        "--execute",
        notebook,
        "--output-dir",
        outDir,
        "--output",
        name,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CliError(
        "jupyter not found: sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client",
      );
    }
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trimEnd().split("\n");
    const line = stderr.filter((l) => /Error|Exception|Timeout/.test(l)).pop() ?? stderr.pop() ??
      "";
    return { seconds, error: `exit ${out.code}: ${line.trim()}` };
  }
  const nb = JSON.parse(await Deno.readTextFile(join(outDir, `${name}.ipynb`))) as NotebookJson;
  return { seconds, nb };
}

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const runs = (flags.runs as number | undefined) ?? 10;
  if (!(runs >= 1)) throw new CliError(`nb:stress: --runs must be ≥ 1, got ${runs}`);
  const outDir = (flags.out as string | undefined) ?? "checkpoints/nb_stress";
  const notebooks = positionals.length ? positionals : [...NOTEBOOKS];
  for (const nb of notebooks) {
    await Deno.stat(nb).catch(() => {
      throw new CliError(`nb:stress: no such notebook: ${nb}`);
    });
  }
  await Deno.mkdir(outDir, { recursive: true });
  const results: RunResult[] = [];
  for (const notebook of notebooks) {
    const base = notebook.split("/").pop()!.replace(/\.ipynb$/, "");
    const ref = await plainRun(notebook, outDir, `${base}.reference`);
    if (!ref.nb) throw new Error(`${notebook}: the reference run failed: ${ref.error}`);
    const reference = outputSignature(ref.nb);
    const empty = Object.entries(reference).filter(([, o]) => o.length === 0).map(([c]) => c);
    console.log(
      `${notebook}: reference run ${ref.seconds.toFixed(1)} s, ` +
        `${Object.values(reference).flat().length} outputs in ${
          Object.keys(reference).length
        } code cells` +
        (empty.length ? ` (WARNING: no output in cells ${empty.join(", ")})` : ""),
    );
    for (let k = 1; k <= runs; k++) {
      const r = await plainRun(notebook, outDir, `${base}.run${k}`);
      const lost = r.nb ? compareOutputs(reference, outputSignature(r.nb)) : [];
      const maxOutputChars = r.nb
        ? Math.max(
          0,
          ...r.nb.cells.flatMap((c) => (c.outputs ?? []).map((o) => JSON.stringify(o).length)),
        )
        : 0;
      const res: RunResult = {
        notebook,
        run: k,
        seconds: Number(r.seconds.toFixed(2)),
        ok: !!r.nb,
        lost,
        maxOutputChars,
      };
      if (r.error) res.error = r.error;
      results.push(res);
      const status = r.error
        ? `FAILED (${r.error})`
        : lost.length
        ? `LOST OUTPUTS: ${lost.join("; ")}`
        : "ok";
      console.log(
        `  run ${k}: ${status} in ${
          r.seconds.toFixed(1)
        } s, largest output ${maxOutputChars} chars`,
      );
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  const lost = results.filter((r) => r.lost.length).length;
  console.log(
    `\n${results.length} runs: ${failed} failed, ${lost} with lost or extra outputs, ` +
      `largest output ${Math.max(...results.map((r) => r.maxOutputChars))} chars`,
  );
  await atomicWriteJson(join(outDir, "summary.json"), results);
  if (failed || lost) Deno.exit(1);
}

if (import.meta.main) await runMain(main);
