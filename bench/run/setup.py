"""What every run command does before its units: load the protocol's data, and open the run folder.

``bench run`` and ``bench tune`` both go through here, so they agree on the folder, its manifest and the data a
resumed run must find again.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from importlib import metadata
from typing import Any

from bench import __version__
from bench.core.models import ModelSpec
from bench.data import catalog
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from bench.run.config import RunConfig
from protocols import Fold, Protocol

VERSIONED_PACKAGES = ("numpy", "scikit-learn", "scikit-image", "PyWavelets", "xgboost", "torch", "torchvision",
                      "optuna", "pandas", "opencv-python-headless", "scikit-learn-intelex", "cuml-cu12")


def prepare(cfg: RunConfig, protocol: Protocol | None = None) -> tuple[FERDataset, dict[str, Any]]:
    """The dataset the protocol splits, and the facts of each dataset it was made from (for the manifest)."""
    protocol = protocol or cfg.make_protocol()
    loaded = {role: catalog.load(spec, cfg.data_dir) for role, spec in cfg.data_specs().items()}
    return protocol.prepare(loaded), {role: _dataset_facts(ds) for role, ds in loaded.items()}


def _dataset_facts(ds: FERDataset) -> dict[str, Any]:
    return {"name": ds.name, "fingerprint": ds.fingerprint(), "n_images": len(ds), "image_size": list(ds.image_size),
            "classes": ds.class_names, "class_counts": ds.class_counts(),
            "n_subjects": len(ds.subject_counts()) if ds.has_subjects else None,
            "generator_or_importer": {k: v for k, v in ds.info.items() if k != "report"}}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "fer-bench": __version__}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def start_run(cfg: RunConfig, protocol: Protocol, ds: FERDataset, facts: dict[str, Any], folds: list[Fold],
              specs: list[ModelSpec]) -> RunFolder:
    """Create the run folder with its manifest, or check that an existing one holds the same run."""
    run = RunFolder(cfg.run_path())
    manifest = {
        "run_id": run.path.name,
        "command": cfg.command,
        "config": cfg.as_dict(),
        "config_key": hashlib.sha256(json.dumps(cfg.identity(), sort_keys=True, default=str).encode()).hexdigest()[:16],
        "protocol": {"name": cfg.protocol, "description": protocol.describe(), "params": protocol.config()},
        "data": facts,
        "dataset_fingerprint": ds.fingerprint(),
        "classes": ds.class_names,
        "models": [s.name for s in specs],
        "folds": [{"id": f.id, "variant": f.variant, "n_train": len(f.train), "n_val": len(f.val),
                   "tests": {k: len(v) for k, v in f.tests.items()}} for f in folds],
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    run.start(manifest)
    return run
