/**
 * Private: the Hamming-distance kernel of the binary search, as a tiny
 * WebAssembly module assembled here byte by byte (no toolchain): `i64.popcnt`
 * is one machine instruction (x86 POPCNT), where JavaScript needs a dozen
 * operations per 32 bits. One call scores one query against every document:
 *
 * ```wat
 * (func (export "hamming") (param $q i32) (param $d i32) (param $nd i32)
 *                           (param $words i32) (param $out i32) (param $counts i32)
 *   ;; for each document j: h = Σ_w popcnt(q[w] ^ d[j·words + w]) over 64-bit words;
 *   ;; out[j] = h; counts[h] += 1
 * )
 * ```
 *
 * Memory (exported as `mem`, grown by the caller) holds the packed query, the
 * packed documents, the distances and the histogram of distances.
 *
 * @module
 */

// deno-fmt-ignore
const BYTES = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  // type section: (i32 × 6) -> ()
  0x01, 0x0a, 0x01, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00,
  // function section: one function of type 0
  0x03, 0x02, 0x01, 0x00,
  // memory section: one memory, min 1 page
  0x05, 0x03, 0x01, 0x00, 0x01,
  // export section: "hamming" = func 0, "mem" = memory 0
  0x07, 0x11, 0x02,
  0x07, 0x68, 0x61, 0x6d, 0x6d, 0x69, 0x6e, 0x67, 0x00, 0x00,
  0x03, 0x6d, 0x65, 0x6d, 0x02, 0x00,
]);

// deno-fmt-ignore
const BODY = new Uint8Array([
  0x02, 0x03, 0x7f, 0x01, 0x7e, // locals: 3 × i32 (j=6, w=7, qp=8), 1 × i64 (h=9)
  0x02, 0x40, // block
  0x03, 0x40, //   loop (documents)
  0x20, 0x06, 0x20, 0x02, 0x4f, 0x0d, 0x01, // if j >= nd: exit
  0x42, 0x00, 0x21, 0x09, // h = 0
  0x41, 0x00, 0x21, 0x07, // w = 0
  0x20, 0x00, 0x21, 0x08, // qp = q
  0x02, 0x40, //     block
  0x03, 0x40, //       loop (words)
  0x20, 0x07, 0x20, 0x03, 0x4f, 0x0d, 0x01, // if w >= words: exit
  0x20, 0x09, // h
  0x20, 0x08, 0x29, 0x03, 0x00, // i64.load qp
  0x20, 0x01, 0x29, 0x03, 0x00, // i64.load d
  0x85, 0x7b, 0x7c, 0x21, 0x09, // h += popcnt(a ^ b)
  0x20, 0x08, 0x41, 0x08, 0x6a, 0x21, 0x08, // qp += 8
  0x20, 0x01, 0x41, 0x08, 0x6a, 0x21, 0x01, // d += 8
  0x20, 0x07, 0x41, 0x01, 0x6a, 0x21, 0x07, // w += 1
  0x0c, 0x00, //       continue
  0x0b, 0x0b, //     end loop, end block
  0x20, 0x04, 0x20, 0x09, 0xa7, 0x36, 0x02, 0x00, // out[j] = h
  // counts[h] += 1: address = counts + 4h
  0x20, 0x05, 0x20, 0x09, 0xa7, 0x41, 0x02, 0x74, 0x6a, 0x22, 0x07, // w = counts + (h << 2)
  0x20, 0x07, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, // *w = *w + 1
  0x20, 0x04, 0x41, 0x04, 0x6a, 0x21, 0x04, // out += 4
  0x20, 0x06, 0x41, 0x01, 0x6a, 0x21, 0x06, // j += 1
  0x0c, 0x00, //   continue
  0x0b, 0x0b, // end loop, end block
  0x0b, // end function
]);

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function assemble(): Uint8Array {
  // The code section: one function body, each with its size (LEB128).
  const body = [...leb(BODY.length), ...BODY];
  const code = [0x01, ...body];
  return Uint8Array.from([...BYTES, 0x0a, ...leb(code.length), ...code]);
}

/** The kernel and its memory. */
export interface HammingKernel {
  memory: WebAssembly.Memory;
  hamming: (
    q: number,
    d: number,
    nd: number,
    words64: number,
    out: number,
    counts: number,
  ) => void;
}

let kernel: HammingKernel | null | undefined;

/** The kernel, or null where WebAssembly is unavailable (then the JavaScript loop is used). */
export function hammingKernel(): HammingKernel | null {
  if (kernel !== undefined) return kernel;
  try {
    const mod = new WebAssembly.Module(assemble() as BufferSource);
    const inst = new WebAssembly.Instance(mod, {});
    kernel = {
      memory: inst.exports.mem as WebAssembly.Memory,
      hamming: inst.exports.hamming as HammingKernel["hamming"],
    };
  } catch {
    kernel = null;
  }
  return kernel;
}
