/**
 * Writers of run-directory files outside a run's `manifest.json`, for test
 * fixtures only (hand-made, legacy or damaged runs). The product writes runs
 * only through `RunDir` (`lib/run/run_dir.ts`).
 *
 * @module
 */
import { atomicWrite, atomicWriteJson, join } from "../lib/core/fs.ts";
import { readSafetensors, writeSafetensors } from "../lib/core/safetensors.ts";
import {
  CHECKPOINT_FORMAT,
  CheckpointError,
  type EpochRecord,
  type RunInfo,
} from "../lib/run/checkpoint.ts";

/**
 * Save a head weight (`[outDim, inDim]`, F32) as `<dir>/<name>.safetensors`.
 * Writes outside a run's `manifest.json` (for tools and tests); training
 * commits through `RunDir` (`lib/run/run_dir.ts`).
 */
export async function saveWeight(
  dir: string,
  name: string,
  weight: Float32Array,
  outDim: number,
  inDim: number,
  metadata: Record<string, string>,
): Promise<string> {
  const path = join(dir, `${name}.safetensors`);
  await writeSafetensors(path, {
    weight: { dtype: "F32", shape: [outDim, inDim], data: weight },
  }, { format: CHECKPOINT_FORMAT, ...metadata });
  return path;
}

/**
 * Save the AdamW state (first and second moments, step) for `--resume`.
 * Writes outside a run's `manifest.json` (for tools and tests); training
 * commits through `RunDir` (`lib/run/run_dir.ts`).
 */
export async function saveOptimizerState(
  dir: string,
  state: { m: Float32Array; v: Float32Array; step: number; shape: [number, number] },
): Promise<void> {
  await writeSafetensors(join(dir, "optimizer.safetensors"), {
    m: { dtype: "F32", shape: state.shape, data: state.m },
    v: { dtype: "F32", shape: state.shape, data: state.v },
  }, { format: CHECKPOINT_FORMAT, step: String(state.step) });
}

/**
 * Load the AdamW state saved by {@link saveOptimizerState}, checking shapes.
 */
export async function loadOptimizerState(
  dir: string,
  shape: [number, number],
): Promise<{ m: Float32Array; v: Float32Array; step: number }> {
  const path = join(dir, "optimizer.safetensors");
  const st = await readSafetensors(path);
  for (const name of ["m", "v"]) {
    const t = st.tensors[name];
    if (!t) throw new CheckpointError(`${path}: tensor "${name}" is missing`);
    if (t.shape.join(",") !== shape.join(",")) {
      throw new CheckpointError(
        `${path}: tensor "${name}" has shape [${t.shape}], expected [${shape}]`,
      );
    }
  }
  const step = Number(st.metadata.step);
  if (!Number.isInteger(step) || step < 0) {
    throw new CheckpointError(`${path}: metadata "step" is not a step count: ${st.metadata.step}`);
  }
  return { m: st.tensors.m.data, v: st.tensors.v.data, step };
}

/**
 * Write `config.json` atomically.
 * Writes outside a run's `manifest.json` (for tools and tests); training
 * commits through `RunDir` (`lib/run/run_dir.ts`).
 */
export function writeRunInfo(dir: string, info: RunInfo): Promise<void> {
  return atomicWriteJson(join(dir, "config.json"), { ...info, updated: new Date().toISOString() });
}

/**
 * Rewrite `metrics.jsonl` atomically with one line per epoch record.
 * Writes outside a run's `manifest.json` (for tools and tests); training
 * commits through `RunDir` (`lib/run/run_dir.ts`).
 */
export function writeMetrics(dir: string, history: EpochRecord[]): Promise<void> {
  return atomicWrite(
    join(dir, "metrics.jsonl"),
    history.map((r) => JSON.stringify(r)).join("\n") + "\n",
  );
}
