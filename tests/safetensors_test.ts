import { ok as assert, rejects, throws } from "node:assert";
import {
  decodeSafetensors,
  encodeSafetensors,
  readSafetensors,
  type SafeTensor,
  writeSafetensors,
} from "../lib/core/safetensors.ts";

const WEIGHT: SafeTensor = {
  dtype: "F32",
  shape: [3, 4],
  data: Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 7),
};

/** A file whose header is exactly `header` (padded), followed by `data`. */
function rawFile(header: unknown, data = new Uint8Array(0)): Uint8Array {
  let json = typeof header === "string" ? header : JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error");
}

Deno.test("safetensors: encode/decode roundtrip with metadata and layout", () => {
  const bias: SafeTensor = { dtype: "F32", shape: [2], data: new Float32Array([1.5, -2]) };
  const bytes = encodeSafetensors({ weight: WEIGHT, bias }, { format: "pt", note: "héllo" });
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  assert((8 + n) % 8 === 0, "header padded to a multiple of 8");
  assert(bytes.length === 8 + n + 4 * 14);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert(JSON.stringify(header.weight.data_offsets) === "[0,48]");
  assert(JSON.stringify(header.bias.data_offsets) === "[48,56]");
  // Raw little-endian floats right after the header.
  assert(view.getFloat32(8 + n + 4, true) === WEIGHT.data[1]);
  const file = decodeSafetensors(bytes);
  assert(file.metadata.format === "pt" && file.metadata.note === "héllo");
  assert(JSON.stringify(file.tensors.weight.shape) === "[3,4]");
  assert(file.tensors.weight.data.every((v, i) => v === WEIGHT.data[i]));
  assert(file.tensors.bias.data[1] === -2);
  // Decoding from a subarray with an odd byte offset still works (copies are aligned).
  const shifted = new Uint8Array(bytes.length + 3);
  shifted.set(bytes, 3);
  assert(decodeSafetensors(shifted.subarray(3)).tensors.weight.data[11] === WEIGHT.data[11]);
});

Deno.test("safetensors: write/read through the file system", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp" });
  try {
    const path = `${dir}/sub/head.safetensors`;
    await writeSafetensors(path, { weight: WEIGHT }, { format: "pt" });
    const file = await readSafetensors(path);
    assert(file.tensors.weight.data.every((v, i) => v === WEIGHT.data[i]));
    assert([...Deno.readDirSync(`${dir}/sub`)].length === 1, "no temp file left behind");
    // Errors name the file.
    await Deno.writeFile(`${dir}/bad.safetensors`, new Uint8Array([1, 2, 3]));
    await rejects(readSafetensors(`${dir}/bad.safetensors`), (e: Error) => {
      assert(e.message.startsWith(`${dir}/bad.safetensors: `), e.message);
      assert(e.message.includes("too short"), e.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: truncated file", () => {
  const bytes = encodeSafetensors({ weight: WEIGHT });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert(errorOf(() => decodeSafetensors(bytes.subarray(0, 5))).includes("too short"));
  assert(errorOf(() => decodeSafetensors(bytes.subarray(0, 8 + n - 4))).includes("truncated"));
  const msg = errorOf(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4)));
  assert(msg.includes(`"weight"`) && msg.includes("truncated"), msg);
});

Deno.test("safetensors: huge header length", () => {
  const bytes = encodeSafetensors({ weight: WEIGHT });
  new DataView(bytes.buffer).setBigUint64(0, 1n << 60n, true);
  const msg = errorOf(() => decodeSafetensors(bytes));
  assert(msg.includes("exceeds the limit"), msg);
  const small = encodeSafetensors({ weight: WEIGHT });
  assert(errorOf(() => decodeSafetensors(small, { maxHeaderBytes: 16 })).includes("limit of 16"));
});

Deno.test("safetensors: unsupported dtype names the tensor and the dtype", () => {
  const bytes = rawFile(
    { w16: { dtype: "F16", shape: [2], data_offsets: [0, 4] } },
    new Uint8Array(4),
  );
  const msg = errorOf(() => decodeSafetensors(bytes));
  assert(msg.includes(`"w16"`) && msg.includes("F16") && msg.includes("F32"), msg);
  throws(
    () => encodeSafetensors({ x: { ...WEIGHT, dtype: "F16" as "F32" } }),
    /"x" has unsupported dtype F16/,
  );
});

Deno.test("safetensors: shape / offsets mismatch and overlap", () => {
  const data = new Uint8Array(32);
  let msg = errorOf(() =>
    decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [3, 2], data_offsets: [0, 16] } }, data))
  );
  assert(msg.includes(`"w"`) && msg.includes("needs 24 bytes") && msg.includes("span 16"), msg);
  msg = errorOf(() =>
    decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [16], data_offsets: [0, 64] } }, data))
  );
  assert(msg.includes("outside the 32-byte data buffer"), msg);
  msg = errorOf(() =>
    decodeSafetensors(rawFile({
      a: { dtype: "F32", shape: [4], data_offsets: [0, 16] },
      b: { dtype: "F32", shape: [4], data_offsets: [8, 24] },
    }, data))
  );
  assert(msg.includes("overlap") && msg.includes(`"a"`) && msg.includes(`"b"`), msg);
  msg = errorOf(() =>
    decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data))
  );
  assert(msg.includes("non-negative integers"), msg);
  msg = errorOf(() =>
    decodeSafetensors(rawFile({ w: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, data))
  );
  assert(msg.includes("outside"), msg);
  throws(
    () => encodeSafetensors({ w: { dtype: "F32", shape: [5], data: new Float32Array(4) } }),
    /shape \[5\] needs 5 values, got 4/,
  );
});

Deno.test("safetensors: bad JSON, non-object header, non-string metadata", () => {
  let msg = errorOf(() => decodeSafetensors(rawFile('{"w": {"dtype": "F32",')));
  assert(msg.includes("not valid JSON"), msg);
  msg = errorOf(() => decodeSafetensors(rawFile("[1, 2]")));
  assert(msg.includes("JSON object"), msg);
  msg = errorOf(() => decodeSafetensors(rawFile({ __metadata__: { epoch: 3 } })));
  assert(msg.includes(`"epoch"`) && msg.includes("not a string"), msg);
  throws(
    () => encodeSafetensors({}, { epoch: 3 as unknown as string }),
    /metadata value for "epoch" must be a string/,
  );
});
