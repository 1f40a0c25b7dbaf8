/**
 * The notebooks: committed stripped, and executing headless with the Deno
 * kernel (Debian's jupyter-nbconvert) without errors, each with a plotly
 * output; notebook 02's conclusion quotes the numbers its cells computed.
 *
 * Needs `jupyter nbconvert` and the Deno kernelspec (`deno jupyter --install`).
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { readMetrics } from "../lib/checkpoint.ts";
import { runChromium } from "../lib/chromium.ts";
import {
  executeNotebook,
  formatErrors,
  type NotebookJson,
  type NotebookOutput,
  type NotebookRun,
  NOTEBOOKS,
  strippedProblems,
} from "../scripts/nb_run.ts";

const PLOTLY = "application/vnd.plotly.v1+json";

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

Deno.test("notebooks execute headless with the Deno kernel", async (t) => {
  const outDir = await Deno.makeTempDir({ prefix: "notebooks_test_" });
  const runs = new Map<string, NotebookRun>();
  try {
    for (const path of NOTEBOOKS) runs.set(path, await executeNotebook(path, { outDir }));

    await t.step("no cell raised", () => {
      assertEquals(formatErrors([...runs.values()]), "");
    });

    await t.step("every code cell has an output, each notebook a plotly one; HTML exported", () => {
      for (const [path, run] of runs) {
        run.json.cells.forEach((c, i) => {
          if (c.cell_type !== "code") return;
          assert((c.outputs ?? []).length > 0, `${path}: code cell ${i} has no output`);
        });
        assert(outputs(run.json).some((o) => o.data?.[PLOTLY]), `${path}: no ${PLOTLY} output`);
        assert(run.html && Deno.statSync(run.html).size > 0, `${path}: no HTML export`);
      }
    });

    await t.step(
      "no output carries plotly.js; each HTML page has it once and draws its figures",
      async () => {
        // Deno's kernel corrupts IOPub messages of several MB ("Invalid Signature").
        for (const [path, run] of runs) {
          for (const o of outputs(run.json)) {
            const size = JSON.stringify(o).length;
            assert(size < 1_000_000, `${path}: an output of ${size} characters`);
          }
        }
        const run = runs.get("notebooks/01_explore_data.ipynb")!;
        const page = await Deno.readTextFile(run.html!);
        assertEquals(page.split("plotly.js v4.1.1").length - 1, 1, "plotly.js inlined once");
        const plots = outputs(run.json).filter((o) => o.data?.[PLOTLY]).length;
        const profile = await Deno.makeTempDir({ prefix: "notebooks_chromium_" });
        try {
          const { stdout: dom } = await runChromium(["--dump-dom", `file://${run.html}`], profile);
          const drawn = dom.match(/class="plotly-figure[^"]*js-plotly-plot/g)?.length ?? 0;
          assertEquals(drawn, plots, "every plotly output is drawn in the HTML page");
          assert(!/class="plotly-figure"[^>]*>Plotly is not loaded/.test(dom));
        } finally {
          await Deno.remove(profile, { recursive: true });
        }
      },
    );

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
