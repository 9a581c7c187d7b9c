"""Files written whole or not at all, and JSON as every run and cache file writes it."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

# mkstemp(prefix=f".{name}.", suffix=".tmp") names: eight random characters in between.
_STAGED = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")


def staged_bytes(path: Path, writer: Callable[[IO[bytes]], Any]) -> Path:
    """Write a complete, fsynced temporary file beside ``path`` and return its name; ``os.replace(tmp, path)``
    then publishes it in one step. Several files staged first and replaced in turn change together but for the
    moment between the renames. A failed write leaves no temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make results unreadable to collaborators
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return Path(tmp)


def staged_target(name: str) -> str | None:
    """The file name a temporary file of ``staged_bytes`` was to become (``.x.json.k2j4_a9z.tmp`` -> ``x.json``),
    or None when ``name`` is not such a file. One left behind belongs to a writer that was killed."""
    m = _STAGED.fullmatch(name)
    return m.group(1) if m else None


def atomic_write_bytes(path: Path, writer: Callable[[IO[bytes]], Any]) -> None:
    """Write through a temporary file in the same folder, then rename: readers never see half a file."""
    tmp = staged_bytes(path, writer)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8")))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def dump_json(obj: Any) -> str:
    """Indented, key-sorted JSON that numpy scalars and arrays pass through (NaN kept as NaN)."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default, allow_nan=True) + "\n"
