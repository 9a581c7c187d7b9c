"""What every run command does before its units: load the protocol's data, and open the run folder.

``bench run`` and ``bench tune`` both go through here, so they agree on the folder, its manifest and the data a
resumed run must find again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import __version__
from bench.core.errors import ConfigError, did_you_mean
from bench.core.files import dump_json
from bench.core.models import MODELS, ModelSpec, resolve_models
from bench.core.names import check_plain_name
from bench.data import catalog
from bench.data import store as datastore
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from bench.run.config import RunConfig
from bench.run.ensemble import parse_groups
from bench.run.storage import check_storage
from protocols import Fold, Protocol

VERSIONED_PACKAGES = ("numpy", "scikit-learn", "scikit-image", "PyWavelets", "xgboost", "torch", "torchvision",
                      "optuna", "pandas", "opencv-python-headless")


def prepare(cfg: RunConfig, protocol: Protocol | None = None) -> tuple[FERDataset, dict[str, Any]]:
    """The dataset the protocol splits, and the facts of each dataset it was made from (for the manifest).

    The options are checked first (``check_options``), so a bad one fails before any data is loaded."""
    check_options(cfg)
    protocol = protocol or cfg.make_protocol()
    loaded = {role: catalog.load(spec, cfg.data_dir) for role, spec in cfg.data_specs().items()}
    check_distinct_data(loaded, cfg)
    return protocol.prepare(loaded), {role: _dataset_facts(ds) for role, ds in loaded.items()}


def check_options(cfg: RunConfig) -> None:
    """The options that would otherwise fail late (in every unit, after the data is loaded) or be ignored."""
    if cfg.name is not None:
        check_plain_name(cfg.name, "--name")
    if cfg.epochs is not None and (isinstance(cfg.epochs, bool) or not isinstance(cfg.epochs, int) or cfg.epochs < 1):
        raise ConfigError(f"--epochs {cfg.epochs}: deep models train at least 1 epoch; give N >= 1, or leave "
                          "--epochs out for the preset's")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give the folder that holds (or will hold) run folders")
    if cfg.data_dir:
        datastore.data_dir(cfg.data_dir)  # a file given as --data-dir is refused here
    check_storage(cfg.storage)
    check_ensembles(cfg.ensemble)
    if cfg.device == "cuda":
        check_cuda(resolve_models(cfg.models))


def check_ensembles(spec: str) -> None:
    """Every ``--ensemble`` group names at least two registered models."""
    for group in parse_groups(spec, set()):
        unknown = [m for m in group if m not in MODELS]
        if unknown:
            raise ConfigError(f"--ensemble '{spec}': {', '.join(repr(m) for m in unknown)} "
                              f"{'is not a model' if len(unknown) == 1 else 'are not models'};"
                              f"{did_you_mean(unknown[0], MODELS.names())} 'bench models' lists them")
        if len(set(group)) < 2:
            raise ConfigError(f"--ensemble '{spec}': a group averages two or more models, e.g. cnn-003+resnet18")


def check_cuda(specs: list[ModelSpec]) -> None:
    """``--device cuda`` needs a visible GPU, checked once before the run (only when a deep model is in it:
    a classical run never imports torch)."""
    if not any(s.family == "deep" for s in specs):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError(f"--device cuda: no CUDA GPU is visible to torch {torch.__version__} here; use "
                          "--device cpu or --device auto")


def check_distinct_data(loaded: dict[str, FERDataset], cfg: RunConfig) -> None:
    """Protocols with several datasets (cross: source and target) need different data in each role."""
    roles = list(loaded)
    for i, a in enumerate(roles):
        for b in roles[i + 1:]:
            if loaded[a].fingerprint() == loaded[b].fingerprint():
                raise ConfigError(f"--{a} '{getattr(cfg, a)}' and --{b} '{getattr(cfg, b)}' are the same data; "
                                  f"--protocol {cfg.protocol} compares two datasets: give another --{b}, or "
                                  "evaluate one dataset with --protocol subject or kfold")


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


def identity(cfg: RunConfig, protocol: Protocol, facts: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the first, resolved: the protocol's own parameters (so ``--folds 10``
    spelled out equals the default), the data's fingerprints (so re-imported data is another run) and the
    other settings that make the results. Never the command's spelling, the device or output options."""
    raw = cfg.identity()
    resolved_by_protocol = {"protocol", "folds", "test_size", "val_size", "target_fractions", *cfg.data_specs()}
    ident = {k: v for k, v in raw.items() if k not in resolved_by_protocol}
    ident["protocol"] = protocol.config()
    ident["data"] = {role: f["fingerprint"] for role, f in facts.items()}
    return json.loads(dump_json(ident))  # as the manifest stores it: tuples as lists


def start_run(cfg: RunConfig, protocol: Protocol, ds: FERDataset, facts: dict[str, Any], folds: list[Fold],
              specs: list[ModelSpec], *, lock: bool = True) -> RunFolder:
    """Create the run folder with its manifest, or check that an existing one holds the same run.

    With ``lock`` (``bench run``) the folder's lock is held until the run ends, so that a second run on it is
    refused rather than fitting the same units; ``bench tune`` fits no unit and shares its studies, so it
    does not lock."""
    run = RunFolder(cfg.run_path())
    ident = identity(cfg, protocol, facts)
    manifest = {
        "run_id": run.path.name,
        "command": cfg.command,
        "config": cfg.as_dict(),
        "identity": ident,
        "config_key": hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16],
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
    if lock:
        run.lock(f"pid {os.getpid()} on {socket.gethostname()} since {manifest['created']}: "
                 f"{' '.join(cfg.command) or 'bench run'}")
    run.start(manifest)
    return run
