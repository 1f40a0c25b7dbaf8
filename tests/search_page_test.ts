import puppeteer from "puppeteer-core";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { escapeHtml, renderSearchPage } from "../lib/serve/search_page.ts";
import { openSearchService, serveSearch } from "../lib/serve/server.ts";
import type { HealthResponse } from "../lib/serve/server.ts";
import { indexListings } from "../lib/serve/indexer.ts";
import { readListings } from "../lib/data/listings.ts";
import { defaultDataIndex, trainedRun } from "./serve_fixtures.ts";

const HEALTH: HealthResponse = {
  status: "ok",
  index: "data/<index>",
  version: 3,
  verified: { rows: 1234, seconds: 0.1 },
  rows: 1234,
  dim: 256,
  baseDim: 1024,
  encoder: { name: "lexical-1024", dir: "m", fingerprint: "7011a347d15a5af1", dim: 1024 },
  checkpoint: { path: "checkpoints/x", which: "best", sha256: "ab" },
  ann: null,
  uptimeS: 0,
};

Deno.test("search page: both columns, the index described, names escaped", () => {
  const html = renderSearchPage({ health: HEALTH, title: 'Tìm <script>alert("x")</script>' });
  assertStringIncludes(html, 'id="base-list"');
  assertStringIncludes(html, 'id="head-list"');
  assertStringIncludes(html, "1,234 listings in data/&lt;index&gt;");
  assertStringIncludes(html, "Trained head (256-d)");
  assertStringIncludes(html, "Base encoder (1024-d)");
  assert(!html.includes('<script>alert("x")'), "the title is escaped");
  assertEquals(
    escapeHtml(`<a href="x">'&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
  );
  // No external resources: the page works offline.
  assert(!/\b(src|href)=["']?https?:/.test(html));
});

/** Start headless Chromium with a fresh profile and connect puppeteer to it. */
async function chromium() {
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const child = new Deno.Command("chromium", {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "", endpoint = "";
  while (!endpoint) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`chromium exited before listening:\n${log.slice(-2000)}`);
    log += value;
    endpoint = log.match(/DevTools listening on (ws:\/\/\S+)/)?.[1] ?? "";
  }
  // Keep draining stderr so that Chromium never blocks on a full pipe.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  const browser = await puppeteer.connect({ browserWSEndpoint: endpoint });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      try {
        child.kill();
      } catch { /* already gone */ }
      await child.status;
      await drain.catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test("search page in headless Chromium: type a query, both columns fill, screenshot saved", async () => {
  const fx = await defaultDataIndex();
  const service = await openSearchService({ index: fx.index });
  const ac = new AbortController();
  let ready!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (ready = r));
  const server = serveSearch(service, { port: 0, signal: ac.signal, onListen: ready });
  const { port } = await listening;
  const chrome = await chromium();
  try {
    const page = await chrome.browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: "load" });
    await page.type("#q", "phòng trọ q10 dưới 3tr5 có máy lạnh");
    await page.select("#k", "5");
    await page.keyboard.press("Enter");
    await page.waitForFunction('document.body.dataset.state === "done"', { timeout: 30_000 });
    // The page's DOM, read in the page (a string: this file is not type-checked against the DOM).
    const state = await page.evaluate(`({
      head: [...document.querySelectorAll("#head-list li")].map((li) => li.textContent),
      base: [...document.querySelectorAll("#base-list li")].map((li) => li.textContent),
      marks: document.querySelectorAll("#head-list mark").length,
      chipMatches: document.querySelectorAll(".chip.match").length,
      status: document.getElementById("status").textContent,
      headLat: document.getElementById("head-lat").textContent,
      url: location.search,
    })`) as {
      head: string[];
      base: string[];
      marks: number;
      chipMatches: number;
      status: string;
      headLat: string;
      url: string;
    };
    assertEquals(state.head.length, 5);
    assertEquals(state.base.length, 5);
    for (const li of [...state.head, ...state.base]) {
      assert(/^\d+\.\s*0\.\d{4}/.test(li), li.slice(0, 60));
    }
    assert(state.marks > 0, "query words are marked in the listing text");
    assert(state.chipMatches > 0, "features the query asks for are highlighted");
    assertStringIncludes(state.status, "encode ");
    assertStringIncludes(state.status, "round trip");
    assertStringIncludes(state.headLat, "ms");
    assertStringIncludes(state.url, "k=5");
    assertEquals(errors, []);
    await Deno.mkdir("checkpoints/serve", { recursive: true });
    const png = await page.screenshot({ fullPage: true });
    await Deno.writeFile("checkpoints/serve/search_page.png", png);
    assertEquals([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert(png.length > 20_000, `screenshot is ${png.length} bytes`);
    // A bad request shows its error instead of results.
    await page.goto(`http://127.0.0.1:${port}/?q=${"a".repeat(600)}`, { waitUntil: "load" });
    await page.waitForFunction('document.getElementById("status").className === "error"');
    assertStringIncludes(
      await page.evaluate('document.getElementById("status").textContent') as string,
      "too long",
    );
  } finally {
    await chrome.close();
    ac.abort();
    await server.finished;
    await service.close();
  }
});

Deno.test("search page in headless Chromium: listing text and metadata are shown as text, never run as HTML", async () => {
  const fx = await trainedRun();
  const file = `${fx.dir}/evil.jsonl`;
  const evil = `<img src=x onerror="window.__xss=1">Phòng trọ q10 <b>máy lạnh</b>`;
  await Deno.writeTextFile(
    file,
    [
      { id: "x1", text: evil, city: `<script>window.__xss=2</script>` },
      { id: "x2", text: "Phòng trọ q10 giá 3tr, máy lạnh", city: "Hồ Chí Minh" },
    ].map((r) => JSON.stringify(r)).join("\n") + "\n",
  );
  await indexListings({
    listings: await readListings(file),
    index: `${fx.dir}/evil-index`,
    checkpoint: fx.run,
    cacheRoot: fx.cache,
    recallSample: 2,
  });
  const service = await openSearchService({ index: `${fx.dir}/evil-index` });
  const ac = new AbortController();
  let ready!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (ready = r));
  const server = serveSearch(service, { port: 0, signal: ac.signal, onListen: ready });
  const { port } = await listening;
  const chrome = await chromium();
  try {
    const page = await chrome.browser.newPage();
    await page.goto(
      `http://127.0.0.1:${port}/?q=${encodeURIComponent("phòng trọ q10 máy lạnh")}&k=5`,
    );
    await page.waitForFunction('document.body.dataset.state === "done"', { timeout: 30_000 });
    const r = await page.evaluate(`({
      xss: window.__xss ?? null,
      imgs: document.querySelectorAll("main img, main script, main b").length,
      texts: [...document.querySelectorAll("#head-list li .text")].map((e) => e.textContent),
      chips: [...document.querySelectorAll("#head-list .chip")].map((e) => e.textContent),
    })`) as { xss: number | null; imgs: number; texts: string[]; chips: string[] };
    assertEquals(r.xss, null);
    assertEquals(r.imgs, 0);
    assert(r.texts.includes(evil), JSON.stringify(r.texts));
    assert(r.chips.includes("<script>window.__xss=2</script>"), JSON.stringify(r.chips));
  } finally {
    await chrome.close();
    ac.abort();
    await server.finished;
    await service.close();
  }
});
