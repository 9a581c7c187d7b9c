"""Per-fold scores computed from true labels and class probabilities (scikit-learn's metrics)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from bench.core.emotions import EMOTIONS

# Which way is better, for every scalar the leaderboard may rank by.
HIGHER_IS_BETTER = {"accuracy": True, "balanced_accuracy": True, "macro_f1": True, "fit_time_s": False,
                    "predict_ms_per_image": False, "model_size": False}


def align_proba(proba: np.ndarray, model_classes: np.ndarray, classes: tuple[int, ...]) -> np.ndarray:
    """Columns of ``proba`` (ordered as ``model_classes``) placed into the dataset's class order.

    A dataset class the model never saw in training gets probability 0. A model class the dataset does not
    have (a model trained elsewhere, scored by ``bench eval``) is dropped and each row renormalised over the
    classes that remain: the prediction is the likeliest class the dataset can hold, as zero-shot evaluations
    restricted to the shared classes do; ``class_overlap`` names the classes on either side.
    """
    out = np.zeros((len(proba), len(classes)), dtype=np.float64)
    pos = {c: i for i, c in enumerate(classes)}
    dropped = False
    for j, c in enumerate(np.asarray(model_classes).tolist()):
        if int(c) in pos:
            out[:, pos[int(c)]] = proba[:, j]
        else:
            dropped = True
    if dropped:
        mass = out.sum(axis=1, keepdims=True)
        np.divide(out, mass, out=out, where=mass > 0)
    return out


def class_overlap(model_classes: np.ndarray, classes: tuple[int, ...]) -> tuple[list[str], list[str]]:
    """(model classes the dataset does not have, dataset classes the model cannot predict), as names."""
    mine = {int(c) for c in np.asarray(model_classes).tolist()}
    return ([EMOTIONS[c] for c in sorted(mine - set(classes))],
            [EMOTIONS[c] for c in classes if c not in mine])


def score(y_true: np.ndarray, proba: np.ndarray, classes: tuple[int, ...]) -> dict[str, Any]:
    """Accuracy, balanced accuracy, macro-F1, per-class P/R/F1/support and the confusion matrix."""
    cls = np.asarray(classes)
    y_pred = cls[np.argmax(proba, axis=1)]
    present = [c for c in classes if np.any(y_true == c)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(classes), zero_division=0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        # Macro over classes present in this test set: a class absent from the test set has no F1 to average.
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class": {
            EMOTIONS[c]: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=list(classes)).tolist(),
        "labels": [EMOTIONS[c] for c in classes],
    }
