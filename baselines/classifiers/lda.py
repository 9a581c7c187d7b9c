"""Linear discriminant analysis with Ledoit-Wolf shrinkage (paper 001's Fisher LDA)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from baselines.registry import register_classifier


def lda_memory(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """Centred float64 copies of the classes' samples, and a few d x d covariance matrices (Ledoit-Wolf)."""
    return 8 * n_samples * n_features + 4 * 8 * n_features**2


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




def lda_space(t: Any) -> dict[str, Any]:
    if t.suggest_categorical("lda_shrinkage_mode", ["auto", "fixed"]) == "auto":
        return {"lda__shrinkage": "auto"}
    return {"lda__shrinkage": t.suggest_float("lda__shrinkage", 0.0, 1.0)}


@register_classifier("lda", doc="LDA (shrinkage)", search_space=lda_space,
                     size=lambda est: int(np.size(est.coef_) + np.size(est.intercept_)),
                     size_unit="weights + intercepts", memory=lda_memory)
def lda(seed: int) -> ShrinkageLDA:
    return ShrinkageLDA(solver="lsqr", shrinkage="auto")
