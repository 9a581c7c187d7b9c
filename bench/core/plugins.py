"""Models from outside the package: ``--include PATH`` files and installed packages' entry points.

A file given with ``--include`` (or each ``*.py`` of a folder) is imported as a module, so its
``@bench.register_model`` decorators run; installed packages publish modules under the entry-point group
``fer_bench.models``, which the model registry imports after the built-in families. Either way a registration
uses the same public decorator as the built-ins, and a name that clashes with one of them is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

from bench.core.errors import ConfigError

ENTRY_POINT_GROUP = "fer_bench.models"


def include(path: str | Path) -> list[str]:
    """Import the ``.py`` file at ``path``, or every ``.py`` file in the folder; returns the module names."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.glob("*.py") if not f.name.startswith(("_", ".")))
        if not files:
            raise ConfigError(f"--include {p}: the folder holds no .py file")
    elif p.is_file() and p.suffix == ".py":
        files = [p]
    else:
        raise ConfigError(f"--include {p}: give a .py file or a folder of them")
    return [_import(f) for f in files]


def _import(file: Path) -> str:
    resolved = file.resolve()
    name = f"fer_bench_include_{resolved.stem}_{hashlib.sha256(str(resolved).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return name  # included twice in one process (e.g. run, then models): registered already
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--include {file}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ConfigError as exc:
        del sys.modules[name]
        raise ConfigError(f"--include {file}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user's file may raise anything; one line names it and its error
        del sys.modules[name]
        detail = " ".join(str(exc).split())
        raise ConfigError(f"--include {file} raised {type(exc).__name__}: {detail}") from None
    return name


def load_entry_points() -> list[str]:
    """Import every module published under ``fer_bench.models`` by installed packages."""
    loaded = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is named, with its error
            raise ConfigError(f"entry point '{ep.name}' ({ep.value}) of group {ENTRY_POINT_GROUP} failed to load "
                              f"({type(exc).__name__}: {' '.join(str(exc).split())})") from None
        loaded.append(ep.name)
    return loaded
