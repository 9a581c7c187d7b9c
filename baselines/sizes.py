"""``model_size``: how big a fitted classical model is, in the unit natural to its classifier.

support vectors (kernel SVM) | weights + intercepts (linear SVM, logistic regression, LDA) | stored training
samples (KNN) | per-class means and variances (Gaussian NB) | tree nodes (decision tree, XGBoost: all trees).
For a pipeline it is the size of its final classifier; features, scaler and PCA are not counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from bench.core.errors import ConfigError


def model_size(estimator: Any) -> int:
    """Size of a fitted classifier or pipeline (see the module docstring for the units)."""
    if isinstance(estimator, Pipeline):
        return model_size(estimator.steps[-1][1])
    check_is_fitted(estimator)
    if callable(getattr(estimator, "model_size", None)):
        return int(estimator.model_size())
    if hasattr(estimator, "support_"):  # sklearn SVC/NuSVC
        return int(len(estimator.support_))
    if hasattr(estimator, "tree_"):
        return int(estimator.tree_.node_count)
    if hasattr(estimator, "n_samples_fit_"):  # nearest neighbours keep the training set
        return int(estimator.n_samples_fit_)
    if hasattr(estimator, "coef_"):
        return int(np.size(estimator.coef_) + np.size(getattr(estimator, "intercept_", 0)))
    if hasattr(estimator, "theta_") and hasattr(estimator, "var_"):  # GaussianNB
        return int(estimator.theta_.size + estimator.var_.size)
    raise ConfigError(f"model_size has no rule for {type(estimator).__name__}; give it a model_size() method")
