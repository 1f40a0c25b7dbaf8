/**
 * Read and write the safetensors format (F32 tensors only): an 8-byte
 * little-endian u64 header length `N`, `N` bytes of JSON header (padded with
 * spaces to a multiple of 8), then the raw little-endian tensor bytes.
 *
 * ```json
 * { "__metadata__": { "format": "pt" },
 *   "weight": { "dtype": "F32", "shape": [256, 1024], "data_offsets": [0, 1048576] } }
 * ```
 *
 * `data_offsets` are relative to the start of the byte buffer after the header.
 *
 * @module
 */

import { atomicWrite } from "./fs.ts";

/**
 * One tensor: dtype (F32 only), shape and row-major values.
 */
export interface SafeTensor {
  /** Element type; only "F32" (little-endian float32) is supported. */
  dtype: "F32";
  /** Dimensions, outermost first (e.g. `[256, 1024]`). */
  shape: number[];
  /** Row-major values; length is the product of `shape`. */
  data: Float32Array;
}

/**
 * A decoded file: named tensors plus the string-to-string metadata.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors, type SafetensorsFile } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
 * const file: SafetensorsFile = decodeSafetensors(bytes);
 * console.log(file.tensors.w.shape, file.metadata);
 * ```
 */
export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  tensors: Record<string, SafeTensor>;
  /** The header's `__metadata__` (string values), empty when absent. */
  metadata: Record<string, string>;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encode tensors (in insertion order) and metadata into safetensors bytes.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors(
 *   { weight: { dtype: "F32", shape: [2, 3], data: new Float32Array(6) } },
 *   { format: "pt" },
 * );
 * if (JSON.stringify(bytes.length % 8) !== JSON.stringify(0)) throw new Error(`got ${JSON.stringify(bytes.length % 8)}`);
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw new Error(`safetensors: metadata value for "${key}" must be a string`);
    }
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new Error(`safetensors: "__metadata__" is reserved`);
    if (t.dtype !== "F32") {
      throw new Error(`safetensors: tensor "${name}" has unsupported dtype ${t.dtype} (F32 only)`);
    }
    const count = shapeSize(t.shape, name);
    if (count !== t.data.length) {
      throw new Error(
        `safetensors: tensor "${name}" shape [${t.shape}] needs ${count} values, got ${t.data.length}`,
      );
    }
    header[name] = {
      dtype: "F32",
      shape: t.shape,
      data_offsets: [offset, offset + 4 * count],
    };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  const jsonBytesLen = new TextEncoder().encode(json).length;
  json += " ".repeat((8 - ((8 + jsonBytesLen) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const [, t] of entries) {
    if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    } else {
      for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i], true);
    }
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Decode and validate safetensors bytes: header length bounded
 * (`maxHeaderBytes`, default 1 MiB) and inside the file, valid JSON object,
 * F32 dtypes only, `shape` product × 4 equal to the offsets span, offsets
 * inside the data buffer and non-overlapping, metadata values strings.
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * if (JSON.stringify(Array.from(decodeSafetensors(bytes).tensors.w.data)) !== JSON.stringify([1, 2])) throw new Error(`got ${decodeSafetensors(bytes).tensors.w.data}`);
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  opts: { maxHeaderBytes?: number } = {},
): SafetensorsFile {
  const maxHeaderBytes = opts.maxHeaderBytes ?? 1 << 20;
  if (bytes.length < 8) {
    throw new Error(`safetensors: file is ${bytes.length} bytes, too short for the 8-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) {
    throw new Error(`safetensors: header length ${n} exceeds the limit of ${maxHeaderBytes} bytes`);
  }
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length) {
    throw new Error(
      `safetensors: header length ${headerLen} runs past the end of the file (${bytes.length} bytes; truncated?)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLen),
    ));
  } catch (err) {
    throw new Error(`safetensors: header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new Error(`safetensors: header must be a JSON object`);
  }
  const data = bytes.subarray(8 + headerLen);
  const metadata: Record<string, string> = {};
  const tensors: Record<string, SafeTensor> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
        throw new Error(`safetensors: __metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== "string") {
          throw new Error(`safetensors: __metadata__ value for "${k}" is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    if (typeof entry !== "object" || entry === null) {
      throw new Error(`safetensors: tensor "${name}": entry must be an object`);
    }
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (dtype !== "F32") {
      throw new Error(
        `safetensors: tensor "${name}" has unsupported dtype ${
          JSON.stringify(dtype)
        } (only F32 is supported)`,
      );
    }
    if (!Array.isArray(shape)) throw new Error(`safetensors: tensor "${name}": shape is missing`);
    const count = shapeSize(shape, name);
    if (
      !Array.isArray(offsets) || offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
    ) {
      throw new Error(
        `safetensors: tensor "${name}": data_offsets must be two non-negative integers`,
      );
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > data.length) {
      throw new Error(
        `safetensors: tensor "${name}": data_offsets [${begin}, ${end}] outside the ${data.length}-byte data buffer (truncated?)`,
      );
    }
    if (count * 4 !== end - begin) {
      throw new Error(
        `safetensors: tensor "${name}": shape [${shape}] needs ${
          count * 4
        } bytes but data_offsets span ${end - begin}`,
      );
    }
    spans.push({ name, begin, end });
    const raw = data.slice(begin, end); // copy: aligned, detached from the file buffer
    let values: Float32Array;
    if (LITTLE_ENDIAN_HOST) {
      values = new Float32Array(raw.buffer, 0, count);
    } else {
      const dv = new DataView(raw.buffer);
      values = Float32Array.from({ length: count }, (_, i) => dv.getFloat32(4 * i, true));
    }
    tensors[name] = { dtype: "F32", shape: shape as number[], data: values };
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i].begin < spans[i - 1].end) {
      throw new Error(
        `safetensors: tensors "${spans[i - 1].name}" and "${spans[i].name}" overlap`,
      );
    }
  }
  return { tensors, metadata };
}

/**
 * Write tensors to `path` atomically (temp file + rename).
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors.ts";
 * await writeSafetensors("/tmp/example.safetensors", {
 *   weight: { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) },
 * }, { format: "pt" });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await atomicWrite(path, encodeSafetensors(tensors, metadata));
}

/**
 * Read and validate a safetensors file; errors name the file.
 *
 * @example
 * ```ts
 * import { readSafetensors } from "./safetensors.ts";
 * const { tensors, metadata } = await readSafetensors("/tmp/example.safetensors");
 * console.log(tensors.weight.shape, metadata.format);
 * ```
 */
export async function readSafetensors(
  path: string,
  opts: { maxHeaderBytes?: number } = {},
): Promise<SafetensorsFile> {
  const bytes = await Deno.readFile(path);
  try {
    return decodeSafetensors(bytes, opts);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

function shapeSize(shape: unknown[], name: string): number {
  let count = 1;
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || (s as number) < 0) {
      throw new Error(
        `safetensors: tensor "${name}": shape [${shape}] must hold non-negative integers`,
      );
    }
    count *= s as number;
  }
  if (!Number.isSafeInteger(count * 4)) {
    throw new Error(`safetensors: tensor "${name}": shape [${shape}] is too large`);
  }
  return count;
}
