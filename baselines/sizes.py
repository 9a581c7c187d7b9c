"""``model_size``: how big a fitted classical model is, in the unit natural to its classifier.

Each registered classifier says how to count itself (``baselines.registry.ClassifierSpec.size``): support
vectors (kernel SVM), weights + intercepts (linear SVM, logistic regression, LDA), stored training samples
(KNN), class means and variances (naive Bayes), tree nodes (decision tree, XGBoost). For a pipeline it is the
size of its final classifier step; features, scaler and PCA are not counted.
"""

from __future__ import annotations

from typing import Any

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from baselines.registry import CLASSIFIERS
from bench.core.errors import ConfigError


def model_size(estimator: Any) -> int:
    """Size of a fitted classifier or pipeline (see the module docstring for the units)."""
    if isinstance(estimator, Pipeline):
        name, step = estimator.steps[-1]
        check_is_fitted(step)
        if name in CLASSIFIERS.names():
            return int(CLASSIFIERS.get(name).size(step))
        return model_size(step)
    check_is_fitted(estimator)
    if callable(getattr(estimator, "model_size", None)):
        return int(estimator.model_size())
    raise ConfigError(f"model_size has no rule for {type(estimator).__name__}; give it a model_size() method or "
                      "register it as a classifier with a size function")
