/**
 * The notebooks: committed stripped; executing headless with the Deno kernel
 * through a plain `jupyter nbconvert --execute` without errors or lost
 * outputs, each with a plotly output; exported to offline HTML pages of at
 * most 4 MB whose figures and formulas render in headless Chromium; and run
 * cell by cell in a real browser (classic Jupyter Notebook server + headless
 * Chromium driven through the DevTools protocol by puppeteer-core), with every
 * figure drawn and a screenshot per notebook in `checkpoints/notebooks_browser/`.
 * Notebook 02's conclusion quotes the numbers its cells computed.
 *
 * Needs the system tools of `NOTEBOOK_APT_PACKAGES` (a missing one fails the
 * tests with the one install line); registers the Deno kernel itself.
 */
import puppeteer, { type Browser } from "puppeteer-core";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { readMetrics } from "../lib/run/checkpoint.ts";
import {
  compareOutputs,
  ensureDenoKernel,
  executeNotebook,
  findMissingTools,
  formatErrors,
  installLine,
  type NotebookJson,
  type NotebookOutput,
  type NotebookRun,
  NOTEBOOKS,
  offlinePage,
  outputSignature,
  renderMarkdownMath,
  strippedProblems,
} from "../lib/notebook/notebook.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const MAX_PAGE_BYTES = 4_000_000;
const SCREENSHOTS = "checkpoints/notebooks_browser";
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Browser-side: how many figure divs contain a drawn plotly SVG. */
const DRAWN_FIGURES =
  `[...document.querySelectorAll(".plotly-figure")].filter((d) => d.querySelector(".main-svg")).length`;

/** Browser-side (classic Notebook): every code cell has its execution count and the kernel is idle. */
const ALL_EXECUTED = `(() => {
  const code = Jupyter.notebook.get_cells().filter((c) => c.cell_type === "code");
  return code.every((c) => typeof c.input_prompt_number === "number") &&
    document.querySelector("#kernel_indicator_icon.kernel_idle_icon, #kernel_indicator_icon.kernel_idle") !== null;
})()`;

/** Browser-side (classic Notebook): per code cell, its output count, errors and plotly outputs. */
const CELL_OUTPUTS = `Jupyter.notebook.get_cells().map((c, index) => ({
  index,
  type: c.cell_type,
  prompt: c.input_prompt_number,
  outputs: c.output_area ? c.output_area.outputs.length : 0,
  errors: (c.output_area ? c.output_area.outputs : [])
    .filter((o) => o.output_type === "error").map((o) => o.ename + ": " + o.evalue),
  plots: (c.output_area ? c.output_area.outputs : [])
    .filter((o) => o.data && o.data["application/vnd.plotly.v1+json"]).length,
})).filter((c) => c.type === "code")`;

const missing = await findMissingTools();

/** Fail with the install line only: no stack trace for a missing system tool. */
function requireTools(...packages: string[]): void {
  const m = missing.filter((t) => packages.includes(t.aptPackage));
  if (m.length === 0) return;
  const err = new Error(installLine(m));
  err.stack = `Error: ${err.message}`;
  throw err;
}

function outputs(nb: NotebookJson): NotebookOutput[] {
  return nb.cells.flatMap((c) => c.outputs ?? []);
}

function text(v: unknown): string {
  return Array.isArray(v) ? v.join("") : String(v ?? "");
}

/** The `values` of the application/json output with this `key` (see notebook 02's keyNumbers). */
function keyNumbers(nb: NotebookJson, key: string): Record<string, unknown> {
  for (const o of outputs(nb)) {
    const j = o.data?.["application/json"] as { key?: string; values?: Record<string, unknown> };
    if (j?.key === key && j.values) return j.values;
  }
  throw new Error(`no application/json output with key "${key}"`);
}

async function launchBrowser(profile: string): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    args: CHROMIUM_ARGS,
  });
}

Deno.test("committed notebooks have stripped outputs and the Deno kernelspec", async () => {
  for (const path of NOTEBOOKS) {
    const nb = JSON.parse(await Deno.readTextFile(path)) as NotebookJson;
    assertEquals(strippedProblems(nb), [], path);
    assert(nb.cells.some((c) => c.cell_type === "code"), `${path}: no code cell`);
    const first = nb.cells.find((c) => c.cell_type === "code")!;
    assertStringIncludes(text(first.source), `from "../lib/mod.ts"`, `${path}: first code cell`);
    assertStringIncludes(text(first.source), "Deno.chdir(", `${path}: first code cell`);
  }
});

Deno.test("notebook cells publish outputs with await show(...), never as their last expression", async () => {
  // Deno's kernel sends a last expression's execute_result without waiting for it: clients that
  // stop at the cell's idle status (nbconvert) lose it (docs/deno_kernel_outputs.md).
  for (const path of NOTEBOOKS) {
    const nb = JSON.parse(await Deno.readTextFile(path)) as NotebookJson;
    nb.cells.forEach((c, i) => {
      if (c.cell_type !== "code") return;
      // A top-level expression statement that builds an output: the cell's completion value.
      const bare = text(c.source).match(/^(md|displayPlot)\(.*$/m);
      assert(!bare, `${path} cell ${i}: a bare expression to display: ${bare?.[0]}`);
    });
  }
});

Deno.test("renderMarkdownMath: formulas to MathML, code spans and prices left alone", () => {
  const md = "share $e^{\\ell}/(e^{\\ell} + 1)$ and `$x$`, costs 5$ or $3\n\n$$\\ell_i = -s_{ii}$$";
  const html = renderMarkdownMath(md);
  assertEquals(html.match(/<math /g)?.length, 2);
  assertStringIncludes(html, 'display="block"');
  assertStringIncludes(html, "`$x$`");
  assertStringIncludes(html, "costs 5$ or $3");
  assert(!html.includes("annotation"), "no TeX annotation (markdown would mangle it)");
});

Deno.test("offlinePage drops script src references; compareOutputs names the cell", () => {
  const page = offlinePage(
    '<head><script src="file:///usr/share/javascript/requirejs/require.min.js"></script>' +
      "<script>var x = 1;</script></head>",
  );
  assertEquals(page, "<head><script>var x = 1;</script></head>");
  assertEquals(
    compareOutputs({ 1: ["display_data:text/plain"] }, { 1: ["display_data:text/plain"] }),
    [],
  );
  assertEquals(compareOutputs({ 1: ["display_data:text/plain"] }, { 1: [] }), [
    "cell 1: 0 outputs [] instead of 1 [display_data:text/plain]",
  ]);
});

Deno.test("notebooks execute headless with plain nbconvert and the Deno kernel", async (t) => {
  requireTools("jupyter-nbconvert", "python3-nbclient", "jupyter-client");
  await ensureDenoKernel();
  const outDir = await Deno.makeTempDir({ prefix: "notebooks_test_" });
  const runs = new Map<string, NotebookRun>();
  try {
    for (const path of NOTEBOOKS) runs.set(path, await executeNotebook(path, { outDir }));

    await t.step("no cell raised", () => {
      assertEquals(formatErrors([...runs.values()]), "");
    });

    await t.step("every code cell has an output, each notebook a plotly one; HTML exported", () => {
      for (const [path, run] of runs) {
        const sig = outputSignature(run.json);
        for (const [cell, outs] of Object.entries(sig)) {
          assert(outs.length > 0, `${path}: code cell ${cell} has no output`);
        }
        assert(outputs(run.json).some((o) => o.data?.[PLOTLY]), `${path}: no ${PLOTLY} output`);
        // Every output goes through showOutput: none is a cell's (unawaited) execute_result.
        assertEquals(outputs(run.json).filter((o) => o.output_type === "execute_result"), []);
        assert(run.html && Deno.statSync(run.html).size > 0, `${path}: no HTML export`);
      }
    });

    await t.step("every output stays far below the size Deno's kernel mishandles (~2 MB)", () => {
      for (const [path, run] of runs) {
        for (const o of outputs(run.json)) {
          const size = JSON.stringify(o).length;
          assert(size < 1_000_000, `${path}: an output of ${size} characters`);
        }
      }
    });

    await t.step("HTML pages: ≤ 4 MB, offline, formulas rendered, every figure drawn", async () => {
      requireTools("chromium");
      const profile = await Deno.makeTempDir({ prefix: "notebooks_chromium_" });
      const browser = await launchBrowser(profile);
      try {
        for (const [path, run] of runs) {
          const page = await Deno.readTextFile(run.html!);
          const bytes = new TextEncoder().encode(page).length;
          console.log(`${run.html}: ${(bytes / 1e6).toFixed(2)} MB`);
          assert(bytes <= MAX_PAGE_BYTES, `${path}: HTML page of ${bytes} bytes`);
          assert(!/<script\b[^>]*\bsrc\s*=/i.test(page), `${path}: a <script src=…>`);
          assert(
            !/<link\b[^>]*\bhref\s*=\s*["']?(https?:|file:|\/\/)/i.test(page),
            `${path}: a <link>`,
          );
          assert(
            !/\$\\[a-z]+/.test(page.replace(/<script[\s\S]*?<\/script>/g, "")),
            "raw TeX left",
          );
          if (path.includes("02_")) assert(page.includes("<math "), `${path}: no MathML`);
          const plots = outputs(run.json).filter((o) => o.data?.[PLOTLY]).length;
          const tab = await browser.newPage();
          const requests: string[] = [];
          tab.on("request", (r) => {
            if (!/^(file|data|blob):/.test(r.url())) requests.push(r.url());
          });
          await tab.goto(`file://${await Deno.realPath(run.html!)}`);
          await tab.waitForFunction(`${DRAWN_FIGURES} >= ${plots}`, { timeout: 60_000 })
            .catch(() => {});
          const drawn = await tab.evaluate(DRAWN_FIGURES) as number;
          assertEquals(drawn, plots, `${path}: every plotly output is drawn in the HTML page`);
          assertEquals(requests, [], `${path}: network requests`);
          await tab.close();
        }
      } finally {
        await browser.close();
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      }
    });

    await t.step("03's comparison: table, one line per method, conclusion from the rows", () => {
      const nb = runs.get("notebooks/03_train_and_evaluate.ipynb")!.json;
      const cell = nb.cells.find((c) => c.id === "compare");
      assert(cell, "no cell with id compare");
      const mds = (cell.outputs ?? []).map((o) => text(o.data?.["text/markdown"]));
      const table = mds.find((m) => m.startsWith("| method"));
      assert(table, "no comparison table");
      // | method | dim | storage | R@1 | R@10 | MRR@10 | nDCG@10 | bytes/vector | ms/query |
      const rows = table.split("\n").slice(2).map((l) =>
        l.split("|").slice(1, -1).map((c) => c.trim())
      );
      assertEquals([...new Set(rows.map((r) => r[0]))], ["base", "pca", "head"]);
      const fig = (cell.outputs ?? []).find((o) => o.data?.[PLOTLY])?.data?.[PLOTLY] as {
        data: { name: string; x: number[]; y: number[] }[];
      };
      assert(fig, "no comparison figure");
      assertEquals(fig.data.map((d) => d.name), ["base", "pca", "head"]);
      for (const d of fig.data) {
        const own = rows.filter((r) => r[0] === d.name);
        assertEquals(d.x.length, own.length);
        // every point is a row of the table: (bytes/vector, MRR@10)
        for (let i = 0; i < d.x.length; i++) {
          assert(
            own.some((r) => Number(r[7]) === d.x[i] && r[5] === d.y[i].toFixed(4)),
            `${d.name}: point (${d.x[i]}, ${d.y[i]}) is not in the table`,
          );
        }
      }
      const conclusion = mds.find((m) => m.includes("The best head row"));
      assert(conclusion, "no conclusion");
      const best = rows.filter((r) => r[0] === "head")
        .reduce((a, b) => Number(b[5]) > Number(a[5]) ? b : a);
      const base = rows.find((r) => r[0] === "base" && r[2] === "fp32")!;
      assertStringIncludes(conclusion, `has mrr@10 ${best[5]}`);
      assertStringIncludes(conclusion, `base-1024 fp32 (${base[5]}, 4096 bytes/vector)`);
    });

    await t.step("02's conclusion quotes the numbers computed above it", async () => {
      const nb = runs.get("notebooks/02_loss_bug.ipynb")!.json;
      const idx = nb.cells.findIndex((c) =>
        (c.metadata.tags as string[] | undefined)?.includes("conclusion")
      );
      assert(idx >= 0, "no cell tagged conclusion");
      const conclusion = (nb.cells[idx].outputs ?? [])
        .map((o) => text(o.data?.["text/markdown"])).join("\n");
      assert(conclusion.length > 0, "the conclusion cell shows no markdown");

      type Summary = {
        diverged: string | null;
        epochs: number;
        epoch0ValLoss: number;
        finalValLoss: number;
        finalMrr10: number;
        bestMrr10: number;
      };
      const training = keyNumbers(nb, "loss_bug.training") as {
        baseMrr10: number;
        exp: Summary;
        logit: Summary;
      };
      for (const name of ["exp", "logit"] as const) {
        const s = training[name];
        for (const key of ["finalValLoss", "finalMrr10", "bestMrr10", "epoch0ValLoss"] as const) {
          assertStringIncludes(conclusion, s[key].toFixed(4), `${name}.${key}`);
        }
        // The key numbers are those of the run on disk.
        const history = await readMetrics(`checkpoints/notebooks/02_loss_bug/${name}`);
        const last = history[history.length - 1];
        assertEquals(last.valLoss, s.finalValLoss, `${name}: final val loss vs metrics.jsonl`);
        assertEquals(last.metrics?.["mrr@10"], s.finalMrr10, `${name}: final MRR@10`);
      }
      assertStringIncludes(conclusion, training.baseMrr10.toFixed(4), "base MRR@10");
      if (training.exp.diverged === null && training.logit.diverged === null) {
        assertStringIncludes(conclusion, "does not make training diverge");
      } else {
        assertStringIncludes(conclusion, "diverged");
      }

      const shares = keyNumbers(nb, "loss_bug.shares") as {
        medianNegative: number;
        points: { s: number; w: number; exp: number; logit: number }[];
      };
      const at = (s: number, w: number) => shares.points.find((p) => p.s === s && p.w === w)!;
      for (const s of [-0.2, shares.medianNegative]) {
        for (const w of [1, 2.5]) {
          const p = at(s, w);
          assert(p, `no share at s=${s}, w=${w}`);
          assertStringIncludes(conclusion, p.exp.toExponential(2), `exp share s=${s} w=${w}`);
          assertStringIncludes(conclusion, p.logit.toExponential(2), `logit share s=${s} w=${w}`);
        }
      }
      assertStringIncludes(conclusion, at(-0.2, 0).logit.toExponential(2), "logit share at w=0");
      assertEquals(at(-0.2, 0).exp, 0, "exp removes a w = 0 negative");

      const effects = keyNumbers(nb, "loss_bug.effects") as {
        fractionBelowZero: Record<string, number | null>;
      };
      for (const [name, f] of Object.entries(effects.fractionBelowZero)) {
        if (f !== null) assertStringIncludes(conclusion, `${(100 * f).toFixed(1)} %`, name);
      }
    });
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

/** A free localhost TCP port. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Start Debian's classic Jupyter Notebook server on localhost with a token; wait until it answers. */
async function startNotebookServer(root: string) {
  const port = freePort();
  const token = crypto.randomUUID().replaceAll("-", "");
  const proc = new Deno.Command("jupyter", {
    args: [
      "notebook",
      "--no-browser",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--port-retries=0",
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${root}`,
      // CI containers run as root, which the server refuses without this flag.
      ...(Deno.uid() === 0 ? ["--allow-root"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log: string[] = [];
  const drain = (s: ReadableStream<Uint8Array>) =>
    s.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void log.push(chunk) }),
    ).catch(() => {});
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]);
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      proc.kill("SIGTERM");
    } catch {
      // already gone
    }
    await proc.status;
    await drained;
  };
  for (let i = 0; i < 120; i++) {
    try {
      const r = await fetch(`${base}/api/status?token=${token}`);
      await r.body?.cancel();
      if (r.ok) return { base, token, stop, log };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`jupyter notebook did not start on port ${port}:\n${log.join("").slice(-3000)}`);
}

Deno.test({
  name: "notebooks run in a real browser: classic Jupyter Notebook + headless Chromium",
  // The server's sockets, Chromium's pipes and puppeteer's timers outlive single steps.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    requireTools("python3-notebook", "jupyter-client", "chromium");
    await ensureDenoKernel();
    // Copies next to the screenshots (the committed notebooks are never opened for writing, so
    // the server cannot autosave outputs into them); their import is re-pointed at the library.
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    for (const path of NOTEBOOKS) {
      const src = await Deno.readTextFile(path);
      await Deno.writeTextFile(
        `${SCREENSHOTS}/${path.split("/").pop()}`,
        src.replaceAll('\\"../lib/mod.ts\\"', '\\"../../lib/mod.ts\\"'),
      );
    }
    const server = await startNotebookServer(Deno.cwd());
    const profile = await Deno.makeTempDir({ prefix: "notebooks_browser_" });
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser(profile);
      const failures: string[] = [];
      for (const path of NOTEBOOKS) {
        const name = path.split("/").pop()!;
        const tab = await browser.newPage();
        await tab.setViewport({ width: 1280, height: 900 });
        const pageErrors: string[] = [];
        tab.on("pageerror", (e) => pageErrors.push(String(e)));
        const t0 = performance.now();
        await tab.goto(`${server.base}/notebooks/${SCREENSHOTS}/${name}?token=${server.token}`);
        await tab.waitForFunction(
          `window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded && ` +
            `Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`,
          { timeout: 60_000 },
        );
        await tab.evaluate(
          `Jupyter.notebook.set_autosave_interval(0); Jupyter.notebook.execute_all_cells();`,
        );
        const finished = await tab.waitForFunction(ALL_EXECUTED, { timeout: 180_000, polling: 500 })
          .then(() => true, () => false);
        type CellInfo = {
          index: number;
          prompt: unknown;
          outputs: number;
          errors: string[];
          plots: number;
        };
        const cells = await tab.evaluate(CELL_OUTPUTS) as CellInfo[];
        if (!finished) {
          failures.push(
            `${name}: not all cells ran within 180 s: prompts ` +
              cells.map((c) => `${c.index}:${c.prompt}`).join(" "),
          );
        }
        const plots = cells.reduce((s, c) => s + c.plots, 0);
        for (const c of cells) {
          for (const e of c.errors) failures.push(`${name} cell ${c.index}: ${e}`);
          if (c.outputs === 0) failures.push(`${name} cell ${c.index}: no output`);
        }
        if (plots === 0) failures.push(`${name}: no plotly output`);
        await tab.waitForFunction(`${DRAWN_FIGURES} >= ${plots}`, { timeout: 30_000 })
          .catch(() => {});
        const drawn = await tab.evaluate(DRAWN_FIGURES) as number;
        if (drawn !== plots) failures.push(`${name}: ${drawn} of ${plots} figures drawn (SVG)`);
        // The page scrolls inside #site: let it grow, and make the viewport as tall as the notebook,
        // so that the screenshot shows all of it.
        await tab.addStyleTag({
          content: "#site { height: auto !important; overflow: visible !important; }" +
            " body { overflow: visible !important; height: auto !important; }",
        });
        const height = await tab.evaluate(
          `Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)`,
        ) as number;
        await tab.setViewport({ width: 1280, height: Math.min(Math.max(height, 900), 16_000) });
        const png = `${SCREENSHOTS}/${name.replace(/\.ipynb$/, ".png")}`;
        await tab.screenshot({ path: png, fullPage: true });
        const seconds = ((performance.now() - t0) / 1000).toFixed(1);
        console.log(
          `${name}: ${cells.length} code cells, ${drawn}/${plots} figures drawn, ` +
            `${pageErrors.length} page errors, ${seconds} s; screenshot ${png}`,
        );
        if (pageErrors.length) {
          console.log(`  page errors: ${pageErrors.join(" | ").slice(0, 500)}`);
        }
        await tab.evaluate(`Jupyter.notebook.kernel.kill()`).catch(() => {});
        await tab.close();
      }
      assertEquals(failures, []);
    } finally {
      await browser?.close();
      await server.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
