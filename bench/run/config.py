"""The run configuration, built in one place for ``bench run``, ``bench run --tune N`` and ``bench tune``.

Everything that names a run follows from it: the run folder (``default_name``), what a resumed run must share
with the first one (``identity``), the protocol, the data it loads and the Optuna study of each fold. So
``bench tune ... --trials N`` and ``bench run ... --tune N`` on the same data open the same folder and the same
studies by default.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baselines import backends
from bench.core.errors import ConfigError
from protocols import PROTOCOLS, Protocol, make_protocol


@dataclass
class RunConfig:
    protocol: str = "cross"
    dataset: str = "synth-lab"
    source: str = "synth-wild"
    target: str = "synth-lab"
    models: str = "all"
    folds: str | None = None
    test_size: float | None = None
    val_size: float = 0.1
    seed: int = 0
    preset: str = "default"
    epochs: int | None = None
    device: str = "auto"
    accel: str = "sklearn"  # the backend of classical estimators, resolved (baselines.backends): never "auto"
    target_fractions: tuple[float, ...] = (1.0,)
    labels: str | None = None
    official_split: str | None = None
    source_split: str | None = None
    target_split: str | None = None
    target_split_by: str | None = None
    variants: str | None = None
    source_run: str | None = None
    ensemble: str = "auto"
    save_models: bool = False
    tune: int = 0
    storage: str | None = None
    out: str = "results"
    name: str | None = None
    data_dir: str | None = None
    progress: bool = True
    command: list[str] = field(default_factory=list)
    workers: int | None = None  # --workers N: units on a local Dask cluster of N processes
    scheduler: str | None = None  # --scheduler tcp://HOST:PORT: units on an existing Dask cluster
    threads: int | None = None  # --threads: per Dask worker (default 1), else torch's threads in this process

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers} (leave it out to run in this process)")
        if self.workers is not None and self.scheduler:
            raise ConfigError("give --workers N (a local Dask cluster) or --scheduler tcp://HOST:PORT (an existing "
                              "one), not both")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunConfig:
        """From ``bench run`` or ``bench tune`` options (tune's ``--trials N`` plays ``--tune N``)."""
        fraction_text = str(getattr(args, "target_fraction", "1.0"))
        try:
            fractions = tuple(float(f) for f in fraction_text.split(",") if f.strip())
        except ValueError as exc:
            raise ConfigError(f"--target-fraction '{fraction_text}' must be numbers like 0.5,1.0") from exc
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise ConfigError(f"--target-fraction '{fraction_text}': fractions must lie in (0, 1]")
        tune = getattr(args, "trials", None) or getattr(args, "tune", 0)
        return cls(protocol=args.protocol, dataset=args.dataset, source=args.source, target=args.target,
                   models=args.model, folds=args.folds, test_size=args.test_size, val_size=args.val_size,
                   seed=args.seed, preset=args.preset, epochs=args.epochs, device=args.device,
                   accel=backends.resolve(getattr(args, "accel", "sklearn"), args.device),
                   target_fractions=fractions, labels=getattr(args, "labels", None),
                   official_split=getattr(args, "official_split", None),
                   source_split=getattr(args, "source_split", None), target_split=getattr(args, "target_split", None),
                   target_split_by=getattr(args, "target_split_by", None), variants=getattr(args, "variants", None),
                   source_run=getattr(args, "source_run", None), ensemble=getattr(args, "ensemble", "auto"),
                   save_models=bool(getattr(args, "save_models", False)), tune=tune,
                   storage=args.storage, out=args.out, name=args.name, data_dir=getattr(args, "data_dir", None),
                   progress=not getattr(args, "no_progress", False),
                   command=getattr(args, "command_line", None) or ["bench", *sys.argv[1:]],
                   workers=getattr(args, "workers", None), scheduler=getattr(args, "scheduler", None),
                   threads=getattr(args, "threads", None))

    # ------------------------------------------------------------------ the protocol and its data
    @property
    def protocol_class(self) -> type[Protocol]:
        return PROTOCOLS.get(self.protocol)

    def protocol_options(self) -> dict[str, tuple[str, Any]]:
        """The protocol-specific options given: flag -> (protocol parameter, value)."""
        given = {"--official-split": ("variant", self.official_split),
                 "--source-split": ("source_split", self.source_split),
                 "--target-split": ("target_split", self.target_split),
                 "--target-split-by": ("target_split_by", self.target_split_by),
                 "--variants": ("variants", self.variants)}
        return {flag: pv for flag, pv in given.items() if pv[1] is not None}

    def make_protocol(self) -> Protocol:
        return make_protocol(self.protocol, folds=self.folds, seed=self.seed, test_size=self.test_size,
                             val_size=self.val_size, target_fractions=self.target_fractions,
                             options=self.protocol_options())

    def data_specs(self) -> dict[str, str]:
        """The dataset spec of each role the protocol loads (``{"dataset": ...}`` or source and target)."""
        return {role: getattr(self, role) for role in self.protocol_class.data_roles}

    def data_label(self) -> str:
        return self.protocol_class.data_label(self.data_specs())

    # ------------------------------------------------------------------ names
    def identity(self) -> dict[str, Any]:
        """What defines the run's results (the models list may grow when a run is resumed with more).

        Options added later enter only when given, so the runs made before them keep their key."""
        keys = ["protocol", "folds", "test_size", "val_size", "seed", "preset", "epochs", "target_fractions", "tune"]
        later = {k: getattr(self, k) for k in ("labels", "official_split", "source_split", "target_split",
                                               "target_split_by", "variants", "source_run") if getattr(self, k) is not None}
        # A folder never mixes backends; scikit-learn runs keep the keys they had before backends existed.
        if self.accel != "sklearn":
            later["accel"] = self.accel
        return {**{k: getattr(self, k) for k in keys}, **self.data_specs(), **later}

    def default_name(self) -> str:
        name = f"{self.protocol}-{self.data_label()}"
        if self.seed:
            name += f"-s{self.seed}"
        if self.preset != "default":
            name += f"-{self.preset}"
        if self.tune:
            name += f"-tuned{self.tune}"
        if self.accel != "sklearn":
            name += f"-{self.accel}"
        return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name)

    def run_path(self) -> Path:
        return Path(self.out) / (self.name or self.default_name())

    def study_name(self, model: str, fold_id: str) -> str:
        name = study_name(model, self.protocol, self.data_label(), fold_id, self.seed)
        return name if self.accel == "sklearn" else f"{name}|{self.accel}"

    def experiment(self) -> dict[str, Any]:
        """The resolved experiment, in experiment-file form (``bench run --config RUN/manifest.json``)."""
        keys = ["protocol", "models", "folds", "test_size", "val_size", "seed", "preset", "epochs", "device", "accel",
                "labels", "official_split", "source_split", "target_split", "target_split_by", "variants", "source_run",
                "tune",
                "ensemble", "storage", "data_dir"]
        out = {**self.data_specs(), **{k: getattr(self, k) for k in keys if getattr(self, k) is not None}}
        out["target_fractions"] = list(self.target_fractions)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target_fractions": list(self.target_fractions)}


def study_name(model: str, protocol: str, data: str, fold_id: str, seed: int = 0) -> str:
    """``hog-svm|kfold|synth-lab|fold-00``: folds depend on the seed, so a non-zero seed is part of the name."""
    parts = [model, protocol, data, fold_id] + ([f"s{seed}"] if seed else [])
    return "|".join(parts)
