"""Keep freed memory inside the process on glibc, so that CPU training does not page-fault on every batch.

glibc serves every allocation above its mmap threshold (32 MB at most) with a fresh ``mmap`` and unmaps it on
``free``. PyTorch's CPU tensors come straight from ``malloc``, so a net whose activations pass that size
(cnn-002's first convolution at batch 64: 64 x 64 x 47 x 47 float32, 36 MB) maps, zero-fills and unmaps new
pages at every step: measured here, 218k page faults per step, half the CPU time in the kernel, cnn-002 training
at 67 images/s instead of 106. Serving large blocks from the heap and keeping up to 1 GiB of freed memory (what
jemalloc or tcmalloc under ``LD_PRELOAD`` would also do) removes that cost; the arithmetic, and so every result,
is unchanged. The price is resident memory, the freed blocks it keeps (cnn-002's cross run: 3.0 GB peak
against 2.3 GB, README).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

_M_TRIM_THRESHOLD = -1  # from glibc's <malloc.h>
_M_MMAP_MAX = -4
KEEP_FREED_BYTES = 1 << 30


@functools.cache
def retain_freed_memory() -> bool:
    """Tune glibc's malloc once per process; True if it is now tuned. A user's own ``MALLOC_MMAP_MAX_`` or
    ``MALLOC_TRIM_THRESHOLD_`` wins, and elsewhere than glibc this does nothing."""
    if not sys.platform.startswith("linux") or {"MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, KEEP_FREED_BYTES))
