import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { DimError, prefixNormalize, resolveDim, trainedDims } from "../lib/head/dims.ts";

Deno.test("trainedDims: Matryoshka prefixes plus outDim, largest first; plain runs only outDim", () => {
  assertEquals(trainedDims({ head: { outDim: 256 }, config: { matryoshka: [64, 256, 128] } }), [
    256,
    128,
    64,
  ]);
  assertEquals(trainedDims({ head: { outDim: 256 }, config: { matryoshka: [128] } }), [256, 128]);
  assertEquals(trainedDims({ head: { outDim: 256 }, config: {} }), [256]);
  for (const bad of [[0], [300], ["64"], 64]) {
    let err: unknown;
    try {
      trainedDims({ head: { outDim: 256 }, config: { matryoshka: bad } });
    } catch (e) {
      err = e;
    }
    assert(err instanceof DimError, `accepted ${JSON.stringify(bad)}`);
    assertStringIncludes((err as Error).message, "config.matryoshka");
  }
});

Deno.test("resolveDim: the default is outDim; an untrained prefix is a named error listing the allowed ones", () => {
  const m = { head: { outDim: 256 }, config: { matryoshka: [256, 128, 64] } };
  assertEquals(resolveDim(m, undefined), 256);
  assertEquals(resolveDim(m, 64), 64);
  let msg = "";
  try {
    resolveDim(m, 100, "run/x");
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, "--dim 100");
  assertStringIncludes(msg, "run/x");
  assertStringIncludes(msg, "256, 128, 64");
  const plain = { head: { outDim: 256 }, config: {} };
  assertEquals(resolveDim(plain, 256), 256);
  try {
    resolveDim(plain, 64);
    msg = "";
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, "not trained with --matryoshka");
});

Deno.test("prefixNormalize: keeps the first dims and renormalises each row", () => {
  const x = new Float32Array([3, 4, 12, 0, 0, 0, 0, 5, 1]); // 3 rows of 3
  const y = prefixNormalize(x, 3, 3, 2);
  assertEquals(Array.from(y).map((v) => Math.round(v * 1e6) / 1e6), [0.6, 0.8, 0, 0, 0, 1]);
  assertEquals(prefixNormalize(x, 3, 3, 3).length, 9);
  let msg = "";
  try {
    prefixNormalize(x, 3, 3, 4);
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, "1..3");
});
