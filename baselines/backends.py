"""Which library fits a classical pipeline's estimators: ``--accel sklearn|intelex|cuml|auto``.

- ``sklearn``: scikit-learn (libsvm, liblinear, lbfgs ...), the reference implementation;
- ``intelex``: scikit-learn-intelex (oneDAL): the same estimators, same hyperparameters and scikit-learn's API,
  multi-threaded on the CPU (``pip install 'fer-bench[accel]'``). Of what it accelerates (SVC, KNN,
  LogisticRegression, PCA ...), the RBF SVM and KNN use it; logistic regression does not (no faster here, see
  ``classifiers/logreg.py``), and eigenfaces' PCA asks for it but oneDAL hands its randomized solver back to
  scikit-learn. LinearSVC (liblinear), LDA, naive Bayes, decision trees and XGBoost have no oneDAL path: those
  pipelines stay on scikit-learn under any backend;
- ``cuml``: RAPIDS cuML on a CUDA GPU (``pip install 'fer-bench[cuda]'``): the RBF SVM, logistic regression and
  eigenfaces' PCA (not measured here: no GPU);
- ``auto``: cuML when ``--device cuda`` and cuML is installed, else scikit-learn-intelex when installed, else
  scikit-learn.

A classifier declares the accelerated backends its factory builds for (``register_classifier(backends=...)``)
and its factory takes ``backend``; the estimator classes come from :func:`estimator_class`, which mirrors
scikit-learn's module layout in each library, so one factory states the hyperparameters once for every backend.
What actually fitted a model is read from the fitted estimator (:func:`fitted_backend`): scikit-learn-intelex
falls back to scikit-learn for settings oneDAL does not support (KNN with the correlation metric, say), and says so in its
log, which :func:`dispatch_log` listens to.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.core.errors import ConfigError

SKLEARN, INTELEX, CUML = "sklearn", "intelex", "cuml"
ACCEL_CHOICES = ("sklearn", "intelex", "cuml", "auto")


@dataclass(frozen=True)
class Backend:
    name: str
    label: str  # how messages name the library
    package: str  # the import name whose submodules mirror sklearn's (svm, neighbors, linear_model ...)
    install: str  # what to pip install

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None


BACKENDS = {
    SKLEARN: Backend(SKLEARN, "scikit-learn", "sklearn", "scikit-learn"),
    INTELEX: Backend(INTELEX, "scikit-learn-intelex", "sklearnex", "'fer-bench[accel]' (scikit-learn-intelex)"),
    CUML: Backend(CUML, "cuML", "cuml", "'fer-bench[cuda]' (cuml-cu12, for CUDA 12 on Linux x86_64)"),
}


def require(name: str) -> Backend:
    """The backend ``name``, or one line saying how to install it."""
    if name not in BACKENDS:
        raise ConfigError(f"--accel '{name}' is unknown; choose one of {', '.join(ACCEL_CHOICES)}")
    backend = BACKENDS[name]
    if not backend.installed():
        raise ConfigError(f"{backend.label} not installed: pip install {backend.install}, or use --accel sklearn")
    return backend


def resolve(accel: str, device: str = "auto") -> str:
    """The backend a run uses for ``--accel`` and ``--device`` (``auto`` looks at what is installed)."""
    if accel == "auto":
        if device == "cuda" and BACKENDS[CUML].installed():
            return CUML
        return INTELEX if BACKENDS[INTELEX].installed() else SKLEARN
    require(accel)
    if accel == CUML and device == "cpu":
        raise ConfigError("--accel cuml runs on a CUDA GPU; use --device cuda (or auto), or --accel intelex on the CPU")
    return accel


def estimator_class(backend: str, module: str, name: str) -> type:
    """``estimator_class("intelex", "svm", "SVC")`` -> ``sklearnex.svm.SVC``; the same name from scikit-learn
    for ``sklearn``. Imported on use, so a run never loads a backend it does not use."""
    return getattr(importlib.import_module(f"{require(backend).package}.{module}"), name)


def built_backend(estimator: Any) -> str:
    """The backend an unfitted estimator was built for: its ``backend`` parameter, else where its class is from."""
    declared = getattr(estimator, "backend", None)
    if declared in BACKENDS:
        return declared
    package = type(estimator).__module__.split(".")[0]
    return next((b.name for b in BACKENDS.values() if b.package == package), SKLEARN)


def fitted_backend(estimator: Any, dispatches: Dispatches | None = None) -> str:
    """The library that fitted ``estimator``: where the class of the estimator that did the work comes from
    (wrappers point at it with ``backend_estimator_``), unless scikit-learn-intelex reported, in ``dispatches``,
    that it handed that fit back to scikit-learn. Anything that is neither intelex nor cuML is the reference."""
    while getattr(estimator, "backend_estimator_", None) is not None:
        estimator = estimator.backend_estimator_
    package = type(estimator).__module__.split(".")[0]
    if package == BACKENDS[INTELEX].package:
        fell_back = dispatches is not None and type(estimator).__name__ in dispatches.fallbacks
        return SKLEARN if fell_back else INTELEX
    return CUML if package == BACKENDS[CUML].package else SKLEARN


class Dispatches(logging.Handler):
    """The estimator classes whose fit scikit-learn-intelex ran on oneDAL, and those it handed back."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.accelerated: set[str] = set()
        self.fallbacks: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        # "sklearn.svm.SVC.fit: running accelerated version on CPU" / "...fit: fallback to original Scikit-learn"
        head, _, tail = record.getMessage().strip().partition(".fit:")
        if tail:
            name = head.rsplit(".", 1)[-1]
            (self.fallbacks if "fallback" in tail else self.accelerated).add(name)


@contextmanager
def dispatch_log(active: bool = True) -> Iterator[Dispatches]:
    """Collect scikit-learn-intelex's own reports (its documented verbose mode: logger ``sklearnex`` at INFO) of
    the fits it ran on oneDAL and those it handed back to scikit-learn, while the block runs (if ``active``)."""
    handler = Dispatches()
    if not active:
        yield handler
        return
    importlib.import_module("sklearnex")  # it adds its own handler when first imported: before the swap
    logger = logging.getLogger("sklearnex")
    saved = (logger.handlers, logger.level, logger.propagate)
    # Collected here, not printed: its own handlers and the root logger's would print each report at INFO.
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.handlers, level, logger.propagate = saved
        logger.setLevel(level)
