import { assert, assertAlmostEquals, assertEquals, assertThrows } from "./assert.ts";
import { runChromium } from "../lib/report/chromium.ts";
import {
  barChart,
  combineFigures,
  defaultInlineMode,
  displayPlot,
  type Figure,
  figureToHtmlDiv,
  histogram,
  lineChart,
  lossCurves,
  lrSchedule,
  metricCurves,
  pca2d,
  pcaScatter,
  type PlotBundle,
  PLOTLY_INLINE_ENV,
  plotlyJsSource,
  plotlyLoaderScript,
  resetPlotlyInline,
} from "../lib/report/plots.ts";
import { Rng } from "../lib/core/rng.ts";

type Trace = { name?: string; x?: unknown[]; y?: unknown[]; type?: string };
const traces = (fig: Figure) => fig.data as Trace[];

/** Every http(s) reference outside the inlined plotly.js library. */
function networkRefs(html: string): string[] {
  const withoutLib = html.replace(plotlyLoaderScript(), "").replace(plotlyJsSource(), "");
  return withoutLib.match(/https?:\/\/[^\s"'<>)]*/g) ?? [];
}

Deno.test("lossCurves: train and val traces with matching lengths", () => {
  const fig = lossCurves([
    { epoch: 1, trainLoss: 3, valLoss: 2.5 },
    { epoch: 2, valLoss: 2.0 },
    { epoch: 3, trainLoss: 1.5, valLoss: 1.8 },
  ]);
  const [train, val] = traces(fig);
  assertEquals(train.name, "train loss");
  assertEquals(train.x, [1, 3]);
  assertEquals(train.y, [3, 1.5]);
  assertEquals(val.x, [1, 2, 3]);
  assertEquals(val.y, [2.5, 2.0, 1.8]);
  assertEquals(traces(lossCurves([{ epoch: 1, valLoss: 1 }])).length, 1);
});

Deno.test("metricCurves: one trace per metric, keys selectable", () => {
  const history = [
    { epoch: 1, metrics: { "recall@1": 0.3, "ndcg@10": 0.4 } },
    { epoch: 2, metrics: { "recall@1": 0.5, "ndcg@10": 0.6 } },
  ];
  const fig = metricCurves(history);
  assertEquals(traces(fig).map((t) => t.name), ["recall@1", "ndcg@10"]);
  assertEquals(traces(fig)[1].y, [0.4, 0.6]);
  assertEquals(traces(metricCurves(history, ["ndcg@10"])).map((t) => t.x), [[1, 2]]);
});

Deno.test("lrSchedule, histogram, barChart build valid traces", () => {
  const lr = lrSchedule([0, 1, 2], [0, 1e-3, 5e-4]);
  assertEquals(traces(lr)[0].x, [0, 1, 2]);
  assertEquals(traces(lr)[0].y, [0, 1e-3, 5e-4]);
  assertThrows(() => lrSchedule([0, 1], [1]), RangeError, "2 steps but 1");
  const h = histogram([0.1, 0.5, 0.5], { title: "sim", xTitle: "cos", nbins: 10 });
  assertEquals(traces(h)[0].type, "histogram");
  assertEquals(traces(h)[0].x, [0.1, 0.5, 0.5]);
  assertEquals((h.data[0] as { nbinsx: number }).nbinsx, 10);
  const b = barChart(["a", "b"], [{ name: "base", values: [1, 2] }, {
    name: "proj",
    values: [3, 4],
  }], { title: "t" });
  assertEquals(traces(b).map((t) => t.y), [[1, 2], [3, 4]]);
  assertEquals(traces(barChart(["a"], [5], { title: "t" }))[0].y, [5]);
  assertThrows(() => barChart(["a", "b"], [1], { title: "t" }), RangeError, "1 values for 2");
});

Deno.test("lineChart and combineFigures: series, reference lines, panels", () => {
  const x = [0, 0.5, 1];
  const exp = lineChart([
    { name: "w=1", x, y: [1, 2, 3] },
    { name: "w=2", x, y: [2, 3, 4], dash: "dash" },
  ], { title: "exp", xTitle: "similarity", vlines: [{ x: 0.7, label: "positive" }] });
  assertEquals(traces(exp).length, 2);
  assertEquals((exp.layout.shapes as unknown[]).length, 1);
  assertEquals((exp.layout.annotations as unknown[]).length, 1);
  const logit = lineChart([{ name: "w=1", x, y: [3, 2, 1] }], { title: "logit" });
  const both = combineFigures([exp, logit], { columns: 2, title: "share of loss" });
  assertEquals(both.data.map((t) => [t.xaxis, t.yaxis]), [["x", "y"], ["x", "y"], ["x2", "y2"]]);
  assertEquals((both.layout.grid as { columns: number }).columns, 2);
  const shapes = both.layout.shapes as { xref: string; yref: string }[];
  assertEquals([shapes[0].xref, shapes[0].yref], ["x", "y domain"]);
  assert(both.layout.xaxis2 !== undefined);
  assertThrows(() => lineChart([{ name: "bad", x: [1], y: [] }], { title: "t" }), RangeError);
});

Deno.test("pca2d finds the dominant axes, deterministic and sign-fixed", () => {
  // points spread along (1,1,0)/√2 strongly and along z weakly
  const rng = new Rng(3);
  const n = 200, dim = 3;
  const v = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const a = 3 * rng.normal(), b = 0.5 * rng.normal();
    v[i * 3] = a + 1;
    v[i * 3 + 1] = a - 2;
    v[i * 3 + 2] = b;
  }
  const p = pca2d(v, n, dim);
  assertAlmostEquals(p.components[0][0], Math.SQRT1_2, 1e-3);
  assertAlmostEquals(p.components[0][1], Math.SQRT1_2, 1e-3);
  assertAlmostEquals(Math.abs(p.components[1][2]), 1, 1e-3);
  assert(p.components[1][2] > 0, "sign fixed: largest coordinate positive");
  assertAlmostEquals(p.explained[0] + p.explained[1], 1, 1e-9);
  assert(p.explained[0] > 0.9);
  const q = pca2d(v, n, dim);
  assertEquals([...q.coords], [...p.coords]);
  // sign is independent of the data's orientation
  const neg = v.map((x) => -x);
  assertAlmostEquals(pca2d(neg, n, dim).components[0][0], Math.SQRT1_2, 1e-3);
});

Deno.test("pcaScatter: one trace per label, points grouped correctly", () => {
  const rng = new Rng(9);
  const n = 30, dim = 16;
  const v = new Float32Array(n * dim).map(() => rng.normal());
  const labels = Array.from({ length: n }, (_, i) => ["q10", "q2", "Bình Thạnh"][i % 3]);
  const fig = pcaScatter(v, n, dim, labels, { title: "PCA", hoverTexts: labels });
  const ts = traces(fig);
  assertEquals(ts.map((t) => t.name), ["Bình Thạnh", "q2", "q10"]);
  for (const t of ts) {
    assertEquals(t.x!.length, 10);
    assertEquals(t.y!.length, 10);
    assert(t.x!.every((x) => typeof x === "number" && isFinite(x)));
  }
  // the coordinates of label "q10" are those of rows 0, 3, 6, ...
  const p = pca2d(v, n, dim);
  assertEquals(ts[2].x, Array.from({ length: 10 }, (_, j) => p.coords[2 * (3 * j)]));
  assertThrows(() => pcaScatter(v, n, dim, ["a"], { title: "t" }), RangeError, "1 labels");
});

Deno.test("displayPlot: MIME bundle with plotly JSON and offline HTML, plotly inlined once", () => {
  resetPlotlyInline();
  const fig = lossCurves([{ epoch: 1, trainLoss: 2, valLoss: 1 }]);
  const display = (f: Figure, o = {}) =>
    displayPlot(f, o)[Symbol.for("Jupyter.display")]() as PlotBundle;
  const first = display(fig, { height: 300 });
  const json = first["application/vnd.plotly.v1+json"];
  assertEquals(json.data, fig.data);
  assertEquals((json.layout as { height: number }).height, 300);
  assertEquals(json.config, { staticPlot: false, displaylogo: false, responsive: true });
  const html = first["text/html"];
  assert(html.includes(plotlyLoaderScript()), "first fallback inlines plotly.js (compressed)");
  assert(
    html.length < 1_000_000,
    `first fallback of ${html.length} chars: messages must stay small`,
  );
  assert(!/<script[^>]*\bsrc\s*=/i.test(html), "no <script src=...>");
  assert(!/cdn\.plot\.ly|cdn\.jsdelivr|unpkg\.com/i.test(html.replace(plotlyLoaderScript(), "")));
  assertEquals(networkRefs(html), []);
  assert(html.includes("Plotly.newPlot"));
  const second = display(fig)["text/html"];
  assert(!second.includes(plotlyLoaderScript()), "later fallbacks rely on window.Plotly");
  assert(second.length < 10_000);
  assertEquals(networkRefs(second), []);
  assert(display(fig, { inlinePlotly: "always" })["text/html"].includes(plotlyLoaderScript()));
  resetPlotlyInline();
  assert(display(fig)["text/html"].includes(plotlyLoaderScript()));
});

Deno.test("displayPlot: PLOTLY_INLINE sets the default inline mode; a bad value is named", () => {
  const before = Deno.env.get(PLOTLY_INLINE_ENV);
  const html = (o = {}) =>
    (displayPlot(lossCurves([{ epoch: 1, valLoss: 1 }]), o)
      [Symbol.for("Jupyter.display")]() as PlotBundle)[
        "text/html"
      ];
  try {
    resetPlotlyInline();
    Deno.env.set(PLOTLY_INLINE_ENV, "never");
    assertEquals(defaultInlineMode(), "never");
    const page = html();
    assert(!page.includes(plotlyLoaderScript()), "never: no plotly.js in the output");
    assert(page.length < 10_000);
    assert(html({ inlinePlotly: "once" }).includes(plotlyLoaderScript()), "the option wins");
    Deno.env.set(PLOTLY_INLINE_ENV, "always");
    assert(html().includes(plotlyLoaderScript()) && html().includes(plotlyLoaderScript()));
    Deno.env.set(PLOTLY_INLINE_ENV, "sometimes");
    assertThrows(
      () => defaultInlineMode(),
      Error,
      'PLOTLY_INLINE="sometimes": expected one of once',
    );
    Deno.env.delete(PLOTLY_INLINE_ENV);
    assertEquals(defaultInlineMode(), "once");
  } finally {
    if (before === undefined) Deno.env.delete(PLOTLY_INLINE_ENV);
    else Deno.env.set(PLOTLY_INLINE_ENV, before);
    resetPlotlyInline();
  }
});

Deno.test("figureToHtmlDiv escapes script-breaking text in figure data", () => {
  const fig = lineChart([{ name: "</script><b>x", x: [1], y: [1] }], { title: "t" });
  const html = figureToHtmlDiv(fig, "p1");
  assertEquals(html.match(/<\/script>/g)?.length, 1);
  assert(html.includes("\\u003c/script>"));
});

Deno.test("plotly.js comes from node_modules/plotly.js-cartesian-dist-min 4.1.1", () => {
  const src = plotlyJsSource();
  assert(src.length > 1_000_000 && src.length < 2_000_000, `${src.length} chars`);
  assert(src.slice(0, 200).includes("plotly.js (cartesian - minified) v4.1.1"));
  const loader = plotlyLoaderScript();
  assert(loader.length < 0.5 * src.length, `loader of ${loader.length} chars`);
});

Deno.test("displayPlot fallbacks render offline in headless Chromium (as in nbconvert HTML)", async () => {
  resetPlotlyInline();
  const figs = [
    lossCurves([{ epoch: 1, trainLoss: 2, valLoss: 1 }, { epoch: 2, trainLoss: 1, valLoss: 0.8 }]),
    pcaScatter(new Float32Array([1, 0, 0, 0.9, 0.1, 0, 0, 1, 0, 0, 0.9, 0.1]), 4, 3, [
      "a",
      "a",
      "b",
      "b",
    ], { title: "PCA" }),
    combineFigures([
      lineChart([{ name: "exp", x: [0, 1], y: [0, 1] }], { title: "exp", vlines: [{ x: 0.5 }] }),
      lineChart([{ name: "logit", x: [0, 1], y: [1, 0] }], { title: "logit" }),
    ]),
  ];
  const outputs = figs.map((f) =>
    (displayPlot(f)[Symbol.for("Jupyter.display")]() as PlotBundle)["text/html"]
  );
  const dir = await Deno.makeTempDir({ prefix: "plots_test_" });
  const page = `${dir}/notebook.html`;
  await Deno.writeTextFile(
    page,
    `<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>${
      outputs.map((o) => `<div class="output">${o}</div>`).join("\n")
    }</body></html>`,
  );
  const { stdout: dom } = await runChromium(["--dump-dom", `file://${page}`], `${dir}/profile`);
  // 3 figures; the third has two panels but one main svg pair
  const svgs = dom.match(/class="main-svg"/g)?.length ?? 0;
  assert(svgs >= 3, `expected ≥ 3 main-svg, found ${svgs}`);
  assert(!/class="plotly-figure"[^>]*>Plotly is not loaded/.test(dom));
  await Deno.remove(dir, { recursive: true });
});
