/**
 * The comparison page served at `/`: one search box, and two columns side
 * by side (base encoder vs trained head) with each listing's text, score,
 * its features (those the query asks for highlighted), where it ranks in the
 * other column, and the latency of each step. Self-contained: inline CSS and
 * script, no external resources; it calls `/search` on its own origin.
 *
 * @module
 */
import type { AnnInfo } from "./vector_store.ts";

/** The JSON body of `GET /health`. */
export interface HealthResponse {
  /** `damaged` (with HTTP 503) when the index's files changed under the server. */
  status: "ok" | "damaged";
  /** Why the index is damaged. */
  error?: string;
  /** The index location. */
  index: string;
  /** The index version served. */
  version: number;
  /** The full check at start-up (`VectorStore.verify`), or null when it was skipped. */
  verified: { rows: number; seconds: number } | null;
  /** Listings in the index. */
  rows: number;
  /** Dimension of the head vectors. */
  dim: number;
  /** Dimension of the base vectors (0: none stored). */
  baseDim: number;
  /** The encoder the index was built with. */
  encoder: { name: string; dir: string; fingerprint: string; dim: number };
  /** The head the index was built with (null: base vectors only). */
  checkpoint: { path: string; which: string; sha256: string } | null;
  /** The ANN index, or null (exact scan). */
  ann: AnnInfo | null;
  /** Seconds since the server started. */
  uptimeS: number;
}

/**
 * Escape text for HTML.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./search_page.ts";
 * const html = escapeHtml('<b>"x" & y</b>');
 * if (html !== "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;") throw new Error(html);
 * ```
 */
export function escapeHtml(s: string): string {
  const map: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
  };
  return s.replace(/[&<>"']/g, (c) => map[c]);
}

const CSS = `
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{padding:16px 24px 8px;background:#fff;border-bottom:1px solid #e2e5ea}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#5b6472;font-size:13px}
form{display:flex;gap:8px;margin:12px 0 8px}
#q{flex:1;font-size:16px;padding:8px 10px;border:1px solid #b8c0cc;border-radius:6px}
select,button{font-size:15px;padding:8px 12px;border-radius:6px;border:1px solid #b8c0cc;background:#fff}
button{background:#2556c8;color:#fff;border-color:#2556c8;cursor:pointer}
#status{font-size:13px;color:#5b6472;min-height:18px}
#status.error{color:#b3261e}
main{display:grid;grid-template-columns:1fr 1fr;gap:16px;padding:16px 24px}
section{background:#fff;border:1px solid #e2e5ea;border-radius:8px;padding:12px 14px;min-width:0}
h2{font-size:16px;margin:0 0 2px}
.lat{font-size:12px;color:#5b6472;margin-bottom:8px}
ol{list-style:none;margin:0;padding:0}
li{border-top:1px solid #eef0f3;padding:8px 0}
.top{display:flex;gap:8px;align-items:baseline;font-size:12px;color:#5b6472}
.rank{font-weight:700;color:#1d2330;font-size:14px}
.score{font-variant-numeric:tabular-nums;font-weight:600;color:#2556c8}
.other{margin-left:auto}
.other.up{color:#1b7f3b}.other.down{color:#b3261e}
.text{margin:2px 0 4px}
mark{background:#fff1a8;padding:0 1px;border-radius:2px}
.chips{display:flex;flex-wrap:wrap;gap:4px}
.chip{font-size:11px;padding:1px 6px;border-radius:10px;background:#eef0f3;color:#4a5260}
.chip.match{background:#d5f0dc;color:#145c2b;font-weight:600}
.empty{color:#8a93a1;font-style:italic}
@media (max-width:800px){main{grid-template-columns:1fr}}
`;

// The page's script (plain ES2017, no modules). `fold` mirrors lib/serve/highlight.ts foldText.
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const fold = (s) => s.normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
// Short function words are not worth marking ("có", "ở", "cho", …).
const STOP = new Set(["co", "o", "va", "cho", "gan", "tai", "can", "tim", "minh", "nhe", "ko", "khong", "la", "the", "voi", "duoi", "tren", "tu", "den"]);
function markText(text, terms) {
  return text.split(/(\\s+)/).map((w) => {
    const core = fold(w).replace(/[^a-z0-9]+/g, "");
    return core.length >= 2 && terms.has(core) ? "<mark>" + esc(w) + "</mark>" : esc(w);
  }).join("");
}
function chips(item) {
  const out = [];
  for (const [key, value] of Object.entries(item.meta || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      const hit = Array.isArray(value) ? item.matchedValues.includes(v) : item.matches.includes(key);
      const label = key === "price" ? v + " tr" : key === "area" ? v + " m²" : v;
      out.push('<span class="chip' + (hit ? " match" : "") + '" title="' + esc(key) + '">' + esc(label) + "</span>");
    }
  }
  return out.length ? '<div class="chips">' + out.join("") + "</div>" : "";
}
function column(el, col, other, terms, label) {
  if (!col) { el.innerHTML = '<li class="empty">this index holds no base vectors</li>'; return; }
  const otherRank = new Map((other ? other.results : []).map((r) => [r.id, r.rank]));
  el.innerHTML = col.results.length ? col.results.map((r) => {
    const o = otherRank.get(r.id);
    const move = o === undefined ? "not in " + label + " top " + col.results.length
      : o === r.rank ? "same rank in " + label : label + " #" + o;
    const cls = o === undefined || o > r.rank ? "up" : o < r.rank ? "down" : "";
    return '<li data-id="' + esc(r.id) + '"><div class="top"><span class="rank">' + r.rank +
      '.</span><span class="score">' + r.score.toFixed(4) + '</span><span class="other ' + cls + '">' +
      esc(move) + '</span></div><div class="text">' + markText(r.text, terms) + "</div>" + chips(r) + "</li>";
  }).join("") : '<li class="empty">no results</li>';
}
async function run(ev) {
  if (ev) ev.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  const k = $("k").value;
  const st = $("status");
  st.className = ""; st.textContent = "searching…";
  const t0 = performance.now();
  let res, body;
  try {
    res = await fetch("/search?q=" + encodeURIComponent(q) + "&k=" + encodeURIComponent(k));
    body = await res.json();
  } catch (err) { st.className = "error"; st.textContent = "request failed: " + err; return; }
  if (!res.ok) { st.className = "error"; st.textContent = body.error || ("HTTP " + res.status); return; }
  const terms = new Set(fold(q).split(/[^a-z0-9]+/).filter((t) => t.length >= 2 && !STOP.has(t)));
  column($("head-list"), body.head, body.base, terms, "base");
  column($("base-list"), body.base, body.head, terms, "head");
  const t = body.timings;
  $("head-lat").textContent = "search " + body.head.searchMs.toFixed(1) + " ms + projection " + t.projectMs.toFixed(1) + " ms";
  $("base-lat").textContent = body.base ? "search " + body.base.searchMs.toFixed(1) + " ms" : "";
  st.textContent = "encode " + t.encodeMs.toFixed(1) + " ms · head " + t.headMs.toFixed(1) + " ms · base " +
    t.baseMs.toFixed(1) + " ms · server total " + t.totalMs.toFixed(1) + " ms · round trip " +
    (performance.now() - t0).toFixed(0) + " ms";
  document.body.dataset.state = "done";
  history.replaceState(null, "", "?q=" + encodeURIComponent(q) + "&k=" + k);
}
$("form").addEventListener("submit", run);
const p = new URLSearchParams(location.search);
if (p.get("k")) $("k").value = p.get("k");
if (p.get("q")) { $("q").value = p.get("q"); run(); }
`;

/**
 * Render the page. `health` fills in what the index holds.
 *
 * @example
 * ```ts
 * import { renderSearchPage } from "./search_page.ts";
 * const html = renderSearchPage({
 *   health: {
 *     status: "ok", index: "data/index", version: 2, verified: null, rows: 3, dim: 256, baseDim: 1024,
 *     encoder: { name: "lexical-1024", dir: "data/models/lexical-1024", fingerprint: "7011a347d15a", dim: 1024 },
 *     checkpoint: null, ann: null, uptimeS: 0,
 *   },
 * });
 * if (JSON.stringify(html.includes('id="head-list"')) !== JSON.stringify(true)) throw new Error(`got ${JSON.stringify(html.includes('id="head-list"'))}`);
 * ```
 */
export function renderSearchPage(opts: { health: HealthResponse; title?: string }): string {
  const h = opts.health;
  const title = opts.title ?? "phongtro-head: base encoder vs trained head";
  const ann = h.ann ? `ANN ${h.ann.kind} (nprobes ${h.ann.nprobes})` : "exact scan";
  const ck = h.checkpoint ? `${h.checkpoint.path} (${h.checkpoint.which})` : "no checkpoint";
  const ks = [5, 10, 20].map((k) => `<option${k === 10 ? " selected" : ""}>${k}</option>`).join("");
  return `<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<div class="sub">${h.rows.toLocaleString("en")} listings in ${escapeHtml(h.index)} · encoder ${
    escapeHtml(h.encoder.name)
  } (${h.encoder.dim}-d, ${escapeHtml(h.encoder.fingerprint.slice(0, 12))}) · head ${
    escapeHtml(ck)
  } (${h.dim}-d) · ${escapeHtml(ann)}</div>
<form id="form"><input id="q" name="q" type="search" autocomplete="off" maxlength="500" placeholder="phòng trọ q10 dưới 3tr5 có máy lạnh" autofocus>
<select id="k" name="k" aria-label="results">${ks}</select><button type="submit">Search</button></form>
<div id="status">Type a query: both columns rank the same listings, left with the base encoder, right with the trained head.</div>
</header>
<main>
<section id="base"><h2>Base encoder (${
    h.baseDim || "—"
  }-d)</h2><div class="lat" id="base-lat"></div><ol id="base-list"></ol></section>
<section id="head"><h2>Trained head (${h.dim}-d)</h2><div class="lat" id="head-lat"></div><ol id="head-list"></ol></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
