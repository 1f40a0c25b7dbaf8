/**
 * Kill test of the index writer: SIGKILL a real `scripts/index.ts` process
 * at exact commit points (through the PHONGTRO_INDEX_PAUSE hook of
 * lib/serve/vector_store.ts) and at random moments of its write phase, during an
 * upsert, a `--delete` and a `--rebuild` with another head and an ANN index.
 * After every kill the index must be exactly the old state or the new one
 * (the rows' ids, texts, metadata, head and base vectors, and the head it
 * names), never empty or mixed; and a writer started after a kill must reach
 * the new state.
 */
import { assert, assertEquals } from "./assert.ts";
import { indexListings } from "../lib/serve/indexer.ts";
import { readListings } from "../lib/data/listings.ts";
import { sha256Hex } from "../lib/core/fs.ts";
import { Rng } from "../lib/core/rng.ts";
import { INDEX_PAUSE_ENV, VectorStore } from "../lib/serve/vector_store.ts";
import { copyTree } from "./fixtures.ts";
import { taskPermissions, trainedRun } from "./serve_fixtures.ts";

/** A canonical description of an index's state: rows sorted by id, and its head. */
async function state(uri: string): Promise<string> {
  const store = await VectorStore.open(uri, { verify: true });
  try {
    const rows: string[] = [];
    for await (const r of store.rows()) {
      const bytes = new Uint8Array([
        ...new Uint8Array(r.vector.buffer, r.vector.byteOffset, r.vector.byteLength),
        ...(r.base ? new Uint8Array(r.base.buffer, r.base.byteOffset, r.base.byteLength) : []),
      ]);
      rows.push(`${r.id}\t${r.text}\t${JSON.stringify(r.meta)}\t${await sha256Hex(bytes)}`);
    }
    rows.sort();
    const c = store.info.checkpoint;
    return `${c?.which} ${c?.sha256} ${store.info.ann?.kind ?? "exact"} rows=${rows.length}\n` +
      rows.join("\n");
  } finally {
    store.close();
  }
}

const fixture = (async () => {
  const fx = await trainedRun();
  const all = await readListings("data/gen-data-set.json", "all");
  const toJsonl = (ls: typeof all) =>
    ls.map((l) => JSON.stringify({ id: l.id, text: l.text, ...l.meta })).join("\n") + "\n";
  // Old state: 400 listings. Upsert: 300 of them (100 with a new text) and 100 new ones.
  const old = all.slice(0, 400);
  const next = all.slice(100, 500).map((l, i) => i < 100 ? { ...l, text: `${l.text} (mới)` } : l);
  await Deno.writeTextFile(`${fx.dir}/old.jsonl`, toJsonl(old));
  await Deno.writeTextFile(`${fx.dir}/next.jsonl`, toJsonl(next));
  const base = `${fx.dir}/base-index`;
  await indexListings({
    listings: old,
    index: base,
    checkpoint: fx.run,
    cacheRoot: fx.cache,
    ann: "none",
    recallSample: 1,
  });
  // The run's final weights differ from its best ones: a rebuild with another head.
  const common = ["--checkpoint", fx.run, "--cache-root", fx.cache, "--recall-sample", "1"];
  const ops: Record<string, { args: string[]; points: string[] }> = {
    upsert: {
      args: [...common, "--listings", `${fx.dir}/next.jsonl`, "--delete-missing", "--ann", "none"],
      points: ["rows", "meta"],
    },
    delete: {
      args: [...common, "--delete", old.slice(0, 50).map((l) => l.id).join(","), "--ann", "none"],
      points: ["rows", "meta"],
    },
    rebuild: {
      args: [
        ...common,
        "--listings",
        `${fx.dir}/next.jsonl`,
        "--which",
        "final",
        "--rebuild",
        "--ann",
        "ivf_flat",
      ],
      points: ["ann", "meta"],
    },
  };
  return { ...fx, base, ops, before: await state(base) };
})();

let copies = 0;
async function copyOfBase(): Promise<string> {
  const fx = await fixture;
  const to = `${fx.dir}/copy-${copies++}`;
  await copyTree(fx.base, to);
  return to;
}

/** Start `scripts/index.ts` on `index` with the index task's permissions. */
async function launch(index: string, args: string[], pause?: string) {
  const fx = await fixture;
  const perms = taskPermissions("index", { read: fx.dir, write: fx.dir }).map((f) =>
    f.startsWith("--allow-env=") ? `${f},${INDEX_PAUSE_ENV}` : f
  );
  const child = new Deno.Command("deno", {
    args: ["run", ...perms, "scripts/index.ts", "--index", index, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", LANCEDB_LOG: "error", ...(pause ? { [INDEX_PAUSE_ENV]: pause } : {}) },
  }).spawn();
  let out = "", err = "";
  const wakers: (() => void)[] = [];
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      add(t);
      wakers.splice(0).forEach((w) => w());
    }
  };
  const pumps = [pump(child.stdout, (t) => out += t), pump(child.stderr, (t) => err += t)];
  const status = child.status.then(async (s) => {
    await Promise.all(pumps);
    return s;
  });
  let exited = false;
  status.then(() => {
    exited = true;
    wakers.splice(0).forEach((w) => w());
  });
  return {
    child,
    status,
    out: () => out,
    err: () => err,
    /** Wait until stdout or stderr matches (false if the process ended first). */
    async until(re: RegExp): Promise<boolean> {
      while (!re.test(out) && !re.test(err)) {
        if (exited) return false;
        await new Promise<void>((r) => wakers.push(r));
      }
      return true;
    },
  };
}

/** The state each operation reaches when it is not interrupted, and how long its write phase takes. */
const finals = (async () => {
  const fx = await fixture;
  const res: Record<string, { state: string; writeMs: number }> = {};
  for (const [name, op] of Object.entries(fx.ops)) {
    const copy = await copyOfBase();
    const p = await launch(copy, op.args);
    assert(await p.until(/Listings: \d+|Index .*: (created|updated)/), p.err());
    const t = performance.now();
    const s = await p.status;
    assertEquals(s.code, 0, `${name}: ${p.err()}`);
    res[name] = { state: await state(copy), writeMs: performance.now() - t };
    assert(res[name].state !== fx.before, `${name} changes the index`);
  }
  return res;
})();

Deno.test("index kill: SIGKILL at each commit point leaves the old index or the new one, and a later run completes", async () => {
  const fx = await fixture;
  const fin = await finals;
  let kills = 0;
  for (const [name, op] of Object.entries(fx.ops)) {
    for (const point of op.points) {
      const copy = await copyOfBase();
      const p = await launch(copy, op.args, point);
      assert(await p.until(new RegExp(`${INDEX_PAUSE_ENV}: paused at ${point}`)), p.err());
      p.child.kill("SIGKILL");
      await p.status;
      kills++;
      const got = await state(copy);
      const want = point === "meta" ? fin[name].state : fx.before;
      assertEquals(got === want, true, `${name} killed at ${point}: the index is neither state`);
      // A reader sees it; a new writer rolls back what the killed one left and finishes.
      const again = await launch(copy, op.args);
      const s = await again.status;
      assertEquals(s.code, 0, `${name} after a kill at ${point}: ${again.err()}`);
      if (point !== "meta") assert(/rolled back|stale lock/.test(again.err()), again.err());
      assertEquals(await state(copy) === fin[name].state, true, `${name}: resumed state`);
    }
  }
  assertEquals(kills, 6);
});

Deno.test("index kill: 18 SIGKILLs at random moments of upserts, deletes and rebuilds", async () => {
  const fx = await fixture;
  const fin = await finals;
  const rng = new Rng(20);
  const names = Object.keys(fx.ops);
  const seen = { old: 0, new: 0 };
  let kills = 0;
  for (let trial = 0; kills < 18; trial++) {
    assert(trial < 40, `only ${kills} of 40 launches were killed before they ended`);
    const name = names[trial % names.length];
    const copy = await copyOfBase();
    const p = await launch(copy, fx.ops[name].args);
    // The write phase starts after the listings are read and encoded (from the cache).
    assert(await p.until(/Listings: \d+/), p.err());
    const delay = rng.next() * fin[name].writeMs * 0.9;
    await new Promise((r) => setTimeout(r, delay));
    try {
      p.child.kill("SIGKILL");
      kills++;
    } catch { /* it had finished: not a kill, but its state is checked all the same */ }
    await p.status;
    const got = await state(copy);
    if (got === fx.before) seen.old++;
    else if (got === fin[name].state) seen.new++;
    else throw new Error(`${name}, SIGKILL after ${delay.toFixed(0)} ms: neither state`);
  }
  console.log(`random kills: ${seen.old} left the old index, ${seen.new} the new one`);
  assert(seen.old > 0, "some kills came before the switch");
});
