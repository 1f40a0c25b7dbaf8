/**
 * `deno task fetch-model [--repo R] [--subdir S] [--out DIR] [--max-length N]`:
 * download an ONNX export of BAAI/bge-m3 from the Hugging Face hub into
 * `data/models/bge-m3/` and write its `encoder.json`. The only task with
 * network access (limited to the hub's hosts). Offline it fails within
 * seconds with a clear message.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli.ts";
import { BGE_M3_DIR, type EncoderConfig, modelFingerprint } from "../lib/encoder.ts";
import { atomicWriteJson, exists, join } from "../lib/fs.ts";
import { Progress } from "../lib/progress.ts";
import { requirePermissions } from "../lib/permissions.ts";

/**
 * The command line of `deno task fetch-model`.
 *
 * @example
 * ```ts
 * import { helpText } from "../lib/cli.ts";
 * import { FETCH_MODEL_COMMAND } from "./fetch_model.ts";
 * console.log(helpText(FETCH_MODEL_COMMAND));
 * ```
 */
export const FETCH_MODEL_COMMAND: CommandSpec = {
  name: "fetch-model",
  usage: "deno task fetch-model [--repo BAAI/bge-m3] [--subdir onnx] [--out DIR]",
  description: "Download an ONNX export of BGE-M3 (~2.3 GB) and write its encoder.json.",
  flags: {
    repo: { type: "string", help: "Hugging Face repo", default: "BAAI/bge-m3" },
    subdir: { type: "string", help: "folder of the ONNX files in the repo", default: "onnx" },
    revision: { type: "string", help: "branch, tag or commit", default: "main" },
    out: { type: "string", help: "model folder", default: BGE_M3_DIR },
    "max-length": {
      type: "int",
      help: "encoder.json maxLength (BGE-M3 allows 8192)",
      default: 512,
      min: 8,
    },
    pooling: {
      type: "string",
      help: 'override pooling ("cls", "mean", "output:<name>"; default: from the model)',
    },
    force: { type: "boolean", help: "download files again even if present" },
    timeout: { type: "int", help: "seconds to wait for the first response", default: 10, min: 1 },
  },
};

/** Files to fetch: where in the repo, whether required, where else to look. */
interface RemoteFile {
  name: string;
  required: boolean;
  /** Also try the repo root when missing in the subdir. */
  rootFallback: boolean;
}

const FILES: RemoteFile[] = [
  { name: "model.onnx", required: true, rootFallback: false },
  { name: "model.onnx_data", required: false, rootFallback: false },
  { name: "model.onnx.data", required: false, rootFallback: false },
  { name: "tokenizer.json", required: true, rootFallback: true },
  { name: "tokenizer_config.json", required: false, rootFallback: true },
];

function url(repo: string, revision: string, path: string): string {
  return `https://huggingface.co/${repo}/resolve/${revision}/${path}`;
}

function offlineMessage(err: unknown, target: string): string {
  let why = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as Error | undefined)?.message : undefined;
  if (cause) why += `: ${cause}`;
  return `cannot reach huggingface.co (${why}) while fetching ${target}.\n` +
    "fetch-model needs internet access to the Hugging Face hub. Offline, either copy an ONNX " +
    `export of BAAI/bge-m3 (model.onnx, model.onnx_data, tokenizer.json) into ${BGE_M3_DIR}/ ` +
    "by hand and run this again (it then only writes encoder.json), or keep using the offline " +
    "default model (lexical-1024).";
}

/** GET with a timeout on the response headers; returns null for a 404. */
async function get(target: string, timeoutS: number): Promise<Response | null> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error(`no response in ${timeoutS} s`)),
    timeoutS * 1000,
  );
  try {
    const res = await fetch(target, { signal: ctl.signal, redirect: "follow" });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText} for ${target}`);
    }
    return res;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("HTTP ")) throw err;
    throw new Error(offlineMessage(ctl.signal.aborted ? ctl.signal.reason : err, target));
  } finally {
    clearTimeout(timer);
  }
}

/** Stream a response body to `dest` via a temp file + rename. */
async function download(res: Response, dest: string, label: string): Promise<number> {
  const total = Number(res.headers.get("content-length") ?? 0);
  const tmp = `${dest}.${Deno.pid}.part`;
  const bar = new Progress(Math.max(1, Math.round(total / 1e6)), { label, unit: "MB" });
  let bytes = 0;
  try {
    using file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    for await (const chunk of res.body!) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
      bytes += chunk.length;
      bar.update(Math.round(bytes / 1e6));
    }
    bar.finish();
    if (total > 0 && bytes !== total) throw new Error(`${label}: got ${bytes} of ${total} bytes`);
    await Deno.rename(tmp, dest);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return bytes;
}

/**
 * The pooling for a model from its graph outputs: `cls` on
 * `last_hidden_state`, else a pooled output (`dense_vecs`,
 * `sentence_embedding`, ...).
 *
 * @example
 * ```ts
 * import { poolingFromOutputs } from "./fetch_model.ts";
 * console.log(poolingFromOutputs(["last_hidden_state"])); // "cls"
 * ```
 */
export function poolingFromOutputs(outputs: string[]): EncoderConfig["pooling"] {
  if (outputs.includes("last_hidden_state")) return "cls";
  for (const name of ["dense_vecs", "sentence_embedding", "dense", "pooler_output"]) {
    if (outputs.includes(name)) return `output:${name}`;
  }
  throw new Error(
    `cannot choose pooling: the model's outputs are ${outputs.join(", ")}; pass --pooling`,
  );
}

/**
 * Names of a model's graph outputs (reads the graph only; external weight
 * files are not touched).
 *
 * @example
 * ```ts
 * import { graphOutputs } from "./fetch_model.ts";
 * console.log(graphOutputs(await Deno.readFile("data/models/lexical-1024/model.onnx")));
 * ```
 */
export function graphOutputs(modelBytes: Uint8Array): string[] {
  const model = onnxProto.onnx.ModelProto.decode(modelBytes);
  return (model.graph?.output ?? []).map((o) => o.name ?? "");
}

async function main() {
  const { flags, help } = parseCommand(Deno.args, FETCH_MODEL_COMMAND);
  if (help) return console.log(helpText(FETCH_MODEL_COMMAND));
  const repo = (flags.repo as string | undefined) ?? "BAAI/bge-m3";
  const subdir = ((flags.subdir as string | undefined) ?? "onnx").replace(/^\/+|\/+$/g, "");
  const revision = (flags.revision as string | undefined) ?? "main";
  const out = (flags.out as string | undefined) ?? BGE_M3_DIR;
  const timeoutS = (flags.timeout as number | undefined) ?? 10;
  const maxLength = (flags.maxLength as number | undefined) ?? 512;
  await requirePermissions("fetch-model", [
    { kind: "read", path: out, flag: "--out" },
    { kind: "write", path: out, flag: "--out" },
  ]);
  console.log(`Model: bge-m3 (BAAI/bge-m3 ONNX export from ${repo}/${subdir}) -> ${out}`);

  for (const f of FILES) {
    const dest = join(out, f.name);
    if (!flags.force && await exists(dest)) {
      console.log(`  ${f.name}: present, skipped (--force to download again)`);
      continue;
    }
    const candidates = [subdir ? `${subdir}/${f.name}` : f.name];
    if (f.rootFallback && subdir) candidates.push(f.name);
    let res: Response | null = null;
    let from = "";
    for (const path of candidates) {
      res = await get(url(repo, revision, path), timeoutS);
      from = path;
      if (res) break;
    }
    if (!res) {
      if (f.required) {
        throw new CliError(
          `fetch-model: ${repo} has no ${candidates.join(" or ")} (revision ${revision}); ` +
            'try --repo/--subdir (see README, "Using the real BGE-M3")',
        );
      }
      continue;
    }
    await Deno.mkdir(out, { recursive: true });
    const bytes = await download(res, dest, f.name);
    console.log(`  ${f.name}: ${(bytes / 1e6).toFixed(1)} MB from ${repo}/${from}`);
  }

  const outputs = graphOutputs(await Deno.readFile(join(out, "model.onnx")));
  const pooling = (flags.pooling as EncoderConfig["pooling"] | undefined) ??
    poolingFromOutputs(outputs);
  const config: EncoderConfig = { name: "bge-m3", dim: 1024, pooling, normalize: true, maxLength };
  await atomicWriteJson(join(out, "encoder.json"), config);
  console.log(`Wrote ${join(out, "encoder.json")}: ${JSON.stringify(config)}`);
  console.log(`Fingerprint: ${await modelFingerprint(out)}`);
  console.log(`Use it with --model ${out}`);
}

if (import.meta.main) await runMain(main);
