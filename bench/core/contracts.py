"""The written model contract: what the run engine, tuning and the reports may call on a model.

A registered builder returns an unfitted estimator with this interface; classical pipelines are plain
scikit-learn ``Pipeline``s, deep models ``deep.estimator.DeepClassifier``, and a user's model anything that
honours it. ``tests/test_contract.py`` checks every registered model against it on tiny data, in the spirit of
scikit-learn's ``check_estimator`` and timm's test over ``list_models()``.

Required (``Model``):

- ``fit(X, y)``: X uint8 images (N, H, W), y canonical emotion indices (``bench.core.emotions``). A model
  registered with ``uses_validation=True`` also takes ``fit(X, y, X_val=..., y_val=..., callbacks=[...])``:
  the fold's validation split (early stopping) and callbacks ``cb(record, model)`` called after each epoch
  with its history record (``record["epoch"]``, ``record["val_acc"]``); a callback may raise to stop the fit
  (tuning prunes trials this way).
- ``predict_proba(X)`` -> (N, len(classes_)) rows that sum to 1.
- ``classes_``: the canonical indices seen in training, in the column order of ``predict_proba``.
- ``get_params()`` / ``set_params(**params)``: hyperparameters as keywords; ``sklearn.base.clone`` must
  give an unfitted copy (tuning sets a trial's parameters this way).

Optional: ``warm_start_from(other, finetune=...)`` (cross-dataset fine-tuning from a source model),
``save(path)`` / ``load(path, device=...)`` (checkpoints), ``model_size()`` (parameters or support vectors),
``history_`` (per-epoch records).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

EpochCallback = Callable[[dict[str, Any], Any], None]


@runtime_checkable
class Model(Protocol):
    """What every registered model provides."""

    def fit(self, X: np.ndarray, y: np.ndarray, **validation: Any) -> Any: ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def set_params(self, **params: Any) -> Any: ...


@runtime_checkable
class ValidatedModel(Model, Protocol):
    """A model registered with ``uses_validation=True``."""

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None,  # type: ignore[override]
            y_val: np.ndarray | None = None, callbacks: Sequence[EpochCallback] = ()) -> Any: ...


@runtime_checkable
class WarmStartable(Protocol):
    """A model that can start from another fitted model of its kind and train only part of itself."""

    def warm_start_from(self, other: Any, finetune: str) -> Any: ...


@runtime_checkable
class Saveable(Protocol):
    """A model that writes its fitted state to one file and reads it back."""

    def save(self, path: str | Path) -> None: ...

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> Any: ...


def fitted_classes(model: Any) -> np.ndarray:
    """``classes_`` of a fitted model, as canonical indices."""
    return np.asarray(model.classes_, dtype=np.int64)
