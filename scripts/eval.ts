/**
 * `deno task eval --checkpoint DIR [--data FILE] [--split val|train|all]
 * [--corpus FILE] [--json]`: retrieval metrics of the base encoder (1024-d)
 * vs the trained head (256-d), with per-feature error analysis.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { assertHeadFitsEncoder, loadCheckpoint } from "../lib/checkpoint.ts";
import { readCorpus } from "../lib/corpus.ts";
import { loadDataset, loadWeightConfig, splitDataset } from "../lib/dataset.ts";
import { ensureDefaultModel } from "../lib/default_model.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder.ts";
import { compareBaseAndHead, retrievalTask } from "../lib/evaluation.ts";
import { embedTexts } from "../lib/cache.ts";
import { initBackend } from "../lib/backend.ts";
import { ProjectionHead } from "../lib/head.ts";
import { requirePermissions } from "../lib/permissions.ts";
import { formatFeatureTable, formatMetricsTable } from "../lib/metrics.ts";

const SPEC: CommandSpec = {
  name: "eval",
  usage:
    "deno task eval --checkpoint DIR [--data FILE] [--split val|train|all] [--corpus FILE] [--json]",
  description: "Compare base-encoder and projected-head retrieval (Recall@k, MRR@10, nDCG@10).\n" +
    "Without --data it evaluates the checkpoint's own validation split (recovered from config.json).",
  flags: {
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    data: { type: "string", help: "dataset (native JSON or FlagEmbedding JSONL)" },
    weights: { type: "string", help: "feature weight config (default: the checkpoint's)" },
    split: {
      type: "choice",
      choices: ["val", "train", "all"],
      help: "which split (default: val without --data, all with it)",
    },
    corpus: { type: "string", help: "extra listings: one per line, or JSONL with text" },
    model: { type: "string", help: "encoder model dir (default: the checkpoint's)" },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    json: { type: "boolean", help: "print JSON" },
    force: { type: "boolean", help: "evaluate even if the encoder fingerprint differs" },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const dir = (flags.checkpoint as string | undefined) ?? "checkpoints/latest";
  const json = flags.json === true;
  const log = (line: string) => json ? console.error(line) : console.log(line);
  const cacheRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";
  await requirePermissions("eval", [
    { kind: "read", path: dir, flag: "--checkpoint" },
    { kind: "read", path: (flags.data as string | undefined) ?? "", flag: "--data" },
    { kind: "read", path: (flags.weights as string | undefined) ?? "", flag: "--weights" },
    { kind: "read", path: (flags.corpus as string | undefined) ?? "", flag: "--corpus" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
    { kind: "read", path: cacheRoot, flag: "--cache-root" },
    { kind: "write", path: cacheRoot, flag: "--cache-root" },
  ]);

  const { readRunInfo } = await import("../lib/checkpoint.ts");
  const info = await readRunInfo(dir);
  const modelDir = (flags.model as string | undefined) ??
    (info.config.model || await ensureDefaultModel());
  const encoder = await loadEncoder(modelDir);
  log(describeEncoder(encoder));
  const ckpt = await loadCheckpoint(dir, {
    which: (flags.which as "best" | "final" | undefined) ?? "best",
    fingerprint: encoder.fingerprint,
    force: flags.force === true,
    onWarning: (m) => console.error(m),
  });
  assertHeadFitsEncoder(ckpt, encoder);

  const dataPath = (flags.data as string | undefined) ?? info.dataset.path;
  const split = (flags.split as string | undefined) ?? (flags.data ? "all" : "val");
  const weights = await loadWeightConfig(
    (flags.weights as string | undefined) ?? info.config.weights,
  );
  const dataset = await loadDataset(dataPath, { weights });
  if (!flags.data && dataset.sha256 !== info.dataset.sha256) {
    console.error(
      `warning: ${dataPath} changed since training (sha256 ${dataset.sha256.slice(0, 12)} vs ` +
        `${info.dataset.sha256.slice(0, 12)}); the recovered split may differ`,
    );
  }
  const parts = splitDataset(dataset.examples, {
    valFraction: info.dataset.valFraction,
    seed: info.dataset.splitSeed,
  });
  const examples = split === "val" ? parts.val : split === "train" ? parts.train : dataset.examples;
  if (examples.length === 0) {
    const why = split === "val" && info.dataset.valFraction === 0
      ? ` (${dir} was trained with --val-fraction 0): pass --split all or --data FILE`
      : "";
    throw new CliError(`${dataPath}: the ${split} split is empty${why}`);
  }
  const extra = flags.corpus ? await readCorpus(flags.corpus as string) : [];
  const task = retrievalTask(examples, extra);

  const texts = [...new Set([...task.queries, ...task.docs])];
  const emb = await embedTexts(encoder, texts, {
    cacheRoot,
  });
  log(`Embeddings: ${texts.length} texts, ${emb.misses} encoded, ${emb.hits} from cache`);
  await encoder.dispose();

  await initBackend("auto");
  const head = ProjectionHead.create({ inDim: ckpt.inDim, outDim: ckpt.outDim, seed: 0 });
  head.setWeight(ckpt.weight);
  const rowOf = new Map(texts.map((t, i) => [t, i]));
  const cmp = await compareBaseAndHead({
    examples,
    task,
    table: { dim: emb.dim, data: emb.data, rowOf },
    project: (x, n) => head.project(x, n),
    outDim: ckpt.outDim,
  });
  head.dispose();

  if (json) {
    console.log(JSON.stringify({
      base: cmp.base,
      projected: cmp.projected,
      per_feature: { base: cmp.perFeature.base, projected: cmp.perFeature.projected },
      n_queries: cmp.nQueries,
      n_docs: cmp.nDocs,
      checkpoint: dir,
      which: ckpt.which,
      split,
      data: dataPath,
    }));
    return;
  }
  console.log(
    `Checkpoint: ${dir} (${ckpt.which}), data: ${dataPath}, split: ${split}, ` +
      `${cmp.nQueries} queries, ${cmp.nDocs} listings`,
  );
  console.log("");
  console.log(formatMetricsTable(cmp.base, cmp.projected, {
    baseLabel: `base (${emb.dim}-d)`,
    projectedLabel: `projected (${ckpt.outDim}-d)`,
  }));
  console.log("");
  console.log("Hard negatives that differ in one feature and outrank the positive:");
  console.log(formatFeatureTable(cmp.perFeature.base, cmp.perFeature.projected));
}

if (import.meta.main) await runMain(main);
