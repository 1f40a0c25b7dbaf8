import { assert, assertEquals, assertMatch, assertStringIncludes } from "./assert.ts";
import { createHandler, LIMITS, openSearchService, serveSearch } from "../lib/serve/server.ts";
import { defaultDataIndex, servingUrl, taskPermissions } from "./serve_fixtures.ts";

const fixture = (async () => {
  const fx = await defaultDataIndex();
  const service = await openSearchService({ index: fx.index });
  return { ...fx, service };
})();

/** Run `deno <args>` (a serve process) and read its stdout up to the "Serving" line. */
async function startServe(args: string[]) {
  const child = new Deno.Command("deno", {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", LANCEDB_LOG: "error" },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  return { child, lines, ...await servingUrl(lines) };
}

/** Start a server on a free port of 127.0.0.1 and return its base URL and a stop function. */
async function start() {
  const { service } = await fixture;
  const ac = new AbortController();
  let resolve!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (resolve = r));
  const server = serveSearch(service, { port: 0, signal: ac.signal, onListen: resolve });
  const addr = await listening;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    stop: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test("server: GET /search returns both rankings with scores, features and timings", async () => {
  const srv = await start();
  try {
    const q = "phòng trọ q10 dưới 3tr5 có máy lạnh";
    const res = await fetch(`${srv.url}/search?q=${encodeURIComponent(q)}&k=7`);
    assertEquals(res.status, 200);
    assertStringIncludes(res.headers.get("content-type")!, "application/json");
    const body = await res.json();
    assertEquals(body.query, q);
    assertEquals(body.k, 7);
    for (const col of [body.head, body.base]) {
      assertEquals(col.results.length, 7);
      assertEquals(col.results.map((r: { rank: number }) => r.rank), [1, 2, 3, 4, 5, 6, 7]);
      for (let i = 1; i < 7; i++) assert(col.results[i - 1].score >= col.results[i].score);
      for (const r of col.results) {
        assertEquals(typeof r.id, "string");
        assertEquals(typeof r.text, "string");
        assertEquals(typeof r.meta.city, "string");
        assert(Array.isArray(r.matches) && Array.isArray(r.matchedValues));
      }
      assert(col.searchMs >= 0);
    }
    assertEquals([body.head.dim, body.base.dim], [256, 1024]);
    // The two columns differ (the head re-ranks), and features the query names are marked.
    assert(
      body.head.results.map((r: { id: string }) => r.id).join() !==
        body.base.results.map((r: { id: string }) => r.id).join(),
    );
    const all = [...body.head.results, ...body.base.results];
    assert(all.some((r) => r.matchedValues.includes("máy lạnh")), "máy lạnh is marked somewhere");
    for (const r of all) {
      if (r.matches.includes("district")) assertEquals(r.meta.district, "Quận 10");
      if (r.matches.includes("price")) assert(r.meta.price <= 3.5);
    }
    for (const key of ["encodeMs", "projectMs", "headMs", "baseMs", "totalMs"]) {
      assert(typeof body.timings[key] === "number" && body.timings[key] >= 0, key);
    }
    // POST with a JSON body gives the same ranking.
    const post = await fetch(`${srv.url}/search`, {
      method: "POST",
      body: JSON.stringify({ q, k: 7 }),
    });
    assertEquals(post.status, 200);
    const pb = await post.json();
    assertEquals(
      pb.head.results.map((r: { id: string }) => r.id),
      body.head.results.map((r: { id: string }) => r.id),
    );
  } finally {
    await srv.stop();
  }
});

Deno.test("server: /health describes the index; / serves the page; unknown paths and methods", async () => {
  const fx = await fixture;
  const srv = await start();
  try {
    const h = await (await fetch(`${srv.url}/health`)).json();
    assertEquals(h.status, "ok");
    assertEquals([h.rows, h.dim, h.baseDim], [fx.report.rows, 256, 1024]);
    assertEquals(h.checkpoint.path, fx.run);
    assertEquals(h.encoder.name, "lexical-1024");
    const page = await fetch(`${srv.url}/`);
    assertEquals(page.status, 200);
    assertStringIncludes(page.headers.get("content-type")!, "text/html");
    assertStringIncludes(page.headers.get("content-security-policy")!, "default-src 'none'");
    const html = await page.text();
    assertStringIncludes(html, 'id="base-list"');
    assertStringIncludes(html, `${fx.report.rows.toLocaleString("en")} listings`);
    const nf = await fetch(`${srv.url}/nope`);
    assertEquals(nf.status, 404);
    assertStringIncludes((await nf.json()).error, "/nope");
    const del = await fetch(`${srv.url}/search?q=x`, { method: "DELETE" });
    assertEquals(del.status, 405);
    assertEquals(del.headers.get("allow"), "GET, HEAD, POST");
    await del.body?.cancel();
  } finally {
    await srv.stop();
  }
});

Deno.test("server: bad requests get 400 with a JSON error naming the problem", async () => {
  const srv = await start();
  try {
    const cases: [string, RequestInit | undefined, string][] = [
      ["/search", undefined, "missing query"],
      ["/search?q=%20%20", undefined, "missing query"],
      ["/search?q=ph%C3%B2ng&k=0", undefined, "k must be an integer from 1 to 50"],
      [`/search?q=ph%C3%B2ng&k=${LIMITS.maxK + 1}`, undefined, "k must be"],
      ["/search?q=ph%C3%B2ng&k=abc", undefined, "k must be"],
      ["/search?q=ph%C3%B2ng&k=2.5", undefined, "k must be"],
      [`/search?q=${"a".repeat(LIMITS.maxQueryChars + 1)}`, undefined, "q is too long"],
      ["/search", { method: "POST", body: "x".repeat(LIMITS.maxBodyBytes + 1) }, "body too large"],
      ["/search", { method: "POST", body: "{not json" }, "the body must be JSON"],
      ["/search", { method: "POST", body: "[1]" }, "JSON object"],
      ["/search", { method: "POST", body: JSON.stringify({ q: 5 }) }, "q must be a string"],
      ["/search", { method: "POST", body: JSON.stringify({ q: "phòng", k: 99 }) }, "k must be"],
    ];
    for (const [path, init, message] of cases) {
      const res = await fetch(`${srv.url}${path}`, init);
      assertEquals(res.status, 400, `${path} ${init?.body ?? ""}`.slice(0, 80));
      assertStringIncludes(res.headers.get("content-type")!, "application/json");
      assertStringIncludes((await res.json()).error, message);
    }
    // A body streamed without a content-length is cut off at the limit too.
    const big = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(1024).fill(32));
        c.close();
      },
    });
    const res = await fetch(`${srv.url}/search`, { method: "POST", body: big });
    assertEquals(res.status, 400);
    assertStringIncludes((await res.json()).error, "body too large");
  } finally {
    await srv.stop();
  }
});

Deno.test("server: an internal failure is a 500 without details; the service closes cleanly", async () => {
  const errors: unknown[] = [];
  const handler = createHandler({
    search: () => Promise.reject(new Error("disk on fire")),
    health: () => Promise.reject(new Error("no")),
    close: () => Promise.resolve(),
  }, { onError: (e) => errors.push(e) });
  const res = await handler(new Request("http://127.0.0.1/search?q=x"));
  assertEquals(res.status, 500);
  const body = await res.json();
  assert(!JSON.stringify(body).includes("disk on fire"));
  assertEquals(errors.length, 1);
});

Deno.test("serve CLI: runs with the serve task's permissions (plus read access to the test's temp dir)", async () => {
  const fx = await fixture;
  const perms = taskPermissions("serve", { read: fx.dir });
  assert(perms.includes("--allow-net=127.0.0.1"), perms.join(" "));
  assert(!perms.some((p) => p.startsWith("--allow-write")), "serve writes nothing");
  const { child, lines, url, out } = await startServe(
    ["run", ...perms, "scripts/serve.ts", "--index", fx.index, "--port", "0"],
  );
  try {
    assert(url, `no "Serving" line:\n${out}`);
    assertStringIncludes(out, "Model: lexical-1024");
    assertMatch(out, new RegExp(`Index: ${fx.index}, version \\d+, ${fx.report.rows} listings`));
    assertStringIncludes(out, "verified in");
    const h = await (await fetch(`${url}/health`)).json();
    assertEquals(h.rows, fx.report.rows);
    const s = await (await fetch(`${url}/search?q=ph%C3%B2ng%20q10&k=3`)).json();
    assertEquals(s.head.results.length, 3);
  } finally {
    child.kill("SIGINT");
    const status = await child.status;
    while (!(await lines.read()).done) { /* drain */ }
    const err = await new Response(child.stderr).text();
    assertEquals(status.code, 0, err);
  }
});

Deno.test("serve CLI: a missing index is a clear error", async () => {
  const perms = taskPermissions("serve", { read: "/tmp" });
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command("deno", {
    args: ["run", ...perms, "scripts/serve.ts", "--index", dir, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assertEquals(out.code, 1);
  assertStringIncludes(new TextDecoder().decode(out.stderr), "no listings index here");
});

Deno.test("server: HEAD on /health and /search answers like GET without a body", async () => {
  const srv = await start();
  try {
    for (const path of ["/health", "/search?q=ph%C3%B2ng+q10&k=2", "/"]) {
      const res = await fetch(`${srv.url}${path}`, { method: "HEAD" });
      assertEquals(res.status, 200, path);
      assert(res.headers.get("content-type"), path);
      assertEquals((await res.arrayBuffer()).byteLength, 0, path);
    }
  } finally {
    await srv.stop();
  }
});

Deno.test("server: a query of only invisible characters is refused like the CLI refuses it", async () => {
  const srv = await start();
  try {
    const res = await fetch(`${srv.url}/search?q=${encodeURIComponent("\u200b\u200d\ufeff")}`);
    assertEquals(res.status, 400);
    assertStringIncludes((await res.json()).error, "missing query");
  } finally {
    await srv.stop();
  }
});

/** Send raw bytes to the server and read its answer until it closes or `ms` pass. */
async function raw(url: string, bytes: string, ms = 3000): Promise<string> {
  const port = Number(new URL(url).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(bytes));
  let out = "";
  const buf = new Uint8Array(65536);
  const timer = setTimeout(() => conn.close(), ms);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
      if (/\r\n\r\n/.test(out) && /content-length: (\d+)/i.test(out)) {
        const len = Number(out.match(/content-length: (\d+)/i)![1]);
        if (out.split("\r\n\r\n")[1].length >= len) break;
      }
    }
  } catch {
    /* closed by the timer */
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
  return out;
}

Deno.test("server: a malformed Host header gets a 4xx, not a 500 with a stack trace", async () => {
  const { service } = await fixture;
  const errors: unknown[] = [];
  const handler = createHandler(service, { onError: (e) => errors.push(e) });
  const res = await handler(
    { url: "http://[bad/health", method: "GET", headers: new Headers() } as Request,
  );
  assertEquals(res.status, 400);
  assertStringIncludes((await res.json()).error, "Host");
  const srv = await start();
  try {
    const answer = await raw(srv.url, "GET /health HTTP/1.1\r\nHost: [::1\r\n\r\n");
    assertMatch(answer, /^HTTP\/1\.1 4\d\d/);
  } finally {
    await srv.stop();
  }
  assertEquals(errors.length, 0);
});

Deno.test("serve CLI: SIGTERM drains: a request in flight is answered, then the server stops", async () => {
  const fx = await fixture;
  const { child, lines, url, out } = await startServe([
    "run",
    ...taskPermissions("serve", { read: fx.dir }),
    "scripts/serve.ts",
    "--index",
    fx.index,
    "--port",
    "0",
    "--no-verify",
  ]);
  assert(url, `no "Serving" line:\n${out}`);
  assertStringIncludes(out, "not verified (--no-verify)");
  // A POST whose body is half sent is in flight when SIGTERM arrives.
  const body = JSON.stringify({ q: "phòng trọ q10 có máy lạnh", k: 3 });
  const port = Number(new URL(url).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const bytes = enc.encode(body);
  await conn.write(enc.encode(
    `POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
      `content-length: ${bytes.length}\r\nconnection: close\r\n\r\n`,
  ));
  await conn.write(bytes.subarray(0, 10));
  await new Promise((r) => setTimeout(r, 300));
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  await conn.write(bytes.subarray(10));
  let answer = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    answer += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  if (!/^HTTP\/1\.1 200/.test(answer)) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`${answer}\n${await new Response(child.stderr).text()}`);
  }
  assertEquals(JSON.parse(answer.split("\r\n\r\n")[1]).head.results.length, 3);
  const status = await child.status;
  let rest = "";
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    rest += value;
  }
  const err = await new Response(child.stderr).text();
  assertEquals(status.code, 0, err);
  assertStringIncludes(rest, "Stopped.");
  assert(!/closed|Error/.test(err), err);
});

Deno.test("server: a half-sent request and an idle connection are closed after the header and idle timeouts", async () => {
  const { service } = await fixture;
  const ac = new AbortController();
  let resolve!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (resolve = r));
  const server = serveSearch(service, {
    port: 0,
    signal: ac.signal,
    onListen: resolve,
    timeouts: { headerMs: 400, idleMs: 800 },
  });
  const { port } = await listening;
  try {
    const readAll = async (conn: Deno.Conn) => {
      const buf = new Uint8Array(4096);
      let text = "";
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return text;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
    };
    // Half the headers, then nothing: closed by the header timeout, without an answer.
    const half = await Deno.connect({ hostname: "127.0.0.1", port });
    await half.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    assertEquals(await readAll(half), "");
    half.close();
    // A connection that sends nothing at all: closed too.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    assertEquals(await readAll(silent), "");
    silent.close();
    // A full request is answered; the kept-alive connection is then closed when idle.
    const ok = await Deno.connect({ hostname: "127.0.0.1", port });
    await ok.write(new TextEncoder().encode("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    assertMatch(await readAll(ok), /^HTTP\/1\.1 200/);
    ok.close();
    // Ordinary clients are unaffected.
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assertEquals(res.status, 200);
    await res.body?.cancel();
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("launcher: a task whose launcher is SIGKILLed stops instead of running on as an orphan", async () => {
  const fx = await fixture;
  const { child: launcher, lines, url, out } = await startServe([
    "run",
    "--no-config",
    "--allow-read",
    "--allow-run=deno",
    "scripts/launch.ts",
    "serve",
    "--index",
    fx.index,
    "--port",
    "0",
    "--no-verify",
  ]);
  assert(url, `no "Serving" line:\n${out}`);
  const up = await fetch(`${url}/health`);
  assertEquals(up.status, 200);
  await up.body?.cancel();
  launcher.kill("SIGKILL");
  await launcher.status;
  // The server (the launcher's child) notices within a second or so and exits.
  let gone = false;
  for (let i = 0; i < 40 && !gone; i++) {
    await new Promise((r) => setTimeout(r, 250));
    try {
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
    } catch {
      gone = true;
    }
  }
  assert(gone, "the server outlived its launcher by 10 s");
  const rest = await lines.read().then(() => "");
  void rest;
  await launcher.stderr.cancel().catch(() => {});
});

Deno.test("server: the shared service closes cleanly (after every test that uses it)", async () => {
  await (await fixture).service.close();
});
