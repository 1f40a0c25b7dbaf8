/**
 * The object-storage path, tested on loopback: `s3rver` (an S3-compatible
 * server from npm, a test tool run with `deno run npm:s3rver@3.7.1`, never a
 * dependency of the project) stands in for S3. `index` writes
 * `s3://<bucket>/<prefix>`, two `serve` processes read it and keep answering
 * while `index` writes a new version, and an `index` SIGKILLed before or after
 * its switch leaves the old version or the new one.
 *
 * LanceDB's object-store client reads the endpoint and credentials from the
 * environment (`AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_REGION`, `AWS_ALLOW_HTTP` for a plain-HTTP endpoint), as the README's
 * reliability section says.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { readListings } from "../lib/data/listings.ts";
import { INDEX_PAUSE_ENV, VectorStore } from "../lib/serve/vector_store.ts";
import { servingUrl, taskPermissions, trainedRun } from "./serve_fixtures.ts";

const BUCKET = "phongtro";

/** Start s3rver on a free loopback port; resolves once it listens. */
async function startS3(dir: string) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = new Deno.Command("deno", {
      args: [
        "run",
        "--no-config",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-sys",
        "npm:s3rver@3.7.1",
        "--directory",
        dir,
        "--address",
        "127.0.0.1",
        "--port",
        String(port),
        "--configure-bucket",
        BUCKET,
        "--silent",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("listening")) {
      const { value, done } = await lines.read();
      if (done) break;
      out += value;
    }
    if (out.includes("listening")) {
      (async () => {
        while (!(await lines.read()).done) { /* drain */ }
      })();
      return {
        endpoint: `http://127.0.0.1:${port}`,
        async stop() {
          child.kill("SIGTERM");
          await child.status;
          await child.stderr.cancel();
        },
      };
    }
    await child.status;
    const err = await new Response(child.stderr).text();
    if (!/EADDRINUSE/.test(err + out)) throw new Error(`s3rver did not start:\n${out}\n${err}`);
  }
  throw new Error("s3rver: no free port after 5 tries");
}

const fixture = (async () => {
  const fx = await trainedRun();
  const s3 = await startS3(`${fx.dir}/s3`);
  const env = {
    AWS_ENDPOINT: s3.endpoint,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
    AWS_REGION: "us-east-1",
    AWS_ALLOW_HTTP: "true",
  };
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  const all = await readListings("data/gen-data-set.json", "all");
  const toJsonl = (ls: typeof all) =>
    ls.map((l) => JSON.stringify({ id: l.id, text: l.text, ...l.meta })).join("\n") + "\n";
  await Deno.writeTextFile(`${fx.dir}/v1.jsonl`, toJsonl(all.slice(0, 300)));
  await Deno.writeTextFile(`${fx.dir}/v2.jsonl`, toJsonl(all.slice(0, 600)));
  return { ...fx, s3, env };
})();

async function indexCli(uri: string, listings: string, pause?: string) {
  const fx = await fixture;
  const perms = taskPermissions("index", { read: fx.dir, write: fx.dir }).map((f) =>
    f.startsWith("--allow-env=") ? `${f},${INDEX_PAUSE_ENV}` : f
  );
  return new Deno.Command("deno", {
    args: [
      "run",
      ...perms,
      "scripts/index.ts",
      "--index",
      uri,
      "--listings",
      listings,
      "--checkpoint",
      fx.run,
      "--cache-root",
      `${fx.dir}/cache`,
      "--recall-sample",
      "1",
      "--delete-missing",
    ],
    stdout: "piped",
    stderr: "piped",
    env: {
      NO_COLOR: "1",
      LANCEDB_LOG: "error",
      ...fx.env,
      ...(pause ? { [INDEX_PAUSE_ENV]: pause } : {}),
    },
  });
}

async function rows(uri: string): Promise<number> {
  const store = await VectorStore.open(uri, { verify: true });
  try {
    return store.info.contents.rows;
  } finally {
    store.close();
  }
}

Deno.test("object storage: index writes s3://, serve reads it, and two servers keep answering while index writes", async () => {
  const fx = await fixture;
  const uri = `s3://${BUCKET}/serve-test`;
  const first = await (await indexCli(uri, `${fx.dir}/v1.jsonl`)).output();
  assertEquals(first.code, 0, new TextDecoder().decode(first.stderr));
  assertEquals(await rows(uri), 300);
  const servers = [0, 1].map(() =>
    new Deno.Command("deno", {
      args: [
        "run",
        ...taskPermissions("serve", { read: fx.dir }),
        "scripts/serve.ts",
        "--index",
        uri,
        "--port",
        "0",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", LANCEDB_LOG: "error", ...fx.env },
    }).spawn()
  );
  try {
    const urls: string[] = [];
    for (const s of servers) {
      const { url, out } = await servingUrl(
        s.stdout.pipeThrough(new TextDecoderStream()).getReader(),
      );
      assert(url, `serve did not start:\n${out}`);
      assertStringIncludes(out, "300 listings");
      urls.push(url);
    }
    // Query both servers while index writes version 2.
    const writer = (await indexCli(uri, `${fx.dir}/v2.jsonl`)).spawn();
    let answered = 0, done = false;
    const writing = writer.output().then((o) => {
      done = true;
      return o;
    });
    while (!done || answered < 20) {
      for (const url of urls) {
        const res = await fetch(`${url}/search?q=ph%C3%B2ng+tr%E1%BB%8D+q10&k=3`);
        assertEquals(res.status, 200);
        assertEquals((await res.json()).head.results.length, 3);
        answered++;
      }
    }
    const o = await writing;
    assertEquals(o.code, 0, new TextDecoder().decode(o.stderr));
    assertEquals(await rows(uri), 600);
    // The servers still serve the version they verified (restart to pick up a new one).
    const h = await (await fetch(`${urls[0]}/health`)).json();
    assertEquals([h.status, h.rows], ["ok", 300]);
  } finally {
    for (const s of servers) {
      s.kill("SIGTERM");
      await s.status;
      await s.stderr.cancel().catch(() => {});
    }
  }
});

Deno.test("object storage: an index SIGKILLed before its switch leaves the old version, after it the new one", async () => {
  const fx = await fixture;
  const uri = `s3://${BUCKET}/kill-test`;
  const first = await (await indexCli(uri, `${fx.dir}/v1.jsonl`)).output();
  assertEquals(first.code, 0, new TextDecoder().decode(first.stderr));
  for (const [point, want] of [["rows", 300], ["meta", 600]] as const) {
    if (point === "meta") {
      // Back to 300 rows first (a completed run).
      const back = await (await indexCli(uri, `${fx.dir}/v1.jsonl`)).output();
      assertEquals(back.code, 0, new TextDecoder().decode(back.stderr));
    }
    const child = (await indexCli(uri, `${fx.dir}/v2.jsonl`, point)).spawn();
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes(`paused at ${point}`)) {
      const { value, done } = await err.read();
      if (done) break;
      text += value;
    }
    assertStringIncludes(text, `paused at ${point}`);
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    assertEquals(await rows(uri), want, `killed at ${point}`);
  }
});

Deno.test("object storage: stop s3rver", async () => {
  await (await fixture).s3.stop();
});
