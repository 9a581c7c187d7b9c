"""``subject``: subject-disjoint k-fold (``StratifiedGroupKFold``) or leave-one-subject-out (``LeaveOneGroupOut``).

No person appears on two sides of a fold, validation included: the validation subjects are held out of
each fold's training subjects.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from bench.core.emotions import EMOTIONS
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
    register_protocol,
    require_samples,
)


def require_subjects(dataset: FERDataset) -> np.ndarray:
    """The subject ids, or the DataError every subject-disjoint protocol gives on a dataset without them."""
    if dataset.subjects is None:
        raise DataError(f"{dataset.name} has no subject ids; use --protocol kfold or random")
    return dataset.subjects


@register_protocol
class SubjectKFold(Protocol):
    """Subject-disjoint folds. ``folds`` = k for ``StratifiedGroupKFold(k, shuffle=True, random_state=seed)``
    (class shares of each test fold kept close to the whole), or ``"loso"`` for ``LeaveOneGroupOut`` (one
    fold per subject). Fold ids ``fold-00`` ...; ``info["test_subjects"]`` lists each fold's test subjects.
    """

    name = "subject"
    summary = "subject-disjoint k-fold or leave-one-subject-out: nobody in two sides of a fold"
    inflation_role = "subject-disjoint"
    rank = 1
    cli_options = {"--dataset": "the dataset, with subject ids (default synth-lab)",
                   "--folds N|loso": "number of folds (default 10), or one fold per subject",
                   "--val-size": "validation fraction of each fold's training subjects (default 0.1)"}
    folds_param = "folds"
    accepts_loso = True

    def __init__(self, *, folds: int | str = 10, val_size: float = 0.1, seed: int = 0) -> None:
        if isinstance(folds, str):
            if folds.strip().lower() != "loso":
                raise ConfigError(f"folds must be a number of folds or 'loso', got '{folds}'")
            self.folds: int | str = "loso"
        else:
            self.folds = check_count("folds", folds, minimum=2, flag="--folds")
        self.val_size = check_val_size(val_size)
        self.seed = int(seed)

    @property
    def loso(self) -> bool:
        return self.folds == "loso"

    def get_n_splits(self, dataset: FERDataset | None = None) -> int:
        if not self.loso:
            return int(self.folds)
        if dataset is None:
            raise ConfigError("leave-one-subject-out has one fold per subject; pass the dataset to count them")
        return len(np.unique(require_subjects(dataset)))

    def _check(self, dataset: FERDataset, subjects: np.ndarray) -> None:
        n_subjects = len(np.unique(subjects))
        if self.loso:
            # One subject tests, the others must still yield a disjoint validation subject.
            if n_subjects < 3:
                raise DataError(f"leave-one-subject-out needs at least 3 subjects but {dataset.name} has "
                                f"{n_subjects}; use --protocol kfold or random")
            return
        k = int(self.folds)
        if n_subjects < k:
            raise DataError(f"folds={k} but {dataset.name} has {n_subjects} subjects; "
                            f"use --folds {n_subjects} (or loso) or --protocol kfold")
        # A class seen in fewer subjects than folds is missing from some test folds entirely.
        per_class = {int(c): len(np.unique(subjects[dataset.labels == c])) for c in np.unique(dataset.labels)}
        cls = min(per_class, key=lambda c: (per_class[c], c))
        if per_class[cls] < k:
            warnings.warn(f"folds={k} but {dataset.name} has {per_class[cls]} subjects with {EMOTIONS[cls]}; "
                          f"use --folds {max(2, per_class[cls])} or --protocol kfold", stacklevel=3)

    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        require_samples(dataset, self.name)
        subjects = require_subjects(dataset)
        self._check(dataset, subjects)
        if self.loso:
            splitter = LeaveOneGroupOut()
        else:
            splitter = StratifiedGroupKFold(n_splits=int(self.folds), shuffle=True, random_state=self.seed)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=SKLEARN_RARE_CLASS)
            splits = list(splitter.split(np.zeros(len(dataset)), dataset.labels, subjects))
        for fold_id, (train, test) in zip(fold_ids(len(splits)), splits):
            train, val = carve_validation(dataset, train, self.val_size, self.seed, by_subject=True, fold_id=fold_id)
            info = {"seed": self.seed, "test_subjects": sorted(np.unique(subjects[test]).tolist())}
            yield Fold(id=fold_id, train=train, val=val, tests={"test": np.sort(test)}, info=info)

    def describe(self) -> str:
        val = f"val {pct(self.val_size)} of train by subject"
        if self.loso:
            return f"leave-one-subject-out (LeaveOneGroupOut), {val}"
        return f"subject-disjoint {self.folds}-fold (StratifiedGroupKFold), {val}, seed {self.seed}"
