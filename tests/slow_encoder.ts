/**
 * Test helper: a deterministic fake encoder (no ONNX) that can be slowed
 * down, and a CLI that fills a cache with it, for the concurrent-writer and
 * kill tests of the embedding cache.
 *
 * `deno run --allow-read --allow-write tests/slow_encoder.ts ROOT PREFIX COUNT DELAY_MS [FIRST]`
 * embeds the texts `PREFIX0 … PREFIX(COUNT-1)` (from FIRST) in batches of 8
 * with DELAY_MS per batch and a flush every 50 ms, printing the plan as a
 * JSON line first and `done` at the end.
 *
 * @module
 */
import { type CacheEncoder, embedTexts } from "../lib/encoder/cache.ts";

/**
 * The fake encoder: row `i` is a function of the text's characters only.
 *
 * @example
 * ```ts
 * import { slowEncoder } from "./slow_encoder.ts";
 * const e = slowEncoder(0);
 * console.log((await e.encode(["a"])).data.length); // 8
 * ```
 */
export function slowEncoder(delayMs: number, dim = 8): CacheEncoder {
  return {
    name: "slow-test",
    dim,
    fingerprint: "5105e0c0de",
    encode(texts, opts = {}) {
      const data = new Float32Array(texts.length * dim);
      texts.forEach((t, i) => {
        for (let d = 0; d < dim; d++) {
          let h = d + 1;
          for (let c = 0; c < t.length; c++) h = (Math.imul(h, 31) + t.charCodeAt(c)) | 0;
          data[i * dim + d] = (h % 1000) / 1000;
        }
      });
      const bs = opts.batchSize ?? 8;
      return (async () => {
        for (let d = 0; d < texts.length; d += bs) {
          if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
          opts.onProgress?.(Math.min(texts.length, d + bs), texts.length);
        }
        return { dim, data, truncated: 0, truncatedIndices: [] };
      })();
    },
  } as CacheEncoder;
}

/**
 * The texts the CLI embeds.
 *
 * @example
 * ```ts
 * import { fixtureTexts } from "./slow_encoder.ts";
 * console.log(fixtureTexts("q", 2)); // ["q0", "q1"]
 * ```
 */
export function fixtureTexts(prefix: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${from + i}`);
}

if (import.meta.main) {
  const [root, prefix, count, delay, from] = Deno.args;
  const texts = fixtureTexts(prefix, Number(count), Number(from ?? 0));
  await embedTexts(slowEncoder(Number(delay)), texts, {
    cacheRoot: root,
    collect: false,
    flushSeconds: 0.05,
    batchSize: 8,
    onPlan: (p) => console.log(JSON.stringify(p)),
  });
  console.log("done");
}
