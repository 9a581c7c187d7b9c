"""What a report reads from a run folder: manifest, finished units and their stored predictions, grouped.

A report section is one *group*: a model scored on one test set under one fold variant, pooled over the folds
that share them. Single-dataset runs have one group per model (variant "", test set "test"); cross-dataset
runs have one per (model, strategy, source/target test set), because pooling strategies would mix models
that were trained differently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.results.folder import RunFolder
from protocols import PROTOCOLS, Protocol


@dataclass
class Group:
    model: str
    family: str
    variant: str
    testset: str
    units: list[dict[str, Any]]
    predictions: pd.DataFrame  # stored columns plus "fold"; only this test set's rows

    @property
    def title(self) -> str:
        parts = [self.model] + ([self.variant] if self.variant else []) + [f"test set '{self.testset}'"]
        return ", ".join(parts)

    @property
    def folds(self) -> list[str]:
        return [u["fold"] for u in self.units]


@dataclass
class RunData:
    run: RunFolder
    manifest: dict[str, Any]
    classes: list[str]
    units: list[dict[str, Any]]  # every unit, whatever its status
    groups: list[Group]
    missing_predictions: list[str] = field(default_factory=list)

    @property
    def protocol(self) -> type[Protocol]:
        return PROTOCOLS.get(self.manifest["config"]["protocol"])

    @property
    def has_variants(self) -> bool:
        """Folds of different kinds (cross-dataset strategies), each reported on every test set."""
        return self.protocol.layout == "variants"

    @property
    def primary_testset(self) -> str:
        """The test set that ranks models: the target for cross-dataset runs, the test set otherwise."""
        return self.protocol.primary_testset


def load_run(path: str | Path, models: list[str] | None = None) -> RunData:
    run = RunFolder(path)
    if not run.exists():
        raise BenchError(f"{run.path} is not a run folder (no manifest.json); pass a folder that 'bench run' wrote")
    manifest = run.read_manifest()
    units = run.read_units()
    if models:
        unknown = sorted(set(models) - {u["model"] for u in units})
        if unknown:
            known = ", ".join(sorted({u["model"] for u in units}))
            raise BenchError(f"run {run.path.name} has no model {', '.join(unknown)}; its models: {known}")
        units = [u for u in units if u["model"] in models]
    ok = [u for u in units if u.get("status") == "ok"]
    if not ok:
        raise BenchError(f"run {run.path} has no finished units to report on; run 'bench run' first")
    classes = list(manifest.get("classes") or ok[0]["metrics"][next(iter(ok[0]["metrics"]))]["labels"])

    frames: dict[tuple[str, str], pd.DataFrame] = {}
    missing = []
    for u in ok:
        path_ = run.predictions_path(u["model"], u["fold"])
        if not path_.exists():
            missing.append(f"{u['model']}/{u['fold']}")
            continue
        frames[(u["model"], u["fold"])] = run.read_predictions(u["model"], u["fold"]).assign(fold=u["fold"])

    buckets: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for u in ok:
        if (u["model"], u["fold"]) not in frames:
            continue
        for testset in sorted(u["metrics"]):
            buckets.setdefault((u["model"], u.get("variant", ""), testset), []).append(u)
    protocol = PROTOCOLS.get(manifest["config"]["protocol"])
    groups = []
    for (model, variant, testset), us in sorted(buckets.items(), key=lambda kv: _group_order(protocol, kv[0])):
        us = sorted(us, key=lambda u: u["fold"])
        pred = pd.concat([frames[(u["model"], u["fold"])] for u in us], ignore_index=True)
        pred = pred[pred.testset == testset].reset_index(drop=True)
        groups.append(Group(model, us[0].get("family", ""), variant, testset, us, pred))
    return RunData(run, manifest, classes, units, groups, missing)


def _group_order(protocol: type[Protocol], key: tuple[str, str, str]) -> tuple:
    """Model, then the protocol's variant order, then its primary test set first."""
    model, variant, testset = key
    sets = [protocol.primary_testset] + [t for t in protocol.testsets if t != protocol.primary_testset]
    return model, protocol.variant_rank(variant), variant, sets.index(testset) if testset in sets else 9, testset


# ---------------------------------------------------------------------- per-sample arrays
def label_positions(values: pd.Series, classes: list[str]) -> np.ndarray:
    """Class names -> positions in ``classes`` (the probability column order)."""
    pos = {c: i for i, c in enumerate(classes)}
    return np.array([pos[v] for v in values], dtype=np.int64)


def probabilities(pred: pd.DataFrame, classes: list[str]) -> np.ndarray:
    return pred[[f"p_{c}" for c in classes]].to_numpy(dtype=float)


def slug(*parts: str) -> str:
    """A file-name-safe stem from model / variant / test set names (deterministic)."""
    text = "_".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9.=-]+", "-", text).strip("-") or "x"
