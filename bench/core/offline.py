"""``--offline`` / ``FER_BENCH_OFFLINE=1``: never download (ImageNet weights); set in the environment so child
processes and Dask workers started from this one inherit it."""

from __future__ import annotations

import os

OFFLINE_ENV = "FER_BENCH_OFFLINE"


def set_offline() -> None:
    os.environ[OFFLINE_ENV] = "1"


def is_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")
