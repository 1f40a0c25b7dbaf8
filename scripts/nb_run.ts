/**
 * `deno task nb:run [NOTEBOOK...] [--out checkpoints/notebooks] [--no-html]`:
 * execute the notebooks in `notebooks/` headless with the Deno kernel
 * (`jupyter nbconvert --to notebook --execute`), writing executed copies and
 * HTML exports to `--out`. Exits non-zero, naming the notebook, the cell and
 * the error, when any cell raised.
 *
 * `scripts/nbconvert_deno_config.py` is passed to nbconvert: it makes
 * nbclient keep reading a cell's IOPub messages after the kernel's `idle`
 * status, because Deno's kernel can publish outputs after it (nbclient would
 * drop them).
 *
 * The kernel runs with `PLOTLY_INLINE=never`, so no output carries plotly.js
 * (10 MB): Deno's kernel can corrupt IOPub messages that large, and nbclient
 * then aborts with "Invalid Signature". Plotly.js is put once into the `<head>`
 * of each exported HTML page instead, which keeps the pages offline.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { atomicWrite, atomicWriteJson, join } from "../lib/fs.ts";
import { PLOTLY_INLINE_ENV, plotlyScriptTag } from "../lib/plots.ts";
import { requirePermissions } from "../lib/permissions.ts";

/** The notebooks, in the order they are meant to be read. */
export const NOTEBOOKS: readonly string[] = [
  "notebooks/01_explore_data.ipynb",
  "notebooks/02_loss_bug.ipynb",
  "notebooks/03_train_and_evaluate.ipynb",
];

/** Where `deno task nb:run` writes executed copies and HTML by default. */
export const DEFAULT_NB_OUT = "checkpoints/notebooks";

/** The nbconvert config file that tolerates late IOPub messages (next to this script). */
export const NBCONVERT_CONFIG: string = decodeURIComponent(
  new URL("./nbconvert_deno_config.py", import.meta.url).pathname,
);

/** One output of a code cell, as stored in an `.ipynb`. */
export interface NotebookOutput {
  output_type: string;
  data?: Record<string, unknown>;
  text?: string | string[];
  name?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  [key: string]: unknown;
}

/** One cell of an `.ipynb`. */
export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: Record<string, unknown>;
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  id?: string;
}

/** The parts of an `.ipynb` (nbformat 4) this script reads. */
export interface NotebookJson {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** An `error` output of an executed notebook. */
export interface NotebookError {
  /** 0-based index of the cell in the notebook. */
  cell: number;
  /** The first line of the cell's source. */
  source: string;
  ename: string;
  evalue: string;
}

/** Outcome of {@linkcode executeNotebook}. */
export interface NotebookRun {
  /** The source notebook. */
  notebook: string;
  /** The executed copy. */
  executed: string;
  /** The HTML export, when requested. */
  html?: string;
  /** Wall time of the execution (without the HTML export), in seconds. */
  seconds: number;
  /** Every `error` output of the executed copy (empty when all cells ran). */
  errors: NotebookError[];
  /** The executed notebook. */
  json: NotebookJson;
}

/** Options of {@linkcode executeNotebook}. */
export interface ExecuteOptions {
  /** Output folder for the executed copy and the HTML (created by nbconvert). */
  outDir?: string;
  /** Also export the executed copy to HTML (default true). */
  html?: boolean;
  /** Per-cell timeout in seconds (default 600). */
  cellTimeout?: number;
  /** The `jupyter` executable (default "jupyter"). */
  jupyter?: string;
}

/** nbconvert itself failed (not a cell error): missing kernel, timeout, crash. */
export class NotebookRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotebookRunError";
  }
}

/** The source of a cell as one string. */
function sourceText(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/**
 * Every output with `output_type: "error"` in a notebook, with its cell.
 *
 * @example
 * ```ts
 * import { notebookErrors } from "./nb_run.ts";
 * const errors = notebookErrors({
 *   nbformat: 4, nbformat_minor: 5, metadata: {},
 *   cells: [{ cell_type: "code", source: "throw 1", metadata: {},
 *     outputs: [{ output_type: "error", ename: "Error", evalue: "1" }] }],
 * });
 * console.log(errors); // [{ cell: 0, source: "throw 1", ename: "Error", evalue: "1" }]
 * ```
 */
export function notebookErrors(nb: NotebookJson): NotebookError[] {
  const out: NotebookError[] = [];
  nb.cells.forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      if (o.output_type !== "error") continue;
      out.push({
        cell: i,
        source: sourceText(cell).split("\n")[0],
        ename: String(o.ename ?? "Error"),
        evalue: String(o.evalue ?? ""),
      });
    }
  });
  return out;
}

/**
 * Why a committed notebook is not ready to commit: outputs or execution
 * counts left in, or kernel metadata other than the Deno kernel's. Empty
 * when it is clean.
 *
 * @example
 * ```ts
 * import { strippedProblems } from "./nb_run.ts";
 * const problems = strippedProblems({
 *   nbformat: 4, nbformat_minor: 5,
 *   metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
 *     language_info: { name: "typescript" } },
 *   cells: [{ cell_type: "code", source: "1", metadata: {}, outputs: [], execution_count: 3 }],
 * });
 * console.log(problems); // ["cell 0: execution_count is 3, expected null"]
 * ```
 */
export function strippedProblems(nb: NotebookJson): string[] {
  const problems: string[] = [];
  const ks = nb.metadata.kernelspec as Record<string, unknown> | undefined;
  if (ks?.name !== "deno" || ks?.display_name !== "Deno" || ks?.language !== "typescript") {
    problems.push(`metadata.kernelspec is ${JSON.stringify(ks)}, expected the Deno kernel`);
  }
  const li = nb.metadata.language_info as Record<string, unknown> | undefined;
  if (li?.name !== "typescript") {
    problems.push(`metadata.language_info.name is ${JSON.stringify(li?.name)}, not typescript`);
  }
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    if (!Array.isArray(cell.outputs) || cell.outputs.length) {
      problems.push(`cell ${i}: has ${cell.outputs?.length ?? "no"} outputs, expected []`);
    }
    if (cell.execution_count !== null) {
      problems.push(`cell ${i}: execution_count is ${cell.execution_count}, expected null`);
    }
  });
  return problems;
}

async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  let out;
  try {
    out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new NotebookRunError(
        `${cmd} not found: install Jupyter (apt-get install -y jupyter-nbconvert ` +
          `python3-nbclient jupyter-client, or pip install jupyterlab), then run ` +
          "`deno jupyter --install`",
      );
    }
    throw err;
  }
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Execute one notebook headless with nbconvert (cells run with the kernel's
 * working directory set to the notebook's folder) and parse the executed
 * copy. Cell errors do not stop nbconvert (`--allow-errors`): they are
 * returned in `errors`, so that the caller can report all of them.
 *
 * @example
 * ```ts ignore
 * import { executeNotebook } from "./nb_run.ts";
 * const run = await executeNotebook("notebooks/02_loss_bug.ipynb", { outDir: "/tmp/nb" });
 * console.log(run.seconds, run.errors.length);
 * ```
 */
export async function executeNotebook(
  notebook: string,
  opts: ExecuteOptions = {},
): Promise<NotebookRun> {
  const outDir = opts.outDir ?? DEFAULT_NB_OUT;
  const jupyter = opts.jupyter ?? "jupyter";
  const name = notebook.split("/").pop()!;
  const executed = join(outDir, name);
  const t0 = performance.now();
  const exec = await run(jupyter, [
    "nbconvert",
    "--config",
    NBCONVERT_CONFIG,
    "--to",
    "notebook",
    "--execute",
    "--allow-errors",
    notebook,
    "--output-dir",
    outDir,
    `--ExecutePreprocessor.timeout=${opts.cellTimeout ?? 600}`,
  ], { [PLOTLY_INLINE_ENV]: "never" });
  const seconds = (performance.now() - t0) / 1000;
  if (exec.code !== 0) {
    const hint = /No such kernel|Kernelspec name deno/i.test(exec.stderr)
      ? "\n(the Deno kernel is not installed: run `deno jupyter --install`)"
      : /Invalid Signature/.test(exec.stderr)
      ? "\n(the Deno kernel sent a corrupt IOPub message; it does so with outputs of " +
        "several MB: keep each cell's output small)"
      : "";
    throw new NotebookRunError(
      `${notebook}: jupyter nbconvert --execute exited with code ${exec.code}${hint}\n` +
        tail(exec.stderr),
    );
  }
  let json: NotebookJson;
  try {
    json = JSON.parse(await Deno.readTextFile(executed));
  } catch (err) {
    throw new NotebookRunError(
      `${notebook}: cannot read the executed copy ${executed}: ${(err as Error).message}`,
    );
  }
  const result: NotebookRun = {
    notebook,
    executed,
    seconds,
    errors: notebookErrors(json),
    json,
  };
  if (opts.html ?? true) {
    const html = await run(jupyter, [
      "nbconvert",
      "--to",
      "html",
      executed,
      "--output-dir",
      outDir,
    ]);
    if (html.code !== 0) {
      throw new NotebookRunError(
        `${executed}: jupyter nbconvert --to html exited with code ${html.code}\n` +
          tail(html.stderr),
      );
    }
    result.html = executed.replace(/\.ipynb$/, ".html");
    await inlinePlotlyInHtml(result.html);
  }
  return result;
}

/**
 * Put plotly.js (inlined, from the pinned npm package) once into the `<head>`
 * of an exported notebook page, so that the figures' `text/html` fallbacks
 * (written with `inlinePlotly: "never"`) draw offline. Idempotent.
 *
 * @example
 * ```ts ignore
 * import { inlinePlotlyInHtml } from "./nb_run.ts";
 * await inlinePlotlyInHtml("checkpoints/notebooks/02_loss_bug.html");
 * ```
 */
export async function inlinePlotlyInHtml(path: string): Promise<void> {
  const page = await Deno.readTextFile(path);
  if (page.includes(PLOTLY_MARKER)) return;
  const at = page.search(/<\/head>/i);
  if (at < 0) throw new NotebookRunError(`${path}: no </head> to put plotly.js before`);
  const script = `<!-- ${PLOTLY_MARKER} -->\n${plotlyScriptTag()}\n`;
  await atomicWrite(path, page.slice(0, at) + script + page.slice(at));
}

const PLOTLY_MARKER = "plotly.js inlined by nb_run";

/**
 * A readable report of the cell errors of some runs ("" when there are none).
 *
 * @example
 * ```ts
 * import { formatErrors } from "./nb_run.ts";
 * console.log(formatErrors([]) === ""); // true
 * ```
 */
export function formatErrors(
  runs: Pick<NotebookRun, "notebook" | "executed" | "errors">[],
): string {
  return runs.filter((r) => r.errors.length).map((r) =>
    `${r.notebook} (executed copy: ${r.executed}):\n` +
    r.errors.map((e) => `  cell ${e.cell} [${e.source}]: ${e.ename}: ${e.evalue}`).join("\n")
  ).join("\n");
}

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
