/**
 * Learning-rate schedule: linear warm-up to the peak, then cosine decay to 0.
 *
 * @module
 */

/**
 * The learning rate at `step` (0-based) of `totalSteps`.
 *
 * - warm-up (`step < warmup`): `lr * (step + 1) / warmup`
 * - then: `lr * 0.5 * (1 + cos(pi * progress))`, progress from 0 to 1.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedule.ts";
 * if (Math.abs(learningRate(0, 100, 1e-3, 0.1) - 1e-4) > 1e-15) throw new Error("first warm-up step");
 * if (learningRate(10, 100, 1e-3, 0.1) !== 1e-3) throw new Error("the peak");
 * ```
 */
export function learningRate(
  step: number,
  totalSteps: number,
  lr: number,
  warmupFraction: number,
): number {
  const warmup = Math.min(totalSteps, Math.round(totalSteps * warmupFraction));
  if (step < warmup) return lr * (step + 1) / warmup;
  const decaySteps = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / decaySteps);
  return lr * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * The whole schedule, one value per step, for plots.
 *
 * @example
 * ```ts
 * import { scheduleCurve } from "./schedule.ts";
 * const { steps, lrs } = scheduleCurve(80, 2e-3, 0.1);
 * if (steps.length !== 80 || Math.abs(Math.max(...lrs) - 2e-3) > 1e-15) throw new Error("80 steps peaking at lr");
 * ```
 */
export function scheduleCurve(
  totalSteps: number,
  lr: number,
  warmupFraction: number,
): { steps: number[]; lrs: number[] } {
  const steps = Array.from({ length: totalSteps }, (_, i) => i);
  return { steps, lrs: steps.map((s) => learningRate(s, totalSteps, lr, warmupFraction)) };
}
