"""PyTorch twin of one training step of the head (the peer in `deno task bench`).

The same maths as lib/train/train_step.ts: gather B(2+K) rows of a [N, 1024] matrix,
project with W [256, 1024] (nn.Linear layout), L2-normalise, symmetric weighted
InfoNCE (weights on exp(s), false negatives masked), backward w.r.t. W only,
global-norm clipping, AdamW. Prints one JSON line per thread count:
{"threads": t, "median_ms": ..., "min_ms": ..., "ops": ...}.

Usage: python3 bench/torch_step.py [--threads 1,2] [--steps 30] [--rows 6825]
Runs on OpenBLAS/MKL, whichever torch was built with (reported as "blas").
"""

import argparse
import json
import time

import peer_env  # noqa: F401  (OpenBLAS on the library path; must precede numpy/torch)

import torch


def step_fn(emb, rows, weights, sim_bias, w, opt, b, k, tau, dims):
    x = emb.index_select(0, rows)
    yr = x @ w.t()
    loss = 0.0
    for d in dims:
        y = yr[:, :d]
        y = y / torch.sqrt((y * y).sum(-1, keepdim=True) + 1e-12)
        q, p, h = y[:b], y[b : 2 * b], y[2 * b :].reshape(b, k, d)
        s = q @ p.t() / tau + sim_bias
        diag = (q * p).sum(-1) / tau
        hs = (h * q.unsqueeze(1)).sum(-1) / tau
        hl = torch.where(weights > 0, hs + torch.log(weights.clamp_min(1e-30)), torch.full_like(hs, -1e30))
        lqp = torch.logsumexp(torch.cat([s, hl], 1), 1) - diag
        lpq = torch.logsumexp(s, 0) - diag
        loss = loss + 0.5 * (lqp + lpq).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_([w], 1.0)
    opt.step()
    return loss


def blas_in_use():
    """The BLAS library this process mapped (after a matmul): openblas, mkl or a path."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return "unknown"
    for lib in sorted(libs):
        if "openblas" in lib:
            return "OpenBLAS"
    for lib in sorted(libs):
        if "mkl" in lib:
            return "MKL"
    for lib in sorted(libs):
        if "libblas" in lib:
            return lib
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--rows", type=int, default=6825)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--negatives", type=int, default=7)
    ap.add_argument("--dims", default="256")
    args = ap.parse_args()
    b, k, dim_in, dim_out, tau = args.batch, args.negatives, 1024, 256, 0.05
    dims = [int(d) for d in args.dims.split(",")]
    g = torch.Generator().manual_seed(1)
    emb = torch.randn(args.rows, dim_in, generator=g) / 32
    rows = torch.randint(0, args.rows, (b * (2 + k),), generator=g)
    weights = torch.ones(b, k)
    sim_bias = torch.zeros(b, b)
    blas = blas_in_use()
    for t in [int(x) for x in args.threads.split(",")]:
        torch.set_num_threads(t)
        w = (torch.randn(dim_out, dim_in, generator=g) / 32).requires_grad_()
        opt = torch.optim.AdamW([w], lr=1e-3, weight_decay=0.01)
        for _ in range(5):
            step_fn(emb, rows, weights, sim_bias, w, opt, b, k, tau, dims)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step_fn(emb, rows, weights, sim_bias, w, opt, b, k, tau, dims)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(json.dumps({
            "threads": t,
            "median_ms": times[len(times) // 2],
            "min_ms": times[0],
            "steps": args.steps,
            "torch": torch.__version__,
            "blas": blas,
        }))


if __name__ == "__main__":
    main()
