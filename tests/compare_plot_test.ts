import { assertEquals, assertStringIncludes } from "./assert.ts";
import { compareFigure } from "../lib/report/compare_plot.ts";
import type { CompareRow } from "../lib/eval/compare.ts";
import type { Quantization } from "../lib/eval/quantize.ts";

function row(
  method: string,
  dim: number,
  q: Quantization,
  rescore: number,
  mrr: number,
): CompareRow {
  const bytes = q === "fp32" ? 4 * dim : q === "int8" ? dim : dim / 8;
  return {
    method,
    dim,
    quantization: q,
    rescore,
    label: `${method}-${dim} ${q}${rescore ? `+rescore×${rescore}` : ""}`,
    metrics: {
      "recall@1": mrr / 2,
      "recall@5": mrr,
      "recall@10": mrr,
      "mrr@10": mrr,
      "ndcg@10": mrr + 0.01,
    },
    bytesPerVector: bytes,
    msPerQuery: 0.1,
  };
}

Deno.test("compareFigure: one line per method, points sorted by bytes, log x axis, chosen metric", () => {
  const rows = [
    row("head", 256, "fp32", 0, 0.22),
    row("head", 256, "binary", 0, 0.18),
    row("head", 256, "binary", 4, 0.21),
    row("head", 64, "int8", 0, 0.2),
    row("base", 1024, "fp32", 0, 0.12),
    row("base", 1024, "int8", 0, 0.12),
  ];
  const fig = compareFigure(rows);
  assertEquals(fig.data.map((t) => t.name), ["head", "base"]);
  const head = fig.data[0] as { x: number[]; y: number[]; text: string[] };
  assertEquals(head.x, [32, 32, 64, 1024]);
  assertEquals(head.y, [0.18, 0.21, 0.2, 0.22]); // equal sizes: lower quality first
  assertEquals(head.text[1], "head-256 binary+rescore×4");
  assertEquals((fig.layout.xaxis as { type: string }).type, "log");
  assertStringIncludes(JSON.stringify(fig.layout.title), "mrr@10");
  const nd = compareFigure(rows, { metric: "ndcg@10", rescoredOnly: true });
  const h2 = nd.data[0] as { x: number[]; y: number[] };
  assertEquals(h2.x, [32, 64, 1024]);
  assertEquals(h2.y.map((v) => Math.round(v * 100) / 100), [0.22, 0.21, 0.23]);
  JSON.stringify(fig); // plain JSON-able object
});
