/**
 * `deno task serve [--index DIR] [--host 127.0.0.1] [--port 8000]`: the
 * search API (`/search?q=…&k=…`, `/health`) and the base-vs-head comparison
 * page (`/`) over a LanceDB index built by `deno task index`.
 *
 * @module
 */
import { CliError, type CommandSpec, helpText, parseCommand, runMain } from "../lib/cli/cli.ts";
import { requirePermissions } from "../lib/cli/permissions.ts";
import { describeEncoder } from "../lib/encoder/encoder.ts";
import { DEFAULT_INDEX_DIR } from "../lib/serve/indexer.ts";
import { openSearchService, serveSearch } from "../lib/serve/server.ts";

const SPEC: CommandSpec = {
  name: "serve",
  usage: "deno task serve [--index DIR] [--host 127.0.0.1] [--port 8000]",
  description: "Serve the search API and the base-vs-head comparison page.",
  flags: {
    index: { type: "string", help: "index directory or LanceDB URI", default: DEFAULT_INDEX_DIR },
    host: { type: "string", help: "address to listen on", default: "127.0.0.1" },
    port: { type: "int", min: 0, help: "port (0: any free port)", default: 8000 },
    checkpoint: { type: "string", help: "head checkpoint (default: the index's)" },
    which: {
      type: "choice",
      choices: ["best", "final"],
      help: "which weights (default: the index's)",
    },
    model: { type: "string", help: "encoder model dir (default: the index's)" },
    force: { type: "boolean", help: "use the head even if the encoder fingerprint differs" },
    verify: {
      type: "boolean",
      help: "rescan every row of the index against its record before serving",
      default: true,
    },
  },
};

async function main() {
  const { flags, positionals, help } = parseCommand(Deno.args, SPEC);
  if (help) return console.log(helpText(SPEC));
  if (positionals.length) throw new CliError(`serve: unexpected argument "${positionals[0]}"`);
  const port = (flags.port as number | undefined) ?? 8000;
  if (port > 65535) throw new CliError(`serve: --port must be at most 65535, got ${port}`);
  const hostname = (flags.host as string | undefined) ?? "127.0.0.1";
  const index = (flags.index as string | undefined) ?? DEFAULT_INDEX_DIR;
  await requirePermissions("serve", [
    { kind: "read", path: index, flag: "--index" },
    { kind: "read", path: (flags.checkpoint as string | undefined) ?? "", flag: "--checkpoint" },
    { kind: "read", path: (flags.model as string | undefined) ?? "", flag: "--model" },
  ]);
  const service = await openSearchService({
    index,
    checkpoint: flags.checkpoint as string | undefined,
    which: flags.which as "best" | "final" | undefined,
    model: flags.model as string | undefined,
    force: flags.force === true,
    verify: flags.verify !== false,
    onWarning: (m) => console.error(m),
  });
  const h = await service.health();
  console.log(
    `${describeEncoder(h.encoder)}; head ${h.checkpoint?.path} (${h.dim}-d)`,
  );
  console.log(
    `Index: ${index}, version ${h.version}, ${h.rows} listings (${
      h.ann ? `ANN ${h.ann.kind}` : "exact scan"
    }${h.baseDim ? ", base vectors too" : ", no base vectors"}; ${
      h.verified ? `verified in ${h.verified.seconds.toFixed(2)} s` : "not verified (--no-verify)"
    })`,
  );
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const server = serveSearch(service, {
    hostname,
    port,
    signal: ac.signal,
    onListen: (a) => console.log(`Serving http://${a.hostname}:${a.port}/  (Ctrl-C to stop)`),
  });
  await server.finished; // after a signal: the requests in flight are answered first
  await service.close();
  console.log("Stopped.");
}

if (import.meta.main) await runMain(main);
