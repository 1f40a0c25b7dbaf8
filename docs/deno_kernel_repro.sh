#!/usr/bin/env bash
# Smallest reproduction of the Deno 2.9 Jupyter kernel's lost outputs (see deno_kernel_outputs.md).
# Needs: deno (kernel registered: deno jupyter --install), jupyter nbconvert, /usr/bin/python3.
# Usage: docs/deno_kernel_repro.sh VARIANT CELLS CHARS RUNS
#   VARIANT  last        each cell's output is its last expression (execute_result)
#            await       await Deno.jupyter.display(bundle, { raw: true })
#            await+tick  ... then await one macrotask turn (setTimeout 0)
#            await+wait  ... then pause CHARS / 5000 ms
#            await+25    ... then pause 25 ms + CHARS / 5000 ms (what lib/report/plots.ts showOutput does)
#            op          await the kernel's broadcast op itself (Deno.jupyter.broadcast drops its promise)
#            op+wait     ... then pause CHARS / 5000 ms
#   CELLS    number of cells, each with one output of about CHARS characters
# Prints, per plain `jupyter nbconvert --to notebook --execute` run, the cells that lost their output.
set -euo pipefail
variant=$1 cells=$2 chars=$3 runs=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 - "$variant" "$cells" "$chars" > "$dir/nb.ipynb" <<'PY'
import json, sys
variant, cells, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def code(k):
    bundle = f'{{ "text/plain": "out {k}", "text/html": "<!--" + "x".repeat({size}) + "-->out {k}" }}'
    show = f'await Deno.jupyter.display({bundle}, {{ raw: true }});'
    op = ('await Deno[Deno.internal].core.ops.op_jupyter_broadcast('
          f'"display_data", {{ data: {bundle}, metadata: {{}}, transient: {{}} }}, {{}}, []);')
    return {
        "last": f'({{ [Symbol.for("Jupyter.display")]: () => ({bundle}) }})',
        "await": show,
        "await+tick": show + "\nawait new Promise((r) => setTimeout(r, 0));",
        "await+wait": show + f"\nawait new Promise((r) => setTimeout(r, {size} / 5000));",
        "await+25": show + f"\nawait new Promise((r) => setTimeout(r, 25 + {size} / 5000));",
        "op": op,
        "op+wait": op + f"\nawait new Promise((r) => setTimeout(r, {size} / 5000));",
    }[variant]
json.dump({"nbformat": 4, "nbformat_minor": 5,
           "metadata": {"kernelspec": {"name": "deno", "display_name": "Deno", "language": "typescript"}},
           "cells": [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "execution_count": None,
                      "outputs": [], "source": code(k)} for k in range(cells)]}, sys.stdout)
PY
for r in $(seq "$runs"); do
  if ! jupyter nbconvert --to notebook --execute "$dir/nb.ipynb" --output out >/dev/null 2>"$dir/err.txt"; then
    echo "run $r: FAILED: $(grep -m1 -oE '(ValueError|RuntimeError|TimeoutError).*' "$dir/err.txt")"
    continue
  fi
  /usr/bin/python3 - "$r" "$dir/out.ipynb" <<'PY'
import json, sys
nb = json.load(open(sys.argv[2]))
lost = [i for i, c in enumerate(nb["cells"]) if not c["outputs"]]
print(f"run {sys.argv[1]}: {len(lost)} of {len(nb['cells'])} cells without output {lost}")
PY
done
