"""``random``: a stratified hold-out (the papers' 90/10, 60/20/20, 70/10/20 splits), optionally repeated."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np

from bench.core.errors import ConfigError
from bench.data.dataset import FERDataset
from protocols.base import (
    Fold,
    Protocol,
    carve_validation,
    check_count,
    check_fraction,
    check_val_size,
    pct,
    rarest_class,
    register_protocol,
    require_samples,
    stratified_holdout,
)


@register_protocol
class RandomHoldout(Protocol):
    """Stratified train / validation / test hold-out (``StratifiedShuffleSplit``), ``repeats`` times.

    Two-way sizes (default): ``test_size`` of the whole is tested, ``val_size`` of the remaining training
    part validates. Three-way sizes: give ``train_size`` and all three are fractions of the whole that add
    up to 1, e.g. ``train_size=0.6, val_size=0.2, test_size=0.2`` (paper 000's JAFFE) or 0.7/0.1/0.2 (CK+).
    Repeat ``r`` uses seed ``seed + r``; fold ids are ``holdout-r0``, ``holdout-r1`` ...

    Random splits put the same person in train and test on datasets with subjects; that is what the papers
    did, and ``protocols.leakage`` reports it.
    """

    name = "random"
    summary = "stratified random hold-out (the papers' 90/10, 60/20/20 ...): people may sit in train and test"
    inflation_role = "leaky"
    rank = 3
    cli_options = {"--dataset": "the dataset (default synth-lab)",
                   "--test-size": "test fraction of the whole (default 0.1)",
                   "--val-size": "validation fraction of the training part (default 0.1)",
                   "--folds N": "N repeats with seeds seed .. seed+N-1 (default 1)"}
    folds_param = "repeats"

    def __init__(self, *, test_size: float = 0.1, val_size: float = 0.1, train_size: float | None = None,
                 repeats: int = 1, seed: int = 0) -> None:
        self.test_size = check_fraction("test_size", test_size, flag="--test-size")
        self.val_size = check_val_size(val_size)
        self.train_size = None if train_size is None else check_fraction("train_size", train_size)
        if self.train_size is not None and abs(self.train_size + self.val_size + self.test_size - 1) > 1e-6:
            raise ConfigError(
                f"train_size + val_size + test_size = {self.train_size + self.val_size + self.test_size:g}; "
                "with train_size given all three are fractions of the whole and must add up to 1 (e.g. 0.6/0.2/0.2)"
            )
        self.repeats = check_count("repeats", repeats, minimum=1, flag="--folds (repeats)")
        self.seed = int(seed)

    def _val_of_train(self) -> float:
        # Three-way sizes are fractions of the whole; the validation set is still carved from the training part.
        return self.val_size if self.train_size is None else self.val_size / (1 - self.test_size)

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        return self.repeats

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        require_samples(dataset, self.name)
        cls, count = rarest_class(dataset.labels)
        if count * self.test_size < 1:
            warnings.warn(
                f"class '{cls}' has {count} samples in {dataset.name}: a {pct(self.test_size)} test set may hold "
                f"none of it; use a larger --test-size or --protocol kfold", stacklevel=2)
        everything = np.arange(len(dataset))
        for r in range(self.repeats):
            seed = self.seed + r
            fold_id = f"holdout-r{r}"
            train, test = stratified_holdout(everything, dataset.labels, self.test_size, seed,
                                             what=f"test set for {fold_id}", hint="use a larger --test-size")
            train, val = carve_validation(dataset, train, self._val_of_train(), seed, by_subject=False,
                                          fold_id=fold_id)
            yield Fold(id=fold_id, train=train, val=val, tests={"test": test}, info={"repeat": r, "seed": seed})

    def describe(self) -> str:
        if self.train_size is None:
            sizes = f"test {pct(self.test_size)}, val {pct(self.val_size)} of train"
        else:
            sizes = f"{pct(self.train_size)}/{pct(self.val_size)}/{pct(self.test_size)} train/val/test"
        reps = (f", {self.repeats} repeats (seeds {self.seed}..{self.seed + self.repeats - 1})" if self.repeats > 1
                else f", seed {self.seed}")
        return f"stratified random hold-out (StratifiedShuffleSplit), {sizes}{reps}"
