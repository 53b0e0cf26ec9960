"""thread_limits holds for a torch that is first imported inside the block (a fresh worker's lazy agent)."""

from __future__ import annotations

import os
import subprocess
import sys

CODE = """
import os
from metarec.threads import thread_limits
with thread_limits(1):
    import torch
    inside = torch.get_num_threads()
print(inside, os.environ.get("OMP_NUM_THREADS"))
"""


def test_torch_imported_inside_the_block_gets_the_limit():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "None"]  # one torch thread inside; the environment restored after
