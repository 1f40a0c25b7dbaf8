/**
 * `deno task embed [--data FILE] [--model DIR] [--batch-size N] [--cache-root DIR]`:
 * precompute the dataset's embeddings into the cache, so training and
 * evaluation encode nothing. A second run encodes 0 texts.
 *
 * @module
 */
import { DEFAULT_CACHE_ROOT, embedTexts } from "../lib/encoder/cache.ts";
import { type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { loadDataset, uniqueTexts } from "../lib/data/dataset.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { DEFAULT_MODEL_DIR, describeEncoder, loadEncoder } from "../lib/encoder/encoder.ts";
import { encodeReporter } from "../lib/cli/progress.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";

/**
 * The command line of `deno task embed`.
 *
 * @example
 * ```ts
 * import { helpText } from "../lib/cli/cli.ts";
 * import { EMBED_COMMAND } from "./embed.ts";
 * console.log(helpText(EMBED_COMMAND));
 * ```
 */
export const EMBED_COMMAND: CommandSpec = {
  name: "embed",
  usage: "deno task embed [--data FILE] [--model DIR] [--batch-size N] [--cache-root DIR]",
  description: "Precompute the dataset's embeddings into the embedding cache.",
  flags: {
    data: {
      type: "string",
      help: "dataset (.json native or .jsonl)",
      default: "data/gen-data-set.json",
    },
    model: { type: "string", help: "encoder model folder", default: DEFAULT_MODEL_DIR },
    "batch-size": { type: "int", help: "texts per ONNX run", default: 32, min: 1 },
    "cache-root": { type: "string", help: "embedding cache root", default: DEFAULT_CACHE_ROOT },
    cache: { type: "string", help: "the same as --cache-root (older spelling)" },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, EMBED_COMMAND);
  if (help) return console.log(helpText(EMBED_COMMAND));
  const cacheDir = (flags.cacheRoot as string | undefined) ?? (flags.cache as string | undefined) ??
    DEFAULT_CACHE_ROOT;
  await requirePermissions("embed", [
    {
      kind: "read",
      path: (flags.data as string | undefined) ?? "data/gen-data-set.json",
      flag: "--data",
    },
    {
      kind: "read",
      path: (flags.model as string | undefined) ?? DEFAULT_MODEL_DIR,
      flag: "--model",
    },
    { kind: "read", path: cacheDir, flag: "--cache-root" },
    { kind: "write", path: cacheDir, flag: "--cache-root" },
  ]);
  const modelDir = (flags.model as string | undefined) ?? await ensureDefaultModel();
  const encoder = await loadEncoder(modelDir);
  console.log(describeEncoder(encoder));
  const dataPath = (flags.data as string | undefined) ?? "data/gen-data-set.json";
  const cacheRoot = (flags.cacheRoot as string | undefined) ??
    (flags.cache as string | undefined) ??
    DEFAULT_CACHE_ROOT;
  const prefix = encoder.config.queryPrefix ?? "";
  // Only the texts are kept: the examples are garbage once listed (less memory while encoding).
  const { count, texts } = await datasetTexts(dataPath, prefix);
  console.log(`Dataset: ${dataPath}: ${count} examples, ${texts.length} unique texts`);
  const report = encodeReporter({ label: "embed" });
  const t0 = performance.now();
  // collect: false streams the vectors into the cache chunk by chunk (flushed
  // every ~10 s, so Ctrl-C keeps the work) without holding them in memory.
  const r = await embedTexts(encoder, texts, {
    cacheRoot,
    collect: false,
    batchSize: flags.batchSize as number | undefined,
    onPlan: (p) => report.plan(p),
    onProgress: (done, total) => report.update(done, total),
  });
  report.done();
  const secs = (performance.now() - t0) / 1000;
  const rate = r.misses > 0 ? `, ${(r.misses / secs).toFixed(1)} texts/s` : "";
  console.log(`Cache: ${cacheRoot}/${encoder.fingerprint}: hits ${r.hits}, misses ${r.misses}`);
  console.log(
    `Encoded ${r.misses} texts in ${secs.toFixed(2)} s${rate}; ${r.truncated} truncated to ` +
      `${encoder.config.maxLength} tokens`,
  );
  await encoder.dispose();
}

/** The unique texts to embed (queries with the encoder's prefix) and the number of examples. */
async function datasetTexts(
  path: string,
  prefix: string,
): Promise<{ count: number; texts: string[] }> {
  const ds = await loadDataset(path);
  const texts = prefix
    ? [
      ...new Set([
        ...uniqueTexts(ds.examples, { kind: "queries" }).map((q) => prefix + q),
        ...uniqueTexts(ds.examples, { kind: "passages" }),
      ]),
    ]
    : uniqueTexts(ds.examples);
  return { count: ds.examples.length, texts };
}

if (import.meta.main) await runMain(main);
