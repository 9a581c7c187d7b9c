"""``--threads``: cap the CPU threads of torch's kernels without importing torch in runs that never use it."""

from __future__ import annotations

import argparse
import os
import sys

from bench.core.errors import ConfigError

HELP = ("CPU threads for deep models' kernels (default: one per core). On a machine shared with other jobs, "
        "fewer threads than cores train faster: cnn-003 ran 1.8x faster on 1 thread than on 2 with one of "
        "two cores busy")


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--threads", type=int, default=None, metavar="N", help=HELP)


def limit_threads(n: int | None) -> None:
    """Cap torch's intra-op threads at ``n``: set now if torch is loaded, else at its import (OMP_NUM_THREADS)."""
    if n is None:
        return
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    # Child processes (bench perf run/scale) inherit the variable, and torch reads it when it loads.
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)
