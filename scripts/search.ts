/**
 * `deno task search "phòng trọ q10 giá rẻ có máy lạnh" [--checkpoint DIR]
 * [--corpus FILE] [--k 5] [--base]`: rank listings for a query with the
 * trained head (or the base encoder with --base). Corpus embeddings come
 * from the cache, so a repeated search encodes only the query.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { embedTexts } from "../lib/encoder/cache.ts";
import { describeEncoder } from "../lib/encoder/encoder.ts";
import { isBlankText } from "../lib/head/inference.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { type Quantization, QUANTIZE_FLAGS } from "../lib/eval/quantize.ts";
import { searchCorpus } from "../lib/eval/search_corpus.ts";
import { readTexts } from "../lib/data/text_input.ts";

const SPEC: CommandSpec = {
  name: "search",
  usage:
    'deno task search "phòng trọ q10 giá rẻ có máy lạnh" [--checkpoint DIR] [--corpus FILE] [--k 5] [--base] [--dim N] [--quantize int8|binary] [--index DIR [--where SQL]]',
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
      help: "dataset whose listings (every one, hard negatives too) form the corpus " +
        "(default: the dataset the checkpoint was trained on; data/gen-data-set.json with --base)",
    },
    k: { type: "int", help: "results to show", default: 5 },
    base: { type: "boolean", help: "use the base encoder (1024-d) without the head" },
    dim: {
      type: "int",
      min: 1,
      help: "search with this trained Matryoshka prefix of the head (first N dims, renormalised)",
    },
    ...QUANTIZE_FLAGS,
    model: {
      type: "string",
      help: "encoder model dir (default: the checkpoint's, or lexical-1024)",
    },
    "cache-root": { type: "string", help: "embedding cache root", default: "data/cache" },
    json: { type: "boolean", help: "print JSON" },
    force: { type: "boolean", help: "use the head even if the encoder fingerprint differs" },
    index: {
      type: "string",
      help:
        "search a LanceDB index (deno task index) instead of the cache; default head: the index's",
    },
    where: { type: "string", help: `with --index: metadata filter, e.g. "city = 'Hà Nội'"` },
    verify: {
      type: "boolean",
      help: "with --index: first rescan every row against what the index records",
    },
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
  const typed = positionals.join(" ").trim();
  if (!isBlankText(typed)) queries.push(typed);
  if (flags.queries !== undefined) {
    try {
      queries.push(...await readTexts(flags.queries as string));
    } catch (err) {
      throw new CliError(`search: --queries ${(err as Error).message}`);
    }
  }
  const blank = queries.findIndex(isBlankText);
  if (blank >= 0 && flags.queries !== undefined) {
    throw new CliError(`search: query ${blank + 1} of --queries is empty or invisible-only`);
  }
  if (queries.length === 0) {
    throw new CliError(
      'search: give a query, e.g. deno task search "phòng trọ q10 giá rẻ" (or --queries FILE, - for stdin)',
    );
  }
  const k = (flags.k as number | undefined) ?? 5;
  if (k <= 0) throw new CliError(`search: --k must be a positive integer, got ${k}`);
  const useBase = flags.base === true;
  if (useBase && flags.dim !== undefined) {
    throw new CliError("search: --dim applies to the head; it cannot be combined with --base");
  }
  const quantize = ((flags.quantize as string | undefined) ?? "fp32") as Quantization;
  const rescore = quantize === "binary" ? (flags.rescore as number | undefined) ?? 4 : 0;
  const dir = (flags.checkpoint as string | undefined) ?? "checkpoints/latest";
  const cacheRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";
  if (flags.where !== undefined && flags.index === undefined) {
    throw new CliError("search: --where needs --index DIR");
  }
  if (flags.verify === true && flags.index === undefined) {
    throw new CliError("search: --verify checks an index: it needs --index DIR");
  }
  await requirePermissions("search", [
    { kind: "read", path: dir, flag: "--checkpoint" },
    { kind: "read", path: (flags.corpus as string | undefined) ?? "", flag: "--corpus" },
    { kind: "read", path: (flags.data as string | undefined) ?? "", flag: "--data" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
    { kind: "read", path: cacheRoot, flag: "--cache-root" },
    { kind: "write", path: cacheRoot, flag: "--cache-root" },
    { kind: "read", path: (flags.index as string | undefined) ?? "", flag: "--index" },
    {
      kind: "read",
      path: flags.queries !== undefined && flags.queries !== "-" ? flags.queries as string : "",
      flag: "--queries",
    },
  ]);
  if (flags.index !== undefined) {
    if (flags.corpus !== undefined) {
      throw new CliError("search: --corpus and --index exclude each other");
    }
    if (flags.dim !== undefined || quantize !== "fp32") {
      throw new CliError(
        "search: --dim and --quantize apply to the in-memory search; an --index has its own dim " +
          "and quantisation (deno task index --quantize)",
      );
    }
    for (const query of queries) await searchLanceIndex(query, k, flags, t0);
    return;
  }

  const say = (s: string) => flags.json ? undefined : console.log(s);
  const r = await searchCorpus({
    queries,
    k,
    checkpoint: dir,
    which: flags.which as "best" | "final" | undefined,
    base: useBase,
    dim: flags.dim as number | undefined,
    quantize,
    rescore,
    corpus: flags.corpus as string | undefined,
    data: flags.data as string | undefined,
    model: flags.model as string | undefined,
    cacheRoot,
    force: flags.force === true,
    onInfo: say,
  });
  const ms = performance.now() - t0;
  if (flags.json) {
    for (const [qi, query] of queries.entries()) {
      console.log(JSON.stringify({
        query,
        base: useBase,
        dim: r.dim,
        quantize,
        rescore,
        bytes_per_vector: r.bytesPerVector,
        results: r.hits[qi],
        encoded: r.encoded.queries + r.encoded.docs,
        ms,
      }));
    }
    return;
  }
  const q = r.encoded.queries;
  say(
    `Corpus: ${r.corpus.length} listings (${r.encoded.docs} encoded, ${r.encoded.docsCached} from cache); ${
      queries.length === 1
        ? `query ${q ? "encoded" : "from cache"}`
        : `${queries.length} queries (${q} encoded)`
    }`,
  );
  const rescoring = rescore > 0 ? ` (re-scoring ${rescore}×k candidates in fp32)` : "";
  say(`Index: ${r.dim}-d ${quantize}${rescoring}, ${r.bytesPerVector} bytes/vector`);
  for (const [qi, query] of queries.entries()) {
    const shown = query.length > 200 ? `${query.slice(0, 197)}...` : query;
    say(`${qi > 0 ? "\n" : ""}Query: ${shown}\n`);
    for (const h of r.hits[qi]) {
      say(`${String(h.rank).padStart(2)}. ${h.score.toFixed(4)}  ${h.text}`);
    }
  }
  say(`\nTime: ${ms.toFixed(0)} ms`);
}

/** `--index DIR`: the query through the cache and the index's head, searched in LanceDB. */
async function searchLanceIndex(
  query: string,
  k: number,
  flags: Record<string, string | number | boolean>,
  t0: number,
): Promise<void> {
  const { openQuerySide } = await import("../lib/serve/query_side.ts");
  const { FilterError } = await import("../lib/serve/vector_store.ts");
  const useBase = flags.base === true;
  const side = await openQuerySide({
    index: flags.index as string,
    checkpoint: flags.checkpoint as string | undefined,
    fallbackCheckpoint: "checkpoints/latest",
    which: flags.which as "best" | "final" | undefined,
    model: flags.model as string | undefined,
    verify: flags.verify === true,
    head: !useBase,
    force: flags.force === true,
    onWarning: (m) => console.error(m),
  });
  const { store, encoder, head } = side;
  try {
    const say = (s: string) => flags.json ? undefined : console.log(s);
    say(
      `${describeEncoder(encoder)}; ${
        useBase ? "base vectors (1024-d)" : `head ${side.checkpoint} (256-d)`
      }`,
    );
    const cacheRoot = (flags.cacheRoot as string | undefined) ?? "data/cache";
    const q = await embedTexts(encoder, [query], { cacheRoot, store: "query" });
    const qv = head ? head.project(q.data, 1) : q.data;
    const where = flags.where as string | undefined;
    const hits = await store.search(qv, { k, column: useBase ? "base" : "vector", where }).catch(
      (err) => {
        throw err instanceof FilterError ? new CliError(`search: --where: ${err.message}`) : err;
      },
    );
    const ms = performance.now() - t0;
    if (flags.json) {
      console.log(JSON.stringify({ query, base: useBase, results: hits, encoded: q.misses, ms }));
      return;
    }
    const ann = store.info.ann;
    say(
      `Index: ${flags.index}, ${await store.count()} listings (${
        ann && !useBase ? `ANN ${ann.kind}` : "exact scan"
      })${where ? `, filter: ${where} (${await store.count(where)} match)` : ""}; query ${
        q.misses ? "encoded" : "from cache"
      }`,
    );
    say(`Query: ${query}\n`);
    for (const h of hits) say(`${String(h.rank).padStart(2)}. ${h.score.toFixed(4)}  ${h.text}`);
    say(`\nTime: ${ms.toFixed(0)} ms`);
  } finally {
    await side.close();
  }
}

if (import.meta.main) await runMain(main);
