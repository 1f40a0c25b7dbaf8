/**
 * `deno task search "phòng trọ q10 giá rẻ có máy lạnh" [--checkpoint DIR]
 * [--corpus FILE] [--k 5] [--base]`: rank listings for a query with the
 * trained head (or the base encoder with --base). Corpus embeddings come
 * from the cache, so a repeated search encodes only the query.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { embedTexts } from "../lib/cache.ts";
import { loadCheckpoint, readRunInfo } from "../lib/checkpoint.ts";
import { readCorpus } from "../lib/corpus.ts";
import { loadDataset } from "../lib/dataset.ts";
import { ensureDefaultModel } from "../lib/default_model.ts";
import { describeEncoder, loadEncoder } from "../lib/encoder.ts";
import { exists } from "../lib/fs.ts";
import { initBackend } from "../lib/backend.ts";
import { ProjectionHead } from "../lib/head.ts";
import { topK } from "../lib/metrics.ts";
import { readTexts } from "../lib/text_input.ts";

const SPEC: CommandSpec = {
  name: "search",
  usage:
    'deno task search "phòng trọ q10 giá rẻ có máy lạnh" [--checkpoint DIR] [--corpus FILE] [--k 5] [--base]',
  description: "Search the listings with the trained head (256-d) or the base encoder (--base).",
  flags: {
    checkpoint: { type: "string", help: "checkpoint directory", default: "checkpoints/latest" },
    which: { type: "choice", choices: ["best", "final"], help: "which weights", default: "best" },
    corpus: {
      type: "string",
      help: "listings: one per line, or JSONL with text (default: the dataset's listings)",
    },
    data: {
      type: "string",
      help: "dataset whose listings form the corpus",
      default: "data/gen-data-set.json",
    },
    k: { type: "int", help: "results to show", default: 5 },
    base: { type: "boolean", help: "use the base encoder (1024-d) without the head" },
    model: {
      type: "string",
      help: "encoder model dir (default: the checkpoint's, or lexical-1024)",
    },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    json: { type: "boolean", help: "print JSON" },
    force: { type: "boolean", help: "use the head even if the encoder fingerprint differs" },
    queries: {
      type: "string",
      help: "search each query of FILE (one per line, or JSONL with text/query), - for stdin",
    },
  },
};

async function main() {
  const t0 = performance.now();
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  const queries: string[] = [];
  if (positionals.join(" ").trim()) queries.push(positionals.join(" ").trim());
  if (flags.queries !== undefined) {
    try {
      queries.push(...await readTexts(flags.queries as string));
    } catch (err) {
      throw new CliError(`search: --queries ${(err as Error).message}`);
    }
  }
  if (queries.length === 0) {
    throw new CliError(
      'search: give a query, e.g. deno task search "phòng trọ q10 giá rẻ" (or --queries FILE, - for stdin)',
    );
  }
  const k = (flags.k as number | undefined) ?? 5;
  if (k <= 0) throw new CliError(`search: --k must be a positive integer, got ${k}`);
  const useBase = flags.base === true;
  const dir = (flags.checkpoint as string | undefined) ?? "checkpoints/latest";
  const cacheRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";

  const info = useBase && !(await exists(`${dir}/config.json`))
    ? undefined
    : await readRunInfo(dir);
  const modelDir = (flags.model as string | undefined) ??
    (info?.config.model || await ensureDefaultModel());
  const encoder = await loadEncoder(modelDir);
  const say = (s: string) => flags.json ? undefined : console.log(s);
  say(`${describeEncoder(encoder)}; ${useBase ? "base vectors (1024-d)" : `head ${dir} (256-d)`}`);

  const corpus = flags.corpus ? await readCorpus(flags.corpus as string) : await datasetListings(
    (flags.data as string | undefined) ?? info?.dataset.path ?? "data/gen-data-set.json",
  );
  const docs = await embedTexts(encoder, corpus, { cacheRoot });
  const q = await embedTexts(encoder, queries, { cacheRoot });
  await encoder.dispose();

  let qv = q.data, dv = docs.data, dim = docs.dim;
  if (!useBase) {
    const ckpt = await loadCheckpoint(dir, {
      which: (flags.which as "best" | "final" | undefined) ?? "best",
      fingerprint: encoder.fingerprint,
      force: flags.force === true,
      onWarning: (m) => console.error(m),
    });
    await initBackend("auto");
    const head = ProjectionHead.create({ inDim: ckpt.inDim, outDim: ckpt.outDim, seed: 0 });
    head.setWeight(ckpt.weight);
    qv = head.project(q.data, queries.length);
    dv = head.project(docs.data, corpus.length);
    dim = ckpt.outDim;
    head.dispose();
  }
  const kk = Math.min(k, corpus.length);
  const r = await topK(qv, queries.length, dv, corpus.length, dim, kk);
  const ms = performance.now() - t0;
  const hitsOf = (qi: number) =>
    Array.from(r.indices.subarray(qi * kk, (qi + 1) * kk), (idx, i) => ({
      rank: i + 1,
      score: r.scores[qi * kk + i],
      text: corpus[idx],
    }));
  if (flags.json) {
    for (let qi = 0; qi < queries.length; qi++) {
      console.log(JSON.stringify({
        query: queries[qi],
        base: useBase,
        results: hitsOf(qi),
        encoded: q.misses + docs.misses,
        ms,
      }));
    }
    return;
  }
  say(
    `Corpus: ${corpus.length} listings (${docs.misses} encoded, ${docs.hits} from cache); ${
      queries.length === 1
        ? `query ${q.misses ? "encoded" : "from cache"}`
        : `${queries.length} queries (${q.misses} encoded)`
    }`,
  );
  for (let qi = 0; qi < queries.length; qi++) {
    const shown = queries[qi].length > 200 ? `${queries[qi].slice(0, 197)}...` : queries[qi];
    say(`${qi > 0 ? "\n" : ""}Query: ${shown}\n`);
    for (const h of hitsOf(qi)) {
      say(`${String(h.rank).padStart(2)}. ${h.score.toFixed(4)}  ${h.text}`);
    }
  }
  say(`\nTime: ${ms.toFixed(0)} ms`);
}

/** Every unique listing text (positives and hard negatives) of a dataset. */
async function datasetListings(path: string): Promise<string[]> {
  const ds = await loadDataset(path);
  const seen = new Set<string>();
  for (const ex of ds.examples) {
    seen.add(ex.positive);
    for (const n of ex.negatives) seen.add(n.text);
  }
  return [...seen];
}

if (import.meta.main) await runMain(main);
