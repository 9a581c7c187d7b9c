"""Gradient-boosted trees (xgboost), imported only when a pipeline with them fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from baselines.registry import register_classifier
from bench.core.errors import ConfigError


class XGBoost(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (xgboost, histogram method); labels are encoded to 0..K-1 internally."""

    def __init__(self, n_estimators: int = 100, max_depth: int = 4, learning_rate: float = 0.2,
                 subsample: float = 0.8, colsample_bytree: float = 0.3, max_bin: int = 64,
                 min_child_weight: float = 1.0, reg_lambda: float = 1.0, n_jobs: int = 1,
                 random_state: int | None = None) -> None:
        # Defaults keep a 4800 x 900 HOG fit near 7 s on one core (150 deeper rounds on 256 bins took 29 s for
        # +2 points on a toy task). n_jobs=1: the engine parallelises over units, and xgboost's OpenMP threads
        # spin-wait, which collapses on shared cores (a 60-sample fit: 0.3 s on one thread, 113 s on a busy box).
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.max_bin = max_bin
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> XGBoost:
        from xgboost import XGBClassifier  # imported on use: a run without xgboost models never loads it

        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ConfigError(f"XGBoost needs at least 2 classes in training, got {self.classes_}")
        self.model_ = XGBClassifier(
            n_estimators=self.n_estimators, max_depth=self.max_depth, learning_rate=self.learning_rate,
            subsample=self.subsample, colsample_bytree=self.colsample_bytree, max_bin=self.max_bin,
            min_child_weight=self.min_child_weight, reg_lambda=self.reg_lambda, tree_method="hist",
            n_jobs=self.n_jobs, random_state=0 if self.random_state is None else self.random_state,
        )
        # xgboost insists on labels 0..K-1; canonical labels may be any subset of the emotion indices.
        self.model_.fit(X, np.searchsorted(self.classes_, y))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.model_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def model_size(self) -> int:
        """Tree nodes over all boosting rounds and classes."""
        check_is_fitted(self)
        return sum(tree.count("\n") for tree in self.model_.get_booster().get_dump())




def xgb_space(t: Any) -> dict[str, Any]:
    return {
        "xgb__max_depth": t.suggest_int("xgb__max_depth", 2, 8),
        "xgb__learning_rate": t.suggest_float("xgb__learning_rate", 0.01, 0.3, log=True),
        "xgb__n_estimators": t.suggest_int("xgb__n_estimators", 50, 400, step=50),
        "xgb__subsample": t.suggest_float("xgb__subsample", 0.5, 1.0),
        "xgb__colsample_bytree": t.suggest_float("xgb__colsample_bytree", 0.2, 1.0),
    }


def xgb_memory(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """xgboost's float32 DMatrix and its histogram bins (a byte per value), and per-class gradients."""
    return 5 * n_samples * n_features + 16 * n_samples * n_classes


@register_classifier("xgb", doc="XGBoost", search_space=xgb_space, size=lambda est: est.model_size(),
                     size_unit="tree nodes", memory=xgb_memory)
def xgb(seed: int) -> XGBoost:
    return XGBoost(random_state=seed)
