/**
 * Running the notebooks headless: execute a notebook in `notebooks/` with the
 * Deno kernel through a plain `jupyter nbconvert --to notebook --execute`
 * (default environment, no extra nbconvert config), check its outputs, and
 * export a self-contained HTML page (markdown formulas rendered to MathML
 * with KaTeX at export time; the page's references to the system's MathJax
 * and require.js removed; plotly.js travels in the notebook itself, see
 * `lib/report/plots.ts`). Also: which Debian packages the notebook tests
 * need, and the Deno kernel's registration. `deno task nb:run` and the
 * test command are its entry points.
 *
 * @module
 */
import katex from "katex";
import { atomicWrite, join } from "../core/fs.ts";

/** The notebooks, in the order they are meant to be read. */
export const NOTEBOOKS: readonly string[] = [
  "notebooks/01_explore_data.ipynb",
  "notebooks/02_loss_bug.ipynb",
  "notebooks/03_train_and_evaluate.ipynb",
];

/** Where `deno task nb:run` writes executed copies and HTML by default. */
export const DEFAULT_NB_OUT = "checkpoints/notebooks";

/** A system tool the notebook tests need, and the Debian package that provides it. */
export interface MissingTool {
  /** What is missing, e.g. "jupyter nbconvert". */
  tool: string;
  /** The Debian/Ubuntu package that installs it. */
  aptPackage: string;
}

/** The Debian/Ubuntu packages the notebook tests use (the one install line names the missing ones). */
export const NOTEBOOK_APT_PACKAGES: readonly string[] = [
  "jupyter-nbconvert",
  "python3-nbclient",
  "jupyter-client",
  "python3-notebook",
  "chromium",
];

async function tryOutput(cmd: string, args: string[]): Promise<Deno.CommandOutput | null> {
  try {
    return await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Which system tools of the notebook tests are missing: `jupyter nbconvert`,
 * `nbclient` and `jupyter_client` (read from `jupyter --version`), the classic
 * Jupyter Notebook server and `chromium`. Empty when all are there.
 *
 * @example
 * ```ts ignore
 * import { findMissingTools, installLine } from "./notebook.ts";
 * const missing = await findMissingTools();
 * if (missing.length) console.log(installLine(missing));
 * ```
 */
export async function findMissingTools(
  opts: { jupyter?: string; chromium?: string } = {},
): Promise<MissingTool[]> {
  const jupyter = opts.jupyter ?? "jupyter";
  const missing: MissingTool[] = [];
  const version = await tryOutput(jupyter, ["--version"]);
  const text = version?.success ? new TextDecoder().decode(version.stdout) : "";
  const has = (pkg: string) => new RegExp(`^${pkg}\\s*:\\s*\\d`, "m").test(text);
  if (!has("nbconvert")) {
    missing.push({ tool: "jupyter nbconvert", aptPackage: "jupyter-nbconvert" });
  }
  if (!has("nbclient")) missing.push({ tool: "nbclient", aptPackage: "python3-nbclient" });
  if (!has("jupyter_client")) {
    missing.push({ tool: "jupyter_client", aptPackage: "jupyter-client" });
  }
  if (!has("notebook")) {
    missing.push({ tool: "jupyter notebook (classic server)", aptPackage: "python3-notebook" });
  }
  const chromium = await tryOutput(opts.chromium ?? "chromium", ["--version"]);
  if (!chromium?.success) missing.push({ tool: "chromium", aptPackage: "chromium" });
  return missing;
}

/**
 * Two lines for the user: what is missing, and the one command that installs it.
 *
 * @example
 * ```ts
 * import { installLine } from "./notebook.ts";
 * const line = installLine([{ tool: "chromium", aptPackage: "chromium" }]);
 * if (line !== "missing for the notebook tests: chromium\ninstall: sudo apt-get install -y chromium") {
 *   throw new Error(line);
 * }
 * ```
 */
export function installLine(missing: MissingTool[]): string {
  return `missing for the notebook tests: ${missing.map((m) => m.tool).join(", ")}\n` +
    `install: sudo apt-get install -y ${[...new Set(missing.map((m) => m.aptPackage))].join(" ")}`;
}

/**
 * Register the Deno Jupyter kernel (`deno jupyter --install`, in the user's
 * Jupyter data directory) unless `jupyter kernelspec list` already has a
 * `deno` kernel whose executable exists. Idempotent. Returns what it did.
 *
 * @example
 * ```ts ignore
 * import { ensureDenoKernel } from "./notebook.ts";
 * if (JSON.stringify(await ensureDenoKernel()) !== JSON.stringify("already registered: /root/.local/share/jupyter/kernels/deno")) throw new Error(`got ${JSON.stringify(await ensureDenoKernel())}`);
 * ```
 */
export async function ensureDenoKernel(
  opts: { jupyter?: string; deno?: string } = {},
): Promise<string> {
  const list = await tryOutput(opts.jupyter ?? "jupyter", ["kernelspec", "list", "--json"]);
  if (!list) {
    throw new NotebookRunError(installLine([{ tool: "jupyter", aptPackage: "jupyter-client" }]));
  }
  if (list.success) {
    const specs = JSON.parse(new TextDecoder().decode(list.stdout)).kernelspecs ?? {};
    const deno = specs.deno as { resource_dir: string; spec: { argv: string[] } } | undefined;
    if (deno) {
      const exe = deno.spec.argv[0];
      const ok = await tryOutput(exe, ["--version"]).catch(() => null);
      if (ok?.success) return `already registered: ${deno.resource_dir}`;
    }
  }
  const install = await tryOutput(opts.deno ?? "deno", ["jupyter", "--install", "--force"]);
  if (!install?.success) {
    throw new NotebookRunError(
      `deno jupyter --install failed: ${
        install ? new TextDecoder().decode(install.stderr) : "deno not found"
      }`,
    );
  }
  return "registered now (deno jupyter --install --force)";
}

/** One output of a code cell, as stored in an `.ipynb`. */
export interface NotebookOutput {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** MIME type → content (display outputs). */
  data?: Record<string, unknown>;
  /** Text of a stream output. */
  text?: string | string[];
  /** Stream name (`stdout`, `stderr`). */
  name?: string;
  /** Error class name (error outputs). */
  ename?: string;
  /** Error message (error outputs). */
  evalue?: string;
  /** Error traceback lines (error outputs). */
  traceback?: string[];
  /** Other nbformat fields, kept as they are. */
  [key: string]: unknown;
}

/** One cell of an `.ipynb`. */
export interface NotebookCell {
  /** Cell kind. */
  cell_type: "code" | "markdown" | "raw";
  /** Cell source, as one string or lines. */
  source: string | string[];
  /** Cell metadata. */
  metadata: Record<string, unknown>;
  /** Outputs of a code cell. */
  outputs?: NotebookOutput[];
  /** Execution counter of a code cell. */
  execution_count?: number | null;
  /** Cell id (nbformat 4.5). */
  id?: string;
}

/** The parts of an `.ipynb` (nbformat 4) this script reads. */
export interface NotebookJson {
  /** The cells, in order. */
  cells: NotebookCell[];
  /** Notebook metadata (kernel, language). */
  metadata: Record<string, unknown>;
  /** nbformat major version (4). */
  nbformat: number;
  /** nbformat minor version. */
  nbformat_minor: number;
}

/** An `error` output of an executed notebook. */
export interface NotebookError {
  /** 0-based index of the cell in the notebook. */
  cell: number;
  /** The first line of the cell's source. */
  source: string;
  /** Error class name. */
  ename: string;
  /** Error message. */
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
  /**
   * The error, with its one-line message.
   *
   * @param message What is wrong, naming the file, record, field or flag.
   */
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
 * import { notebookErrors } from "./notebook.ts";
 * const errors = notebookErrors({
 *   nbformat: 4, nbformat_minor: 5, metadata: {},
 *   cells: [{ cell_type: "code", source: "throw 1", metadata: {},
 *     outputs: [{ output_type: "error", ename: "Error", evalue: "1" }] }],
 * });
 * if (JSON.stringify(errors) !== JSON.stringify([{ cell: 0, source: "throw 1", ename: "Error", evalue: "1" }])) throw new Error(`got ${JSON.stringify(errors)}`);
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
 * What each code cell of an executed notebook shows: per code cell (by cell
 * index), one entry per output, `output_type` plus its sorted MIME types
 * (`display_data:text/html+text/plain`, `stream:stdout`).
 *
 * @example
 * ```ts
 * import { outputSignature } from "./notebook.ts";
 * const sig = outputSignature({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
 *   { cell_type: "code", source: "", metadata: {}, outputs: [
 *     { output_type: "display_data", data: { "text/plain": "x", "text/html": "<b>x</b>" } }] },
 * ] });
 * if (JSON.stringify(sig) !== JSON.stringify({ "0": ["display_data:text/html+text/plain"] })) throw new Error(`got ${JSON.stringify(sig)}`);
 * ```
 */
export function outputSignature(nb: NotebookJson): Record<number, string[]> {
  const sig: Record<number, string[]> = {};
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    sig[i] = (cell.outputs ?? []).map((o) => {
      const kinds = o.data ? Object.keys(o.data).sort() : o.name ? [o.name] : [];
      return kinds.length ? `${o.output_type}:${kinds.join("+")}` : o.output_type;
    });
  });
  return sig;
}

/**
 * How the outputs of a run differ from a reference run's (see
 * {@linkcode outputSignature}): one line per cell that differs; empty when
 * every code cell shows the same outputs.
 *
 * @example
 * ```ts
 * import { compareOutputs } from "./notebook.ts";
 * const diff = compareOutputs({ 1: ["display_data:text/plain"] }, { 1: [] });
 * if (JSON.stringify(diff) !== JSON.stringify(["cell 1: 0 outputs [] instead of 1 [display_data:text/plain]"])) {
 *   throw new Error(JSON.stringify(diff));
 * }
 * ```
 */
export function compareOutputs(
  reference: Record<number, string[]>,
  run: Record<number, string[]>,
): string[] {
  const cells = [...new Set([...Object.keys(reference), ...Object.keys(run)].map(Number))]
    .sort((a, b) => a - b);
  const diffs: string[] = [];
  for (const c of cells) {
    const r = reference[c] ?? [], o = run[c] ?? [];
    if (r.join("|") !== o.join("|")) {
      diffs.push(
        `cell ${c}: ${o.length} outputs [${o.join(", ")}] instead of ${r.length} [${r.join(", ")}]`,
      );
    }
  }
  return diffs;
}

/**
 * Why a committed notebook is not ready to commit: outputs or execution
 * counts left in, or kernel metadata other than the Deno kernel's. Empty
 * when it is clean.
 *
 * @example
 * ```ts
 * import { strippedProblems } from "./notebook.ts";
 * const problems = strippedProblems({
 *   nbformat: 4, nbformat_minor: 5,
 *   metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
 *     language_info: { name: "typescript" } },
 *   cells: [{ cell_type: "code", source: "1", metadata: {}, outputs: [], execution_count: 3 }],
 * });
 * if (JSON.stringify(problems) !== JSON.stringify(["cell 0: execution_count is 3, expected null"])) throw new Error(`got ${JSON.stringify(problems)}`);
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
        `${cmd} not found: install Jupyter's nbconvert and nbclient: ` +
          "sudo apt-get install -y jupyter-nbconvert python3-nbclient jupyter-client",
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
 * import { executeNotebook } from "./notebook.ts";
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
    "--to",
    "notebook",
    "--execute",
    "--allow-errors",
    notebook,
    "--output-dir",
    outDir,
    `--ExecutePreprocessor.timeout=${opts.cellTimeout ?? 600}`,
  ]);
  const seconds = (performance.now() - t0) / 1000;
  if (exec.code !== 0) {
    const hint = /No such kernel|Kernelspec name deno/i.test(exec.stderr)
      ? "\n(the Deno kernel is not installed: run `deno jupyter --install`)"
      : /No module named '?nbclient/.test(exec.stderr)
      ? `\n(${installLine([{ tool: "nbclient", aptPackage: "python3-nbclient" }])})`
      : /Invalid Signature/.test(exec.stderr)
      ? "\n(the Deno kernel sent a corrupt IOPub message; it does so with outputs of " +
        "several MB: keep each output well under 1 MB, see docs/deno_kernel_outputs.md)"
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
    // Export a copy whose markdown formulas are rendered (MathML), then make the page offline.
    const mathCopy = executed.replace(/\.ipynb$/, ".math.ipynb");
    await atomicWrite(mathCopy, JSON.stringify(renderNotebookMath(json), null, 1) + "\n");
    const out = executed.replace(/\.ipynb$/, "");
    const html = await run(jupyter, [
      "nbconvert",
      "--to",
      "html",
      mathCopy,
      "--output-dir",
      outDir,
      "--output",
      out.split("/").pop()!,
    ]);
    await Deno.remove(mathCopy).catch(() => {});
    if (html.code !== 0) {
      throw new NotebookRunError(
        `${executed}: jupyter nbconvert --to html exited with code ${html.code}\n` +
          tail(html.stderr),
      );
    }
    result.html = `${out}.html`;
    await atomicWrite(result.html, offlinePage(await Deno.readTextFile(result.html)));
  }
  return result;
}

/**
 * Render the TeX formulas of a markdown text (`$…$` inline, `$$…$$` display;
 * not inside code spans, not an escaped `\$`) to MathML with KaTeX, so that
 * they show without MathJax or any network access. The MathML carries no TeX
 * annotation (markdown would mangle its `_` and `*`). A formula KaTeX cannot
 * parse throws, naming it.
 *
 * @example
 * ```ts
 * import { renderMarkdownMath } from "./notebook.ts";
 * const html = renderMarkdownMath("with $w = 0$, `$x$` stays");
 * if (JSON.stringify([html.includes("<math"), html.includes("`$x$`")]) !== JSON.stringify([true, true])) throw new Error(`got ${JSON.stringify([html.includes("<math"), html.includes("`$x$`")])}`);
 * ```
 */
export function renderMarkdownMath(markdown: string): string {
  const render = (tex: string, displayMode: boolean) => {
    try {
      return katex.renderToString(tex, { output: "mathml", displayMode, throwOnError: true })
        .replace(/<annotation\b[^>]*>[\s\S]*?<\/annotation>/g, "");
    } catch (err) {
      throw new Error(`cannot render the formula $${tex}$: ${(err as Error).message}`);
    }
  };
  return markdown.split(/(`+[\s\S]*?`+)/).map((part, i) => {
    if (i % 2 === 1) return part; // a code span
    return part
      .replace(/(?<!\\)\$\$([\s\S]+?)\$\$/g, (_m, tex: string) => render(tex.trim(), true))
      .replace(
        /(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)/g,
        (_m, tex: string) => render(tex, false),
      );
  }).join("");
}

/**
 * A copy of a notebook with the formulas of its markdown cells rendered by
 * {@linkcode renderMarkdownMath} (the input is not changed).
 *
 * @example
 * ```ts
 * import { renderNotebookMath } from "./notebook.ts";
 * const nb = renderNotebookMath({ nbformat: 4, nbformat_minor: 5, metadata: {},
 *   cells: [{ cell_type: "markdown", source: "$x^2$", metadata: {} }] });
 * if (JSON.stringify(String(nb.cells[0].source).startsWith('<span class="katex">')) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(String(nb.cells[0].source).startsWith('<span class="katex">'))}`);
 * ```
 */
export function renderNotebookMath(nb: NotebookJson): NotebookJson {
  return {
    ...nb,
    cells: nb.cells.map((cell) =>
      cell.cell_type === "markdown"
        ? { ...cell, source: renderMarkdownMath(sourceText(cell)) }
        : cell
    ),
  };
}

/**
 * Make an nbconvert HTML page self-contained: drop its `<script src=…>`
 * elements (the system's require.js and MathJax, which exist only on the
 * machine that exported it and which the page does not need: formulas are
 * MathML, plotly.js is inlined in the notebook's first figure).
 *
 * @example
 * ```ts
 * import { offlinePage } from "./notebook.ts";
 * const page = offlinePage('<head><script src="file:///usr/share/javascript/mathjax/MathJax.js"></script></head>');
 * if (JSON.stringify(page.includes("<script src")) !== JSON.stringify(false)) throw new Error(`got ${JSON.stringify(page.includes("<script src"))}`);
 * ```
 */
export function offlinePage(html: string): string {
  return html.replace(/<script\b[^>]*\bsrc\s*=[^>]*>\s*<\/script>\s*/gi, "");
}

/**
 * A readable report of the cell errors of some runs ("" when there are none).
 *
 * @example
 * ```ts
 * import { formatErrors } from "./notebook.ts";
 * if (JSON.stringify(formatErrors([]) === "") !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(formatErrors([]) === "")}`);
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
