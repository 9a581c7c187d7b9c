"""Optuna search spaces of the classical pipelines: ``space(trial) -> {set_params key: value}``.

Trial parameters are named after the ``set_params`` keys they feed (``svm__C``); the few helper choices that
are not parameters themselves (the number of Gabor scales, whether LDA shrinkage is automatic) carry their own
names. Ranges suit 48x48 to 96x96 faces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Space = Callable[[Any], dict[str, Any]]


def _lbp(t: Any) -> dict[str, Any]:
    return {
        "features__P": t.suggest_categorical("features__P", [8, 12]),
        "features__R": t.suggest_categorical("features__R", [1.0, 1.5, 2.0]),
        "features__method": t.suggest_categorical("features__method", ["uniform", "nri_uniform"]),
        "features__grid": t.suggest_int("features__grid", 4, 8),
    }


def _hog(t: Any) -> dict[str, Any]:
    return {
        "features__orientations": t.suggest_int("features__orientations", 6, 12),
        "features__pixels_per_cell": t.suggest_categorical("features__pixels_per_cell", [4, 6, 8, 12]),
        "features__cells_per_block": t.suggest_int("features__cells_per_block", 1, 3),
        "features__transform_sqrt": t.suggest_categorical("features__transform_sqrt", [False, True]),
    }


def _dwt(t: Any) -> dict[str, Any]:
    return {
        "features__wavelet": t.suggest_categorical("features__wavelet", ["haar", "db2", "db4", "sym4", "coif1"]),
        "features__level": t.suggest_int("features__level", 1, 3),
        "features__mode": t.suggest_categorical("features__mode", ["coefficients", "energies"]),
        "features__bands": t.suggest_categorical("features__bands", ["approx", "last", "all"]),
    }


def _pixels(t: Any) -> dict[str, Any]:
    return {"features__size": t.suggest_categorical("features__size", [12, 16, 24, 32, 48])}


def _gabor(t: Any) -> dict[str, Any]:
    scales = t.suggest_int("gabor_scales", 1, 4)
    smallest = t.suggest_float("gabor_min_wavelength", 3.0, 6.0)
    return {
        "features__wavelengths": tuple(round(smallest * math.sqrt(2) ** i, 3) for i in range(scales)),
        "features__orientations": t.suggest_int("features__orientations", 4, 8),
        "features__grid": t.suggest_categorical("features__grid", [4, 6, 8]),
    }


def _svm(t: Any) -> dict[str, Any]:
    return {"svm__C": t.suggest_float("svm__C", 1e-4, 10.0, log=True)}


def _rbf(t: Any) -> dict[str, Any]:
    return {
        "rbf__C": t.suggest_float("rbf__C", 0.1, 1000.0, log=True),
        "rbf__gamma": t.suggest_float("rbf__gamma", 1e-5, 1e-1, log=True),
    }


def _knn(t: Any) -> dict[str, Any]:
    return {
        "knn__n_neighbors": t.suggest_int("knn__n_neighbors", 1, 30),
        "knn__weights": t.suggest_categorical("knn__weights", ["uniform", "distance"]),
        "knn__metric": t.suggest_categorical("knn__metric", ["euclidean", "manhattan", "cosine"]),
    }


def _lda(t: Any) -> dict[str, Any]:
    if t.suggest_categorical("lda_shrinkage_mode", ["auto", "fixed"]) == "auto":
        return {"lda__shrinkage": "auto"}
    return {"lda__shrinkage": t.suggest_float("lda__shrinkage", 0.0, 1.0)}


def _logreg(t: Any) -> dict[str, Any]:
    return {"logreg__C": t.suggest_float("logreg__C", 1e-4, 10.0, log=True)}


def _nb(t: Any) -> dict[str, Any]:
    return {"nb__var_smoothing": t.suggest_float("nb__var_smoothing", 1e-11, 1e-1, log=True)}


def _tree(t: Any) -> dict[str, Any]:
    return {
        "tree__max_depth": t.suggest_int("tree__max_depth", 3, 30),
        "tree__min_samples_leaf": t.suggest_int("tree__min_samples_leaf", 1, 20),
        "tree__criterion": t.suggest_categorical("tree__criterion", ["gini", "entropy"]),
    }


def _xgb(t: Any) -> dict[str, Any]:
    return {
        "xgb__max_depth": t.suggest_int("xgb__max_depth", 2, 8),
        "xgb__learning_rate": t.suggest_float("xgb__learning_rate", 0.01, 0.3, log=True),
        "xgb__n_estimators": t.suggest_int("xgb__n_estimators", 50, 400, step=50),
        "xgb__subsample": t.suggest_float("xgb__subsample", 0.5, 1.0),
        "xgb__colsample_bytree": t.suggest_float("xgb__colsample_bytree", 0.2, 1.0),
    }


def _pca(t: Any) -> dict[str, Any]:
    return {"pca__n_components": t.suggest_int("pca__n_components", 20, 200, step=10)}


FEATURE_SPACES: dict[str, Space] = {"lbp": _lbp, "hog": _hog, "dwt": _dwt, "pixels": _pixels, "gabor": _gabor}
CLASSIFIER_SPACES: dict[str, Space] = {"svm": _svm, "rbf": _rbf, "knn": _knn, "lda": _lda, "logreg": _logreg,
                                       "nb": _nb, "tree": _tree, "xgb": _xgb}


def search_space(feature: str, classifier: str, *, pca: bool = False) -> Space:
    """The joint space of one pipeline: its feature's, (PCA's) and its classifier's parameters."""
    parts = [FEATURE_SPACES[feature]] + ([_pca] if pca else []) + [CLASSIFIER_SPACES[classifier]]

    def space(trial: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for part in parts:
            params.update(part(trial))
        return params

    space.__name__ = f"{feature}_{'pca_' if pca else ''}{classifier}_space"
    return space
