"""Put OpenBLAS on the library path of a Python peer before numpy/torch load.

Deno may not set LD_LIBRARY_PATH for a child process without unrestricted
--allow-run, so bench/peers.ts passes the directory as PEER_BLAS_DIR and the
peer re-executes itself once with LD_LIBRARY_PATH set. Import this module
before numpy or torch.
"""

import os
import sys

_dir = os.environ.get("PEER_BLAS_DIR", "")
if _dir and os.environ.get("LD_LIBRARY_PATH", "").split(":")[0] != _dir:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = _dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)
