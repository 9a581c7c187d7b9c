"""Kernel SVM with a Gaussian (RBF) kernel: libsvm with the Gram matrix by BLAS when it fits in memory, or
oneDAL / cuML through ``backend``."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted

from baselines.backends import CUML, INTELEX, SKLEARN, estimator_class
from baselines.classifiers.margin import MarginClassifier
from baselines.registry import register_classifier
from bench.core.resources import available_memory

GRAM_SHARE = 0.5  # the Gram matrix may take at most this share of the memory available when a fit starts
BLOCK_BYTES = 2**26  # float32 product block of rbf_gram (64 MiB)
PREDICT_BLOCK_BYTES = 2**27  # float64 test-kernel block of GramSVC.decision_function (128 MiB)
MB = 2**20


def gram_bytes(n_samples: int) -> int:
    return 8 * n_samples * n_samples


def gram_fits(n_samples: int, available: int | None = None) -> bool:
    """Whether an n x n float64 Gram matrix fits in ``GRAM_SHARE`` of the available memory."""
    return gram_bytes(n_samples) <= GRAM_SHARE * (available_memory() if available is None else available)


def rbf_gram(A: np.ndarray, B: np.ndarray, gamma: float) -> np.ndarray:
    """exp(-gamma * |a - b|^2) for all pairs: float32 BLAS products, float64 result, filled in place block by
    block, so the only large allocation is the result itself."""
    a, b = np.asarray(A, dtype=np.float32), np.asarray(B, dtype=np.float32)
    sq_a = (a.astype(np.float64) ** 2).sum(axis=1)
    sq_b = (b.astype(np.float64) ** 2).sum(axis=1)
    out = np.empty((len(a), len(b)), dtype=np.float64)
    rows = max(1, BLOCK_BYTES // (4 * max(len(b), 1)))
    for start in range(0, len(a), rows):
        block = out[start:start + rows]
        np.multiply(a[start:start + rows] @ b.T, -2.0, out=block)
        block += sq_a[start:start + rows, None]
        block += sq_b[None, :]
        np.maximum(block, 0.0, out=block)
        block *= -gamma
        np.exp(block, out=block)
    return out


class GramSVC(ClassifierMixin, BaseEstimator):
    """libsvm's RBF SVC, with the Gram matrix computed by BLAS when it fits in memory.

    libsvm evaluates the kernel pair by pair in plain loops; for a few thousand samples x a few thousand
    features that is most of an RBF SVM's fit and predict time. With ``kernel="precomputed"`` libsvm solves the
    same problem on the same kernel values (up to float rounding), several times faster: on 6,000 synth-wild HOG
    vectors (900 dims) fit 8.5 s and predict 1.0 s against 46.0 s and 6.8 s for libsvm's own kernel. The Gram matrix
    takes n^2 x 8 bytes (6.6 GB for FER2013's 28,709 training images), so it is used only while it fits in
    ``GRAM_SHARE`` of the memory available when the fit starts (and, if ``gram_limit`` is set, for at most that
    many samples); above that libsvm computes the kernel itself.
    """

    def __init__(self, C: float = 1.0, gamma: float | str = "scale", cache_size: float = 500.0,
                 gram_limit: int | None = None, random_state: int | None = None) -> None:
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

    def uses_gram(self, n_samples: int, available: int | None = None) -> bool:
        """Whether a fit on ``n_samples`` takes the precomputed-Gram path."""
        within_limit = self.gram_limit is None or n_samples <= self.gram_limit
        return within_limit and gram_fits(n_samples, available)

    def fit(self, X: np.ndarray, y: np.ndarray) -> GramSVC:
        X = np.asarray(X, dtype=np.float32)
        self.gamma_ = self._gamma_value(X)
        self.precomputed_ = self.uses_gram(len(X))
        kernel = "precomputed" if self.precomputed_ else "rbf"
        self.svc_ = SVC(C=self.C, kernel=kernel, gamma=self.gamma_, cache_size=self.cache_size,
                        decision_function_shape="ovr", random_state=self.random_state)
        self.svc_.fit(rbf_gram(X, X, self.gamma_) if self.precomputed_ else X, y)
        self.backend_estimator_ = self.svc_
        self.classes_ = self.svc_.classes_
        self.n_support_ = self.svc_.n_support_
        self.n_iter_ = self.svc_.n_iter_
        self.support_vectors_ = X[self.svc_.support_] if self.precomputed_ else self.svc_.support_vectors_
        self.n_fit_ = len(X)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float32)
        if not self.precomputed_:
            return self.svc_.decision_function(X)
        # libsvm reads test kernels by training index; only support-vector columns are ever used.
        rows = max(1, int(PREDICT_BLOCK_BYTES // (8 * self.n_fit_)))
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
    """Kernel SVM with a Gaussian (RBF) kernel, one-vs-one: libsvm (``backend="sklearn"``, Gram matrix by BLAS,
    see GramSVC), oneDAL's SVC (``"intelex"``) or cuML's (``"cuml"``), with the same C, gamma and cache.

    oneDAL computes kernel blocks itself, multi-threaded, so it needs no Gram matrix. On 6,000 synth-wild HOG
    vectors on the shared 2-core machine it fitted in 7.1-9.5 s against 8.4-8.5 s for GramSVC and 46.0 s for
    libsvm's own kernel (predicting 1.5-1.7 s against GramSVC's 0.7-1.0 s): no faster while the Gram matrix fits,
    the fast path once it does not. GramSVC stays the scikit-learn backend's RBF SVM for that reason.
    """

    def __init__(self, C: float = 10.0, gamma: float | str = "scale", cache_size: float = 500.0,
                 gram_limit: int | None = None, calibration: str = "softmax", random_state: int | None = None,
                 backend: str = SKLEARN) -> None:
        self.C = C
        self.gamma = gamma
        self.cache_size = cache_size
        self.gram_limit = gram_limit
        self.calibration = calibration
        self.random_state = random_state
        self.backend = backend

    def _base(self) -> Any:
        if self.backend == SKLEARN:
            return GramSVC(C=self.C, gamma=self.gamma, cache_size=self.cache_size, gram_limit=self.gram_limit,
                           random_state=self.random_state)
        svc = estimator_class(self.backend, "svm", "SVC")
        if self.backend == CUML:
            return svc(C=self.C, kernel="rbf", gamma=self.gamma, cache_size=self.cache_size)
        return svc(C=self.C, kernel="rbf", gamma=self.gamma, cache_size=self.cache_size,
                   decision_function_shape="ovr", random_state=self.random_state)

    def model_size(self) -> int:
        """Support vectors."""
        return int(self._fitted_svm().n_support_.sum())




def rbf_space(t: Any) -> dict[str, Any]:
    return {
        "rbf__C": t.suggest_float("rbf__C", 0.1, 1000.0, log=True),
        "rbf__gamma": t.suggest_float("rbf__gamma", 1e-5, 1e-1, log=True),
    }


def rbf_memory(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """libsvm on the Gram matrix while it fits (see GramSVC), else a float64 copy of the input; and the kernel
    cache (500 MB) and a block of test kernels."""
    cache = 500 * MB + PREDICT_BLOCK_BYTES
    if backend == SKLEARN and GramSVC().uses_gram(n_samples):
        return gram_bytes(n_samples) + 4 * BLOCK_BYTES + cache
    return 8 * n_samples * n_features + cache


@register_classifier("rbf", doc="RBF-kernel SVM", search_space=rbf_space, size=lambda est: est.model_size(),
                     size_unit="support vectors", memory=rbf_memory, backends=(INTELEX, CUML))
def rbf(seed: int, backend: str = SKLEARN) -> RBFSVM:
    return RBFSVM(random_state=seed, backend=backend)
