import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import type { Metrics } from "../lib/eval/metrics.ts";
import { plotlyJsSource } from "../lib/report/plots.ts";
import {
  escapeHtml,
  renderReport,
  reportFigures,
  type ReportInput,
  writeReport,
} from "../lib/report/report.ts";
import { compareHead, comparisonNotes } from "../lib/eval/compare_head.ts";
import { prefixWeight, syntheticTask } from "./compare_fixture.ts";
import { runChromium } from "../lib/report/chromium.ts";

function sampleInput(): ReportInput {
  const keys = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"] as const;
  const m = (x: number) =>
    Object.fromEntries(keys.map((k, i) => [k, x + 0.05 * i])) as unknown as Metrics;
  const history = Array.from({ length: 6 }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 2 / (i + 1) + 0.3,
    valLoss: 2.2 / (i + 1) + 0.4,
    lr: 1e-3 * (1 - i / 6),
    metrics: m(0.4 + 0.04 * i),
  }));
  const step = Array.from({ length: 120 }, (_, i) => i);
  const lr = step.map((s) => s < 12 ? 1e-3 * s / 12 : 1e-3 * (1 - (s - 12) / 108));
  return {
    title: "Projection head 1024→256 <run & test>",
    config: {
      model: "data/models/lexical-1024",
      head: { inDim: 1024, outDim: 256 },
      lr: 1e-3,
      weights: { district: 2.5 },
      note: "<script>alert(1)</script>",
    },
    history,
    lrSteps: { step, lr },
    table: { base: m(0.41), projected: m(0.6) },
    perFeature: {
      base: { district: { total: 50, errors: 20, rate: 0.4 } },
      projected: { district: { total: 50, errors: 5, rate: 0.1 } },
    },
  };
}

Deno.test("renderReport: self-contained, plotly inlined once, no network references", () => {
  const input = sampleInput();
  const html = renderReport(input);
  const lib = plotlyJsSource();
  assertEquals(html.split(lib).length - 1, 1, "plotly.js inlined exactly once");
  const bytes = new TextEncoder().encode(html).length;
  assert(bytes <= 4_000_000, `report.html of ${bytes} bytes (limit 4 MB)`);
  const page = html.replace(lib, "");
  assert(!/<script[^>]*\bsrc\s*=/i.test(page), "no <script src=...>");
  assert(!/<link\b/i.test(page), "no <link> (stylesheets, fonts)");
  assert(!/@import|@font-face|url\(/i.test(page), "no CSS imports, web fonts or urls");
  assertEquals(page.match(/https?:\/\//g), null);
  assertStringIncludes(page, '"displaylogo":false');
  assertStringIncludes(page, '"staticPlot":false');
  // the config, the title and the table are present and escaped
  assertStringIncludes(page, "&lt;script&gt;alert(1)&lt;/script&gt;");
  assertStringIncludes(page, "Projection head 1024→256 &lt;run &amp; test&gt;");
  assertStringIncludes(page, "head.outDim");
  assertStringIncludes(page, "projected (256-d)");
  assertStringIncludes(page, "+0.1900");
  assertEquals(reportFigures(input).map((f) => f.id), ["loss", "metrics", "lr", "features"]);
});

Deno.test("renderReport: epoch 0 is not counted; data without feature labels has no feature chart", () => {
  const input = sampleInput();
  const epoch0 = { ...input.history[0], epoch: 0 };
  const withE0 = { ...input, history: [epoch0, ...input.history] };
  assertStringIncludes(renderReport(withE0), "6 epochs");
  assert(!renderReport(withE0).includes("7 epochs"));
  const unlabelled = { ...input, perFeature: { base: {}, projected: {} } };
  assertEquals(reportFigures(unlabelled).map((f) => f.id), ["loss", "metrics", "lr"]);
  assert(!renderReport(unlabelled).includes("Hard-negative errors by feature"));
});

Deno.test("writeReport: renders SVG plots in headless Chromium, with a screenshot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_test_" });
  const input = sampleInput();
  const file = await writeReport(dir, input);
  assertEquals(file, `${dir}/report.html`);
  assertEquals(await writeReport(`${dir}/named.html`, input), `${dir}/named.html`);
  const nPlots = reportFigures(input).length;
  const url = `file://${file}`;
  const { stdout: dom } = await runChromium(["--dump-dom", url], `${dir}/profile-dom`);
  const svgs = dom.match(/class="main-svg"/g)?.length ?? 0;
  assert(svgs >= nPlots, `expected ≥ ${nPlots} plotly main-svg elements, found ${svgs}`);
  for (const id of ["plot-loss", "plot-metrics", "plot-lr", "plot-features"]) {
    const at = dom.indexOf(`id="${id}"`);
    assert(at >= 0, `missing plot div ${id}`);
    assert(dom.slice(at, at + 4000).includes('class="main-svg"'), `${id} has no SVG`);
  }
  assert(
    !/class="plotly-figure"[^>]*>Plotly is not loaded/.test(dom),
    "a plot lacked window.Plotly",
  );
  // traces were drawn: one scatter line path per curve, bars for the feature chart
  assert((dom.match(/class="js-line"/g)?.length ?? 0) >= 2 + 5 + 1, "curves drawn");
  assert(dom.includes('class="point"'), "bars drawn");

  const png = `${dir}/report.png`;
  await runChromium([`--screenshot=${png}`, "--window-size=1200,2400", url], `${dir}/profile-shot`);
  const bytes = await Deno.readFile(png);
  assert(bytes.length > 10_000, `screenshot too small: ${bytes.length} bytes`);
  assertEquals([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  console.log(`report screenshot: ${png} (${bytes.length} bytes); report: ${file}`);
  await Deno.remove(`${dir}/profile-dom`, { recursive: true }).catch(() => {});
  await Deno.remove(`${dir}/profile-shot`, { recursive: true }).catch(() => {});
});

Deno.test("renderReport: quality vs bytes per vector section from computed compare rows", async () => {
  const { task, table, fit } = syntheticTask();
  const c = await compareHead({
    task,
    table,
    fitTexts: fit,
    weight: prefixWeight(8, 16),
    outDim: 8,
    dims: [8, 4],
    repeats: 1,
  });
  const input = { ...sampleInput(), compare: { rows: c.rows, notes: comparisonNotes(c) } };
  const html = renderReport(input);
  const bytes = new TextEncoder().encode(html).length;
  assert(bytes <= 4_000_000, `report.html of ${bytes} bytes (limit 4 MB)`);
  assertEquals(html.split(plotlyJsSource()).length - 1, 1, "plotly.js still inlined once");
  assertEquals(reportFigures(input).map((f) => f.id), [
    "loss",
    "metrics",
    "lr",
    "features",
    "compare",
  ]);
  const at = html.indexOf('<section id="compare">');
  assert(at >= 0, "compare section");
  const section = html.slice(at, html.indexOf("</section>", at));
  assertStringIncludes(section, "Quality vs bytes per vector");
  assertStringIncludes(section, 'id="plot-compare"');
  // One line per method in the figure; every row in the table, with its computed numbers.
  const fig = reportFigures(input).at(-1)!.fig;
  assertEquals(fig.data.map((d) => (d as { name: string }).name), ["base", "pca", "head"]);
  assertEquals(section.match(/<tr><th>/g)?.length, 1 + c.rows.length); // header + rows
  for (const r of c.rows) {
    assertStringIncludes(
      section,
      `<td>${r.metrics["mrr@10"].toFixed(4)}</td><td>${r.metrics["ndcg@10"].toFixed(4)}</td>` +
        `<td>${r.bytesPerVector}</td>`,
    );
  }
  for (const n of comparisonNotes(c)) assertStringIncludes(section, escapeHtml(n));
  // Without rows there is no section.
  assert(!renderReport(sampleInput()).includes('id="compare"'));
});
