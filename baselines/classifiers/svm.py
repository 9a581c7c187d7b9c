"""Linear SVM: liblinear one-vs-rest on the standardised features (papers 001's LinearSVC on DWT)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.svm import LinearSVC

from baselines.classifiers.margin import MarginClassifier
from baselines.registry import register_classifier


def liblinear_memory(n_samples: int, n_features: int, n_classes: int, backend: str) -> int:
    """A float64 copy of the input, and liblinear's own copy of it as (index, value) nodes of 16 bytes."""
    return 8 * n_samples * n_features + 16 * n_samples * (n_features + 1)


class LinearSVM(MarginClassifier):
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




def svm_space(t: Any) -> dict[str, Any]:
    return {"svm__C": t.suggest_float("svm__C", 1e-4, 10.0, log=True)}


# No accelerated backend: scikit-learn-intelex has no LinearSVC (liblinear) path, and an SVC with a linear
# kernel is another model (one-vs-one hinge loss on the full kernel), not this one.
@register_classifier("svm", doc="linear SVM", search_space=svm_space, size=lambda est: est.model_size(),
                     size_unit="weights + intercepts", memory=liblinear_memory)
def svm(seed: int) -> LinearSVM:
    return LinearSVM(random_state=seed)
