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
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { BGE_M3_DIR, type EncoderConfig, modelFingerprint } from "../lib/encoder/encoder.ts";
import { atomicWriteJson, exists, join, sha256File } from "../lib/core/fs.ts";
import { Progress } from "../lib/cli/progress.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";

/**
 * The command line of `deno task fetch-model`.
 *
 * @example
 * ```ts
 * import { helpText } from "../lib/cli/cli.ts";
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
    endpoint: {
      type: "string",
      help: "hub address, for mirrors and proxies (the task may reach huggingface.co only; " +
        "run scripts/fetch_model.ts with --allow-net=<host> for another)",
      default: "https://huggingface.co",
    },
    variant: {
      type: "choice",
      choices: ["fp32", "quantized", "int8"],
      help: "which model file: model.onnx, or a published int8 export's model_quantized.onnx " +
        "or model_int8.onnx (Xenova/bge-m3: --repo Xenova/bge-m3)",
      default: "fp32",
    },
  },
};

/** Files to fetch: where in the repo, whether required, where else to look. */
interface RemoteFile {
  name: string;
  required: boolean;
  /** Also try the repo root when missing in the subdir. */
  rootFallback: boolean;
}

/** The files of a variant: `remote` in the repo is saved as `name`. */
function filesOf(variant: string): (RemoteFile & { remote: string })[] {
  const model = variant === "quantized"
    ? "model_quantized.onnx"
    : variant === "int8"
    ? "model_int8.onnx"
    : "model.onnx";
  return [
    { name: "model.onnx", remote: model, required: true, rootFallback: false },
    ...(variant === "fp32"
      ? [
        {
          name: "model.onnx_data",
          remote: "model.onnx_data",
          required: false,
          rootFallback: false,
        },
        {
          name: "model.onnx.data",
          remote: "model.onnx.data",
          required: false,
          rootFallback: false,
        },
      ]
      : []),
    { name: "tokenizer.json", remote: "tokenizer.json", required: true, rootFallback: true },
    {
      name: "tokenizer_config.json",
      remote: "tokenizer_config.json",
      required: false,
      rootFallback: true,
    },
  ];
}

function url(endpoint: string, repo: string, revision: string, path: string): string {
  return `${endpoint.replace(/\/+$/, "")}/${repo}/resolve/${revision}/${path}`;
}

function offlineMessage(err: unknown, target: string): string {
  let why = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as Error | undefined)?.message : undefined;
  if (cause) why += `: ${cause}`;
  const host = (() => {
    try {
      return new URL(target).host;
    } catch {
      return target;
    }
  })();
  return `cannot reach ${host} (${why}) while fetching ${target}.\n` +
    "fetch-model needs internet access to the Hugging Face hub. Offline, either copy an ONNX " +
    `export of BAAI/bge-m3 (model.onnx, model.onnx_data, tokenizer.json) into ${BGE_M3_DIR}/ ` +
    "by hand and run this again (it then only writes encoder.json), or keep using the offline " +
    "default model (lexical-1024).";
}

/** What the hub says about a file before its bytes: its LFS sha256 and size, when it is an LFS file. */
interface FileInfo {
  sha256?: string;
  size?: number;
  etag?: string;
}

/** A GET with a timeout on the response headers; null for a 404. */
async function request(
  target: string,
  timeoutS: number,
  headers: Record<string, string> = {},
  method = "GET",
): Promise<Response | null> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () => ctl.abort(new Error(`no response in ${timeoutS} s`)),
    timeoutS * 1000,
  );
  try {
    const res = await fetch(target, { method, signal: ctl.signal, redirect: "manual", headers });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok && !(res.status >= 300 && res.status < 400)) {
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

/**
 * Resolve a hub URL: the hub answers LFS files with a redirect to its CDN
 * whose headers carry the file's sha256 (`X-Linked-Etag`) and size
 * (`X-Linked-Size`). HEAD requests, following up to 5 redirects; null for a 404.
 */
async function resolve(
  target: string,
  timeoutS: number,
): Promise<{ url: string; info: FileInfo } | null> {
  const info: FileInfo = {};
  let at = target;
  for (let hop = 0; hop < 6; hop++) {
    const res = await request(at, timeoutS, { "accept-encoding": "identity" }, "HEAD");
    if (!res) return null;
    const linked = res.headers.get("x-linked-etag")?.replace(/^W\//, "").replaceAll('"', "");
    if (linked && /^[0-9a-f]{64}$/.test(linked)) info.sha256 = linked;
    const size = Number(res.headers.get("x-linked-size") ?? NaN);
    if (Number.isFinite(size)) info.size = size;
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel();
      const loc = res.headers.get("location");
      if (!loc) throw new Error(`HTTP ${res.status} without a Location header for ${at}`);
      at = new URL(loc, at).href;
      continue;
    }
    const etag = res.headers.get("etag")?.replace(/^W\//, "").replaceAll('"', "");
    if (etag) info.etag = etag;
    if (!info.sha256 && etag && /^[0-9a-f]{64}$/.test(etag)) info.sha256 = etag;
    await res.body?.cancel();
    return { url: at, info };
  }
  throw new Error(`too many redirects for ${target}`);
}

/**
 * Download `target` to `dest`: into `<dest>.part` first, resumed with a Range
 * request when a previous run left one for the same file (same sha256 or
 * ETag, recorded in `<dest>.part.json`), checked against the hub's size and
 * LFS sha256, then renamed into place. A corrupt download is removed.
 */
async function download(
  target: string,
  dest: string,
  label: string,
  timeoutS: number,
): Promise<{ bytes: number; resumed: number; verified: boolean } | null> {
  const resolved = await resolve(target, timeoutS);
  if (!resolved) return null;
  const { url: at, info } = resolved;
  const part = `${dest}.part`, meta = `${dest}.part.json`;
  const key = info.sha256 ?? info.etag ?? "";
  let have = 0;
  try {
    const m = JSON.parse(await Deno.readTextFile(meta));
    if (key && m.key === key) have = (await Deno.stat(part)).size;
  } catch { /* no resumable part */ }
  if (have === 0) {
    await Deno.remove(part).catch(() => {});
    await atomicWriteJson(meta, { key, url: target });
  }
  const headers: Record<string, string> = { "accept-encoding": "identity" };
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    if (info.etag) headers["if-range"] = `"${info.etag}"`;
  }
  const res = await request(at, timeoutS, headers);
  if (!res || res.status >= 300) {
    await res?.body?.cancel();
    throw new Error(`${label}: ${at} answered ${res?.status ?? 404} after resolving`);
  }
  let resumed = 0;
  if (res.status === 206 && have > 0) resumed = have;
  else have = 0; // a full body: start over
  const length = Number(res.headers.get("content-length") ?? NaN);
  const total = info.size ?? (Number.isFinite(length) ? length + have : 0);
  const bar = new Progress(Math.max(1, Math.round(total / 1e6)), { label, unit: "MB" });
  let bytes = have;
  {
    using file = await Deno.open(part, {
      write: true,
      create: true,
      truncate: have === 0,
      append: have > 0,
    });
    try {
      for await (const chunk of res.body!) {
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
        bytes += chunk.length;
        bar.update(Math.round(bytes / 1e6));
      }
    } catch (err) {
      await file.syncData();
      bar.finish();
      throw new Error(
        `${label}: the download broke off after ${(bytes / 1e6).toFixed(1)} of ` +
          `${(total / 1e6).toFixed(1)} MB (${(err as Error).message}); ${part} is kept: run ` +
          `again to resume`,
      );
    }
    await file.syncData();
  }
  bar.finish();
  if (total > 0 && bytes !== total) {
    throw new Error(`${label}: got ${bytes} of ${total} bytes; run again to resume`);
  }
  if (info.sha256) {
    const got = await sha256File(part);
    if (got !== info.sha256) {
      await Deno.remove(part).catch(() => {});
      await Deno.remove(meta).catch(() => {});
      throw new Error(
        `${label}: sha256 ${got} does not match the hub's ${info.sha256} (a corrupt download or ` +
          `a tampered mirror); the file was removed, run again`,
      );
    }
  }
  await Deno.rename(part, dest);
  await Deno.remove(meta).catch(() => {});
  return { bytes, resumed, verified: info.sha256 !== undefined };
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

/**
 * The static last dimension of a graph output (the embedding size), or
 * undefined when the graph leaves it symbolic.
 *
 * @example
 * ```ts
 * import { graphOutputDim } from "./fetch_model.ts";
 * console.log(graphOutputDim(await Deno.readFile("data/models/lexical-1024/model.onnx"), "last_hidden_state"));
 * ```
 */
export function graphOutputDim(modelBytes: Uint8Array, name: string): number | undefined {
  const model = onnxProto.onnx.ModelProto.decode(modelBytes);
  const out = (model.graph?.output ?? []).find((o) => o.name === name);
  const dims = out?.type?.tensorType?.shape?.dim ?? [];
  const last = dims.at(-1)?.dimValue;
  const n = last === undefined || last === null ? NaN : Number(last);
  return Number.isInteger(n) && n > 0 ? n : undefined;
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
  const endpoint = (flags.endpoint as string | undefined) ?? "https://huggingface.co";
  const variant = (flags.variant as string | undefined) ?? "fp32";
  try {
    const u = new URL(endpoint);
    if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error();
  } catch {
    throw new CliError(`fetch-model: --endpoint must be an http(s) URL, got ${endpoint}`);
  }
  await requirePermissions("fetch-model", [
    { kind: "read", path: out, flag: "--out" },
    { kind: "write", path: out, flag: "--out" },
  ]);
  console.log(`Model: bge-m3 (BAAI/bge-m3 ONNX export from ${repo}/${subdir}) -> ${out}`);

  for (const f of filesOf(variant)) {
    const dest = join(out, f.name);
    if (!flags.force && await exists(dest)) {
      console.log(`  ${f.name}: present, skipped (--force to download again)`);
      continue;
    }
    const candidates = [subdir ? `${subdir}/${f.remote}` : f.remote];
    if (f.rootFallback && subdir) candidates.push(f.remote);
    let got: Awaited<ReturnType<typeof download>> = null;
    let from = "";
    await Deno.mkdir(out, { recursive: true });
    for (const path of candidates) {
      got = await download(url(endpoint, repo, revision, path), dest, f.name, timeoutS);
      from = path;
      if (got) break;
    }
    if (!got) {
      if (f.required) {
        throw new CliError(
          `fetch-model: ${repo} has no ${candidates.join(" or ")} (revision ${revision}); ` +
            'try --repo/--subdir (see README, "Using the real BGE-M3")',
        );
      }
      continue;
    }
    console.log(
      `  ${f.name}: ${(got.bytes / 1e6).toFixed(1)} MB from ${repo}/${from}` +
        (got.resumed ? ` (resumed at ${(got.resumed / 1e6).toFixed(1)} MB)` : "") +
        (got.verified ? ", sha256 verified" : ""),
    );
  }

  const graph = await Deno.readFile(join(out, "model.onnx"));
  const outputs = graphOutputs(graph);
  const pooling = (flags.pooling as EncoderConfig["pooling"] | undefined) ??
    poolingFromOutputs(outputs);
  const config: EncoderConfig & { precision: string } = {
    name: variant === "fp32" ? "bge-m3" : "bge-m3-int8",
    // BGE-M3's 1024, unless the graph says otherwise (a smaller model of the same layout).
    dim: graphOutputDim(graph, pooling === "cls" ? "last_hidden_state" : pooling.slice(7)) ?? 1024,
    pooling,
    normalize: true,
    maxLength,
    precision: variant === "fp32" ? "fp32" : "int8",
  };
  await atomicWriteJson(join(out, "encoder.json"), config);
  console.log(`Wrote ${join(out, "encoder.json")}: ${JSON.stringify(config)}`);
  console.log(`Fingerprint: ${await modelFingerprint(out)}`);
  console.log(`Use it with --model ${out}`);
}

if (import.meta.main) await runMain(main);
