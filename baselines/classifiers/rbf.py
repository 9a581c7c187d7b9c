"""Kernel SVM with a Gaussian (RBF) kernel: libsvm, with the Gram matrix by one BLAS product when it fits."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from baselines.classifiers.margin import MarginClassifier
from baselines.registry import register_classifier


def rbf_gram(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma * |a - b|^2) for all pairs, through one BLAS product (float32 dot, float64 result)."""
    a, b = np.asarray(A, dtype=np.float32), np.asarray(B, dtype=np.float32)
    sq = (a.astype(np.float64) ** 2).sum(axis=1)[:, None] + (b.astype(np.float64) ** 2).sum(axis=1)[None, :]
    d2 = np.maximum(sq - 2.0 * (a @ b.T), 0.0)
    return np.exp(-gamma * d2)


class GramSVC(ClassifierMixin, BaseEstimator):
    """libsvm's RBF SVC, with the Gram matrix computed by one BLAS product when it fits in memory.

    libsvm evaluates the kernel pair by pair in plain loops; for a few thousand samples x a few thousand
    features that is most of an RBF SVM's fit and predict time. With ``kernel="precomputed"`` libsvm solves the
    same problem on the same kernel values (up to float rounding), several times faster. Above ``gram_limit``
    training samples (the Gram matrix would take n^2 x 8 bytes) libsvm computes the kernel itself.
    """

    def __init__(self, C: float = 1.0, gamma: float | str = "scale", cache_size: float = 500.0,
                 gram_limit: int = 12000, random_state: int | None = None) -> None:
        self.C = C
        self.gamma = gamma
        self.cache_size = cache_size
        self.gram_limit = gram_limit
        self.random_state = random_state

    def _gamma_value(self, X: np.ndarray) -> float:
        if self.gamma == "scale":  # sklearn's definition
            var = float(X.var())
            return 1.0 / (X.shape[1] * var) if var != 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / X.shape[1]
        return float(self.gamma)

    def fit(self, X: np.ndarray, y: np.ndarray) -> GramSVC:
        X = np.asarray(X, dtype=np.float32)
        self.gamma_ = self._gamma_value(X)
        self.precomputed_ = len(X) <= self.gram_limit
        kernel = "precomputed" if self.precomputed_ else "rbf"
        self.svc_ = SVC(C=self.C, kernel=kernel, gamma=self.gamma_, cache_size=self.cache_size,
                        decision_function_shape="ovr", random_state=self.random_state)
        self.svc_.fit(rbf_gram(X, X, self.gamma_) if self.precomputed_ else X, y)
        self.classes_ = self.svc_.classes_
        self.n_support_ = self.svc_.n_support_
        self.support_vectors_ = X[self.svc_.support_] if self.precomputed_ else self.svc_.support_vectors_
        self.n_fit_ = len(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float32)
        if not self.precomputed_:
            return self.svc_.decision_function(X)
        # libsvm reads test kernels by training index; only support-vector columns are ever used.
        rows = max(1, int(2**27 // (8 * self.n_fit_)))  # ~128 MiB of kernel per chunk
        parts = []
        for start in range(0, len(X), rows):
            block = np.zeros((min(rows, len(X) - start), self.n_fit_))
            block[:, self.svc_.support_] = rbf_gram(X[start:start + rows], self.support_vectors_, self.gamma_)
            parts.append(self.svc_.decision_function(block))
        return np.concatenate(parts)

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


class RBFSVM(MarginClassifier):
    """Kernel SVM with a Gaussian (RBF) kernel (libsvm, one-vs-one; Gram matrix by BLAS, see GramSVC)."""

    def __init__(self, C: float = 10.0, gamma: float | str = "scale", cache_size: float = 500.0,
                 gram_limit: int = 12000, calibration: str = "softmax", random_state: int | None = None) -> None:
        self.C = C
        self.gamma = gamma
        self.cache_size = cache_size
        self.gram_limit = gram_limit
        self.calibration = calibration
        self.random_state = random_state

    def _base(self) -> GramSVC:
        return GramSVC(C=self.C, gamma=self.gamma, cache_size=self.cache_size, gram_limit=self.gram_limit,
                       random_state=self.random_state)

    def model_size(self) -> int:
        """Support vectors."""
        return int(self._fitted_svm().n_support_.sum())




def rbf_space(t: Any) -> dict[str, Any]:
    return {
        "rbf__C": t.suggest_float("rbf__C", 0.1, 1000.0, log=True),
        "rbf__gamma": t.suggest_float("rbf__gamma", 1e-5, 1e-1, log=True),
    }


@register_classifier("rbf", doc="RBF-kernel SVM", search_space=rbf_space, size=lambda est: est.model_size(),
                     size_unit="support vectors")
def rbf(seed: int) -> RBFSVM:
    return RBFSVM(random_state=seed)
