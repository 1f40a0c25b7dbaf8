/**
 * `quantize-model` on the small real-architecture test model (2 layers,
 * hidden 64, external data, random weights): every weight MatMul runs on
 * int8, the layout stays external, the folder is a model of its own (its
 * fingerprint differs, encoder.json says int8), its vectors agree with the
 * float32 ones, and bad requests are refused without leaving a folder.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { buildShapeModel, TINY_XLMR_SHAPE } from "../lib/encoder/bge_shape.ts";
import { collectTexts } from "../lib/encoder/default_model.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder/encoder.ts";
import { quantizeColumns, quantizeModel } from "../lib/encoder/quantize_model.ts";
import onnxProto from "onnx-proto";
import { taskPermissions } from "./serve_fixtures.ts";

const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")));
const fixture = (async () => {
  const dir = await Deno.makeTempDir({ prefix: "qm-src-" });
  await buildShapeModel(dir, texts.slice(0, 1000), { shape: TINY_XLMR_SHAPE, vocabSize: 1500 });
  return { dir, root: await Deno.makeTempDir({ prefix: "qm-out-" }) };
})();

Deno.test("quantizeColumns: per-column symmetric scales, values within one step", () => {
  const w = new Float32Array([0.5, -2, 0.25, 1, -0.125, 0.0]);
  const { q, scale } = quantizeColumns(w, 2, 3);
  assertEquals(Array.from(q), [64, -127, 127, 127, -8, 0]);
  for (let i = 0; i < 6; i++) {
    assert(Math.abs(q[i] * scale[i % 3] - w[i]) <= scale[i % 3] / 2 + 1e-7);
  }
});

Deno.test("quantize-model: int8 weights, its own fingerprint, external data kept, vectors agree (cosine ≥ 0.999)", async () => {
  const fx = await fixture;
  const out = `${fx.root}/int8`;
  const r = await quantizeModel(fx.dir, out);
  const model = onnxProto.onnx.ModelProto.decode(await Deno.readFile(`${out}/model.onnx`));
  const ops = model.graph!.node!.map((n) => n.opType);
  assertEquals(r.quantized, ops.filter((o) => o === "DynamicQuantizeMatMul").length);
  assertEquals(r.quantized, TINY_XLMR_SHAPE.layers * 6); // q, k, v, attention out, FFN in, FFN out
  assert(r.externalData && r.bytesOut < r.bytesIn);
  assert((await Deno.stat(`${out}/model.onnx_data`)).size > 0);
  const a = await loadEncoder(fx.dir), b = await loadEncoder(out);
  try {
    assert(a.fingerprint !== b.fingerprint);
    assertEquals(b.config.precision, "int8");
    assertStringIncludes(describeEncoder(b), "int8 weights");
    const part = texts.slice(0, 300);
    const va = (await a.encode(part)).data, vb = (await b.encode(part)).data;
    let worst = 1, sum = 0;
    for (let i = 0; i < part.length; i++) {
      let d = 0;
      for (let j = 0; j < a.dim; j++) d += va[i * a.dim + j] * vb[i * a.dim + j];
      worst = Math.min(worst, d);
      sum += d;
    }
    assert(worst >= 0.999, `worst cosine ${worst}`);
    assert(sum / part.length >= 0.9995, `mean cosine ${sum / part.length}`);
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

Deno.test("quantize-model CLI: refuses an existing --out and an int8 model, leaving nothing behind", async () => {
  const fx = await fixture;
  const run = (args: string[]) =>
    new Deno.Command("deno", {
      args: [
        "run",
        ...taskPermissions("quantize-model", { read: `${fx.dir},${fx.root}`, write: fx.root }),
        "scripts/quantize_model.ts",
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  const out = `${fx.root}/cli`;
  const ok = await run(["--model", fx.dir, "--out", out]);
  assertEquals(ok.code, 0, dec(ok.stderr));
  assertStringIncludes(dec(ok.stdout), "MatMul/Gemm on int8 weights");
  const again = await run(["--model", fx.dir, "--out", out]);
  assertEquals(again.code, 1);
  assertStringIncludes(dec(again.stderr), `${out} exists`);
  const twice = await run(["--model", out, "--out", `${fx.root}/twice`]);
  assertEquals(twice.code, 1);
  assertStringIncludes(dec(twice.stderr), "int8 already");
  const left = [];
  for await (const e of Deno.readDir(fx.root)) left.push(e.name);
  assertEquals(left.filter((n) => n.endsWith(".tmp") || n === "twice"), []);
  const none = await run(["--out", `${fx.root}/x`]);
  assertEquals(none.code, 2);
  assertStringIncludes(dec(none.stderr), "--model DIR is required");
});
