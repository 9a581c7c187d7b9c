"""How much a fold leaks: people and images of the test set also seen in training, and overlapping index sets.

Random splits of lab datasets put the same person (often near-identical frames) on both sides; these
numbers let a run say so next to its score. Both functions are vectorised (``np.isin`` on subject ids and
image digests), so they cost little even on FER2013-sized data.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from bench.data.dataset import FERDataset
from protocols.base import Fold


def fold_leakage(dataset: FERDataset, fold: Fold) -> dict[str, dict[str, int | None]]:
    """Per test set of ``fold``: what of it was seen in training (train + val).

    shared_subjects:    subjects with images both in train/val and in the test set (None when the dataset has
                        no subject ids; the empty id "" means unknown and is ignored); 0 under ``subject``.
    duplicate_images:   test images whose exact bytes also occur in train/val (exact duplicates in the data).
    train_test_overlap: indices in both train and test; must be 0 under every protocol.
    val_test_overlap:   indices in both validation and test; must be 0 under every protocol.
    """
    seen = np.union1d(fold.train, fold.val)
    hashes = dataset.image_hashes()
    seen_hashes = hashes[seen]
    subjects = dataset.subjects
    seen_subjects = None if subjects is None else np.unique(subjects[seen])
    report: dict[str, dict[str, int | None]] = {}
    for name, test in fold.tests.items():
        shared = None
        if subjects is not None:
            test_subjects = np.unique(subjects[test])
            both = test_subjects[np.isin(test_subjects, seen_subjects)]
            shared = int(np.count_nonzero(both != ""))
        report[name] = {
            "n_test": int(len(test)),
            "shared_subjects": shared,
            "duplicate_images": int(np.count_nonzero(np.isin(hashes[test], seen_hashes))),
            "train_test_overlap": int(len(np.intersect1d(fold.train, test))),
            "val_test_overlap": int(len(np.intersect1d(fold.val, test))),
        }
    return report


def coverage(dataset: FERDataset, folds: Iterable[Fold]) -> dict[str, int]:
    """How often each sample is tested across ``folds``.

    never_tested and tested_more_than_once are both 0 for ``kfold`` and ``subject`` (every sample tested
    exactly once); a hold-out tests a fraction once, and repeats or cross variants test samples again.
    A sample in several test sets of one fold counts once for that fold.
    """
    counts = np.zeros(len(dataset), dtype=np.int64)
    n_folds = 0
    for fold in folds:
        counts[np.unique(fold.test)] += 1
        n_folds += 1
    return {
        "n_samples": int(len(dataset)),
        "n_folds": n_folds,
        "never_tested": int(np.count_nonzero(counts == 0)),
        "tested_more_than_once": int(np.count_nonzero(counts > 1)),
    }
