"""Classifier steps of the classical pipelines: each exposes ``predict_proba`` and ``classes_`` = the
canonical labels it was trained on (which need not be 0..K-1, e.g. {0, 3, 6}), and is seeded.

SVMs have no probabilities of their own. By default ``predict_proba`` is the softmax of the decision scores:
free, and its argmax is the SVM's own decision, so accuracy-type metrics see the plain SVM. These scores are not
calibrated; ``calibration="sigmoid"`` gives Platt-scaled probabilities instead (``CalibratedClassifierCV``: the
SVM is also fitted on 3 internal folds, about 2-3x the fit time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from bench.core.errors import ConfigError

CALIBRATIONS = ("softmax", "sigmoid")


def _softmax(scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1:  # binary decision_function: score of classes_[1] against a 0 for classes_[0]
        scores = np.column_stack([np.zeros_like(scores), scores])
    z = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class _MarginClassifier(ClassifierMixin, BaseEstimator):
    """A margin classifier (decision scores only) with ``predict_proba`` added; see the module docstring."""

    def _base(self) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray) -> _MarginClassifier:
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(f"calibration '{self.calibration}' is unknown; use one of {', '.join(CALIBRATIONS)}")
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ConfigError(f"{type(self).__name__} needs at least 2 classes in training, got {self.classes_}")
        if self.calibration == "sigmoid":
            folds = min(3, int(np.bincount(np.searchsorted(self.classes_, y)).min()))
            if folds < 2:
                raise ConfigError("calibration='sigmoid' needs 2 training samples per class; use 'softmax'")
            cv = StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
            # ensemble=False: one SVM fitted on all the data makes the predictions; the folds only fit Platt.
            self.estimator_ = CalibratedClassifierCV(self._base(), method="sigmoid", cv=cv, ensemble=False)
        else:
            self.estimator_ = self._base()
        self.estimator_.fit(X, y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The SVM's own scores (without calibration)."""
        return self._fitted_svm().decision_function(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        if isinstance(self.estimator_, CalibratedClassifierCV):
            return self.estimator_.predict_proba(X)
        return _softmax(self.estimator_.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _fitted_svm(self) -> Any:
        check_is_fitted(self)
        est = self.estimator_
        return est.calibrated_classifiers_[0].estimator if isinstance(est, CalibratedClassifierCV) else est


class LinearSVM(_MarginClassifier):
    """Linear SVM (liblinear: one-vs-rest, squared hinge, L2 penalty).

    C defaults to 0.001: on standardised descriptors |x|^2 is about the feature count (500-2000 here), so small
    C is moderate regularisation; on a 7-class toy task it beat C=0.01 on LBP and converged 2x faster.
    """

    def __init__(self, C: float = 0.001, dual: bool | str = True, max_iter: int = 2000, calibration: str = "softmax",
                 random_state: int | None = None) -> None:
        self.C = C
        self.dual = dual
        self.max_iter = max_iter
        self.calibration = calibration
        self.random_state = random_state

    def _base(self) -> LinearSVC:
        # dual=True, not "auto": "auto" picks the primal solver whenever samples outnumber features, which on
        # dense face descriptors (4800 x 2124 LBP) took 6x longer than the dual one for the same model.
        return LinearSVC(C=self.C, dual=self.dual, max_iter=self.max_iter, random_state=self.random_state)

    def model_size(self) -> int:
        """Weights and intercepts."""
        svm = self._fitted_svm()
        return int(svm.coef_.size + np.size(svm.intercept_))


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


class RBFSVM(_MarginClassifier):
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


class ShrinkageLDA(LinearDiscriminantAnalysis):
    """LDA with the lsqr solver and Ledoit-Wolf shrinkage, solving its system by Cholesky.

    scikit-learn solves "covariance @ coef = means" with an SVD-based least squares; the shrunk covariance is
    symmetric positive definite, so a Cholesky solve gives the same coefficients (to ~1e-15 here) ~10-30x faster
    at a few thousand features. Anything else (no shrinkage, other solvers, a singular matrix) is scikit-learn's.
    """

    def _solve_lstsq(self, X: np.ndarray, y: np.ndarray, shrinkage: Any, covariance_estimator: Any) -> None:
        from scipy import linalg
        from sklearn.discriminant_analysis import _class_cov, _class_means

        if shrinkage is None and covariance_estimator is None:
            return super()._solve_lstsq(X, y, shrinkage, covariance_estimator)
        self.means_ = _class_means(X, y)
        self.covariance_ = _class_cov(X, y, self.priors_, shrinkage, covariance_estimator)
        try:
            self.coef_ = linalg.solve(self.covariance_, self.means_.T, assume_a="pos").T
        except (linalg.LinAlgError, ValueError):
            self.coef_ = linalg.lstsq(self.covariance_, self.means_.T)[0].T
        self.intercept_ = -0.5 * np.diag(np.dot(self.means_, self.coef_.T)) + np.log(self.priors_)


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


def make_classifier(kind: str, seed: int = 0) -> Any:
    """A fresh classifier step of one kind (``svm rbf knn lda logreg nb tree xgb``), seeded by ``seed``."""
    factories = {
        "svm": lambda: LinearSVM(random_state=seed),
        "rbf": lambda: RBFSVM(random_state=seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=5, weights="distance"),
        "lda": lambda: ShrinkageLDA(solver="lsqr", shrinkage="auto"),
        # tol 1e-3 instead of 1e-4: a third of the lbfgs iterations on LBP, the same test accuracy.
        "logreg": lambda: LogisticRegression(C=0.01, tol=1e-3, max_iter=1000, random_state=seed),
        "nb": lambda: GaussianNB(),
        "tree": lambda: DecisionTreeClassifier(min_samples_leaf=2, random_state=seed),
        "xgb": lambda: XGBoost(random_state=seed),
    }
    if kind not in factories:
        raise ConfigError(f"classifier '{kind}' is unknown; use one of {', '.join(factories)}")
    return factories[kind]()


CLASSIFIER_KINDS = ("svm", "rbf", "knn", "lda", "logreg", "nb", "tree", "xgb")
