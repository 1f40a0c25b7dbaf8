"""faiss peer of the binary search (the peer of bench/quantize_bench.ts).

faiss IndexBinaryFlat (exact Hamming top-k, popcount over packed bytes), 1
OpenMP thread, over the same data as the Deno bench: sign bits of seeded
random vectors are not shared across languages, so the peer draws its own
random bits of the same shape (Hamming search cost does not depend on the
bits). Prints one JSON line per (dim, batch): median ms per batch.

Usage: python3 bench/hamming_peer.py [--docs 100000] [--dims 256,64] [--batches 1,64]
"""

import argparse
import json

import numpy as np
import faiss

from peer_timing import median_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--dims", default="256,64")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(1)
    for dim in [int(d) for d in args.dims.split(",")]:
        docs = rng.integers(0, 256, size=(args.docs, dim // 8), dtype=np.uint8)
        index = faiss.IndexBinaryFlat(dim)
        index.add(docs)
        for nq in [int(b) for b in args.batches.split(",")]:
            q = rng.integers(0, 256, size=(nq, dim // 8), dtype=np.uint8)
            ms = median_ms(lambda: index.search(q, args.k), 5 if nq > 1 else 20)
            print(json.dumps({"lib": f"faiss {faiss.__version__} IndexBinaryFlat", "dim": dim,
                              "nq": nq, "median_ms": ms}), flush=True)


if __name__ == "__main__":
    main()
