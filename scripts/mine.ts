/**
 * `deno task mine --data FILE --out FILE.jsonl [--corpus FILE] [--checkpoint
 * DIR] [--range 10-100] [--num-negatives 7] [--margin M] [--max-score-ratio R]
 * [--weights-from-features]`: mine hard negatives from every listing with the
 * base encoder or a trained head; write FlagEmbedding JSONL with `neg` and
 * `neg_weights`. See `lib/mine/mine.ts` for the rules.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { fileWriteNeeds, requirePermissions } from "../lib/cli/permissions.ts";
import { embedTexts } from "../lib/encoder/cache.ts";
import { loadCheckpoint, readRunInfo } from "../lib/run/checkpoint.ts";
import { readCorpus } from "../lib/data/corpus.ts";
import { DEFAULT_WEIGHT_CONFIG, loadDataset, loadWeightConfig } from "../lib/data/dataset.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { headProjector } from "../lib/head/dims.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder/encoder.ts";
import { atomicWrite } from "../lib/core/fs.ts";
import {
  type Features,
  formatMineReport,
  mineHardNegatives,
  parseRange,
  readConstraints,
  readFeatures,
} from "../lib/mine/mine.ts";

const SPEC: CommandSpec = {
  name: "mine",
  usage: "deno task mine --data FILE --out FILE.jsonl [--corpus FILE] [--checkpoint DIR] " +
    "[--range 10-100] [--num-negatives 7] [--margin M] [--max-score-ratio R] [--weights-from-features] [--drop-satisfying]",
  description:
    "Mine hard negatives: rank every listing (the dataset's positives and negatives, plus\n" +
    "--corpus) for each query, take the rank window, drop likely false negatives, and write\n" +
    "FlagEmbedding JSONL (query, pos, neg, neg_weights), one line per input example, in order.",
  flags: {
    data: {
      type: "string",
      help: "queries and positives: native JSON or FlagEmbedding JSONL (negatives optional)",
      default: "data/gen-data-set.json",
    },
    out: { type: "string", help: "output JSONL file (required)" },
    corpus: { type: "string", help: "extra listings: one per line, or JSONL with text" },
    checkpoint: {
      type: "string",
      help: "score with this trained head (default: the base encoder); a second round",
    },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    dim: { type: "int", min: 1, help: "score with this trained prefix of the head (--matryoshka)" },
    model: {
      type: "string",
      help: "encoder model dir (default: the checkpoint's, or lexical-1024)",
    },
    range: {
      type: "string",
      help: "rank window LO-HI: ranks LO+1..HI (FlagEmbedding hn_mine --range_for_sampling)",
      default: "10-100",
    },
    "num-negatives": { type: "int", min: 1, help: "negatives per example", default: 7 },
    margin: {
      type: "number",
      help: "drop candidates scoring above positive - M (sentence-transformers absolute margin)",
    },
    "max-score-ratio": {
      type: "number",
      min: 0,
      help: "drop candidates scoring above R x the positive's score",
    },
    sample: {
      type: "choice",
      choices: ["random", "top"],
      help: "which survivors to keep: a seeded sample (FlagEmbedding) or the best-ranked",
      default: "random",
    },
    seed: { type: "int", help: "seed of --sample random", default: 42 },
    "weights-from-features": {
      type: "boolean",
      help: "weight each negative by the features in which it differs (native data)",
    },
    "drop-satisfying": {
      type: "boolean",
      help: "drop candidates whose features meet every constraint of the query (native data)",
    },
    weights: { type: "string", help: "feature weight config", default: DEFAULT_WEIGHT_CONFIG },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    json: { type: "boolean", help: "print the report as JSON" },
    force: { type: "boolean", help: "use the head even if the encoder fingerprint differs" },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const out = flags.out as string | undefined;
  if (!out) throw new CliError("mine: --out FILE.jsonl is required");
  if (!out.toLowerCase().endsWith(".jsonl")) {
    throw new CliError(`mine: --out must end in .jsonl (FlagEmbedding format), got ${out}`);
  }
  let range: [number, number];
  try {
    range = parseRange((flags.range as string | undefined) ?? "10-100");
  } catch (err) {
    throw new CliError(`mine: ${(err as Error).message}`);
  }
  const dataPath = (flags.data as string | undefined) ?? "data/gen-data-set.json";
  const weightsPath = (flags.weights as string | undefined) ?? DEFAULT_WEIGHT_CONFIG;
  const fromFeatures = flags.weightsFromFeatures === true;
  const dropSatisfying = flags.dropSatisfying === true;
  for (
    const [on, flag] of [[fromFeatures, "--weights-from-features"], [
      dropSatisfying,
      "--drop-satisfying",
    ]] as const
  ) {
    if (on && dataPath.toLowerCase().endsWith(".jsonl")) {
      throw new CliError(
        `mine: ${flag} needs structured features, which only the native .json format carries (${dataPath} is JSONL)`,
      );
    }
  }
  const cacheRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";
  await requirePermissions("mine", [
    { kind: "read", path: dataPath, flag: "--data" },
    { kind: "read", path: weightsPath, flag: "--weights" },
    { kind: "read", path: (flags.corpus as string | undefined) ?? "", flag: "--corpus" },
    { kind: "read", path: (flags.checkpoint as string | undefined) ?? "", flag: "--checkpoint" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
    { kind: "read", path: cacheRoot, flag: "--cache-root" },
    { kind: "write", path: cacheRoot, flag: "--cache-root" },
    ...(out ? fileWriteNeeds(out, "--out") : []),
  ]);
  const log = (s: string) => flags.json ? console.error(s) : console.log(s);

  const ckptDir = flags.checkpoint as string | undefined;
  const info = ckptDir ? await readRunInfo(ckptDir) : undefined;
  const encoder = await loadEncoder(
    (flags.model as string | undefined) ?? (info?.config.model || await ensureDefaultModel()),
  );
  log(describeEncoder(encoder));
  if (!ckptDir && flags.dim !== undefined) {
    throw new CliError("mine: --dim needs --checkpoint (a head trained with --matryoshka)");
  }
  const weights = await loadWeightConfig(weightsPath);
  const dataset = await loadDataset(dataPath, { weights });
  const extra = flags.corpus ? await readCorpus(flags.corpus as string) : [];
  const projector = ckptDir
    ? await headProjector(
      await loadCheckpoint(ckptDir, {
        which: (flags.which as "best" | "final" | undefined) ?? "best",
        fingerprint: encoder.fingerprint,
        force: flags.force === true,
        onWarning: (m) => console.error(m),
      }),
      flags.dim as number | undefined,
    )
    : undefined;
  log(
    `Scorer: ${
      projector ? `head ${ckptDir} (${projector.dim}-d)` : `base encoder (${encoder.dim}-d)`
    }`,
  );

  const features = fromFeatures || dropSatisfying
    ? await readFeatures(dataPath)
    : new Map<string, Features>();
  let hits = 0, misses = 0;
  const { records, report } = await mineHardNegatives(
    dataset.examples,
    extra,
    async (texts) => {
      const e = await embedTexts(encoder, texts, { cacheRoot });
      hits = e.hits;
      misses = e.misses;
      return projector
        ? { dim: projector.dim, data: projector.project(e.data, texts.length) }
        : { dim: e.dim, data: e.data };
    },
    {
      range,
      numNegatives: (flags.numNegatives as number | undefined) ?? 7,
      margin: flags.margin as number | undefined,
      maxScoreRatio: flags.maxScoreRatio as number | undefined,
      sample: (flags.sample as "top" | "random" | undefined) ?? "random",
      seed: (flags.seed as number | undefined) ?? 42,
      weightsFromFeatures: fromFeatures ? { weights, features } : undefined,
      constraints: dropSatisfying
        ? { byExample: await readConstraints(dataPath), features }
        : undefined,
    },
  ).catch((err) => {
    // A window past the corpus is a flag error.
    throw err instanceof RangeError ? new CliError(err.message) : err;
  });
  projector?.dispose();
  await encoder.dispose();
  await atomicWrite(out, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  if (flags.json) {
    console.log(JSON.stringify({ out, data: dataPath, range, ...report, cache: { hits, misses } }));
    return;
  }
  log(`Embeddings: ${misses} encoded, ${hits} from cache`);
  log(formatMineReport(report));
  log(`Wrote ${out} (${records.length} lines)`);
}

if (import.meta.main) await runMain(main);
