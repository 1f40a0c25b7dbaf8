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
import { assertHeadFitsEncoder, loadCheckpoint } from "../lib/run/checkpoint.ts";
import { readCorpus } from "../lib/data/corpus.ts";
import { loadDataset, loadWeightConfig, splitDataset } from "../lib/data/dataset.ts";
import { ensureDefaultModel } from "../lib/encoder/default_model.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder/encoder.ts";
import { compareBaseAndHead, lookup, retrievalTask } from "../lib/eval/evaluation.ts";
import { embedTexts } from "../lib/encoder/cache.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { formatFeatureTable, formatMetricsTable } from "../lib/eval/metrics.ts";
import { headProjector, resolveDim, trainedDims } from "../lib/head/dims.ts";
import {
  buildIndex,
  bytesPerVector,
  type Quantization,
  QUANTIZE_FLAGS,
  searchIndex,
} from "../lib/eval/quantize.ts";
import {
  type CompareMethod,
  compareMethods,
  formatCompareTable,
  pcaMethod,
  storageVariants,
  trainOverlap,
} from "../lib/eval/compare.ts";

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
  if (flags.compare === true && (flags.dim !== undefined || flags.quantize !== undefined)) {
    throw new CliError(
      "eval: --compare already evaluates every trained dim and every storage; drop --dim/--quantize",
    );
  }
  if (flags.checkpointMined !== undefined && flags.compare !== true) {
    throw new CliError("eval: --checkpoint-mined is only used with --compare");
  }
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

  const { readRunInfo } = await import("../lib/run/checkpoint.ts");
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

  resolveDim(ckpt.info, flags.dim as number | undefined, ckpt.dir); // fail before any work
  const dataPath = (flags.data as string | undefined) ?? info.dataset.path;
  const weights = await loadWeightConfig(
    (flags.weights as string | undefined) ?? info.config.weights,
  );
  const dataset = await loadDataset(dataPath, { weights });
  // The run's own training data (same bytes) defaults to its validation split:
  // evaluating on the training examples would flatter the head.
  const ownData = dataset.sha256 === info.dataset.sha256;
  const split = (flags.split as string | undefined) ?? (ownData ? "val" : "all");
  if (flags.data && flags.split === undefined) {
    log(
      ownData
        ? `Split: val (${dataPath} is the data ${dir} was trained on: its held-out ` +
          `validation split is evaluated; --split all includes the training examples)`
        : `Split: all (${dataPath} is not the data ${dir} was trained on: all ` +
          `${dataset.examples.length} examples are evaluated)`,
    );
  }
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

  // --compare fits its PCA baseline on the training split's texts.
  const fitTexts = flags.compare === true
    ? [
      ...new Set(
        parts.train.flatMap((e) => [e.query, e.positive, ...e.negatives.map((n) => n.text)]),
      ),
    ]
    : [];
  const texts = [...new Set([...task.queries, ...task.docs, ...fitTexts])];
  const emb = await embedTexts(encoder, texts, {
    cacheRoot,
  });
  log(`Embeddings: ${texts.length} texts, ${emb.misses} encoded, ${emb.hits} from cache`);
  await encoder.dispose();

  const rowOf = new Map(texts.map((t, i) => [t, i]));
  const table = { dim: emb.dim, data: emb.data, rowOf };
  const rescore = (flags.rescore as number | undefined) ?? 4;
  if (flags.compare === true) {
    const heads = [{ label: "head", ckpt }];
    const minedDir = flags.checkpointMined as string | undefined;
    if (minedDir) {
      heads.push({
        label: "head-mined",
        ckpt: await loadCheckpoint(minedDir, {
          which: (flags.which as "best" | "final" | undefined) ?? "best",
          fingerprint: encoder.fingerprint,
          force: flags.force === true,
          onWarning: (m) => console.error(m),
        }),
      });
    }
    // Every head must have held these queries out of its training split.
    const overlap: Record<string, number> = {};
    for (const h of heads) {
      const hi = h.ckpt.info;
      const ds = await loadDataset(hi.dataset.path, {
        weights: await loadWeightConfig(hi.config.weights),
      });
      const own = splitDataset(ds.examples, {
        valFraction: hi.dataset.valFraction,
        seed: hi.dataset.splitSeed,
      });
      overlap[h.label] = trainOverlap(task.queries, own.train);
      if (overlap[h.label] > 0) {
        console.error(
          `warning: ${
            overlap[h.label]
          } of the ${task.queries.length} evaluated queries are in the ` +
            `training split of ${h.label} (${h.ckpt.dir}, data ${hi.dataset.path}): its row is optimistic`,
        );
      }
    }
    const methods: CompareMethod[] = [{ method: "base", dim: emb.dim, project: (x) => x }];
    const headDims = [...new Set(heads.flatMap((h) => trainedDims(h.ckpt.info)))]
      .sort((a, b) => b - a);
    const fit = lookup(table, fitTexts);
    const disposers: (() => void)[] = [];
    for (const d of headDims) {
      const m = await pcaMethod(fit, emb.dim, d);
      if (m.dispose) disposers.push(m.dispose);
      methods.push(m);
    }
    for (const h of heads) {
      for (const d of trainedDims(h.ckpt.info)) {
        const p = await headProjector(h.ckpt, d);
        disposers.push(p.dispose);
        methods.push({ method: h.label, dim: d, project: p.project });
      }
    }
    log(
      `Fitting PCA on ${fitTexts.length} texts of the training split; evaluating ${methods.length} methods`,
    );
    const rows = await compareMethods({ task, table, methods, variants: storageVariants(rescore) });
    disposers.forEach((f) => f());
    if (json) {
      console.log(JSON.stringify({
        rows,
        n_queries: task.queries.length,
        n_docs: task.docs.length,
        checkpoint: dir,
        checkpoint_mined: minedDir ?? null,
        split,
        data: dataPath,
        pca_fit_texts: fitTexts.length,
        train_overlap: overlap,
      }));
      return;
    }
    console.log(
      `Data: ${dataPath}, split: ${split}, ${task.queries.length} queries, ${task.docs.length} listings; ` +
        `heads: ${heads.map((h) => `${h.label} = ${h.ckpt.dir}`).join(", ")}`,
    );
    console.log("");
    console.log(formatCompareTable(rows));
    console.log(
      "\nms/query: projecting and searching the batch of queries, per query (encoder time excluded).",
    );
    return;
  }

  const projector = await headProjector(ckpt, flags.dim as number | undefined);
  const quantize = ((flags.quantize as string | undefined) ?? "fp32") as Quantization;
  const cmp = await compareBaseAndHead({
    examples,
    task,
    table,
    project: projector.project,
    outDim: projector.dim,
    search: quantize === "fp32"
      ? undefined
      : (q, nq, d, nd, dim, k) =>
        searchIndex(buildIndex(d, nd, dim, quantize, { keepFloat: rescore > 0 }), q, nq, {
          k,
          rescore: quantize === "binary" ? rescore : 0,
        }),
  });
  projector.dispose();
  const storage = quantize === "binary" && rescore > 0 ? `binary+rescore×${rescore}` : quantize;
  const bytes = {
    base: bytesPerVector(quantize, emb.dim),
    projected: bytesPerVector(quantize, projector.dim),
  };

  if (json) {
    console.log(JSON.stringify({
      base: cmp.base,
      projected: cmp.projected,
      per_feature: { base: cmp.perFeature.base, projected: cmp.perFeature.projected },
      n_queries: cmp.nQueries,
      n_docs: cmp.nDocs,
      dim: projector.dim,
      quantize,
      rescore: quantize === "binary" ? rescore : 0,
      bytes_per_vector: bytes,
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
    baseLabel: `base (${emb.dim}-d${quantize === "fp32" ? "" : `, ${storage}`})`,
    projectedLabel: `projected (${projector.dim}-d${quantize === "fp32" ? "" : `, ${storage}`})`,
  }));
  console.log(
    `Index size: ${bytes.base} bytes/vector (base) vs ${bytes.projected} bytes/vector (projected, ${storage})`,
  );
  console.log("");
  if (Object.keys(cmp.perFeature.base).length === 0) {
    console.log(
      `No per-feature table: ${dataPath} has no feature labels (no "differs" on its negatives).`,
    );
    return;
  }
  console.log("Hard negatives that differ in one feature and outrank the positive (fp32):");
  console.log(formatFeatureTable(cmp.perFeature.base, cmp.perFeature.projected));
}

if (import.meta.main) await runMain(main);
