"""Classical pipelines: features -> scale -> (pca) -> classifier, as plain scikit-learn Pipelines.

Step names are fixed so tuners address parameters uniformly: ``features``, ``scale``, ``pca`` and the classifier
step named by its kind (``svm rbf knn lda logreg nb tree xgb``), e.g. ``set_params(svm__C=10)``.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from baselines.backends import INTELEX, SKLEARN, built_backend, dispatch_log, fitted_backend
from baselines.classifiers.pca import EigenPCA
from baselines.memory import MemoryEstimate, pipeline_memory
from baselines.registry import CLASSIFIERS, FEATURES
from baselines.sizes import model_size
from bench.core.errors import ConfigError


class FERPipeline(Pipeline):
    """A scikit-learn Pipeline with the engine's optional ``model_size()`` and a BLAS thread cap.

    ``blas_threads`` (default 1) caps BLAS threads while the pipeline fits and predicts; None leaves them alone.
    At these sizes threads buy little, and numpy and scipy wheels each bring their own OpenBLAS, whose idle
    threads spin while the other library works: logistic regression (numpy products + scipy's L-BFGS) fitted
    4800 x 576 DWT features in 0.3 s on one thread and in 11 s with two, and the whole default set took 116 s
    instead of 235 s on a shared 2-core machine. (oneDAL's threads are TBB's, not BLAS's: the cap leaves them be.)

    After ``fit``, ``backend_steps_`` names the library that fitted each step after the scaler (``sklearn``,
    ``intelex`` or ``cuml``; see ``baselines.backends``) and ``backend_`` the accelerated one among them, if any.
    """

    def __init__(self, steps: list[tuple[str, Any]], *, transform_input: list[str] | None = None,
                 memory: Any = None, verbose: bool = False, blas_threads: int | None = 1) -> None:
        super().__init__(steps, transform_input=transform_input, memory=memory, verbose=verbose)
        self.blas_threads = blas_threads

    def _threads(self) -> Any:
        if self.blas_threads is None:
            return nullcontext()
        return threadpool_limits(limits=self.blas_threads, user_api="blas")

    def fit(self, X: Any, y: Any = None, **params: Any) -> FERPipeline:
        intelex = any(built_backend(step) == INTELEX for _, step in self.steps)
        with self._threads(), dispatch_log(active=intelex) as dispatches:
            super().fit(X, y, **params)
        self.backend_steps_ = {name: fitted_backend(step, dispatches) for name, step in self.steps[2:]}
        self.backend_ = next((b for b in self.backend_steps_.values() if b != SKLEARN), SKLEARN)
        return self

    def predict(self, X: Any, **params: Any) -> np.ndarray:
        with self._threads():
            return super().predict(X, **params)

    def predict_proba(self, X: Any, **params: Any) -> np.ndarray:
        with self._threads():
            return super().predict_proba(X, **params)

    def decision_function(self, X: Any, **params: Any) -> np.ndarray:
        with self._threads():
            return super().decision_function(X, **params)

    def score(self, X: Any, y: Any = None, sample_weight: Any = None, **params: Any) -> float:
        with self._threads():
            return super().score(X, y, sample_weight=sample_weight, **params)

    def model_size(self) -> int:
        return model_size(self)

    def memory_estimate(self, n_samples: int, image_shape: tuple[int, ...], n_classes: int) -> MemoryEstimate:
        """Bytes this pipeline's fit on ``n_samples`` images adds to what is loaded (see ``baselines.memory``)."""
        return pipeline_memory(self.steps, n_samples, image_shape, n_classes)

    def fit_iterations(self) -> int | None:
        """Solver iterations of the last fit, where the classifier reports them (``n_iter_``; the largest over
        one-vs-one or one-vs-rest sub-problems)."""
        n_iter = getattr(self.steps[-1][1], "n_iter_", None)
        return None if n_iter is None else int(np.max(n_iter))


def make_pipeline(feature: str, classifier: str, seed: int = 0, *, pca: int | None = None,
                  backend: str = SKLEARN, **params: Any) -> FERPipeline:
    """A fresh, unfitted pipeline of registered components; ``params`` are ``set_params`` keys such as
    ``features__grid=7``. ``backend`` (``baselines.backends``) builds the steps that have a path on it with that
    library, the others with scikit-learn."""
    steps: list[tuple[str, Any]] = [("features", FEATURES.get(feature).transformer()), ("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", EigenPCA(n_components=pca, random_state=seed, backend=backend)))
    steps.append((classifier, CLASSIFIERS.get(classifier).make(seed, backend)))
    pipe = FERPipeline(steps)
    if params:
        valid = pipe.get_params(deep=True)
        unknown = sorted(set(params) - set(valid))
        if unknown:
            names = ", ".join(k for k in valid if "__" in k)
            raise ConfigError(f"unknown pipeline parameter(s) {', '.join(unknown)}; valid: {names}")
        pipe.set_params(**params)
    return pipe
