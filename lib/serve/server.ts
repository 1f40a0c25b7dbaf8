/**
 * The search server: `GET /search?q=…&k=…` (or `POST /search` with a JSON
 * body `{"q", "k"}`) ranks the index's listings with the base encoder and
 * with the trained head, side by side; `GET /health` describes the index;
 * `GET /` is the comparison page ({@link renderSearchPage}).
 *
 * Queries are encoded with the encoder directly: nothing is written at
 * serve time (no embedding cache). Bad requests get 400 with
 * `{"error": "..."}`.
 *
 * @module
 */
import { matchingFeatures, matchingValues } from "./highlight.ts";
import { openQuerySide } from "./query_side.ts";
import { isBlankText } from "../data/text_input.ts";
import { type HealthResponse, renderSearchPage } from "./search_page.ts";

export type { HealthResponse };
import type { IndexHit } from "./vector_store.ts";

/**
 * Request limits.
 *
 * @example
 * ```ts
 * import { LIMITS } from "./server.ts";
 * if (JSON.stringify(LIMITS.maxK) !== JSON.stringify(50)) throw new Error(`got ${JSON.stringify(LIMITS.maxK)}`);
 * ```
 */
export const LIMITS = {
  /** Largest `k`. */
  maxK: 50,
  /** Longest query, in characters. */
  maxQueryChars: 500,
  /** Largest request body (POST), in bytes. */
  maxBodyBytes: 4096,
  /** Default `k`. */
  defaultK: 10,
} as const;

/** How long a stopping server waits for the requests in flight. */
const DRAIN_MS = 10_000;

/**
 * Connection limits of {@link serveSearch}: a client must send its first
 * request's headers within `headerMs` of connecting, and a connection that
 * moves no byte either way for `idleMs` is closed (half-sent requests are not
 * held open for good). `Deno.serve` has no such options, so `serveSearch`
 * puts a small TCP front end before it.
 *
 * @example
 * ```ts
 * import { TIMEOUTS } from "./server.ts";
 * if (JSON.stringify([TIMEOUTS.headerMs, TIMEOUTS.idleMs]) !== JSON.stringify([10000, 60000])) throw new Error(`got ${JSON.stringify([TIMEOUTS.headerMs, TIMEOUTS.idleMs])}`);
 * ```
 */
export const TIMEOUTS = { headerMs: 10_000, idleMs: 60_000 } as const;

/** The TCP front end: limits per connection, then bytes to and from the HTTP server. */
function frontEnd(
  listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
  backend: Deno.NetAddr,
  limits: { headerMs: number; idleMs: number },
): { conns: Set<Deno.TcpConn>; open: Set<Promise<void>>; done: Promise<void> } {
  const conns = new Set<Deno.TcpConn>();
  const open = new Set<Promise<void>>();
  const handle = async (conn: Deno.TcpConn) => {
    conns.add(conn);
    const opened = Date.now();
    let last = opened, headers = false, head = "";
    let up: Deno.TcpConn | undefined;
    const close = () => {
      clearInterval(timer);
      for (const c of [conn, up]) {
        try {
          c?.close();
        } catch { /* closed */ }
      }
      conns.delete(conn);
    };
    const timer = setInterval(() => {
      const now = Date.now();
      if ((!headers && now - opened > limits.headerMs) || now - last > limits.idleMs) close();
    }, Math.max(50, Math.min(limits.headerMs, limits.idleMs) / 4));
    try {
      up = await Deno.connect({ hostname: backend.hostname, port: backend.port });
      const watch = (fromClient: boolean) =>
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, ctl) {
            last = Date.now();
            if (fromClient && !headers) {
              head = (head + new TextDecoder().decode(chunk)).slice(-65536);
              if (head.includes("\r\n\r\n")) headers = true;
            }
            ctl.enqueue(chunk);
          },
        });
      await Promise.allSettled([
        conn.readable.pipeThrough(watch(true)).pipeTo(up.writable),
        up.readable.pipeThrough(watch(false)).pipeTo(conn.writable),
      ]);
    } catch {
      /* the backend went away or the client reset */
    } finally {
      close();
    }
  };
  const done = (async () => {
    try {
      for await (const conn of listener) {
        const p = handle(conn);
        open.add(p);
        p.finally(() => open.delete(p));
      }
    } catch { /* listener closed */ }
  })();
  return { conns, open, done };
}

/** One ranked listing in a response. */
export interface ResultItem extends IndexHit {
  /** Metadata keys the query asks for (see `lib/serve/highlight.ts`). */
  matches: string[];
  /** List entries (e.g. amenities) the query names. */
  matchedValues: string[];
}

/** One column of a response: a ranking and its search time. */
export interface RankedColumn {
  /** "head" or "base". */
  name: string;
  /** Vector dimension of this column. */
  dim: number;
  /** Ranked hits. */
  results: ResultItem[];
  /** Time to search the index, ms. */
  searchMs: number;
}

/** The JSON body of `GET /search`. */
export interface SearchResponse {
  /** The query as searched. */
  query: string;
  /** Hits asked for. */
  k: number;
  /** The head's ranking. */
  head: RankedColumn;
  /** Null when the index holds no base vectors. */
  base: RankedColumn | null;
  /** Milliseconds per step of the request. */
  timings: { encodeMs: number; projectMs: number; headMs: number; baseMs: number; totalMs: number };
}

/** What the HTTP layer needs: a search and a health check. */
export interface SearchService {
  /** The `k` best listings for `query`, by the head and by the base encoder. */
  search(query: string, k: number): Promise<SearchResponse>;
  /** What is served, and whether its files are intact. */
  health(): Promise<HealthResponse>;
  /** Release the index and the encoder. */
  close(): Promise<void>;
}

/** Options of {@link openSearchService}. */
export interface ServiceOptions {
  /** Index directory or LanceDB URI. */
  index: string;
  /** Checkpoint (default: the one the index records). */
  checkpoint?: string;
  /** Which weights (default: the index's). */
  which?: "best" | "final";
  /** Encoder directory (default: the one the index records). */
  model?: string;
  /** Serve even if the encoder fingerprint differs. */
  force?: boolean;
  /** Rescan every row of the index first ({@link VectorStore.verify}; default true). */
  verify?: boolean;
  /** Warnings. */
  onWarning?: (m: string) => void;
}

/**
 * Open an index with its encoder and head, verified against what the index
 * was built with ({@link VectorStore.checkCompatible}), and (by default) its
 * rows against what it records ({@link VectorStore.verify}).
 *
 * @example
 * ```ts ignore
 * import { openSearchService } from "./server.ts";
 * const svc = await openSearchService({ index: "data/index" });
 * const r = await svc.search("phòng trọ q10 có máy lạnh", 5);
 * console.log(r.head.results[0].text, r.timings.totalMs);
 * await svc.close();
 * ```
 */
export async function openSearchService(opts: ServiceOptions): Promise<SearchService> {
  const side = await openQuerySide({ ...opts, verify: opts.verify ?? true, head: true });
  const { store, encoder, verified } = side;
  const head = side.head!;
  try {
    // Warm up: the encoder's session starts on first use, and the first search opens the table.
    const warm = await encoder.encode(["phòng trọ"]);
    await store.search(head.project(warm.data, 1), { k: 1 });
  } catch (err) {
    await side.close();
    throw err;
  }
  const enc = encoder, hd = head;
  const started = performance.now();
  const annotate = (q: string, hits: IndexHit[]): ResultItem[] =>
    hits.map((h) => ({
      ...h,
      matches: matchingFeatures(q, h.meta),
      matchedValues: Object.values(h.meta).flatMap((v) =>
        Array.isArray(v) ? matchingValues(q, v) : []
      ),
    }));
  return {
    async search(query, k) {
      const t0 = performance.now();
      const base = await enc.encode([query]);
      const t1 = performance.now();
      const projected = hd.project(base.data, 1);
      const t2 = performance.now();
      const headHits = await store.search(projected, { k });
      const t3 = performance.now();
      const baseHits = store.info.baseDim > 0
        ? await store.search(base.data, { k, column: "base" })
        : null;
      const t4 = performance.now();
      return {
        query,
        k,
        head: {
          name: "head",
          dim: store.info.dim,
          results: annotate(query, headHits),
          searchMs: t3 - t2,
        },
        base: baseHits
          ? {
            name: "base",
            dim: store.info.baseDim,
            results: annotate(query, baseHits),
            searchMs: t4 - t3,
          }
          : null,
        timings: {
          encodeMs: t1 - t0,
          projectMs: t2 - t1,
          headMs: t3 - t2,
          baseMs: t4 - t3,
          totalMs: t4 - t0,
        },
      };
    },
    async health() {
      const i = store.info;
      let error: string | undefined;
      try {
        await store.check();
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      return {
        status: error === undefined ? "ok" : "damaged",
        ...(error === undefined ? {} : { error }),
        index: store.uri,
        version: i.contents.version,
        verified,
        rows: i.contents.rows,
        dim: i.dim,
        baseDim: i.baseDim,
        encoder: { name: enc.name, dir: enc.dir, fingerprint: enc.fingerprint, dim: enc.dim },
        checkpoint: i.checkpoint,
        ann: i.ann,
        uptimeS: (performance.now() - started) / 1000,
      };
    },
    async close() {
      await side.close();
    },
  };
}

/** A 4xx/5xx JSON error. */
function jsonError(status: number, error: string, headers: HeadersInit = {}): Response {
  return json({ error }, status, headers);
}

function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A request that is refused with 400 and this message. */
class BadRequest extends Error {}

/** Read a body of at most `limit` bytes, or throw {@link BadRequest}. */
async function readBody(req: Request, limit: number): Promise<string> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw new BadRequest(`body too large: ${declared} bytes (limit ${limit})`);
  if (!req.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.length;
    if (size > limit) throw new BadRequest(`body too large: over ${limit} bytes`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Check `q` and `k` (strings from the URL, or values from a JSON body). */
function checkParams(q: unknown, k: unknown): { q: string; k: number } {
  if (q === undefined || q === null || (typeof q === "string" && isBlankText(q))) {
    throw new BadRequest("missing query: give q, e.g. /search?q=phòng+trọ+q10&k=10");
  }
  if (typeof q !== "string") throw new BadRequest("q must be a string");
  if (q.length > LIMITS.maxQueryChars) {
    throw new BadRequest(`q is too long: ${q.length} characters (limit ${LIMITS.maxQueryChars})`);
  }
  let kn: number = LIMITS.defaultK;
  if (k !== undefined && k !== null && k !== "") {
    kn = typeof k === "number" ? k : /^\s*\d+\s*$/.test(String(k)) ? Number(k) : NaN;
    if (!Number.isInteger(kn) || kn < 1 || kn > LIMITS.maxK) {
      throw new BadRequest(
        `k must be an integer from 1 to ${LIMITS.maxK}, got ${JSON.stringify(k)}`,
      );
    }
  }
  return { q: q.trim(), k: kn };
}

/**
 * The HTTP handler over a {@link SearchService}: `/`, `/search`, `/health`.
 *
 * @example
 * ```ts ignore
 * import { createHandler, openSearchService } from "./server.ts";
 * const handler = createHandler(await openSearchService({ index: "data/index" }));
 * const res = await handler(new Request("http://localhost/search?q=phòng+q10&k=3"));
 * if (JSON.stringify([res.status, (await res.json()).head.results.length]) !== JSON.stringify([200, 3])) throw new Error(`got ${JSON.stringify([res.status, (await res.json()).head.results.length])}`);
 * ```
 */
export function createHandler(
  service: SearchService,
  opts: { title?: string; onError?: (err: unknown) => void } = {},
): (req: Request) => Promise<Response> {
  let page: string | undefined;
  return async (req) => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return jsonError(400, "malformed request URL or Host header");
    }
    // HEAD is GET without the body.
    const head = req.method === "HEAD";
    const method = head ? "GET" : req.method;
    const bodyless = (r: Response) =>
      head ? new Response(null, { status: r.status, headers: r.headers }) : r;
    try {
      return bodyless(await route(req, url, method));
    } catch (err) {
      if (err instanceof BadRequest) return bodyless(jsonError(400, err.message));
      (opts.onError ?? ((e) => console.error(e)))(err);
      return bodyless(jsonError(500, "internal error; see the server log"));
    }
  };

  async function route(req: Request, url: URL, method: string): Promise<Response> {
    {
      if (url.pathname === "/" || url.pathname === "/index.html") {
        if (method !== "GET") {
          return jsonError(405, `${method} is not allowed on /`, { allow: "GET, HEAD" });
        }
        page ??= renderSearchPage({ health: await service.health(), title: opts.title });
        return new Response(page, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy":
              "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
          },
        });
      }
      if (url.pathname === "/health") {
        if (method !== "GET") {
          return jsonError(405, `${method} is not allowed on /health`, { allow: "GET, HEAD" });
        }
        const h = await service.health();
        return json(h, h.status === "ok" ? 200 : 503);
      }
      if (url.pathname === "/search") {
        let params: { q: string; k: number };
        if (method === "GET") {
          if (req.body && Number(req.headers.get("content-length") ?? "0") > LIMITS.maxBodyBytes) {
            throw new BadRequest(`body too large (limit ${LIMITS.maxBodyBytes} bytes)`);
          }
          params = checkParams(url.searchParams.get("q"), url.searchParams.get("k") ?? undefined);
        } else if (req.method === "POST") {
          const text = await readBody(req, LIMITS.maxBodyBytes);
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            throw new BadRequest('the body must be JSON: {"q": "...", "k": 10}');
          }
          if (typeof body !== "object" || body === null || Array.isArray(body)) {
            throw new BadRequest('the body must be a JSON object: {"q": "...", "k": 10}');
          }
          const b = body as Record<string, unknown>;
          params = checkParams(b.q, b.k);
        } else {
          return jsonError(405, `${method} is not allowed on /search`, {
            allow: "GET, HEAD, POST",
          });
        }
        return json(await service.search(params.q, params.k));
      }
      return jsonError(404, `no such path: ${url.pathname} (try /, /search?q=..., /health)`);
    }
  }
}

/**
 * Serve {@link createHandler} with `Deno.serve` on `hostname:port`
 * (127.0.0.1 by default; port 0 picks a free one). Aborting `signal` drains
 * the server: new requests get 503, the requests in flight are answered
 * (for up to 10 s), the server closes, and then `finished` resolves (so the
 * service may be closed).
 *
 * @example
 * ```ts ignore
 * import { openSearchService, serveSearch } from "./server.ts";
 * const server = serveSearch(await openSearchService({ index: "data/index" }), { port: 8000 });
 * await server.finished;
 * ```
 */
export function serveSearch(
  service: SearchService,
  opts: {
    hostname?: string;
    port?: number;
    signal?: AbortSignal;
    onListen?: (addr: Deno.NetAddr) => void;
    title?: string;
    /** Connection limits (default {@link TIMEOUTS}). */
    timeouts?: { headerMs: number; idleMs: number };
  } = {},
): Deno.HttpServer<Deno.NetAddr> {
  const handler = createHandler(service, { title: opts.title });
  const inFlight = new Set<Promise<Response>>();
  let draining = false;
  // The public listener is the front end; the HTTP server listens on loopback behind it.
  const listener = Deno.listen({ hostname: opts.hostname ?? "127.0.0.1", port: opts.port ?? 8000 });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    if (draining) {
      return jsonError(503, "the server is shutting down", { connection: "close" });
    }
    const p = handler(req);
    inFlight.add(p);
    p.finally(() => inFlight.delete(p)).catch(() => {});
    return p;
  });
  // Deno's own shutdown cuts the bodies of requests in flight, so they are
  // answered first (new ones get 503), for up to DRAIN_MS.
  const front = frontEnd(listener, server.addr, opts.timeouts ?? TIMEOUTS);
  (opts.onListen ?? (() => {}))(listener.addr);
  let drained: Promise<void> | undefined;
  const drain = () =>
    drained ??= (async () => {
      draining = true;
      listener.close(); // no new connections; open ones finish their requests
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight.size && Date.now() < deadline) {
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((r) => setTimeout(r, 100)),
        ]);
      }
      await server.shutdown();
      // The last responses may still be on their way through the front end.
      await Promise.race([
        Promise.allSettled([...front.open]),
        new Promise((r) => setTimeout(r, 2000)),
      ]);
      for (const c of front.conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await front.done;
    })();
  if (opts.signal?.aborted) drain();
  else opts.signal?.addEventListener("abort", drain, { once: true });
  const finished = server.finished.then(() => drained);
  return {
    addr: listener.addr,
    finished,
    shutdown: drain,
    ref: () => server.ref(),
    unref: () => server.unref(),
    [Symbol.asyncDispose]: drain,
  };
}
