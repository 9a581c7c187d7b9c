"""Margin classifiers (SVMs) with ``predict_proba`` added.

SVMs have no probabilities of their own. By default ``predict_proba`` is the softmax of the decision scores:
free, and its argmax is the SVM's own decision, so accuracy-type metrics see the plain SVM. These scores are not
calibrated; ``calibration="sigmoid"`` gives Platt-scaled probabilities instead (``CalibratedClassifierCV``: the
SVM is also fitted on 3 internal folds, about 2-3x the fit time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from bench.core.errors import ConfigError

CALIBRATIONS = ("softmax", "sigmoid")


def scores_to_proba(scores: np.ndarray) -> np.ndarray:
    """Softmax of decision scores; a binary score is that of classes_[1] against 0 for classes_[0]."""
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return softmax(scores, axis=1)


class MarginClassifier(ClassifierMixin, BaseEstimator):
    """A margin classifier (decision scores only) with ``predict_proba`` added; see the module docstring."""

    def _base(self) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray) -> MarginClassifier:
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
        self.backend_estimator_ = self._fitted_svm()  # what baselines.backends.fitted_backend looks at
        if hasattr(self.backend_estimator_, "n_iter_"):
            self.n_iter_ = self.backend_estimator_.n_iter_
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The SVM's own scores (without calibration)."""
        return self._fitted_svm().decision_function(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        if isinstance(self.estimator_, CalibratedClassifierCV):
            return self.estimator_.predict_proba(X)
        return scores_to_proba(self.estimator_.decision_function(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _fitted_svm(self) -> Any:
        check_is_fitted(self)
        est = self.estimator_
        return est.calibrated_classifiers_[0].estimator if isinstance(est, CalibratedClassifierCV) else est
