"""``kfold``: stratified k-fold cross-validation; every sample is tested exactly once."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import StratifiedKFold

from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset
from protocols.base import (
    SKLEARN_RARE_CLASS,
    Fold,
    Protocol,
    carve_validation,
    check_count,
    check_val_size,
    fold_ids,
    pct,
    rarest_class,
    register_protocol,
    require_samples,
)


@register_protocol
class StratifiedKFoldProtocol(Protocol):
    """``StratifiedKFold(folds, shuffle=True, random_state=seed)``; validation is a stratified ``val_size``
    of each fold's training part. Fold ids ``fold-00`` ... Not subject-disjoint: use ``subject`` for that.
    """

    name = "kfold"
    summary = "stratified k-fold cross-validation: every sample tested once; people may sit in train and test"
    inflation_role = "leaky"
    rank = 2
    cli_options = {"--dataset": "the dataset (default synth-lab)", "--folds N": "number of folds (default 10)",
                   "--val-size": "validation fraction of each fold's training part (default 0.1)"}
    folds_param = "folds"

    def __init__(self, *, folds: int = 10, val_size: float = 0.1, seed: int = 0) -> None:
        if folds == "loso":
            raise ConfigError("folds='loso' (leave-one-subject-out) needs --protocol subject; kfold takes a number of folds")
        self.folds = check_count("folds", folds, minimum=2, flag="--folds")
        self.val_size = check_val_size(val_size)
        self.seed = int(seed)

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        return self.folds

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        require_samples(dataset, self.name)
        if len(dataset) < self.folds:
            raise DataError(f"folds={self.folds} but {dataset.name} has {len(dataset)} samples; use fewer --folds")
        cls, count = rarest_class(dataset.labels)
        if count < self.folds:
            warnings.warn(
                f"folds={self.folds} but {dataset.name} has {count} samples of {cls}: some test folds hold none "
                f"of it; use --folds {max(2, count)} or --protocol random", stacklevel=2)
        splitter = StratifiedKFold(n_splits=self.folds, shuffle=True, random_state=self.seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=SKLEARN_RARE_CLASS)
            try:
                splits = list(splitter.split(np.zeros(len(dataset)), dataset.labels))
            except ValueError as exc:  # every class rarer than the number of folds
                raise DataError(f"{dataset.name}: {exc}; use fewer --folds") from None
        for fold_id, (train, test) in zip(fold_ids(self.folds), splits):
            train, val = carve_validation(dataset, train, self.val_size, self.seed, by_subject=False, fold_id=fold_id)
            yield Fold(id=fold_id, train=train, val=val, tests={"test": np.sort(test)}, info={"seed": self.seed})

    def describe(self) -> str:
        return f"stratified {self.folds}-fold (StratifiedKFold), val {pct(self.val_size)} of train, seed {self.seed}"
