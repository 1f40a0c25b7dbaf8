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
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;

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
 * console.log(axes.dataType); // 7
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
 * console.log(countInitializerParams(bytes)); // 6
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
