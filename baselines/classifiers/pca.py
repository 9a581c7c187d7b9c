"""Eigenfaces: PCA on raw pixels, a pipeline step between the scaler and the classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from baselines.backends import CUML, SKLEARN, estimator_class


def pca_memory(n_samples: int, n_features: int, n_components: int) -> int:
    """The centred float64 copy of the input, the SVD's factors of it, and the projected output."""
    return 2 * 8 * n_samples * n_features + 8 * n_features**2 + 8 * n_samples * n_components


class EigenPCA(TransformerMixin, BaseEstimator):
    """PCA (eigenfaces) whose component count is capped at what the fold allows (min(n_samples, n_features)),
    so a small dataset does not fail where a large one works; scikit-learn's, oneDAL's or cuML's (``backend``)."""

    def __init__(self, n_components: int = 100, whiten: bool = False, random_state: int | None = None,
                 backend: str = SKLEARN) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state
        self.backend = backend

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> EigenPCA:
        k = max(1, min(int(self.n_components), *np.shape(X)))
        pca = estimator_class(self.backend, "decomposition", "PCA")
        seeded = {} if self.backend == CUML else {"random_state": self.random_state}
        self.pca_ = pca(n_components=k, whiten=self.whiten, **seeded).fit(X)
        self.backend_estimator_ = self.pca_
        self.n_components_ = self.pca_.n_components_
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.pca_.transform(X)




def pca_space(t: Any) -> dict[str, Any]:
    return {"pca__n_components": t.suggest_int("pca__n_components", 20, 200, step=10)}
