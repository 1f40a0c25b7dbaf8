/**
 * The query side of an index, opened once for the CLI's `search --index` and
 * for the server: the store (optionally verified), the encoder it was built
 * with, and the head that projects queries, checked against what the index
 * records (encoder fingerprint, head SHA-256). One search path: both callers
 * open it here, then encode and search their way.
 *
 * @module
 */
import { type Encoder, loadEncoder } from "../encoder/encoder.ts";
import { loadQueryHead, type QueryHead } from "./indexer.ts";
import { VectorStore } from "./vector_store.ts";

/** Options of {@link openQuerySide}. */
export interface QuerySideOptions {
  /** Index directory or LanceDB URI. */
  index: string;
  /** Checkpoint (default: the one the index records, else `fallbackCheckpoint`). */
  checkpoint?: string;
  /** The checkpoint when neither `checkpoint` nor the index names one (default: none, an error). */
  fallbackCheckpoint?: string;
  /** Which weights (default: the index's). */
  which?: "best" | "final";
  /** Encoder folder (default: the index's). */
  model?: string;
  /** Rescan every row against the index's digest first. */
  verify?: boolean;
  /** Load the head (false: base vectors only, the index need not record a head). */
  head: boolean;
  /** Open even if the encoder fingerprint differs from the run's. */
  force?: boolean;
  /** Warnings. */
  onWarning?: (line: string) => void;
}

/** An index with its encoder and query head. */
export interface QuerySide {
  /** The opened store. */
  store: VectorStore;
  /** The encoder the index was built with. */
  encoder: Encoder;
  /** The head, or null with `head: false`. */
  head: QueryHead | null;
  /** The head's checkpoint path as used (null with `head: false`). */
  checkpoint: string | null;
  /** The start-up check's rows and seconds, or null when not asked for. */
  verified: { rows: number; seconds: number } | null;
  /** Release the head, the encoder and the store. */
  close(): Promise<void>;
}

/**
 * Open `index` for queries. On any error, what was opened is released.
 *
 * @example
 * ```ts
 * import { openQuerySide } from "./query_side.ts";
 * // Type-checked, not run: it needs an index (`deno task index`).
 * async function _example() {
 *   const side = await openQuerySide({ index: "data/index", head: true });
 *   const q = await side.encoder.encode(["phòng trọ q10"]);
 *   const hits = await side.store.search(side.head!.project(q.data, 1), { k: 5 });
 *   console.log(hits.map((h) => h.text));
 *   await side.close();
 * }
 * ```
 */
export async function openQuerySide(opts: QuerySideOptions): Promise<QuerySide> {
  const store = await VectorStore.open(opts.index);
  let encoder: Encoder | undefined;
  let head: QueryHead | null = null;
  let checkpoint: string | null = null;
  try {
    const verified = opts.verify ? await store.verify() : null;
    encoder = await loadEncoder(opts.model ?? store.info.encoder.dir);
    if (opts.head) {
      const ck = store.info.checkpoint;
      const path = opts.checkpoint ?? ck?.path ?? opts.fallbackCheckpoint;
      if (!path) {
        throw new Error(`${opts.index}: the index records no checkpoint; pass --checkpoint`);
      }
      checkpoint = path;
      head = await loadQueryHead(
        path,
        opts.which ?? (ck?.which as "best" | "final" | undefined) ?? "best",
        encoder.fingerprint,
        { force: opts.force, onWarning: opts.onWarning },
      );
    }
    store.checkCompatible({
      fingerprint: encoder.fingerprint,
      checkpointSha256: head ? head.sha256 : null,
    });
    const enc = encoder, hd = head;
    return {
      store,
      encoder: enc,
      head: hd,
      checkpoint,
      verified,
      async close() {
        hd?.dispose();
        await enc.dispose();
        store.close();
      },
    };
  } catch (err) {
    head?.dispose();
    await encoder?.dispose();
    store.close();
    throw err;
  }
}
