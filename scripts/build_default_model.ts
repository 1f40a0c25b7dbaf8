/**
 * `deno task build-model [--out DIR] [--data FILE]`: build the offline default
 * encoder `lexical-1024` (a lexical stand-in, NOT BGE-M3) from the words of the
 * dataset. Deterministic: a rebuild writes identical bytes.
 *
 * `deno task build-model --shape bge-m3 --out data/models/bge-m3-shape`: build
 * a BGE-M3-shaped model instead (XLM-R-large architecture, random weights,
 * 2.2 GB external data; see `lib/encoder/bge_shape.ts`), for benchmarks.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { BGE_M3_SHAPE, buildShapeModel } from "../lib/encoder/bge_shape.ts";
import {
  buildDefaultModel,
  collectTexts,
  DEFAULT_DATA_PATH,
  DEFAULT_MODEL_DIR,
  DEFAULT_MODEL_NAME,
} from "../lib/encoder/default_model.ts";

/**
 * The command line of `deno task build-model`.
 *
 * @example
 * ```ts
 * import { helpText } from "../lib/cli/cli.ts";
 * import { BUILD_MODEL_COMMAND } from "./build_default_model.ts";
 * console.log(helpText(BUILD_MODEL_COMMAND));
 * ```
 */
export const BUILD_MODEL_COMMAND: CommandSpec = {
  name: "build-model",
  usage: "deno task build-model [--out DIR] [--data FILE] [--shape bge-m3 --out DIR]",
  description:
    `Build the offline default encoder ${DEFAULT_MODEL_NAME} (lexical stand-in, not BGE-M3).`,
  flags: {
    out: { type: "string", help: "model folder to write", default: DEFAULT_MODEL_DIR },
    shape: {
      type: "choice",
      choices: ["bge-m3"],
      help: "build BGE-M3's architecture with random weights (2.2 GB; for benchmarks)",
    },
    seed: { type: "int", help: "weight seed of --shape", default: 568 },
    data: {
      type: "string",
      help: "dataset whose words form the vocabulary",
      default: DEFAULT_DATA_PATH,
    },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, BUILD_MODEL_COMMAND);
  if (help) return console.log(helpText(BUILD_MODEL_COMMAND));
  const out = (flags.out as string | undefined) ?? DEFAULT_MODEL_DIR;
  const dataPath = (flags.data as string | undefined) ?? DEFAULT_DATA_PATH;
  await requirePermissions("build-model", [
    { kind: "read", path: dataPath, flag: "--data" },
    { kind: "read", path: out, flag: "--out" },
    { kind: "write", path: out, flag: "--out" },
  ]);
  if (flags.shape === "bge-m3") return await buildShape(flags.out as string | undefined, dataPath);
  console.log(`Model: ${DEFAULT_MODEL_NAME} (offline lexical stand-in, NOT BGE-M3) -> ${out}`);
  const t0 = performance.now();
  const b = await buildDefaultModel(out, { dataPath });
  const sizes = Object.entries(b.files).map(([n, f]) => `${n} ${(f.length / 1e6).toFixed(2)} MB`);
  console.log(
    `Vocabulary: ${b.vocabSize} pieces (${b.wordPieces} whole words) from ${dataPath}; dim ${b.config.dim}`,
  );
  console.log(`Wrote ${sizes.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function buildShape(outFlag: string | undefined, dataPath: string) {
  if (outFlag === undefined || outFlag.replace(/\/+$/, "").endsWith(DEFAULT_MODEL_NAME)) {
    throw new CliError(
      "build-model: --shape bge-m3 needs --out DIR (e.g. --out data/models/bge-m3-shape); " +
        `it must not overwrite ${DEFAULT_MODEL_DIR}`,
    );
  }
  let texts: string[];
  try {
    texts = collectTexts(JSON.parse(await Deno.readTextFile(dataPath)));
  } catch (err) {
    throw new CliError(`build-model: --data ${dataPath}: ${(err as Error).message}`);
  }
  console.log(
    `Model: bge-m3-shape (BGE-M3's architecture with random weights, NOT BGE-M3) -> ${outFlag}`,
  );
  const t0 = performance.now();
  let lastPct = -1;
  const b = await buildShapeModel(outFlag, texts, {
    shape: BGE_M3_SHAPE,
    onProgress: (done, total) => {
      const pct = Math.floor((done / total) * 10) * 10;
      if (pct !== lastPct) {
        lastPct = pct;
        console.log(
          `  weights ${pct}% (${(done / 1e9).toFixed(2)} / ${(total / 1e9).toFixed(2)} GB, ${
            ((performance.now() - t0) / 1000).toFixed(0)
          } s)`,
        );
      }
    },
  });
  const s = b.shape;
  console.log(
    `XLM-R: ${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, FFN ${s.ffn}, vocabulary ${s.vocab}, ` +
      `${s.maxPositions} positions; ${b.params.toLocaleString("en-US")} parameters`,
  );
  console.log(
    `Wrote model.onnx ${(b.graphBytes / 1e3).toFixed(0)} kB, model.onnx_data ${
      (b.dataBytes / 1e9).toFixed(2)
    } GB, tokenizer.json (${b.vocabSize} pieces), encoder.json in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
}

if (import.meta.main) await runMain(main);
