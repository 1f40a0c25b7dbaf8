/**
 * Scale bench (opt-in, not in CI): peak RSS and time of loading, embedding and
 * training on large datasets, each run in its own process under
 * `/usr/bin/time -v`. `deno task bench:scale [--quick]` writes the datasets
 * to /tmp/phongtro-scale/ and prints a Markdown table.
 *
 * Datasets (FlagEmbedding JSONL built from the committed 1,000 examples):
 * - `reuse-200k`: 200,000 lines, texts reused (line i is example i mod 1000; about 280 MB);
 * - `unique-200k`: the same lines with 200,000 distinct queries (about 205,900 unique texts);
 * - `gen-16k` and `gen-200k`: `gen-data --count N` (native JSON; every negative is a new text).
 *
 * Goals (issue #12): reuse-200k load ≤ 400 MB; unique-200k ≤ 1.3 GB through embed and one
 * epoch of training (checked in the table's last column). `--quick` uses 20k lines and skips
 * gen-200k and the 200k training runs. MB and GB are decimal (10^6, 10^9 bytes), like the
 * issue's "843 MB" matrix; `/usr/bin/time -v` reports KiB and is converted.
 *
 * @module
 */
import { loadDataset } from "../lib/data/dataset.ts";

const DIR = "/tmp/phongtro-scale";
const QUICK = Deno.args.includes("--quick");
const N = QUICK ? 20_000 : 200_000;
const PERMS = [
  "--allow-read=.,/tmp",
  "--allow-write=/tmp",
  "--allow-ffi",
  "--allow-env",
  "--allow-sys",
];

/** Write a FlagEmbedding JSONL of `n` lines from the committed dataset (streamed). */
async function makeJsonl(path: string, n: number, uniqueQueries: boolean): Promise<void> {
  const base = (await loadDataset("data/gen-data-set.json")).examples;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let buf: string[] = [];
  const flush = async () => {
    const b = enc.encode(buf.join(""));
    for (let o = 0; o < b.length;) o += await file.write(b.subarray(o));
    buf = [];
  };
  for (let i = 0; i < n; i++) {
    const e = base[i % base.length];
    buf.push(
      JSON.stringify({
        query: uniqueQueries ? `${e.query} #${i}` : e.query,
        pos: [e.positive],
        neg: e.negatives.map((x) => x.text),
        neg_weights: e.negatives.map((x) => x.weight),
      }) + "\n",
    );
    if (buf.length >= 2000) await flush();
  }
  await flush();
  file.close();
}

interface Measured {
  name: string;
  /** Peak RSS in MB (10^6 bytes). */
  rssMB: number;
  /** Goal for the peak RSS in MB, when the issue sets one. */
  goalMB?: number;
  seconds: number;
  ok: boolean;
  note: string;
}

/** Run `deno <args>` under /usr/bin/time -v; peak RSS and wall time. */
async function measure(name: string, args: string[], goalMB?: number): Promise<Measured> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-v", "deno", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  const stdout = new TextDecoder().decode(out.stdout);
  const rss = Number(err.match(/Maximum resident set size \(kbytes\): (\d+)/)?.[1] ?? NaN);
  const wall = err.match(/Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)/)?.[1] ?? "";
  const seconds = wall.split(":").reduce((s, x) => s * 60 + Number(x), 0);
  const last = stdout.trim().split("\n").filter((l) => l.trim()).slice(-1)[0] ?? "";
  const failure = err.split("\n").filter((l) => /error/i.test(l)).slice(0, 2).join(" ");
  const r = {
    name,
    rssMB: rss * 1024 / 1e6,
    goalMB,
    seconds,
    ok: out.success,
    note: out.success ? last : failure,
  };
  console.error(`${name}: ${r.rssMB.toFixed(0)} MB, ${seconds.toFixed(1)} s, ${r.note}`);
  return r;
}

if (import.meta.main) {
  await Deno.mkdir(DIR, { recursive: true });
  const k = `${N / 1000}k`;
  const reuse = `${DIR}/reuse-${k}.jsonl`;
  const unique = `${DIR}/unique-${k}.jsonl`;
  await makeJsonl(reuse, N, false);
  await makeJsonl(unique, N, true);
  const cache = `${DIR}/cache-${Date.now()}`;
  const coldCache = `${cache}-train`;
  const rows: Measured[] = [];
  const mb = (p: string) => (Deno.statSync(p).size / 1e6).toFixed(0);
  rows.push(
    await measure(`load reuse-${k} (${mb(reuse)} MB JSONL)`, [
      "run",
      ...PERMS,
      "bench/scale_load.ts",
      reuse,
    ], 400),
  );
  rows.push(
    await measure(`load unique-${k} (${mb(unique)} MB JSONL)`, [
      "run",
      ...PERMS,
      "bench/scale_load.ts",
      unique,
    ]),
  );
  rows.push(
    await measure(`embed unique-${k} (cold)`, [
      "run",
      ...PERMS,
      "scripts/embed.ts",
      "--data",
      unique,
      "--cache",
      cache,
    ], 1300),
  );
  rows.push(
    await measure(`embed unique-${k} (warm)`, [
      "run",
      ...PERMS,
      "scripts/embed.ts",
      "--data",
      unique,
      "--cache",
      cache,
    ]),
  );
  rows.push(
    await measure(`train data prep unique-${k} (load, split, matrix from warm cache)`, [
      "run",
      ...PERMS,
      "bench/scale_load.ts",
      unique,
      "--prepare",
      cache,
    ]),
  );
  if (!QUICK) {
    for (
      const [label, root] of [["warm cache", cache], ["cold cache: embeds, then trains", coldCache]]
    ) {
      rows.push(
        await measure(`train unique-${k}, 1 epoch (${label})`, [
          "run",
          ...PERMS,
          "scripts/train.ts",
          "--data",
          unique,
          "--epochs",
          "1",
          "--cache-root",
          root,
          "--out",
          `${DIR}/run-${Date.now()}`,
          "--quiet",
        ], 1300),
      );
    }
  }
  for (const n of QUICK ? [16_000] : [16_000, 200_000]) {
    const out = `${DIR}/gen-${n / 1000}k.json`;
    rows.push(
      await measure(`gen-data --count ${n}`, [
        "run",
        ...PERMS,
        "scripts/gen_data.ts",
        "--count",
        String(n),
        "--out",
        out,
        "--force",
      ]),
    );
    if (n === 16_000) {
      rows.push(
        await measure(`train gen-16k, 1 epoch (cold cache: embeds, then trains)`, [
          "run",
          ...PERMS,
          "scripts/train.ts",
          "--data",
          out,
          "--epochs",
          "1",
          "--cache-root",
          `${DIR}/cache-${Date.now()}-16k`,
          "--out",
          `${DIR}/run-${Date.now()}-16k`,
          "--quiet",
        ]),
      );
    }
    rows.push(
      await measure(`load gen-${n / 1000}k (${mb(out)} MB native)`, [
        "run",
        ...PERMS,
        "bench/scale_load.ts",
        out,
      ]),
    );
  }
  for (const entry of Deno.readDirSync(DIR)) {
    if (/^(cache|run)-/.test(entry.name)) {
      await Deno.remove(`${DIR}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
  let load = "?";
  try {
    load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  } catch { /* no --allow-sys=loadavg */ }
  console.log(
    `${Deno.build.target}, ${navigator.hardwareConcurrency} cores, load average (1, 5, 15 min) ${load}`,
  );
  console.log("| run | peak RSS | wall time | goal | result |");
  console.log("|---|---:|---:|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rssMB.toFixed(0)} MB | ${r.seconds.toFixed(1)} s | ${
        r.goalMB === undefined ? "" : `≤ ${r.goalMB} MB: ${r.rssMB <= r.goalMB ? "met" : "NOT met"}`
      } | ${r.ok ? "" : "FAILED: "}${r.note} |`,
    );
  }
}
