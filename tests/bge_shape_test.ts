/**
 * The BGE-M3-shaped model in small (2 layers, hidden 64, 3,000 pieces):
 * BAAI's ONNX signature, external-data loading, CLS pooling checked against a
 * plain-TypeScript XLM-R forward pass, and the 512-token truncation.
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreater,
  assertLess,
  assertStringIncludes,
} from "./assert.ts";
import {
  BGE_M3_SHAPE,
  buildShapeModel,
  shapeWeightLayout,
  TINY_XLMR_SHAPE,
} from "../lib/encoder/bge_shape.ts";
import { collectTexts } from "../lib/encoder/default_model.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder/encoder.ts";
import { xlmrParamCount, type XlmrShape } from "../lib/core/onnx_build.ts";
import { loadOrt } from "../lib/core/ort.ts";
import { loadTokenizer } from "../lib/encoder/tokenizer.ts";

const VOCAB = 3000;
const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")));
const dir = await Deno.makeTempDir({ prefix: "bge-shape-test-" });
const build = await buildShapeModel(dir, texts, { shape: TINY_XLMR_SHAPE, vocabSize: VOCAB });

/** A plain XLM-R forward pass over one sequence; returns the normalised CLS vector. */
function referenceCls(ids: number[], s: XlmrShape, w: Map<string, Float32Array>): Float32Array {
  const H = s.hidden, S = ids.length, hd = H / s.heads;
  const get = (n: string) => w.get(n)!;
  const linear = (x: Float32Array, rows: number, inDim: number, name: string) => {
    const W = get(`${name}.weight`), b = get(`${name}.bias`), outDim = b.length;
    const y = new Float32Array(rows * outDim);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < outDim; j++) {
        let acc = b[j];
        for (let i = 0; i < inDim; i++) acc += x[r * inDim + i] * W[i * outDim + j];
        y[r * outDim + j] = acc;
      }
    }
    return y;
  };
  const layerNorm = (x: Float32Array, name: string) => {
    const g = get(`${name}.weight`), b = get(`${name}.bias`);
    const y = new Float32Array(x.length);
    for (let r = 0; r < x.length / H; r++) {
      let mean = 0, v = 0;
      for (let j = 0; j < H; j++) mean += x[r * H + j];
      mean /= H;
      for (let j = 0; j < H; j++) v += (x[r * H + j] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / H + s.eps);
      for (let j = 0; j < H; j++) y[r * H + j] = (x[r * H + j] - mean) * inv * g[j] + b[j];
    }
    return y;
  };
  const erf = (z: number) => { // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
    const t = 1 / (1 + 0.3275911 * Math.abs(z));
    const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t +
          0.254829592) * t * Math.exp(-z * z);
    return z >= 0 ? y : -y;
  };
  let x = new Float32Array(S * H);
  const word = get("embeddings.word_embeddings.weight");
  const pos = get("embeddings.position_embeddings.weight");
  const type = get("embeddings.token_type_embeddings.weight");
  ids.forEach((id, t) => {
    for (let j = 0; j < H; j++) {
      x[t * H + j] = word[id * H + j] + pos[(s.padId + 1 + t) * H + j] + type[j];
    }
  });
  x = layerNorm(x, "embeddings.LayerNorm");
  for (let l = 0; l < s.layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = linear(x, S, H, `${p}.attention.self.query`);
    const k = linear(x, S, H, `${p}.attention.self.key`);
    const v = linear(x, S, H, `${p}.attention.self.value`);
    const ctx = new Float32Array(S * H);
    const sc = new Float64Array(S);
    for (let h = 0; h < s.heads; h++) {
      for (let t = 0; t < S; t++) {
        let max = -Infinity;
        for (let u = 0; u < S; u++) {
          let d = 0;
          for (let j = 0; j < hd; j++) d += q[t * H + h * hd + j] * k[u * H + h * hd + j];
          sc[u] = d / Math.sqrt(hd);
          max = Math.max(max, sc[u]);
        }
        let sum = 0;
        for (let u = 0; u < S; u++) sum += sc[u] = Math.exp(sc[u] - max);
        for (let u = 0; u < S; u++) {
          for (let j = 0; j < hd; j++) {
            ctx[t * H + h * hd + j] += (sc[u] / sum) * v[u * H + h * hd + j];
          }
        }
      }
    }
    const attn = linear(ctx, S, H, `${p}.attention.output.dense`);
    for (let i = 0; i < attn.length; i++) attn[i] += x[i];
    x = layerNorm(attn, `${p}.attention.output.LayerNorm`);
    const inner = linear(x, S, H, `${p}.intermediate.dense`);
    for (let i = 0; i < inner.length; i++) {
      inner[i] = 0.5 * inner[i] * (1 + erf(inner[i] / Math.SQRT2));
    }
    const out = linear(inner, S, s.ffn, `${p}.output.dense`);
    for (let i = 0; i < out.length; i++) out[i] += x[i];
    x = layerNorm(out, `${p}.output.LayerNorm`);
  }
  const cls = x.slice(0, H);
  const n = Math.hypot(...cls);
  return cls.map((c) => c / n);
}

async function readWeights(shape: XlmrShape): Promise<Map<string, Float32Array>> {
  const bytes = await Deno.readFile(`${dir}/model.onnx_data`);
  const { specs, offsets, total } = shapeWeightLayout(shape);
  assertEquals(bytes.length, total);
  const m = new Map<string, Float32Array>();
  specs.forEach((w, i) => {
    const n = w.dims.reduce((a, b) => a * b, 1);
    m.set(w.name, new Float32Array(bytes.buffer, offsets[i], n));
  });
  return m;
}

Deno.test("bge shape: BGE-M3's architecture has ~568M parameters", () => {
  const params = xlmrParamCount(BGE_M3_SHAPE);
  assertGreater(params, 560e6);
  assertLess(params, 570e6);
  assertEquals(BGE_M3_SHAPE.vocab, 250_002);
  assertEquals(BGE_M3_SHAPE.maxPositions, 8194);
});

Deno.test("bge shape: weights live in model.onnx_data; BAAI's input/output signature", async () => {
  const graph = await Deno.stat(`${dir}/model.onnx`);
  const data = await Deno.stat(`${dir}/model.onnx_data`);
  assertEquals(data.size, build.dataBytes);
  assertEquals(build.params * 4 <= data.size, true);
  assertLess(graph.size, data.size / 4, "the graph file holds no weights");
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(`${dir}/model.onnx`);
  try {
    assertEquals(session.inputNames, ["input_ids", "attention_mask"]);
    assertEquals(session.outputNames, ["last_hidden_state"]);
    for (const m of session.inputMetadata) assert(m.isTensor && m.type === "int64", m.name);
  } finally {
    await session.release();
  }
  const enc = await loadEncoder(dir);
  assertStringIncludes(describeEncoder(enc), "random weights");
  // paramCount also counts the graph's few float scalar constants (1/√d, 0.5, ...).
  const counted = await enc.paramCount();
  assert(counted >= build.params && counted < build.params + 16, `${counted} vs ${build.params}`);
  await enc.dispose();
});

Deno.test("bge shape: XLM-R tokenizer layout (specials, <mask> last, size)", async () => {
  const tok = await loadTokenizer(dir);
  assertEquals(tok.hf.get_vocab(true).size, VOCAB);
  for (const [t, id] of [["<s>", 0], ["<pad>", 1], ["</s>", 2], ["<unk>", 3]] as const) {
    assertEquals(tok.hf.token_to_id(t), id);
  }
  assertEquals(tok.hf.token_to_id("<mask>"), VOCAB - 1);
  assertEquals(tok.padId, 1);
  const ids = tok.encode("Phòng trọ Quận 10, wc riêng", 512).ids;
  assertEquals(ids[0], 0);
  assertEquals(ids.at(-1), 2);
  assert(!ids.includes(3), `no <unk>: ${ids}`);
});

Deno.test("bge shape: CLS pooling equals a plain XLM-R forward pass; padding changes nothing", async () => {
  const weights = await readWeights(build.shape);
  const tok = await loadTokenizer(dir);
  const enc = await loadEncoder(dir);
  try {
    const short = "phòng trọ q10 giá rẻ";
    const long = "Cho thuê căn hộ mini Quận 7, 30m², có máy lạnh, wc riêng, giá 4 triệu/tháng";
    const r = await enc.encode([short, long], { batchSize: 2 }); // short is padded
    for (const [i, text] of [short, long].entries()) {
      const ref = referenceCls(tok.encode(text, 512).ids, build.shape, weights);
      for (let j = 0; j < ref.length; j++) {
        assertAlmostEquals(r.data[i * r.dim + j], ref[j], 2e-4, `${text}[${j}]`);
      }
    }
    const alone = await enc.encode([short]);
    for (let j = 0; j < alone.dim; j++) assertAlmostEquals(alone.data[j], r.data[j], 1e-5);
  } finally {
    await enc.dispose();
  }
});

Deno.test("bge shape: a text of any length is cut to 512 tokens (the model has 514 positions)", async () => {
  const weights = await readWeights(build.shape);
  const tok = await loadTokenizer(dir);
  const enc = await loadEncoder(dir);
  try {
    const huge = "Phòng trọ Q10 giá rẻ có máy lạnh. ".repeat(400);
    const t = tok.encode(huge, 512);
    assert(t.truncated);
    assertEquals(t.ids.length, 512);
    assertEquals([t.ids[0], t.ids[511]], [0, 2]);
    const r = await enc.encode([huge, "phòng trọ"]);
    assertEquals(r.truncated, 1);
    const ref = referenceCls(t.ids, build.shape, weights);
    for (let j = 0; j < ref.length; j++) assertAlmostEquals(r.data[j], ref[j], 2e-4);
  } finally {
    await enc.dispose();
  }
});

Deno.test("bge shape: deterministic (a rebuild writes the same bytes)", async () => {
  const again = await Deno.makeTempDir({ prefix: "bge-shape-test-" });
  try {
    await buildShapeModel(again, texts, { shape: TINY_XLMR_SHAPE, vocabSize: VOCAB });
    for (const f of ["model.onnx", "model.onnx_data", "tokenizer.json", "encoder.json"]) {
      assertEquals(await Deno.readFile(`${again}/${f}`), await Deno.readFile(`${dir}/${f}`), f);
    }
  } finally {
    await Deno.remove(again, { recursive: true });
  }
});

Deno.test({
  name: "bge shape: cleanup",
  fn: () => Deno.remove(dir, { recursive: true }),
});
