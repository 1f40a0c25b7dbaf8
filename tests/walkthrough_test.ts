/**
 * The user's own path, end to end, through `deno task` exactly as the README
 * shows it: the data in a temporary folder outside the repo, then
 * gen-data → train → eval → search → index → serve (one request) → mine →
 * export. No command may fail on a permission (the launcher grants each
 * command the paths its flags and its run name), and none needs a flag
 * beyond the README's.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { writeFlagEmbedding } from "./fixtures.ts";
import { servingUrl } from "./serve_fixtures.ts";

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function task(name: string, args: string[]): Promise<Out> {
  const out = await new Deno.Command("deno", {
    args: ["task", "-q", name, ...args],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function assertOk(r: Out, what: string): void {
  const all = `${what}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assertEquals(r.code, 0, all);
  for (const raw of ["Requires read access", "Requires write access", "NotCapable", "--allow-"]) {
    assert(!r.stderr.includes(raw), `raw permission error: ${all}`);
  }
}

Deno.test("walkthrough: the user's data outside the repo, train → eval → search → index → serve → mine → export", async () => {
  const home = await Deno.makeTempDir({ prefix: "phongtro-user-" });
  const data = `${home}/my data/listings.json`; // a space in the path, as users have
  const run = `${home}/runs/first`;
  const cache = `${home}/cache`;
  await Deno.mkdir(`${home}/my data`);
  try {
    assertOk(await task("gen-data", ["--out", data, "--count", "120", "--seed", "5"]), "gen-data");
    const train = await task("train", [
      "--data",
      data,
      "--out",
      run,
      "--epochs",
      "1",
      "--cache-root",
      cache,
    ]);
    assertOk(train, "train");
    assertStringIncludes(train.stdout, `${run}/report.html`);
    // Extending the run reads and writes what it recorded (data, cache root) without flags.
    assertOk(await task("train", ["--resume", run, "--epochs", "2"]), "train --resume");

    // The follow-up commands read the dataset path the run recorded.
    const ev = await task("eval", ["--checkpoint", run, "--cache-root", cache]);
    assertOk(ev, "eval");
    assertStringIncludes(ev.stdout, "recall@1");
    const evOwn = await task("eval", ["--checkpoint", run, "--cache-root", cache, "--data", data]);
    assertOk(evOwn, "eval --data (the run's own data)");
    assertStringIncludes(evOwn.stdout, "Split: val");

    const search = await task("search", [
      "phòng trọ q10 có máy lạnh",
      "--checkpoint",
      run,
      "--cache-root",
      cache,
      "--k",
      "3",
    ]);
    assertOk(search, "search");
    assertStringIncludes(search.stdout, " 3. ");

    const index = `${home}/index`;
    const indexed = await task("index", [
      "--checkpoint",
      run,
      "--index",
      index,
      "--cache-root",
      cache,
    ]);
    assertOk(indexed, "index");
    // index and search agree on the default corpus: every listing of the run's dataset.
    const corpus = search.stdout.match(/Corpus: (\d+) listings/)?.[1];
    assert(corpus, search.stdout);
    assertStringIncludes(indexed.stdout, `; ${corpus} listings (`);
    // search --index reads the head the index records (granted through its paths.json).
    const viaIndex = await task("search", [
      "phòng trọ q10 có máy lạnh",
      "--index",
      index,
      "--verify",
      "--cache-root",
      cache,
      "--k",
      "3",
    ]);
    assertOk(viaIndex, "search --index --verify");
    assertStringIncludes(viaIndex.stdout, " 3. ");

    // index takes the FlagEmbedding JSONL the other commands take.
    const jsonl = `${home}/my data/flag.jsonl`;
    await writeFlagEmbedding(data, jsonl, 20);
    assertOk(
      await task("index", [
        "--checkpoint",
        run,
        "--index",
        `${home}/index-flag`,
        "--listings",
        jsonl,
        "--cache-root",
        cache,
      ]),
      "index --listings FlagEmbedding JSONL",
    );

    const serve = new Deno.Command("deno", {
      args: ["task", "-q", "serve", "--index", index, "--port", "0"],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const { url, out } = await servingUrl(lines);
      assert(url, `no "Serving" line:\n${out}`);
      const s = await (await fetch(`${url}/search?q=ph%C3%B2ng%20q10&k=3`)).json();
      assertEquals(s.head.results.length, 3);
    } finally {
      serve.kill("SIGTERM");
      await serve.status;
      while (!(await lines.read()).done) { /* drain */ }
      const err = await new Response(serve.stderr).text();
      assert(!err.includes("Requires read access"), err);
    }

    const mined = `${home}/mined/negatives.jsonl`;
    await Deno.mkdir(`${home}/mined`);
    assertOk(
      await task("mine", [
        "--data",
        data,
        "--checkpoint",
        run,
        "--out",
        mined,
        "--cache-root",
        cache,
      ]),
      "mine",
    );
    assert((await Deno.stat(mined)).size > 0);

    assertOk(await task("export", ["--checkpoint", run]), "export");
    assert((await Deno.stat(`${run}/head.onnx`)).size > 0);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
