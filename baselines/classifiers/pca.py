"""Eigenfaces: PCA on raw pixels, a pipeline step between the scaler and the classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted


class EigenPCA(TransformerMixin, BaseEstimator):
    """PCA (eigenfaces) whose component count is capped at what the fold allows (min(n_samples, n_features)),
    so a small dataset does not fail where a large one works."""

    def __init__(self, n_components: int = 100, whiten: bool = False, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> EigenPCA:
        k = max(1, min(int(self.n_components), *np.shape(X)))
        self.pca_ = PCA(k, whiten=self.whiten, random_state=self.random_state).fit(X)
        self.n_components_ = self.pca_.n_components_
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.pca_.transform(X)




def pca_space(t: Any) -> dict[str, Any]:
    return {"pca__n_components": t.suggest_int("pca__n_components", 20, 200, step=10)}
