"""What every run command does before its units: load the protocol's data, and open the run folder.

``bench run`` and ``bench tune`` both go through here, so they agree on the folder, its manifest and the data a
resumed run must find again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import socket
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench import __version__
from bench.core.errors import ConfigError, UnitSkipped, did_you_mean
from bench.core.files import dump_json
from bench.core.models import MODELS, ModelSpec, resolve_models
from bench.core.names import check_plain_name
from bench.data import catalog
from bench.data import store as datastore
from bench.data.dataset import FERDataset
from bench.data.labels import apply_labels
from bench.results.folder import RunFolder
from bench.run.config import RunConfig
from bench.run.ensemble import parse_groups
from bench.run.storage import check_storage
from bench.run.unit import build_kwargs
from protocols import Fold, Protocol

VERSIONED_PACKAGES = ("numpy", "scikit-learn", "scikit-image", "PyWavelets", "xgboost", "torch", "torchvision",
                      "optuna", "pandas", "opencv-python-headless", "scikit-learn-intelex", "cuml-cu12")


def prepare(cfg: RunConfig, protocol: Protocol | None = None) -> tuple[FERDataset, dict[str, Any]]:
    """The dataset the protocol splits (each loaded dataset after ``--labels``), and the facts of each dataset
    it was made from (for the manifest; a role with several datasets as ``ROLE:SPEC``).

    The options are checked first (``check_options``), so a bad one fails before any data is loaded."""
    check_options(cfg)
    protocol = protocol or cfg.make_protocol()
    loaded: dict[str, Any] = {}
    facts: dict[str, Any] = {}
    named: dict[str, FERDataset] = {}
    for role, spec in cfg.data_specs().items():
        specs = catalog.split_specs(spec) if role in protocol.multi_roles else [spec]
        if role in protocol.multi_roles and len(set(specs)) != len(specs):
            raise ConfigError(f"--{role} '{spec}' names a dataset twice")
        datasets = {s: apply_labels(catalog.load(s, cfg.data_dir), cfg.labels) for s in specs}
        loaded[role] = datasets if role in protocol.multi_roles else datasets[spec]
        for s, ds in datasets.items():
            facts[role if len(specs) == 1 else f"{role}:{s}"] = dataset_facts(ds)
            named[f"--{role} '{s}'"] = ds
    check_distinct_data(named, cfg)
    return protocol.prepare(loaded), facts


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


def check_distinct_data(named: dict[str, FERDataset], cfg: RunConfig) -> None:
    """Protocols with several datasets (cross: source and targets) need different data in each place."""
    names = list(named)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if named[a].fingerprint() == named[b].fingerprint():
                raise ConfigError(f"{a} and {b} are the same data; --protocol {cfg.protocol} compares different "
                                  "datasets: give another one, or evaluate one dataset with --protocol subject or kfold")


def dataset_facts(ds: FERDataset) -> dict[str, Any]:
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


PRESET_NAME = re.compile(r"^(default|paper|paper\d{3})$")


def fold_digest(fold: Fold) -> str:
    """Identifies a fold's training and validation indices (a source model is reused only on the same ones)."""
    h = hashlib.sha256(np.asarray(fold.train, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.asarray(fold.val, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def source_models(cfg: RunConfig, facts: dict[str, Any], folds: list[Fold], specs: list[ModelSpec]
                  ) -> dict[tuple[str, str], Path]:
    """``--source-run RUN``: the model each (model, source fold) of this run would train, found in RUN.

    RUN is any run on the same source data (a cross run, or e.g. the official-split run of the source dataset)
    with a fold whose training and validation indices are this source fold's; each selected model needs a
    saved model of that fold there (a cross run keeps its deep source models; ``--save-models`` keeps every
    model). Anything else is refused before a unit runs.
    """
    if not cfg.source_run:
        return {}
    other = RunFolder(cfg.source_run)
    if not other.exists():
        raise ConfigError(f"--source-run {cfg.source_run} is not a run folder (no manifest.json)")
    if "source" not in facts:
        raise ConfigError(f"--source-run is for --protocol cross (it reuses trained source models), not {cfg.protocol}")
    manifest = other.read_manifest()
    ours = facts["source"]["fingerprint"]
    roles = [role for role, f in (manifest.get("data") or {}).items() if (f or {}).get("fingerprint") == ours]
    if not roles:
        theirs = ", ".join(f"{r} {(f or {}).get('fingerprint')}" for r, f in (manifest.get("data") or {}).items())
        raise ConfigError(f"--source-run {cfg.source_run} trained on other data ({theirs}; this run's source is "
                          f"{ours}); give a run on the same --source")
    # A cross run's source fold holds the same indices as ours only when the source comes first in both merged
    # datasets, as it does; a run on the source alone indexes it the same way.
    their_folds = {f.get("digest"): f["id"] for f in manifest.get("folds", []) if f.get("digest")}
    out: dict[tuple[str, str], Path] = {}
    for fold in (f for f in folds if f.init_from is None and f.variant == "zero-shot"):
        their_id = their_folds.get(fold_digest(fold))
        if their_id is None:
            raise ConfigError(f"--source-run {cfg.source_run} has no fold with this run's source training and "
                              "validation indices (another --seed, --source-split or --val-size?); use the same "
                              "split options")
        for spec in specs:
            candidates = [other.model_path(spec.name, their_id, ext) for ext in ("pt", "skops")]
            candidates.append(other.checkpoint_path(spec.name, their_id))
            path = next((c for c in candidates if c.is_file()), None)
            if path is None:
                raise ConfigError(f"--source-run {cfg.source_run} has no saved model of {spec.name} for its fold "
                                  f"{their_id} (looked for {candidates[0]}); run it with --save-models")
            out[(spec.name, fold.id)] = path
    return out


def check_models(specs: list[ModelSpec], preset: str) -> dict[str, list[str]]:
    """Refuse a preset a selected deep model does not have, before any data is loaded; return, per model, where
    its preset cannot follow the paper as written (printed at the start of the run, kept in the manifest)."""
    if not PRESET_NAME.match(preset):
        raise ConfigError(f"--preset '{preset}' is not default, paper or paperNNN (e.g. paper001)")
    lacking = [s.name for s in specs if s.family == "deep" and preset not in s.tags.get("presets", (preset,))]
    if lacking:
        raise ConfigError(f"--preset {preset}: {', '.join(lacking)} have no such preset; 'bench models --show NAME' "
                          "lists a model's presets (or give the preset per model: 'NAME:preset=paper')")
    notes = {}
    for s in specs:
        facts = s.describe() if s.describe else {}
        own = s.settings_given.get("preset", preset)
        if facts.get("notes", {}).get(own):
            notes[s.name] = list(facts["notes"][own])
    return notes


def check_validation(specs: list[ModelSpec], folds: list[Fold], cfg: RunConfig) -> None:
    """Without a validation split (``--val-size 0``) a deep model trains its preset's fixed epochs and keeps the
    last weights; a recipe whose epochs are only a cap for early stopping cannot, and is refused up front."""
    if all(len(f.val) for f in folds):
        return
    for spec in specs:
        if not spec.uses_validation:
            continue
        try:
            est = spec.build(**build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device="cpu", epochs=cfg.epochs))
        except UnitSkipped:
            continue  # reported as skipped when its unit runs
        if callable(getattr(est, "needs_validation", None)) and est.needs_validation():
            raise ConfigError(f"--val-size 0: {spec.name}'s {cfg.preset} preset trains up to its epochs and stops "
                              f"early on a validation split; give --val-size > 0, or fixed epochs with "
                              f"'{spec.name}:epochs=N,needs_validation=false'")


def identity(cfg: RunConfig, protocol: Protocol, facts: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the first, resolved: the protocol's own parameters (so ``--folds 10``
    spelled out equals the default), the data's fingerprints (so re-imported data is another run) and the
    other settings that make the results. Never the command's spelling, the device or output options."""
    raw = cfg.identity()
    resolved_by_protocol = {"protocol", "folds", "test_size", "val_size", "target_fractions", "official_split",
                            "source_split", "target_split", "target_split_by", "variants", *cfg.data_specs()}
    ident = {k: v for k, v in raw.items() if k not in resolved_by_protocol}
    ident["protocol"] = protocol.config()
    ident["data"] = {role: f["fingerprint"] for role, f in facts.items()}
    return json.loads(dump_json(ident))  # as the manifest stores it: tuples as lists


def start_run(cfg: RunConfig, protocol: Protocol, ds: FERDataset, facts: dict[str, Any], folds: list[Fold],
              specs: list[ModelSpec], notes: dict[str, list[str]] | None = None, *, lock: bool = True) -> RunFolder:
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
        "experiment": cfg.experiment(),
        "identity": ident,
        "config_key": hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16],
        "protocol": {"name": cfg.protocol, "description": protocol.describe(), "params": protocol.config()},
        "data": facts,
        "dataset_fingerprint": ds.fingerprint(),
        "left_out": ds.info.get("left_out", {}),
        "classes": ds.class_names,
        "models": [s.name for s in specs],
        "model_settings": {s.name: {"model": s.base, "settings": s.settings_given, "resolved": s.build_params}
                           for s in specs if s.base},
        "notes": notes or {},
        "folds": [{"id": f.id, "variant": f.variant, "n_train": len(f.train), "n_val": len(f.val),
                   "tests": {k: len(v) for k, v in f.tests.items()}, "digest": fold_digest(f)} for f in folds],
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if lock:
        run.lock(f"pid {os.getpid()} on {socket.gethostname()} since {manifest['created']}: "
                 f"{' '.join(cfg.command) or 'bench run'}")
    run.start(manifest)
    return run
