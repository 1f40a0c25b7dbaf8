/**
 * Small helpers to write ONNX models with `onnx-proto` (protobufjs): tensors,
 * value infos, nodes and a model wrapper, plus two ready-made graphs — the
 * offline lexical stand-in encoder ({@link lexicalEncoderGraph}) and a linear
 * projection head ({@link linearHeadGraph}, `MatMul` → optional L2 norm) for
 * exporting a trained head.
 *
 * Everything here is deterministic: the same arguments give the same bytes.
 *
 * @module
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/**
 * ONNX element types used here (`onnx.TensorProto.DataType`).
 *
 * @example
 * ```ts
 * import { DataType, valueInfo } from "./onnx_build.ts";
 * const ids = valueInfo("input_ids", DataType.INT64, ["batch", "sequence"]);
 * ```
 */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;

/** One ONNX element type code from {@link DataType}. */
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** A dimension: a fixed size or a symbolic name such as `"batch"`. */
export type Dim = number | string;

/** An attribute value; the wrapper says which ONNX attribute type it is. */
export type AttrValue =
  | { int: number }
  | { ints: number[] }
  | { float: number }
  | { floats: number[] }
  | { string: string };

/** A node input list, output list and attributes (the arguments of {@link node}). */
export type Node = ReturnType<typeof node>;

function littleEndianBytes(values: Float32Array | Int32Array | BigInt64Array): Uint8Array {
  // Copy so the result owns its buffer; the platform is little-endian (checked below).
  return new Uint8Array(
    values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
  );
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function checkEndian() {
  if (!LITTLE_ENDIAN) throw new Error("onnx_build: big-endian hosts are not supported");
}

function checkSize(name: string, dims: number[], length: number) {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== length) {
    throw new Error(
      `onnx_build: tensor ${name} has dims [${dims}] (${n} values) but ${length} given`,
    );
  }
}

/**
 * A float32 initializer tensor (stored as little-endian `raw_data`).
 *
 * @example
 * ```ts
 * import { floatTensor } from "./onnx_build.ts";
 * const t = floatTensor("W", [2, 2], new Float32Array([1, 0, 0, 1]));
 * console.log(t.name, t.dims);
 * ```
 */
export function floatTensor(
  name: string,
  dims: number[],
  data: Float32Array,
): onnxProto.onnx.ITensorProto {
  checkEndian();
  checkSize(name, dims, data.length);
  return { name, dims, dataType: DataType.FLOAT, rawData: littleEndianBytes(data) };
}

/**
 * An int64 initializer tensor (for shapes and axes inputs).
 *
 * @example
 * ```ts
 * import { int64Tensor } from "./onnx_build.ts";
 * const axes = int64Tensor("axes", [1], [1]);
 * if (JSON.stringify(axes.dataType) !== JSON.stringify(7)) throw new Error(`got ${JSON.stringify(axes.dataType)}`);
 * ```
 */
export function int64Tensor(
  name: string,
  dims: number[],
  values: number[],
): onnxProto.onnx.ITensorProto {
  checkEndian();
  checkSize(name, dims, values.length);
  const data = BigInt64Array.from(values, (v) => BigInt(v));
  return { name, dims, dataType: DataType.INT64, rawData: littleEndianBytes(data) };
}

/**
 * A graph input/output declaration: a tensor of `elemType` with `shape`
 * (numbers are fixed sizes, strings are symbolic, dynamic sizes).
 *
 * @example
 * ```ts
 * import { DataType, valueInfo } from "./onnx_build.ts";
 * const ids = valueInfo("input_ids", DataType.INT64, ["batch", "seq"]);
 * console.log(ids.name);
 * ```
 */
export function valueInfo(
  name: string,
  elemType: DataTypeCode,
  shape: Dim[],
): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: shape.map((d) => typeof d === "number" ? { dimValue: d } : { dimParam: d }),
        },
      },
    },
  };
}

/**
 * A graph node. Attribute values say their type explicitly
 * (`{ int: 1 }`, `{ float: 1e-6 }`, `{ ints: [1] }`, ...).
 *
 * @example
 * ```ts
 * import { node } from "./onnx_build.ts";
 * const n = node("LpNormalization", ["x"], ["y"], { axis: { int: -1 }, p: { int: 2 } });
 * console.log(n.opType);
 * ```
 */
export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attrs: Record<string, AttrValue> = {},
  name = `${opType}_${outputs[0]}`,
): onnxProto.onnx.INodeProto {
  const T = onnx.AttributeProto.AttributeType;
  const attribute = Object.entries(attrs).map(([key, v]): onnxProto.onnx.IAttributeProto => {
    if ("int" in v) return { name: key, type: T.INT, i: v.int };
    if ("ints" in v) return { name: key, type: T.INTS, ints: v.ints };
    if ("float" in v) return { name: key, type: T.FLOAT, f: v.float };
    if ("floats" in v) return { name: key, type: T.FLOATS, floats: v.floats };
    return { name: key, type: T.STRING, s: new TextEncoder().encode(v.string) };
  });
  return { opType, input: inputs, output: outputs, name, attribute };
}

/** The parts of a graph passed to {@link buildModel}. */
export interface GraphSpec {
  /** Graph name. */
  name: string;
  nodes: onnxProto.onnx.INodeProto[];
  inputs: onnxProto.onnx.IValueInfoProto[];
  outputs: onnxProto.onnx.IValueInfoProto[];
  initializers?: onnxProto.onnx.ITensorProto[];
  /** Default opset 13. */
  opset?: number;
  /** Stored in `producer_name`. */
  producer?: string;
  /** Stored in `doc_string`. */
  doc?: string;
}

/**
 * Serialise a graph into ONNX model bytes (IR version 8, default opset 13).
 *
 * @example
 * ```ts
 * import { buildModel, DataType, node, valueInfo } from "./onnx_build.ts";
 * const bytes = buildModel({
 *   name: "identity",
 *   nodes: [node("Identity", ["x"], ["y"])],
 *   inputs: [valueInfo("x", DataType.FLOAT, ["n"])],
 *   outputs: [valueInfo("y", DataType.FLOAT, ["n"])],
 * });
 * console.log(bytes.length > 0);
 * ```
 */
export function buildModel(spec: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: spec.producer ?? "phongtro-head",
    producerVersion: "1",
    docString: spec.doc ?? "",
    opsetImport: [{ domain: "", version: spec.opset ?? 13 }],
    graph: {
      name: spec.name,
      node: spec.nodes,
      input: spec.inputs,
      output: spec.outputs,
      initializer: spec.initializers ?? [],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Nodes that L2-normalise `input` along its last axis into `output`
 * (`x / max(‖x‖₂, eps)`; a zero row stays zero instead of becoming NaN, unlike
 * `LpNormalization`). Returns the nodes and the one initializer they need.
 *
 * @example
 * ```ts
 * import { l2NormalizeNodes } from "./onnx_build.ts";
 * const { nodes, initializers } = l2NormalizeNodes("x", "y");
 * console.log(nodes.length, initializers.length);
 * ```
 */
export function l2NormalizeNodes(
  input: string,
  output: string,
  eps = 1e-12,
): { nodes: onnxProto.onnx.INodeProto[]; initializers: onnxProto.onnx.ITensorProto[] } {
  const p = `${output}__l2`;
  return {
    nodes: [
      node("ReduceL2", [input], [`${p}_norm`], { axes: { ints: [-1] }, keepdims: { int: 1 } }),
      node("Max", [`${p}_norm`, `${p}_eps`], [`${p}_safe`]),
      node("Div", [input, `${p}_safe`], [output]),
    ],
    initializers: [floatTensor(`${p}_eps`, [], new Float32Array([eps]))],
  };
}

/** Options of {@link lexicalEncoderGraph}. */
export interface LexicalGraphOptions {
  /** Also output `last_hidden_state` `[batch, seq, dim]` (default true). */
  lastHiddenState?: boolean;
  /** Element type of `input_ids`/`attention_mask` (default INT64). */
  intType?: typeof DataType.INT64 | typeof DataType.INT32;
  /** Declare a `token_type_ids` input too (consumed, has no effect). Default false. */
  tokenTypeIds?: boolean;
  /** Graph name (default "lexical_encoder"). */
  name?: string;
}

/**
 * The lexical encoder graph: `Gather(table, input_ids)` → masked by
 * `attention_mask` (= `last_hidden_state`) → masked mean over tokens →
 * L2 norm (= `sentence_embedding` `[batch, dim]`).
 *
 * @example
 * ```ts
 * import { lexicalEncoderGraph } from "./onnx_build.ts";
 * const table = new Float32Array([0, 0, 1, 0, 0, 1]); // vocab 3, dim 2
 * const bytes = lexicalEncoderGraph(table, 3, 2);
 * console.log(bytes.length > 0);
 * ```
 */
export function lexicalEncoderGraph(
  table: Float32Array,
  vocabSize: number,
  dim: number,
  opts: LexicalGraphOptions = {},
): Uint8Array {
  const intType = opts.intType ?? DataType.INT64;
  const nodes: onnxProto.onnx.INodeProto[] = [
    node("Gather", ["embedding_table", "input_ids"], ["token_vectors"], { axis: { int: 0 } }),
    node("Cast", ["attention_mask"], ["mask_f"], { to: { int: DataType.FLOAT } }),
  ];
  const initializers = [
    floatTensor("embedding_table", [vocabSize, dim], table),
    int64Tensor("axis_seq", [1], [1]),
    int64Tensor("axis_last", [1], [2]),
    floatTensor("count_eps", [], new Float32Array([1e-9])),
  ];
  let maskName = "mask_f";
  if (opts.tokenTypeIds) {
    // Consume token_type_ids without changing anything: mask * (1 + 0 * type).
    nodes.push(
      node("Cast", ["token_type_ids"], ["type_f"], { to: { int: DataType.FLOAT } }),
      node("Mul", ["type_f", "zero_f"], ["type_zero"]),
      node("Add", ["mask_f", "type_zero"], ["mask_t"]),
    );
    initializers.push(floatTensor("zero_f", [], new Float32Array([0])));
    maskName = "mask_t";
  }
  nodes.push(
    node("Unsqueeze", [maskName, "axis_last"], ["mask_3d"]),
    node("Mul", ["token_vectors", "mask_3d"], ["last_hidden_state"]),
    node("ReduceSum", ["last_hidden_state", "axis_seq"], ["token_sum"], { keepdims: { int: 0 } }),
    node("ReduceSum", [maskName, "axis_seq"], ["token_count"], { keepdims: { int: 1 } }),
    node("Max", ["token_count", "count_eps"], ["token_count_safe"]),
    node("Div", ["token_sum", "token_count_safe"], ["mean_vector"]),
  );
  const l2 = l2NormalizeNodes("mean_vector", "sentence_embedding");
  nodes.push(...l2.nodes);
  initializers.push(...l2.initializers);
  const inputs = [
    valueInfo("input_ids", intType, ["batch", "sequence"]),
    valueInfo("attention_mask", intType, ["batch", "sequence"]),
  ];
  if (opts.tokenTypeIds) inputs.push(valueInfo("token_type_ids", intType, ["batch", "sequence"]));
  const outputs = [valueInfo("sentence_embedding", DataType.FLOAT, ["batch", dim])];
  if (opts.lastHiddenState ?? true) {
    outputs.push(valueInfo("last_hidden_state", DataType.FLOAT, ["batch", "sequence", dim]));
  }
  return buildModel({
    name: opts.name ?? "lexical_encoder",
    nodes,
    inputs,
    outputs,
    initializers,
    doc: "Lexical stand-in encoder: token embedding table, masked mean, L2 norm. Not BGE-M3.",
  });
}

/** Options of {@link linearHeadGraph}. */
export interface LinearHeadOptions {
  /** L2-normalise the output (default true). */
  normalize?: boolean;
  /** Input name (default "embedding"). */
  input?: string;
  /** Output name (default "projected"). */
  output?: string;
}

/**
 * A projection head `y = x · W` (`W` row-major `[inDim, outDim]`), optionally
 * L2-normalised: input `[batch, inDim]`, output `[batch, outDim]`.
 *
 * @example
 * ```ts
 * import { linearHeadGraph } from "./onnx_build.ts";
 * const bytes = linearHeadGraph(new Float32Array([1, 0, 0, 1, 1, 1]), 3, 2);
 * console.log(bytes.length > 0);
 * ```
 */
export function linearHeadGraph(
  weight: Float32Array,
  inDim: number,
  outDim: number,
  opts: LinearHeadOptions = {},
): Uint8Array {
  const input = opts.input ?? "embedding";
  const output = opts.output ?? "projected";
  const normalize = opts.normalize ?? true;
  const nodes = [node("MatMul", [input, "head_weight"], [normalize ? "head_raw" : output])];
  const initializers = [floatTensor("head_weight", [inDim, outDim], weight)];
  if (normalize) {
    const l2 = l2NormalizeNodes("head_raw", output);
    nodes.push(...l2.nodes);
    initializers.push(...l2.initializers);
  }
  return buildModel({
    name: "projection_head",
    nodes,
    inputs: [valueInfo(input, DataType.FLOAT, ["batch", inDim])],
    outputs: [valueInfo(output, DataType.FLOAT, ["batch", outDim])],
    initializers,
  });
}

/**
 * Count the parameters (elements of floating-point initializers; integer
 * constants such as axes are not parameters) of a model by walking the
 * protobuf wire format (`ModelProto.graph.initializer[].dims`) without
 * decoding tensor data, so it is cheap even for large models. Tensors stored
 * in external data files are counted too (their dims live in the graph).
 *
 * @example
 * ```ts
 * import { countInitializerParams, linearHeadGraph } from "./onnx_build.ts";
 * const bytes = linearHeadGraph(new Float32Array(6), 3, 2, { normalize: false });
 * if (JSON.stringify(countInitializerParams(bytes)) !== JSON.stringify(6)) throw new Error(`got ${JSON.stringify(countInitializerParams(bytes))}`);
 * ```
 */
export function countInitializerParams(model: Uint8Array): number {
  let total = 0;
  for (const [field, graph] of lenFields(model)) {
    if (field !== 7) continue; // ModelProto.graph
    for (const [gField, tensor] of lenFields(graph)) {
      if (gField !== 5) continue; // GraphProto.initializer
      const { count, dataType } = tensorInfo(tensor);
      if (FLOAT_TYPES.has(dataType)) total += count;
    }
  }
  return total;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error("ONNX protobuf: truncated varint");
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
}

/** Yield `[fieldNumber, bytes]` for each length-delimited field of a message. */
function* lenFields(buf: Uint8Array): Generator<[number, Uint8Array]> {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new Error("ONNX protobuf: truncated field");
      yield [field, buf.subarray(pos, pos + len)];
      pos += len;
    } else throw new Error(`ONNX protobuf: unsupported wire type ${wire}`);
  }
}

/** FLOAT, FLOAT16, DOUBLE, BFLOAT16: the types that hold weights. */
const FLOAT_TYPES = new Set([1, 10, 11, 16]);

function tensorInfo(tensor: Uint8Array): { count: number; dataType: number } {
  const dims: number[] = [];
  let dataType = 0;
  let pos = 0;
  while (pos < tensor.length) {
    let key;
    [key, pos] = readVarint(tensor, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 1 && wire === 0) {
      let d;
      [d, pos] = readVarint(tensor, pos);
      dims.push(d);
    } else if (field === 2 && wire === 0) {
      [dataType, pos] = readVarint(tensor, pos);
    } else if (wire === 0) [, pos] = readVarint(tensor, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      let len;
      [len, pos] = readVarint(tensor, pos);
      if (field === 1) {
        // packed dims
        const end = pos + len;
        while (pos < end) {
          let d;
          [d, pos] = readVarint(tensor, pos);
          dims.push(d);
        }
      } else pos += len;
    } else throw new Error(`ONNX protobuf: unsupported wire type ${wire}`);
  }
  return { count: dims.reduce((a, b) => a * b, 1), dataType };
}

/**
 * A tensor whose data lives in an external file (ONNX external data), as in
 * BAAI's `onnx/model.onnx` + `model.onnx_data`: `offset`/`length` in bytes.
 *
 * @example
 * ```ts
 * import { externalTensor } from "./onnx_build.ts";
 * const t = externalTensor("W", [2, 2], "model.onnx_data", 0);
 * if (t.dataLocation !== 1) throw new Error("expected EXTERNAL (1)");
 * ```
 */
export function externalTensor(
  name: string,
  dims: number[],
  location: string,
  offset: number,
  dataType: DataTypeCode = DataType.FLOAT,
): onnxProto.onnx.ITensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = count * (dataType === DataType.INT64 ? 8 : 4);
  return {
    name,
    dims,
    dataType,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: "location", value: location },
      { key: "offset", value: String(offset) },
      { key: "length", value: String(bytes) },
    ],
  };
}

/** The architecture of an XLM-RoBERTa encoder (see {@link BGE_M3_SHAPE}). */
export interface XlmrShape {
  /** Transformer layers. */
  layers: number;
  /** Hidden size. */
  hidden: number;
  /** Attention heads (`hidden` must be divisible by it). */
  heads: number;
  /** Feed-forward inner size. */
  ffn: number;
  /** Vocabulary size (rows of the word embedding). */
  vocab: number;
  /** Rows of the position embedding (XLM-R: max length + padding id + 1). */
  maxPositions: number;
  /** Padding id; positions count from `padId + 1` like XLM-R. */
  padId: number;
  /** LayerNorm epsilon. */
  eps: number;
}

/**
 * BGE-M3's encoder: XLM-RoBERTa-large with 8,192-token positions (24 layers,
 * hidden 1024, 16 heads, FFN 4096, GELU, vocabulary 250,002, 8,194 position
 * rows, padding id 1).
 *
 * @example
 * ```ts
 * import { BGE_M3_SHAPE, xlmrParamCount } from "./onnx_build.ts";
 * const params = xlmrParamCount(BGE_M3_SHAPE); // BGE-M3 (XLM-R large): about 567 million
 * if (params < 566e6 || params > 569e6) throw new Error(`${params}`);
 * ```
 */
export const BGE_M3_SHAPE: XlmrShape = {
  layers: 24,
  hidden: 1024,
  heads: 16,
  ffn: 4096,
  vocab: 250_002,
  maxPositions: 8194,
  padId: 1,
  eps: 1e-5,
};

/** How a weight is initialised: N(0, 0.02)-like random, all ones, or zeros. */
export type WeightInit = "random" | "ones" | "zeros";

/** One float32 weight of an XLM-R graph, in storage order. */
export interface WeightSpec {
  name: string;
  dims: number[];
  init: WeightInit;
}

/**
 * The float32 weights of an XLM-R encoder graph, in the order they are
 * stored (HF `XLMRobertaModel` names; matrices are `[in, out]` for MatMul).
 *
 * @example
 * ```ts
 * import { BGE_M3_SHAPE, xlmrWeightSpecs } from "./onnx_build.ts";
 * if (JSON.stringify(xlmrWeightSpecs(BGE_M3_SHAPE)[0].name) !== JSON.stringify("embeddings.word_embeddings.weight")) throw new Error(`got ${JSON.stringify(xlmrWeightSpecs(BGE_M3_SHAPE)[0].name)}`);
 * ```
 */
export function xlmrWeightSpecs(s: XlmrShape): WeightSpec[] {
  const h = s.hidden;
  const specs: WeightSpec[] = [
    { name: "embeddings.word_embeddings.weight", dims: [s.vocab, h], init: "random" },
    { name: "embeddings.position_embeddings.weight", dims: [s.maxPositions, h], init: "random" },
    { name: "embeddings.token_type_embeddings.weight", dims: [1, h], init: "random" },
    { name: "embeddings.LayerNorm.weight", dims: [h], init: "ones" },
    { name: "embeddings.LayerNorm.bias", dims: [h], init: "zeros" },
  ];
  for (let l = 0; l < s.layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const m of ["query", "key", "value"]) {
      specs.push({ name: `${p}.attention.self.${m}.weight`, dims: [h, h], init: "random" });
      specs.push({ name: `${p}.attention.self.${m}.bias`, dims: [h], init: "zeros" });
    }
    specs.push(
      { name: `${p}.attention.output.dense.weight`, dims: [h, h], init: "random" },
      { name: `${p}.attention.output.dense.bias`, dims: [h], init: "zeros" },
      { name: `${p}.attention.output.LayerNorm.weight`, dims: [h], init: "ones" },
      { name: `${p}.attention.output.LayerNorm.bias`, dims: [h], init: "zeros" },
      { name: `${p}.intermediate.dense.weight`, dims: [h, s.ffn], init: "random" },
      { name: `${p}.intermediate.dense.bias`, dims: [s.ffn], init: "zeros" },
      { name: `${p}.output.dense.weight`, dims: [s.ffn, h], init: "random" },
      { name: `${p}.output.dense.bias`, dims: [h], init: "zeros" },
      { name: `${p}.output.LayerNorm.weight`, dims: [h], init: "ones" },
      { name: `${p}.output.LayerNorm.bias`, dims: [h], init: "zeros" },
    );
  }
  return specs;
}

/**
 * Parameters of an XLM-R encoder of this shape (all float weights).
 *
 * @example
 * ```ts
 * import { xlmrParamCount } from "./onnx_build.ts";
 * console.log(xlmrParamCount({ layers: 2, hidden: 32, heads: 4, ffn: 64, vocab: 100,
 *   maxPositions: 514, padId: 1, eps: 1e-5 }));
 * ```
 */
export function xlmrParamCount(s: XlmrShape): number {
  return xlmrWeightSpecs(s).reduce((a, w) => a + w.dims.reduce((x, y) => x * y, 1), 0);
}

/**
 * The XLM-RoBERTa encoder graph (opset 17): `input_ids`, `attention_mask`
 * (int64 `[batch, sequence]`) → `last_hidden_state` (float32
 * `[batch, sequence, hidden]`), with XLM-R's position ids
 * (`cumsum(input_ids != pad) * (input_ids != pad) + pad`), post-LayerNorm
 * blocks, exact (erf) GELU and a additive attention mask. `weights` are the
 * tensors of {@link xlmrWeightSpecs} (inline or {@link externalTensor}).
 *
 * @example
 * ```ts
 * import { floatTensor, xlmrEncoderModel, xlmrWeightSpecs } from "./onnx_build.ts";
 * const shape = { layers: 1, hidden: 8, heads: 2, ffn: 16, vocab: 10, maxPositions: 20,
 *   padId: 1, eps: 1e-5 };
 * const weights = xlmrWeightSpecs(shape).map((w) =>
 *   floatTensor(w.name, w.dims, new Float32Array(w.dims.reduce((a, b) => a * b, 1)))
 * );
 * console.log(xlmrEncoderModel(shape, weights).length > 0);
 * ```
 */
export function xlmrEncoderModel(
  s: XlmrShape,
  weights: onnxProto.onnx.ITensorProto[],
  opts: { name?: string; doc?: string } = {},
): Uint8Array {
  if (s.hidden % s.heads !== 0) {
    throw new Error(`xlmrEncoderModel: hidden ${s.hidden} is not divisible by heads ${s.heads}`);
  }
  const hd = s.hidden / s.heads;
  const n: onnxProto.onnx.INodeProto[] = [];
  const init: onnxProto.onnx.ITensorProto[] = [
    ...weights,
    int64Tensor("c_pad", [], [s.padId]),
    int64Tensor("c_axis1", [], [1]),
    int64Tensor("c_axes_12", [2], [1, 2]),
    int64Tensor("c_qkv_shape", [4], [0, 0, s.heads, hd]),
    int64Tensor("c_out_shape", [3], [0, 0, s.hidden]),
    floatTensor("c_one", [], new Float32Array([1])),
    floatTensor("c_neg", [], new Float32Array([-1e4])),
    floatTensor("c_scale", [], new Float32Array([1 / Math.sqrt(hd)])),
    floatTensor("c_half", [], new Float32Array([0.5])),
    floatTensor("c_rsqrt2", [], new Float32Array([Math.SQRT1_2])),
  ];
  const e = "embeddings";
  // XLM-R position ids: padding tokens get padId, others padId+1, padId+2, ...
  n.push(
    node("Equal", ["input_ids", "c_pad"], ["is_pad"]),
    node("Not", ["is_pad"], ["not_pad"]),
    node("Cast", ["not_pad"], ["not_pad_i"], { to: { int: DataType.INT64 } }),
    node("CumSum", ["not_pad_i", "c_axis1"], ["pos_cum"]),
    node("Mul", ["pos_cum", "not_pad_i"], ["pos_inc"]),
    node("Add", ["pos_inc", "c_pad"], ["position_ids"]),
    node("Gather", [`${e}.word_embeddings.weight`, "input_ids"], ["emb_word"], {
      axis: { int: 0 },
    }),
    node("Gather", [`${e}.position_embeddings.weight`, "position_ids"], ["emb_pos"], {
      axis: { int: 0 },
    }),
    node("Add", ["emb_word", "emb_pos"], ["emb_wp"]),
    node("Add", ["emb_wp", `${e}.token_type_embeddings.weight`], ["emb_sum"]),
    node(
      "LayerNormalization",
      ["emb_sum", `${e}.LayerNorm.weight`, `${e}.LayerNorm.bias`],
      ["hidden_0"],
      { axis: { int: -1 }, epsilon: { float: s.eps } },
    ),
    // Additive mask [batch, 1, 1, sequence]: 0 for tokens, -1e4 for padding.
    node("Cast", ["attention_mask"], ["mask_f"], { to: { int: DataType.FLOAT } }),
    node("Sub", ["c_one", "mask_f"], ["mask_inv"]),
    node("Mul", ["mask_inv", "c_neg"], ["mask_add2"]),
    node("Unsqueeze", ["mask_add2", "c_axes_12"], ["mask_add"]),
  );
  let x = "hidden_0";
  for (let l = 0; l < s.layers; l++) {
    const p = `encoder.layer.${l}`;
    const t = (k: string) => `l${l}_${k}`;
    for (const m of ["query", "key", "value"]) {
      n.push(
        node("MatMul", [x, `${p}.attention.self.${m}.weight`], [t(`${m}_mm`)]),
        node("Add", [t(`${m}_mm`), `${p}.attention.self.${m}.bias`], [t(m)]),
        node("Reshape", [t(m), "c_qkv_shape"], [t(`${m}_4d`)]),
        node("Transpose", [t(`${m}_4d`)], [t(`${m}_h`)], {
          perm: { ints: m === "key" ? [0, 2, 3, 1] : [0, 2, 1, 3] },
        }),
      );
    }
    n.push(
      node("MatMul", [t("query_h"), t("key_h")], [t("scores_raw")]),
      node("Mul", [t("scores_raw"), "c_scale"], [t("scores_scaled")]),
      node("Add", [t("scores_scaled"), "mask_add"], [t("scores")]),
      node("Softmax", [t("scores")], [t("probs")], { axis: { int: -1 } }),
      node("MatMul", [t("probs"), t("value_h")], [t("ctx_h")]),
      node("Transpose", [t("ctx_h")], [t("ctx_4d")], { perm: { ints: [0, 2, 1, 3] } }),
      node("Reshape", [t("ctx_4d"), "c_out_shape"], [t("ctx")]),
      node("MatMul", [t("ctx"), `${p}.attention.output.dense.weight`], [t("attn_mm")]),
      node("Add", [t("attn_mm"), `${p}.attention.output.dense.bias`], [t("attn_out")]),
      node("Add", [t("attn_out"), x], [t("attn_res")]),
      node(
        "LayerNormalization",
        [
          t("attn_res"),
          `${p}.attention.output.LayerNorm.weight`,
          `${p}.attention.output.LayerNorm.bias`,
        ],
        [t("attn_ln")],
        { axis: { int: -1 }, epsilon: { float: s.eps } },
      ),
      node("MatMul", [t("attn_ln"), `${p}.intermediate.dense.weight`], [t("ffn_mm")]),
      node("Add", [t("ffn_mm"), `${p}.intermediate.dense.bias`], [t("ffn_pre")]),
      // Exact GELU: 0.5 · x · (1 + erf(x / √2)); ORT fuses it into Gelu.
      node("Mul", [t("ffn_pre"), "c_rsqrt2"], [t("gelu_s")]),
      node("Erf", [t("gelu_s")], [t("gelu_erf")]),
      node("Add", [t("gelu_erf"), "c_one"], [t("gelu_1p")]),
      node("Mul", [t("ffn_pre"), t("gelu_1p")], [t("gelu_x")]),
      node("Mul", [t("gelu_x"), "c_half"], [t("ffn_act")]),
      node("MatMul", [t("ffn_act"), `${p}.output.dense.weight`], [t("out_mm")]),
      node("Add", [t("out_mm"), `${p}.output.dense.bias`], [t("out")]),
      node("Add", [t("out"), t("attn_ln")], [t("out_res")]),
    );
    const y = l === s.layers - 1 ? "last_hidden_state" : `hidden_${l + 1}`;
    n.push(
      node(
        "LayerNormalization",
        [t("out_res"), `${p}.output.LayerNorm.weight`, `${p}.output.LayerNorm.bias`],
        [y],
        { axis: { int: -1 }, epsilon: { float: s.eps } },
      ),
    );
    x = y;
  }
  return buildModel({
    name: opts.name ?? "xlm_roberta_encoder",
    nodes: n,
    inputs: [
      valueInfo("input_ids", DataType.INT64, ["batch_size", "sequence_length"]),
      valueInfo("attention_mask", DataType.INT64, ["batch_size", "sequence_length"]),
    ],
    outputs: [
      valueInfo("last_hidden_state", DataType.FLOAT, [
        "batch_size",
        "sequence_length",
        s.hidden,
      ]),
    ],
    initializers: init,
    opset: 17,
    doc: opts.doc ?? "XLM-RoBERTa encoder",
  });
}
