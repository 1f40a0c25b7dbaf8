/**
 * `fetch-model` against a loopback hub: a `Deno.serve` that answers the
 * Hugging Face hub's `/<repo>/resolve/<revision>/<path>` URLs the way the hub
 * does (LFS files: a redirect to a CDN URL with `X-Linked-Etag` = sha256 and
 * `X-Linked-Size`; the CDN honours Range requests and `If-Range`; small files
 * directly, with a git-style ETag), for the three repository layouts the
 * script supports, built from the small BGE-M3-shaped test model (random
 * weights, external data) and the tiny test model (standing in for a
 * published int8 export). Tests: a complete download that loads and encodes,
 * an interrupted one that resumes with a Range request, a corrupted file
 * refused by its sha256, an unreachable hub failing fast.
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { buildShapeModel, TINY_XLMR_SHAPE } from "../lib/encoder/bge_shape.ts";
import { collectTexts } from "../lib/encoder/default_model.ts";
import { loadEncoder } from "../lib/encoder/encoder.ts";
import { sha256Hex } from "../lib/core/fs.ts";
import { writeTinyModel } from "./tiny_model.ts";

interface Hub {
  url: string;
  /** Range headers the CDN saw, by sha256. */
  ranges: string[];
  /** sha256s whose next full download is cut after half its bytes. */
  cut: Set<string>;
  /** sha256s whose downloads have one byte flipped. */
  corrupt: Set<string>;
  stop(): Promise<void>;
}

const fixture = (async () => {
  const texts = collectTexts(JSON.parse(await Deno.readTextFile("data/gen-data-set.json")));
  const shape = await Deno.makeTempDir({ prefix: "fetch-src-" });
  await buildShapeModel(shape, texts.slice(0, 400), { shape: TINY_XLMR_SHAPE, vocabSize: 800 });
  const tiny = await writeTinyModel();
  const read = (p: string) => Deno.readFile(p);
  const model = await read(`${shape}/model.onnx`);
  const data = await read(`${shape}/model.onnx_data`);
  const tok = await read(`${shape}/tokenizer.json`);
  const quantized = await read(`${tiny.dir}/model.onnx`);
  const tinyTok = await read(`${tiny.dir}/tokenizer.json`);
  const repos: Record<string, Record<string, Uint8Array>> = {
    "BAAI/bge-m3": {
      "onnx/model.onnx": model,
      "onnx/model.onnx_data": data,
      "tokenizer.json": tok,
    },
    "Xenova/bge-m3": {
      "onnx/model.onnx": model,
      "onnx/model_quantized.onnx": quantized,
      "onnx/model_int8.onnx": quantized,
      "tokenizer.json": tinyTok,
    },
    "aapot/bge-m3-onnx": { "model.onnx": model, "model.onnx_data": data, "tokenizer.json": tok },
  };
  return { shape, repos, model, data, quantized, dir: await Deno.makeTempDir() };
})();

async function startHub(repos: Record<string, Record<string, Uint8Array>>): Promise<Hub> {
  const blobs = new Map<string, Uint8Array>();
  const shas = new Map<Uint8Array, string>();
  for (const files of Object.values(repos)) {
    for (const bytes of Object.values(files)) {
      const sha = await sha256Hex(bytes);
      blobs.set(sha, bytes);
      shas.set(bytes, sha);
    }
  }
  const hub: Omit<Hub, "url" | "stop"> = { ranges: [], cut: new Set(), corrupt: new Set() };
  let resolve!: (a: Deno.NetAddr) => void;
  const listening = new Promise<Deno.NetAddr>((r) => (resolve = r));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: resolve }, (req) => {
    const u = new URL(req.url);
    const m = u.pathname.match(/^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/);
    if (m) {
      const bytes = repos[m[1]]?.[m[3]];
      if (!bytes || m[2] !== "main") return new Response("Entry not found", { status: 404 });
      const sha = shas.get(bytes)!;
      if (/\.onnx|_data$/.test(m[3])) {
        // An LFS file: the hub redirects to its CDN and names the sha256.
        return new Response(null, {
          status: 302,
          headers: {
            location: `/cdn/${sha}?signature=x`,
            "x-linked-etag": `"${sha}"`,
            "x-linked-size": String(bytes.length),
          },
        });
      }
      return new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { etag: `"${sha.slice(0, 40)}"` },
      });
    }
    const c = u.pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    const blob = c ? blobs.get(c[1]) : undefined;
    if (!c || !blob) return new Response("no such object", { status: 404 });
    let body = blob;
    if (hub.corrupt.has(c[1])) {
      body = blob.slice();
      body[Math.floor(body.length / 2)] ^= 0xff;
    }
    const range = req.headers.get("range");
    const ifRange = req.headers.get("if-range");
    if (range && (!ifRange || ifRange.replaceAll('"', "") === c[1])) {
      if (req.method === "GET") hub.ranges.push(range);
      const start = Number(range.match(/^bytes=(\d+)-$/)?.[1] ?? NaN);
      if (!(start >= 0 && start < body.length)) return new Response(null, { status: 416 });
      return new Response(body.subarray(start) as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: {
          "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
          etag: `"${c[1]}"`,
        },
      });
    }
    if (req.method === "GET" && hub.cut.delete(c[1])) {
      // Half the bytes, then the connection breaks.
      const half = body.subarray(0, Math.floor(body.length / 2));
      const stream = new ReadableStream<Uint8Array>({
        start(ctl) {
          ctl.enqueue(half);
          setTimeout(() => ctl.error(new Error("connection reset")), 50);
        },
      });
      return new Response(stream, {
        headers: { "content-length": String(body.length), etag: `"${c[1]}"` },
      });
    }
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { etag: `"${c[1]}"`, "accept-ranges": "bytes" },
    });
  });
  const addr = await listening;
  return {
    ...hub,
    url: `http://127.0.0.1:${addr.port}`,
    stop: () => server.shutdown(),
  } as Hub;
}

async function fetchModel(args: string[]) {
  const { dir } = await fixture;
  const out = await new Deno.Command("deno", {
    args: [
      "run",
      `--allow-read=${dir},data/models`,
      `--allow-write=${dir}`,
      "--allow-net=127.0.0.1",
      "--allow-env=DEBUG",
      "scripts/fetch_model.ts",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

let outs = 0;
const freshOut = async () => `${(await fixture).dir}/model-${outs++}`;

Deno.test("fetch-model: the three repository layouts download completely, verified; the BAAI one loads and encodes", async () => {
  const fx = await fixture;
  const hub = await startHub(fx.repos);
  try {
    for (
      const [repo, extra] of [
        ["BAAI/bge-m3", []],
        ["aapot/bge-m3-onnx", ["--subdir", ""]],
        ["Xenova/bge-m3", ["--variant", "quantized"]],
      ] as const
    ) {
      const out = await freshOut();
      const r = await fetchModel(["--endpoint", hub.url, "--repo", repo, "--out", out, ...extra]);
      assertEquals(r.code, 0, `${repo}: ${r.stderr}`);
      assertStringIncludes(r.stdout, "model.onnx: ");
      assertStringIncludes(r.stdout, "sha256 verified");
      const cfg = JSON.parse(await Deno.readTextFile(`${out}/encoder.json`));
      if (repo === "Xenova/bge-m3") {
        assertEquals(await Deno.readFile(`${out}/model.onnx`), fx.quantized);
        assertEquals(cfg.precision, "int8");
        assert(!(await Deno.stat(`${out}/model.onnx_data`).then(() => true, () => false)));
      } else {
        assertEquals(await Deno.readFile(`${out}/model.onnx`), fx.model);
        assertEquals(await Deno.readFile(`${out}/model.onnx_data`), fx.data);
        assertEquals([cfg.precision, cfg.pooling], ["fp32", "cls"]);
      }
      for await (const e of Deno.readDir(out)) assert(!e.name.includes(".part"), e.name);
    }
    // The BAAI layout (external data) is a working encoder.
    const out = `${fx.dir}/model-0`;
    const enc = await loadEncoder(out);
    try {
      const v = await enc.encode(["phòng trọ quận 10"]);
      assertEquals(v.dim, 64); // TINY_XLMR_SHAPE's hidden size, read from the graph
      assert(v.data.every(Number.isFinite));
    } finally {
      await enc.dispose();
    }
  } finally {
    await hub.stop();
  }
});

Deno.test("fetch-model: an interrupted download resumes with a Range request and ends verified", async () => {
  const fx = await fixture;
  const hub = await startHub(fx.repos);
  try {
    const out = await freshOut();
    const sha = await sha256Hex(fx.data);
    hub.cut.add(sha);
    const args = ["--endpoint", hub.url, "--repo", "BAAI/bge-m3", "--out", out];
    const first = await fetchModel(args);
    assertEquals(first.code, 1, first.stdout);
    assertStringIncludes(first.stderr, "model.onnx_data");
    const part = await Deno.stat(`${out}/model.onnx_data.part`);
    assert(part.size > 0 && part.size < fx.data.length, `part of ${part.size} bytes`);
    const second = await fetchModel(args);
    assertEquals(second.code, 0, second.stderr);
    assertStringIncludes(second.stdout, "model.onnx_data: ");
    assertStringIncludes(second.stdout, "(resumed at");
    assertEquals(hub.ranges, [`bytes=${part.size}-`]);
    assertEquals(await Deno.readFile(`${out}/model.onnx_data`), fx.data);
  } finally {
    await hub.stop();
  }
});

Deno.test("fetch-model: a corrupted file is refused by its sha256 and removed", async () => {
  const fx = await fixture;
  const hub = await startHub(fx.repos);
  try {
    const out = await freshOut();
    hub.corrupt.add(await sha256Hex(fx.model));
    const r = await fetchModel(["--endpoint", hub.url, "--repo", "BAAI/bge-m3", "--out", out]);
    assertEquals(r.code, 1, r.stdout);
    assertStringIncludes(r.stderr, "model.onnx: sha256");
    assertStringIncludes(r.stderr, "does not match");
    const left = [];
    for await (const e of Deno.readDir(out)) left.push(e.name);
    assertEquals(left.filter((n) => n.startsWith("model.onnx") && !n.includes("_data")), []);
  } finally {
    await hub.stop();
  }
});

Deno.test("fetch-model: an unreachable hub fails fast, naming the endpoint", async () => {
  // A port nothing listens on: take one, then close it.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await fetchModel([
    "--endpoint",
    `http://127.0.0.1:${port}`,
    "--out",
    await freshOut(),
    "--timeout",
    "5",
  ]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `cannot reach 127.0.0.1:${port}`);
  const bad = await fetchModel(["--endpoint", "ftp://x", "--out", await freshOut()]);
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, "--endpoint must be an http(s) URL");
});
