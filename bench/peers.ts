/**
 * Helpers shared by the benches: run a Python peer (PyTorch / numpy) in a
 * subprocess when `/usr/bin/python3` with torch is present, with OpenBLAS on
 * the library path when it can be found (or fetched with `apt-get download`),
 * time our own code the same way (median of repeated runs), and print a
 * side-by-side table with the ratio.
 *
 * @module
 */

/** Median and minimum of repeated timings, in milliseconds. */
export interface Timing {
  median: number;
  min: number;
  runs: number;
}

/**
 * Time `fn` `runs` times after `warmup` calls; median and minimum in ms.
 *
 * @example
 * ```ts
 * import { time } from "./peers.ts";
 * console.log(await time(() => {}, 5));
 * ```
 */
export async function time(
  fn: () => unknown | Promise<unknown>,
  runs: number,
  warmup = 2,
): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { median: ts[Math.floor(ts.length / 2)], min: ts[0], runs };
}

const PYTHON = "/usr/bin/python3";
const OPENBLAS_DIRS = [
  Deno.env.get("OPENBLAS_DIR") ?? "",
  "/usr/lib/x86_64-linux-gnu/openblas-pthread", // Debian libopenblas0-pthread, if installed
  "/tmp/phongtro-openblas/usr/lib/x86_64-linux-gnu/openblas-pthread",
].filter((d) => d !== "");

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd?: string) {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return {
    ok: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

let openblas: Promise<string | null> | undefined;

/**
 * A directory holding OpenBLAS's `libblas.so.3` (pthread build): a known
 * location, else `apt-get download libopenblas0-pthread` + `dpkg -x` into
 * /tmp/phongtro-openblas. Null when neither works (the peer then uses
 * whatever BLAS torch/numpy find, and the table says so).
 *
 * @example
 * ```ts
 * import { openBlasDir } from "./peers.ts";
 * console.log(await openBlasDir());
 * ```
 */
export function openBlasDir(): Promise<string | null> {
  openblas ??= (async () => {
    for (const d of OPENBLAS_DIRS) if (await exists(`${d}/libblas.so.3`)) return d;
    try {
      const dir = "/tmp/phongtro-openblas";
      await Deno.mkdir(dir, { recursive: true });
      const dl = await run("apt-get", ["download", "libopenblas0-pthread"], {}, dir);
      if (!dl.ok) return null;
      const deb = [...Deno.readDirSync(dir)].find((e) => e.name.endsWith(".deb"));
      if (!deb) return null;
      const x = await run("dpkg", ["-x", `${dir}/${deb.name}`, dir]);
      if (!x.ok) return null;
      const d = `${dir}/usr/lib/x86_64-linux-gnu/openblas-pthread`;
      return await exists(`${d}/libblas.so.3`) ? d : null;
    } catch {
      return null;
    }
  })();
  return openblas;
}

/** Why a peer did not run, or its JSON lines. */
export type PeerResult = { ok: true; lines: Record<string, unknown>[] } | {
  ok: false;
  why: string;
};

/**
 * Run `bench/<script>` with /usr/bin/python3, `threads` BLAS/OpenMP threads
 * (environment), and parse its JSON lines.
 *
 * @example
 * ```ts
 * import { runPythonPeer } from "./peers.ts";
 * const r = await runPythonPeer("torch_step.py", ["--threads", "1"], 1);
 * console.log(r.ok ? r.lines : r.why);
 * ```
 */
export async function runPythonPeer(
  script: string,
  args: string[],
  threads = 1,
): Promise<PeerResult> {
  if (!await exists(PYTHON)) return { ok: false, why: `${PYTHON} not found` };
  const blas = await openBlasDir();
  const env: Record<string, string> = {
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
  };
  if (blas) env.PEER_BLAS_DIR = blas; // bench/peer_env.py sets LD_LIBRARY_PATH and re-executes
  try {
    const r = await run(PYTHON, [`bench/${script}`, ...args], env);
    if (!r.ok) {
      const last = r.stderr.trim().split("\n").at(-1) ?? "";
      return { ok: false, why: `${script} failed: ${last}` };
    }
    const lines = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l) as Record<string, unknown>
    );
    return { ok: true, lines };
  } catch (err) {
    return { ok: false, why: `cannot run ${PYTHON}: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** One row of a comparison table. */
export interface Row {
  what: string;
  ours: string;
  oursMs: number;
  peer: string;
  peerMs?: number;
}

/**
 * Print rows as a Markdown table with the ratio ours / peer.
 *
 * @example
 * ```ts
 * import { printTable } from "./peers.ts";
 * printTable("demo", [{ what: "x", ours: "a", oursMs: 2, peer: "b", peerMs: 1 }]);
 * ```
 */
export function printTable(title: string, rows: Row[]): void {
  const fmt = (ms: number) => ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
  const lines = [
    `\n${title}`,
    "| what | this project | ms | peer (same run) | ms | ratio |",
    "|---|---|--:|---|--:|--:|",
  ];
  for (const r of rows) {
    const ratio = r.peerMs ? `${(r.oursMs / r.peerMs).toFixed(2)}×` : "—";
    lines.push(
      `| ${r.what} | ${r.ours} | ${fmt(r.oursMs)} | ${r.peer} | ${
        r.peerMs === undefined ? "—" : fmt(r.peerMs)
      } | ${ratio} |`,
    );
  }
  console.log(lines.join("\n") + "\n");
}
