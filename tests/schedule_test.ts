import { assertAlmostEquals, assertEquals } from "./assert.ts";
import { learningRate, scheduleCurve } from "../lib/train/schedule.ts";

Deno.test("schedule: linear warm-up to the peak, then cosine decay to zero", () => {
  // 100 steps, 10 warm-up steps.
  assertAlmostEquals(learningRate(0, 100, 1, 0.1), 0.1);
  assertAlmostEquals(learningRate(4, 100, 1, 0.1), 0.5);
  assertAlmostEquals(learningRate(10, 100, 1, 0.1), 1);
  // Half-way through the 90 decay steps: cos(pi/2) -> 0.5.
  assertAlmostEquals(learningRate(55, 100, 1, 0.1), 0.5);
  assertAlmostEquals(learningRate(100, 100, 1, 0.1), 0);
  const { lrs } = scheduleCurve(100, 2, 0.1);
  assertEquals(lrs.length, 100);
  assertAlmostEquals(Math.max(...lrs), 2);
});

Deno.test("schedule: no warm-up starts at the peak", () => {
  assertAlmostEquals(learningRate(0, 10, 1, 0), 1);
});
