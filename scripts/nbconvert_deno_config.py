# nbconvert config for executing the Deno notebooks headless (loaded by
# scripts/nb_run.ts with `jupyter nbconvert --config scripts/nbconvert_deno_config.py`).
#
# Why: Deno 2.9's Jupyter kernel can publish a cell's outputs (stream,
# display_data, execute_result) on IOPub *after* the cell's `status: idle`
# message. nbclient stops reading a cell's messages at that idle and ignores
# messages whose parent is an earlier cell, so those outputs are silently
# dropped (at random: about one cell in six here).
#
# (A separate kernel problem, corrupt IOPub messages of several MB that make
# the client fail with "Invalid Signature", is not fixable here: nb_run.ts
# avoids it by running the kernel with PLOTLY_INLINE=never, see lib/plots.ts.)
#
# The fix, applied to nbclient's IOPub polling: after a cell's idle, keep
# reading until IOPub has been quiet for NB_IOPUB_GRACE seconds (default 0.5),
# and file every message under the cell it belongs to (by parent msg_id), even
# one that arrives late. The next cell is only sent once the kernel is quiet.
import os
import queue

from jupyter_core.utils import ensure_async
from nbclient.client import NotebookClient
from nbclient.exceptions import CellExecutionComplete

_GRACE = float(os.environ.get("NB_IOPUB_GRACE", "0.5"))


async def _poll_output_msg_tolerant(self, parent_msg_id, cell, cell_index):
    assert self.kc is not None
    cells = self.__dict__.setdefault("_late_output_cells", {})
    cells[parent_msg_id] = (cell, cell_index)
    idle = False
    while True:
        try:
            msg = await ensure_async(
                self.kc.iopub_channel.get_msg(timeout=_GRACE if idle else None)
            )
        except queue.Empty:
            return
        pid = msg["parent_header"].get("msg_id")
        if pid not in cells:
            continue
        target, index = cells[pid]
        try:
            self.process_message(msg, target, index)
        except CellExecutionComplete:
            if pid == parent_msg_id:
                idle = True


NotebookClient._async_poll_output_msg = _poll_output_msg_tolerant
