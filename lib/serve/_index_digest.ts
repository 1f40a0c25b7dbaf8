/**
 * Private: the content digest of a listings index. Each row is hashed (two
 * independent 32-bit lanes over its id, text, metadata and vector bytes), and
 * the row hashes are combined without regard to order (sums and XORs), so
 * the digest of a table does not depend on how LanceDB lays out or scans its
 * fragments. Not a cryptographic hash: it detects corruption, not tampering.
 *
 * @module
 */

const enc = new TextEncoder();

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One row's two hash lanes, fed field by field. */
export class RowHash {
  a = 0x811c9dc5;
  b = 0x2f6b3c1d;

  word(w: number): void {
    this.a = Math.imul(this.a ^ w, 0x01000193);
    this.b = Math.imul(this.b ^ w, 0x5bd1e995) ^ (this.b >>> 15);
  }

  string(s: string): void {
    this.bytes(enc.encode(s));
  }

  bytes(u: Uint8Array): void {
    this.word(u.length);
    const whole = u.length >> 2;
    const view = new DataView(u.buffer, u.byteOffset, u.byteLength);
    for (let i = 0; i < whole; i++) this.word(view.getUint32(i * 4, true));
    let tail = 0;
    for (let i = whole * 4; i < u.length; i++) tail = (tail << 8) | u[i];
    this.word(tail);
  }

  floats(f: Float32Array): void {
    this.word(f.length);
    const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
    for (let i = 0; i < u.length; i++) this.word(u[i]);
  }

  lanes(): [number, number] {
    return [fmix(this.a), fmix(this.b ^ 0x9e3779b9)];
  }
}

/** The order-independent combination of row hashes. */
export class TableDigest {
  rows = 0;
  #sa = 0;
  #sb = 0;
  #xa = 0;
  #xb = 0;

  add(row: RowHash): void {
    const [a, b] = row.lanes();
    this.#sa = (this.#sa + a) >>> 0;
    this.#sb = (this.#sb + b) >>> 0;
    this.#xa = (this.#xa ^ a) >>> 0;
    this.#xb = (this.#xb ^ b) >>> 0;
    this.rows++;
  }

  hex(): string {
    return [this.#sa, this.#sb, this.#xa, this.#xb].map((x) => x.toString(16).padStart(8, "0"))
      .join("");
  }
}
