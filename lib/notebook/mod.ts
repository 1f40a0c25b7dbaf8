/**
 * Running the project's `deno jupyter` notebooks headless and checking what
 * they produce: execution through nbconvert with the Deno kernel, cell
 * errors, output signatures (for repeated runs), stripped-notebook checks,
 * self-contained HTML export, and the set-up the notebook tests need.
 *
 * @example
 * ```ts
 * import { type NotebookJson, notebookErrors } from "./mod.ts";
 * const nb: NotebookJson = {
 *   metadata: {},
 *   nbformat: 4,
 *   nbformat_minor: 5,
 *   cells: [{ cell_type: "code", metadata: {}, source: "1/0", outputs: [{ output_type: "error", ename: "Error", evalue: "boom", traceback: [] }] }],
 * };
 * const errors = notebookErrors(nb);
 * if (errors.length !== 1 || errors[0].evalue !== "boom") throw new Error(JSON.stringify(errors));
 * ```
 *
 * @module
 */

export {
  compareOutputs,
  DEFAULT_NB_OUT,
  ensureDenoKernel,
  executeNotebook,
  type ExecuteOptions,
  findMissingTools,
  formatErrors,
  installLine,
  type MissingTool,
  NOTEBOOK_APT_PACKAGES,
  type NotebookCell,
  type NotebookError,
  notebookErrors,
  type NotebookJson,
  type NotebookOutput,
  type NotebookRun,
  NotebookRunError,
  NOTEBOOKS,
  offlinePage,
  outputSignature,
  renderMarkdownMath,
  renderNotebookMath,
  strippedProblems,
} from "./notebook.ts";
