/**
 * `deno task eval --checkpoint DIR [--data FILE] [--split val|train|all]
 * [--corpus FILE] [--dim N] [--quantize int8|binary] [--rescore M] [--json]`:
 * retrieval metrics of the base encoder (1024-d) vs the trained head (256-d),
 * with per-feature error analysis. `--compare [--checkpoint-mined DIR]`: one
 * table of base, PCA and heads at every trained dim × fp32/int8/binary.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { formatFeatureTable, formatMetricsTable } from "../lib/eval/metrics.ts";
import { type Quantization, QUANTIZE_FLAGS } from "../lib/eval/quantize.ts";
import { formatCompareTable } from "../lib/eval/compare.ts";
import { compareRun, evaluateRun, prepareEvaluation } from "../lib/eval/run_eval.ts";

const SPEC: CommandSpec = {
  name: "eval",
  usage: "deno task eval --checkpoint DIR [--data FILE] [--split val|train|all] [--corpus FILE] " +
    "[--dim N] [--quantize int8|binary] [--rescore M] [--compare [--checkpoint-mined DIR]] [--json]",
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
      help:
        "which split (default: val on the run's own data, also when --data names it; all on other data)",
    },
    corpus: { type: "string", help: "extra listings: one per line, or JSONL with text" },
    model: { type: "string", help: "encoder model dir (default: the checkpoint's)" },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    dim: {
      type: "int",
      min: 1,
      help: "evaluate this trained Matryoshka prefix of the head (first N dims, renormalised)",
    },
    ...QUANTIZE_FLAGS,
    compare: {
      type: "boolean",
      help:
        "one table: base, PCA at each head dim, the head(s) at each trained dim, x fp32/int8/binary",
    },
    "checkpoint-mined": {
      type: "string",
      help: "with --compare: a second head (e.g. trained on mined negatives), labelled head-mined",
    },
    json: { type: "boolean", help: "print JSON" },
    force: { type: "boolean", help: "evaluate even if the encoder fingerprint differs" },
  },
};

async function main() {
  const { flags, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const compare = flags.compare === true;
  if (compare && (flags.dim !== undefined || flags.quantize !== undefined)) {
    throw new CliError(
      "eval: --compare already evaluates every trained dim and every storage; drop --dim/--quantize",
    );
  }
  if (flags.checkpointMined !== undefined && !compare) {
    throw new CliError("eval: --checkpoint-mined is only used with --compare");
  }
  const str = (name: string) => flags[name] as string | undefined;
  const dir = str("checkpoint") ?? "checkpoints/latest";
  const json = flags.json === true;
  const log = (line: string) => json ? console.error(line) : console.log(line);
  const cacheRoot = str("cacheRoot") ?? "data/cache";
  await requirePermissions("eval", [
    { kind: "read", path: dir, flag: "--checkpoint" },
    ...["data", "weights", "corpus", "model"].map((f) => ({
      kind: "read" as const,
      path: str(f) ?? "",
      flag: `--${f}`,
    })),
    { kind: "read", path: cacheRoot, flag: "--cache-root" },
    { kind: "write", path: cacheRoot, flag: "--cache-root" },
  ]);
  const which = str("which") as "best" | "final" | undefined;
  const force = flags.force === true;
  const rescore = (flags.rescore as number | undefined) ?? 4;
  const prep = await prepareEvaluation({
    checkpoint: dir,
    which,
    data: str("data"),
    weights: str("weights"),
    split: str("split") as "val" | "train" | "all" | undefined,
    corpus: str("corpus"),
    model: str("model"),
    cacheRoot,
    compare,
    force,
    dim: flags.dim as number | undefined,
    onInfo: log,
  });
  const where = `data: ${prep.dataPath}, split: ${prep.split}`;

  if (compare) {
    const mined = str("checkpointMined");
    const c = await compareRun(prep, { mined, which, force, rescore, onInfo: log });
    if (json) {
      return console.log(JSON.stringify({
        rows: c.rows,
        n_queries: prep.task.queries.length,
        n_docs: prep.task.docs.length,
        checkpoint: dir,
        checkpoint_mined: mined ?? null,
        split: prep.split,
        data: prep.dataPath,
        pca_fit_texts: prep.fitTexts.length,
        train_overlap: c.overlap,
      }));
    }
    console.log(
      `Data: ${prep.dataPath}, split: ${prep.split}, ${prep.task.queries.length} queries, ` +
        `${prep.task.docs.length} listings; heads: ${
          c.heads.map((h) => `${h.label} = ${h.dir}`).join(", ")
        }\n\n${formatCompareTable(c.rows)}\n\n` +
        "ms/query: projecting and searching the batch of queries, per query (encoder time excluded).",
    );
    return;
  }

  const quantize = (str("quantize") ?? "fp32") as Quantization;
  const r = await evaluateRun(prep, { dim: flags.dim as number | undefined, quantize, rescore });
  const cmp = r.comparison;
  if (json) {
    return console.log(JSON.stringify({
      base: cmp.base,
      projected: cmp.projected,
      per_feature: { base: cmp.perFeature.base, projected: cmp.perFeature.projected },
      n_queries: cmp.nQueries,
      n_docs: cmp.nDocs,
      dim: r.dim,
      quantize,
      rescore: r.rescore,
      bytes_per_vector: r.bytesPerVector,
      checkpoint: dir,
      which: prep.ckpt.which,
      split: prep.split,
      data: prep.dataPath,
    }));
  }
  const suffix = quantize === "fp32" ? "" : `, ${r.storage}`;
  console.log(
    `Checkpoint: ${dir} (${prep.ckpt.which}), ${where}, ${cmp.nQueries} queries, ${cmp.nDocs} listings\n`,
  );
  console.log(formatMetricsTable(cmp.base, cmp.projected, {
    baseLabel: `base (${prep.table.dim}-d${suffix})`,
    projectedLabel: `projected (${r.dim}-d${suffix})`,
  }));
  console.log(
    `Index size: ${r.bytesPerVector.base} bytes/vector (base) vs ${r.bytesPerVector.projected} ` +
      `bytes/vector (projected, ${r.storage})\n`,
  );
  if (Object.keys(cmp.perFeature.base).length === 0) {
    return console.log(
      `No per-feature table: ${prep.dataPath} has no feature labels (no "differs" on its negatives).`,
    );
  }
  console.log("Hard negatives that differ in one feature and outrank the positive (fp32):");
  console.log(formatFeatureTable(cmp.perFeature.base, cmp.perFeature.projected));
}

if (import.meta.main) await runMain(main);
