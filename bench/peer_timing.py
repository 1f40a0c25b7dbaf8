"""Timing shared by the Python peers of the benches (bench/*_peer.py)."""

import time


def median_ms(fn, runs):
    """Median milliseconds of `runs` calls of `fn`, after one warm-up call."""
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2]
