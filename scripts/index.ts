/**
 * `deno task index [--listings FILE] [--checkpoint DIR] [--index DIR]`:
 * encode listings (through the embedding cache), project them with a
 * checkpoint's head and upsert them by id into an embedded LanceDB table;
 * above a size threshold build an ANN index and print its recall@10
 * against the exact scan.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { DEFAULT_ANN_THRESHOLD, DEFAULT_INDEX_DIR, indexListings } from "../lib/serve/indexer.ts";
import { type DatasetListings, readDatasetQueries, readListings } from "../lib/data/listings.ts";
import { ANN_KINDS, type AnnKind, annKindFor } from "../lib/serve/vector_store.ts";

const SPEC: CommandSpec = {
  name: "index",
  usage: "deno task index [--listings FILE] [--checkpoint DIR] [--index DIR] [--delete-missing]",
  description:
    "Put the head's vectors of the listings (and their base vectors) into a LanceDB table, " +
    "upserting by id.",
  flags: {
    listings: {
      type: "string",
      help:
        "listings: a dataset (native .json or FlagEmbedding JSONL), or one per line (text, or " +
        "JSONL with text, id, metadata); default: the dataset the checkpoint was trained on",
    },
    "dataset-listings": {
      type: "choice",
      choices: ["positives", "all"],
      help: "from a dataset: every listing, hard negatives too (the corpus search uses), " +
        "or only its unique positives",
      default: "all",
    },
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    index: { type: "string", help: "index directory or LanceDB URI", default: DEFAULT_INDEX_DIR },
    model: { type: "string", help: "encoder model dir (default: the checkpoint's)" },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    "delete-missing": {
      type: "boolean",
      help: "sync: remove indexed listings whose id is not in --listings",
    },
    delete: { type: "string", help: "comma-separated ids to remove" },
    rebuild: { type: "boolean", help: "start a new table (needed to change head or encoder)" },
    base: { type: "boolean", help: "store the base vectors too (for serve)", default: true },
    ann: {
      type: "choice",
      choices: ANN_KINDS,
      help:
        "ANN index: auto (ivf_flat above --ann-threshold), none, ivf_flat, ivf_pq, hnsw_sq, ivf_rq",
      default: "auto",
    },
    quantize: {
      type: "choice",
      choices: ["fp32", "int8", "binary"],
      help: "build the ANN index at this precision: ivf_flat, hnsw_sq (8-bit) or ivf_rq (1-bit)",
    },
    "ann-threshold": {
      type: "int",
      min: 0,
      help: "rows from which --ann auto builds an index",
      default: DEFAULT_ANN_THRESHOLD,
    },
    nprobes: { type: "int", min: 1, help: "IVF partitions probed per query (default: ~1/8)" },
    "refine-factor": {
      type: "int",
      min: 0,
      help: "re-rank k×this candidates with full vectors (ivf_pq, hnsw_sq; default 10)",
    },
    "recall-sample": {
      type: "int",
      min: 1,
      help: "queries for recall/latency (a dataset's queries, else indexed listings)",
      default: 100,
    },
    force: { type: "boolean", help: "use the head even if the encoder fingerprint differs" },
    json: { type: "boolean", help: "print the report as JSON" },
  },
};

/** The dataset a run was trained on, or the project's dataset when the run cannot say. */
async function recordedDataset(checkpoint: string): Promise<string> {
  try {
    const { readRunInfo } = await import("../lib/run/checkpoint.ts");
    return (await readRunInfo(checkpoint)).dataset.path || "data/gen-data-set.json";
  } catch {
    return "data/gen-data-set.json"; // the checkpoint's own error comes when it is loaded
  }
}

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  if (positionals.length) {
    throw new CliError(
      `index: unexpected argument "${positionals[0]}" (listings go in --listings FILE)`,
    );
  }
  // The default corpus is the one `search` uses: every listing of the run's dataset.
  const path = (flags.listings as string | undefined) ??
    await recordedDataset((flags.checkpoint as string | undefined) ?? "checkpoints/latest");
  const indexDir = (flags.index as string | undefined) ?? DEFAULT_INDEX_DIR;
  const cacheDirRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";
  await requirePermissions("index", [
    { kind: "read", path, flag: "--listings" },
    { kind: "read", path: (flags.checkpoint as string | undefined) ?? "", flag: "--checkpoint" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
    { kind: "read", path: cacheDirRoot, flag: "--cache-root" },
    { kind: "write", path: cacheDirRoot, flag: "--cache-root" },
    { kind: "read", path: indexDir, flag: "--index" },
    { kind: "write", path: indexDir, flag: "--index" },
  ]);
  const deleteIds = flags.delete === undefined
    ? []
    : String(flags.delete).split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (flags.delete !== undefined && deleteIds.length === 0) {
    throw new CliError("index: --delete needs one or more comma-separated ids");
  }
  if (flags.quantize !== undefined && flags.ann !== undefined) {
    throw new CliError("index: give --quantize or --ann, not both (--quantize picks the ANN kind)");
  }
  const ann = flags.quantize !== undefined
    ? annKindFor(flags.quantize as "fp32" | "int8" | "binary")
    : ((flags.ann as AnnKind | "auto" | "none" | undefined) ?? "auto");
  // `--delete` alone deletes only: no default listings are upserted first.
  const deleteOnly = flags.delete !== undefined && flags.listings === undefined &&
    flags.deleteMissing !== true && flags.rebuild !== true;
  let listings: Awaited<ReturnType<typeof readListings>> = [];
  if (!deleteOnly) {
    try {
      listings = await readListings(
        path,
        ((flags.datasetListings as string | undefined) ?? "all") as DatasetListings,
      );
    } catch (err) {
      throw new CliError(`index: --listings: ${(err as Error).message}`);
    }
  }
  const say = flags.json ? () => {} : (s: string) => console.log(s);
  const report = await indexListings({
    listings,
    index: indexDir,
    checkpoint: (flags.checkpoint as string | undefined) ?? "checkpoints/latest",
    which: (flags.which as "best" | "final" | undefined) ?? "best",
    model: flags.model as string | undefined,
    cacheRoot: cacheDirRoot,
    deleteMissing: flags.deleteMissing === true,
    deleteIds,
    rebuild: flags.rebuild === true,
    base: flags.base !== false,
    ann,
    annThreshold: flags.annThreshold as number | undefined,
    nprobes: flags.nprobes as number | undefined,
    refineFactor: flags.refineFactor as number | undefined,
    recallSample: flags.recallSample as number | undefined,
    queries: deleteOnly ? [] : await readDatasetQueries(path),
    force: flags.force === true,
    onLog: say,
    onWarning: (m) => console.error(m),
  });
  if (flags.json) console.log(JSON.stringify(report));
  else {
    say(
      `Encoded ${report.encoded} listings (${report.cached} from cache); time: encode ` +
        `${report.seconds.encode.toFixed(2)} s, project ${report.seconds.project.toFixed(2)} s, ` +
        `write ${report.seconds.write.toFixed(2)} s, total ${report.seconds.total.toFixed(2)} s`,
    );
  }
}

if (import.meta.main) await runMain(main);
