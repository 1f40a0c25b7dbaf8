"""numpy / PyTorch peers of exact top-k search (the peer of bench/topk_bench.ts).

Same data shape as the Deno bench: 100k random unit docs, queries in batches
of 1 and 64, k = 10, exact dot-product scores, the k best per query sorted.
numpy: scores = Q·Dᵀ, argpartition, sort the k. torch: torch.topk(Q·Dᵀ, k).
Prints one JSON line per (library, dim, batch): median ms per batch.

Usage: python3 bench/topk_peer.py [--docs 100000] [--dims 256,1024] [--batches 1,64]
"""

import argparse
import json

import peer_env  # noqa: F401  (OpenBLAS on the library path; must precede numpy/torch)

from peer_timing import median_ms

import numpy as np


def unit(rng, n, d):
    x = rng.random((n, d), dtype=np.float32) - 0.5
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--dims", default="256,1024")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    k = args.k
    try:
        import torch
    except ImportError:  # numpy only
        torch = None
    for dim in [int(x) for x in args.dims.split(",")]:
        rng = np.random.default_rng(dim)
        docs = unit(rng, args.docs, dim)
        tdocs = torch.from_numpy(docs) if torch else None
        for nq in [int(x) for x in args.batches.split(",")]:
            q = unit(rng, nq, dim)

            def np_topk():
                s = q @ docs.T
                idx = np.argpartition(-s, k, axis=1)[:, :k]
                part = np.take_along_axis(s, idx, axis=1)
                order = np.argsort(-part, axis=1)
                return np.take_along_axis(idx, order, axis=1)

            runs = 15 if nq == 1 else 5
            print(json.dumps({"lib": f"numpy {np.__version__}", "dim": dim, "nq": nq,
                              "median_ms": median_ms(np_topk, runs)}), flush=True)
            if torch:
                tq = torch.from_numpy(q)

                def torch_topk():
                    return torch.topk(tq @ tdocs.T, k, dim=1)

                print(json.dumps({"lib": f"torch {torch.__version__}", "dim": dim, "nq": nq,
                                  "median_ms": median_ms(torch_topk, runs)}), flush=True)


if __name__ == "__main__":
    main()
