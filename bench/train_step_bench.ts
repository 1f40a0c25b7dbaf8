/**
 * One training step of the head (B=128, K=7, 1024→256) on the wasm backend:
 * gather, project, weighted InfoNCE, gradient, AdamW update. Synthetic
 * embeddings of the committed dataset's size. Run with `deno task bench`.
 * Throughput in examples/s = 128 / (time per step).
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend.ts";
import { resolveConfig } from "../lib/config.ts";
import { ProjectionHead } from "../lib/head.ts";
import { Rng } from "../lib/rng.ts";
import { type AdamW, adamWStep, batchLoss, type IndexBatch } from "../lib/trainer.ts";

await initBackend("wasm");
const config = resolveConfig({}, {});
const B = config.batchSize, K = config.negatives, D = 1024, N = 6825;
const rng = new Rng(1);
const emb = new Float32Array(N * D);
for (let i = 0; i < emb.length; i++) emb[i] = rng.normal() / 32;
const all = tf.tensor2d(emb, [N, D]);
const head = ProjectionHead.create({ inDim: D, outDim: 256, seed: 1 });
const opt: AdamW = {
  m: tf.variable(tf.zeros([D, 256])),
  v: tf.variable(tf.zeros([D, 256])),
  step: 0,
};
const ids = (n: number) => tf.tensor1d(Array.from({ length: n }, () => rng.int(N)), "int32");
const batch: IndexBatch = {
  q: ids(B),
  p: ids(B),
  n: ids(B * K),
  w: tf.ones([B, K]) as tf.Tensor2D,
  ids: Array.from({ length: B }, (_, i) => i),
  size: B,
};

function step() {
  const { value, grads } = tf.variableGrads(() => batchLoss(head, all, batch, config), [
    head.weight,
  ]);
  value.dataSync();
  adamWStep(head.weight, grads[head.weight.name], opt, 1e-3, config);
  tf.dispose([value, grads]);
}
step(); // warm-up: kernels compiled, memory allocated

Deno.bench(`train step (B=${B}, K=${K}, 1024→256, wasm)`, { n: 20, warmup: 3 }, () => {
  step();
});
