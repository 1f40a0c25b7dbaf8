/**
 * Dynamic int8 quantisation of an encoder (`deno task quantize-model`): every
 * `MatMul` (and plain `Gemm`) whose weight is a float32 initializer becomes
 * ONNX Runtime's `com.microsoft.DynamicQuantizeMatMul` over int8 weights with
 * one scale per output channel (symmetric: `scale = max|w| / 127`); the
 * activations are quantised to uint8 at run time, per tensor, by the kernel,
 * which then runs on the CPU's integer units (AVX2, AVX-512 VNNI, AMX). This
 * is what ONNX Runtime's `quantize_dynamic(per_channel=True)` makes, written
 * here in TypeScript (Debian has no Python onnxruntime).
 *
 * The result is a model folder of its own: `model.onnx` (+ `model.onnx_data`
 * when the source kept its weights outside the graph, or they are large),
 * the tokenizer files, and an `encoder.json` that records `"precision":
 * "int8"`. Its files differ, so its fingerprint and its embedding cache do.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { readEncoderConfig } from "./encoder.ts";
import { atomicWriteJson, exists, join } from "../core/fs.ts";

const onnx = onnxProto.onnx;
type Tensor = onnxProto.onnx.ITensorProto;
type NodeProto = onnxProto.onnx.INodeProto;

const FLOAT = 1, INT8 = 3;
/** Above this many bytes of weights the output keeps them in `model.onnx_data`. */
const INLINE_LIMIT = 1 << 30;

/** What {@link quantizeModel} did. */
export interface QuantizeModelReport {
  /** MatMul / Gemm nodes now running on int8 weights. */
  quantized: number;
  /** Weights left in float32, and why (too small, shared, not 2-D, ...). */
  skipped: { node: string; why: string }[];
  /** Weight bytes before. */
  bytesIn: number;
  /** Weight bytes after. */
  bytesOut: number;
  /** Where the output's weights live. */
  externalData: boolean;
  /** Wall time. */
  seconds: number;
}

/** Options of {@link quantizeModel}. */
export interface QuantizeModelOptions {
  /** Weights with fewer elements stay float32 (default 4096). */
  minElements?: number;
  /** Replace an existing output folder. */
  force?: boolean;
  /** Weights (by initializer name) matching this stay float32. */
  exclude?: RegExp;
  /** Progress lines. */
  onLog?: (line: string) => void;
}

/** Reads initializers' bytes: inline, or from the source's external data files. */
class TensorReader {
  #files = new Map<string, Deno.FsFile>();
  constructor(readonly dir: string) {}

  async bytes(t: Tensor): Promise<Uint8Array> {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
      const location = kv.location;
      if (!location || location.includes("..") || location.startsWith("/")) {
        throw new Error(
          `initializer ${t.name}: external data location ${location} is not a file here`,
        );
      }
      let f = this.#files.get(location);
      if (!f) {
        f = await Deno.open(join(this.dir, location), { read: true });
        this.#files.set(location, f);
      }
      const offset = Number(kv.offset ?? 0);
      const length = Number(kv.length ?? NaN);
      if (!Number.isFinite(length)) throw new Error(`initializer ${t.name}: no external length`);
      const out = new Uint8Array(length);
      await f.seek(offset, Deno.SeekMode.Start);
      for (let got = 0; got < length;) {
        const n = await f.read(out.subarray(got));
        if (n === null) throw new Error(`${location}: ends inside initializer ${t.name}`);
        got += n;
      }
      return out;
    }
    if (t.rawData && t.rawData.length) return t.rawData.slice();
    if (t.floatData && t.floatData.length) {
      return new Uint8Array(Float32Array.from(t.floatData).buffer);
    }
    if (t.int64Data && t.int64Data.length) {
      return new Uint8Array(
        BigInt64Array.from(t.int64Data.map((v) => BigInt(v.toString()))).buffer,
      );
    }
    if (t.int32Data && t.int32Data.length) {
      return new Uint8Array(Int32Array.from(t.int32Data).buffer);
    }
    return new Uint8Array(0);
  }

  close(): void {
    for (const f of this.#files.values()) f.close();
  }
}

/**
 * Symmetric per-column int8 quantisation of a row-major `[K, N]` matrix:
 * `q[k, n] = round(w[k, n] / s[n])`, `s[n] = max_k |w[k, n]| / 127` (1 for an
 * all-zero column).
 *
 * @example
 * ```ts
 * import { quantizeColumns } from "./quantize_model.ts";
 * const { q, scale } = quantizeColumns(new Float32Array([1, -0.5, -2, 0.25]), 2, 2);
 * // per output column: scale = max |w| / 127, q = round(w / scale)
 * if (Array.from(q).join() !== "64,-127,-127,64") throw new Error(`${q}`);
 * if (Math.abs(scale[0] - 2 / 127) > 1e-7 || Math.abs(scale[1] - 0.5 / 127) > 1e-7) throw new Error(`${scale}`);
 * ```
 */
export function quantizeColumns(
  w: Float32Array,
  k: number,
  n: number,
): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) scale[c] = Math.max(scale[c], Math.abs(w[r * n + c]));
  }
  for (let c = 0; c < n; c++) scale[c] = scale[c] > 0 ? scale[c] / 127 : 1;
  const q = new Int8Array(k * n);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < n; c++) {
      q[r * n + c] = Math.max(-127, Math.min(127, Math.round(w[r * n + c] / scale[c])));
    }
  }
  return { q, scale };
}

function attr(n: NodeProto, name: string): number | undefined {
  const a = n.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  return a.type === onnx.AttributeProto.AttributeType.FLOAT ? a.f ?? 0 : Number(a.i ?? 0);
}

/**
 * Quantise the encoder in `inDir` into `outDir` (a new folder, written aside
 * and renamed into place). See the module notes.
 *
 * @example
 * ```ts ignore
 * import { quantizeModel } from "./quantize_model.ts";
 * const r = await quantizeModel("data/models/bge-m3", "data/models/bge-m3-int8");
 * console.log(r.quantized, r.bytesIn, r.bytesOut);
 * ```
 */
export async function quantizeModel(
  inDir: string,
  outDir: string,
  opts: QuantizeModelOptions = {},
): Promise<QuantizeModelReport> {
  const t0 = performance.now();
  const log = opts.onLog ?? (() => {});
  const minElements = opts.minElements ?? 4096;
  const config = await readEncoderConfig(inDir);
  if (config.precision === "int8") {
    throw new Error(`${inDir}: encoder.json says the model is int8 already`);
  }
  if (await exists(outDir) && !opts.force) {
    throw new Error(`${outDir} exists; choose another --out, or --force to replace it`);
  }
  const modelPath = join(inDir, "model.onnx");
  const model = onnx.ModelProto.decode(await Deno.readFile(modelPath));
  const graph = model.graph;
  if (!graph) throw new Error(`${modelPath}: no graph`);
  const inits = new Map<string, Tensor>();
  for (const t of graph.initializer ?? []) inits.set(t.name ?? "", t);
  const sourceExternal = (graph.initializer ?? []).some((t) =>
    t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL
  );
  // How often each initializer is read: a weight that another node reads too stays.
  const uses = new Map<string, number>();
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  const reader = new TensorReader(inDir);
  const report: QuantizeModelReport = {
    quantized: 0,
    skipped: [],
    bytesIn: 0,
    bytesOut: 0,
    externalData: false,
    seconds: 0,
  };
  /** Output initializers, with their bytes (written at the end). */
  const out: { tensor: Tensor; bytes: Uint8Array }[] = [];
  const replaced = new Set<string>();
  const nodes: NodeProto[] = [];
  try {
    for (const n of graph.node ?? []) {
      const isMatMul = n.opType === "MatMul" && (n.domain ?? "") === "";
      const isGemm = n.opType === "Gemm" && (n.domain ?? "") === "";
      const wName = n.input?.[1] ?? "";
      const w = inits.get(wName);
      // (A MatMul of two activations, as in attention, has no weight to quantise.)
      const why = (!isMatMul && !isGemm) || !w
        ? null
        : w.dataType !== FLOAT
        ? "its weight is not float32"
        : (w.dims ?? []).length !== 2
        ? `its weight has ${(w.dims ?? []).length} dimensions`
        : (uses.get(wName) ?? 0) > 1
        ? "its weight is shared with another node"
        : isGemm && ((attr(n, "transA") ?? 0) !== 0 || (attr(n, "alpha") ?? 1) !== 1 ||
            (attr(n, "beta") ?? 1) !== 1)
        ? "a Gemm with transA, alpha or beta"
        : Number(w.dims![0]) * Number(w.dims![1]) < minElements
        ? `its weight has fewer than ${minElements} values`
        : opts.exclude?.test(wName)
        ? `excluded (${opts.exclude})`
        : "";
      if (why === null) {
        nodes.push(n);
        continue;
      }
      if (why) {
        report.skipped.push({ node: n.name ?? n.output?.[0] ?? "?", why });
        nodes.push(n);
        continue;
      }
      const raw = await reader.bytes(w!);
      let mat = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      let [k, cols] = [Number(w!.dims![0]), Number(w!.dims![1])];
      if (isGemm && (attr(n, "transB") ?? 0) === 1) {
        // Gemm's B is [N, K]: transpose to [K, N].
        const t = new Float32Array(k * cols);
        for (let r = 0; r < k; r++) for (let c = 0; c < cols; c++) t[c * k + r] = mat[r * cols + c];
        mat = t;
        [k, cols] = [cols, k];
      }
      const { q, scale } = quantizeColumns(mat, k, cols);
      const qName = `${wName}_int8`, sName = `${wName}_scale`;
      out.push({
        tensor: { name: qName, dataType: INT8, dims: [k, cols] },
        bytes: new Uint8Array(q.buffer),
      });
      out.push({
        tensor: { name: sName, dataType: FLOAT, dims: [cols] },
        bytes: new Uint8Array(scale.buffer),
      });
      replaced.add(wName);
      report.bytesIn += raw.byteLength;
      const y = n.output![0];
      const mm = isGemm && n.input?.[2] ? `${y}_int8mm` : y;
      nodes.push({
        opType: "DynamicQuantizeMatMul",
        domain: "com.microsoft",
        name: `${n.name || y}_int8`,
        input: [n.input![0], qName, sName],
        output: [mm],
      });
      if (mm !== y) {
        nodes.push({
          opType: "Add",
          name: `${n.name || y}_bias`,
          input: [mm, n.input![2]],
          output: [y],
        });
      }
      report.quantized++;
    }
    for (const [name, t] of inits) {
      if (replaced.has(name)) continue;
      const bytes = await reader.bytes(t);
      report.bytesIn += bytes.byteLength;
      out.push({ tensor: { name: t.name, dataType: t.dataType, dims: t.dims }, bytes });
    }
  } finally {
    reader.close();
  }
  report.bytesOut = out.reduce((s, o) => s + o.bytes.byteLength, 0);
  report.externalData = sourceExternal || report.bytesOut > INLINE_LIMIT;

  // Write aside, then rename into place.
  const tmp = `${outDir}.${Deno.pid}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  try {
    const DATA = "model.onnx_data";
    const initializer: Tensor[] = [];
    if (report.externalData) {
      using f = await Deno.open(join(tmp, DATA), { write: true, create: true, truncate: true });
      let offset = 0;
      for (const { tensor, bytes } of out) {
        // Small tensors (shapes, constants) stay in the graph, as ONNX's own writer keeps
        // them: shape inference reads them there.
        if (bytes.length < 1024) {
          initializer.push({ ...tensor, rawData: bytes });
          continue;
        }
        // Keep every tensor 16-byte aligned in the file.
        const pad = (16 - (offset % 16)) % 16;
        if (pad) await f.write(new Uint8Array(pad));
        offset += pad;
        for (let w = 0; w < bytes.length;) w += await f.write(bytes.subarray(w));
        initializer.push({
          ...tensor,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: DATA },
            { key: "offset", value: String(offset) },
            { key: "length", value: String(bytes.length) },
          ],
        });
        offset += bytes.length;
      }
      await f.syncData();
    } else {
      for (const { tensor, bytes } of out) initializer.push({ ...tensor, rawData: bytes });
    }
    const opsets = (model.opsetImport ?? []).filter((o) => o.domain !== "com.microsoft");
    const quantized = onnx.ModelProto.create({
      ...model,
      opsetImport: [...opsets, { domain: "com.microsoft", version: 1 }],
      producerName: "phongtro-head quantize-model",
      graph: { ...graph, node: nodes, initializer },
    });
    await Deno.writeFile(join(tmp, "model.onnx"), onnx.ModelProto.encode(quantized).finish());
    for (const name of ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]) {
      if (await exists(join(inDir, name))) await Deno.copyFile(join(inDir, name), join(tmp, name));
    }
    await atomicWriteJson(join(tmp, "encoder.json"), { ...config, precision: "int8" });
    if (opts.force) await Deno.remove(outDir, { recursive: true }).catch(() => {});
    await Deno.rename(tmp, outDir);
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  report.seconds = (performance.now() - t0) / 1000;
  log(
    `${report.quantized} MatMul/Gemm on int8 weights (${report.skipped.length} left float32); ` +
      `weights ${(report.bytesIn / 1e6).toFixed(1)} MB -> ${
        (report.bytesOut / 1e6).toFixed(1)
      } MB` +
      `${report.externalData ? " (in model.onnx_data)" : ""}; ${report.seconds.toFixed(1)} s`,
  );
  return report;
}
