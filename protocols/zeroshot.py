"""``zero-shot``: models trained elsewhere, scored as they are (``bench eval``); nothing is trained.

Its folds have no training part: each names a test set of the dataset. ``split="all"`` scores every image;
``split="test"`` the dataset's official test split, or, with ``within`` (another protocol's configuration),
that protocol's test folds, so a model saved by ``bench run --protocol random`` can be scored again on the
very fold it never saw. The leaderboard renders these runs like any single-dataset protocol, each row marked
as paper 002's baseline (BL): the model applied as it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset
from protocols.base import PROTOCOLS, Fold, Protocol, Variant, register_protocol, require_samples
from protocols.official import OfficialSplit

SPLITS = ("all", "test")


@register_protocol
class ZeroShot(Protocol):
    """One fold per scored test set, each with empty train and validation parts.

    split:  ``"all"`` (fold ``all``: every image) or ``"test"``;
    within: with ``split="test"``, the configuration (``Protocol.config()``) of a single-dataset protocol whose
            test folds are scored (fold ids are that protocol's); without it, the official test split (fold
            ``official``).
    """

    name = "zero-shot"
    summary = ("models trained elsewhere scored as they are (bench eval): every image, the official test split "
               "or another protocol's test folds")
    trains = False
    variants = (Variant("zero-shot", "BL", "the model applied as it is, trained elsewhere"),)
    rank = 60
    cli_options = {"MODEL": "bench eval's saved model (.pt, .skops) or ONNX file",
                   "--dataset": "the dataset scored",
                   "--split": "all, or test: the official test split, or --protocol's test folds",
                   "--protocol": "random, kfold or subject (with --folds, --seed, --test-size): score its test folds"}

    def __init__(self, *, split: str = "all", within: Mapping[str, Any] | None = None) -> None:
        if split not in SPLITS:
            raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
        if within is not None and split != "test":
            raise ConfigError("--protocol chooses test folds: it needs --split test (--split all scores every image)")
        self.split_name = split
        self.within = dict(within) if within is not None else None
        if self.within is not None:
            self.inner()  # refuse an unusable protocol now, not when splitting

    def inner(self) -> Protocol:
        """The protocol whose test folds are scored."""
        if self.within is None:
            return OfficialSplit()
        params = {k: v for k, v in self.within.items() if k != "name"}
        name = self.within.get("name")
        cls = PROTOCOLS.get(str(name))
        if not getattr(cls, "trains", True) or cls.data_roles != ("dataset",):
            raise ConfigError(f"--protocol {name} cannot choose the test folds of bench eval; use random, kfold, "
                              "subject or official")
        if "target_fractions" in params:
            params["target_fractions"] = tuple(params["target_fractions"])
        try:
            return cls(**params)
        except TypeError as exc:
            raise ConfigError(f"protocol {name}: {exc}") from None

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        require_samples(dataset, self.name)
        empty = np.empty(0, dtype=np.int64)
        if self.split_name == "all":
            yield Fold("all", empty, empty, {"test": np.arange(len(dataset))}, variant="zero-shot")
            return
        if self.within is None and "split" not in dataset.meta:
            raise DataError(f"{dataset.name} has no official test split; pass --split all, or --protocol random, "
                            "kfold or subject to score that protocol's test folds")
        inner = self.inner()
        for fold in inner.split(dataset):
            yield Fold(fold.id, empty, empty, {"test": fold.tests[inner.primary_testset]}, variant="zero-shot",
                       info={"scored": f"{inner.name} {fold.id} test set"})

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        return 1 if self.split_name == "all" else self.inner().get_n_splits(dataset)

    @staticmethod
    def scored(split: str, within: Mapping[str, Any] | None) -> str:
        """What is scored, in a few words: ``all images``, ``official test split``, ``random test folds``."""
        if split == "all":
            return "all images"
        return "official test split" if not within else f"{within.get('name')} test folds"

    @classmethod
    def data_title(cls, specs: Mapping[str, Any]) -> str:
        return f"{specs['dataset']} ({cls.scored(str(specs.get('split', 'all')), specs.get('within'))})"

    @classmethod
    def data_label(cls, specs: Mapping[str, Any]) -> str:
        within = specs.get("within")
        what = "all" if specs.get("split", "all") == "all" else (within or {}).get("name", "official")
        return f"{specs['dataset']}-{what}"

    def config(self) -> dict:
        return {"name": self.name, "split": self.split_name, "within": self.within}

    def describe(self) -> str:
        head = "models trained elsewhere, scored as they are (no training)"
        if self.split_name == "all":
            return f"{head} on every image"
        if self.within is None:
            return f"{head} on the official test split"
        return f"{head} on the test folds of: {self.inner().describe()}"
