"""What the machine has to give: memory available now, for checks made before a long step starts."""

from __future__ import annotations

import psutil


def available_memory() -> int:
    """Bytes of memory that can be allocated without swapping (the kernel's MemAvailable on Linux)."""
    return int(psutil.virtual_memory().available)


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"
