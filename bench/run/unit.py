"""One unit of work: build one model, fit it on one fold's training data and score it on a set of indices.

``bench run`` scores a unit on the fold's test sets, and a tuning trial on the fold's validation split; both
go through ``build_estimator`` and ``fit_and_score``, so a tuned model is built, warm-started, fitted and
scored exactly as the run scores it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.contracts import EpochCallback, fitted_classes
from bench.core.emotions import EMOTIONS
from bench.core.errors import ConfigError, UnitSkipped
from bench.core.heartbeat import Heartbeat
from bench.core.models import ModelSpec
from bench.core.resources import available_memory, gib
from bench.data.dataset import FERDataset
from bench.results.metrics import align_proba, score

# A classical fit or prediction that runs longer than this says so, every HEARTBEAT_EVERY_S, through ``status``.
HEARTBEAT_AFTER_S, HEARTBEAT_EVERY_S = 3.0, 1.0

# (role, indices) -> (images, labels). Roles: "fit" (training data), "validate" (early stopping) and "score".
Take = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class UnitOutcome:
    """A fitted model and its scores on each evaluation set (probabilities in the dataset's class order)."""

    estimator: Any
    metrics: dict[str, dict[str, Any]]
    probabilities: dict[str, np.ndarray]
    fit_time_s: float
    predict_ms_per_image: float
    backend: str | None = None  # the library that fitted a classical model (baselines.backends)
    iterations: int | None = None  # solver iterations, where the model reports them


def build_kwargs(spec: ModelSpec, *, seed: int, preset: str = "default", device: str = "auto",
                 epochs: int | None = None, accel: str = "sklearn") -> dict[str, Any]:
    """The keywords a registered builder gets (run and tuning alike). ``accel`` is the run's backend for
    classical estimators (``RunConfig.accel``), given to builders that take ``backend``."""
    if spec.family == "deep":
        extra = {"epochs": epochs} if epochs is not None else {}
        return {"seed": seed, "preset": preset, "device": device, **extra}
    if accel != "sklearn" and "backend" in inspect.signature(spec.build).parameters:
        return {"seed": seed, "backend": accel}
    return {"seed": seed}


def check_memory(spec: ModelSpec, est: Any, ds: FERDataset, n_samples: int) -> None:
    """Fail at once, in one line, when the model's own estimate of its fit (``memory_estimate``) exceeds the
    memory available now: before minutes of feature extraction, not in the out-of-memory killer after them."""
    estimate = getattr(est, "memory_estimate", None)
    if not callable(estimate):
        return
    need = estimate(n_samples, tuple(ds.image_size), len(ds.classes))
    available = available_memory()
    if need.peak > available:
        raise ConfigError(
            f"{spec.name} needs about {gib(need.peak)} to fit {n_samples:,} images ({need.largest()} "
            f"{gib(need.parts[need.largest()])}; estimated), more than the {gib(available)} available now; "
            "free memory, or fit fewer images")


def build_estimator(spec: ModelSpec, kwargs: Mapping[str, Any], params: Mapping[str, Any] | None = None, *,
                    fold: Any = None, source_model: Any = None) -> Any:
    """A fresh estimator: built, given ``params`` (tuned or sampled), warm-started when the fold says so."""
    est = spec.build(**kwargs)
    if params:
        est.set_params(**params)
    if fold is not None and fold.init_from:
        if source_model is None:
            raise UnitSkipped(f"the source model of fold '{fold.init_from}' is not available; "
                              "re-run without --model filters so it trains first")
        if not hasattr(est, "warm_start_from"):
            raise ConfigError(f"model '{spec.name}' cannot start from another model (no warm_start_from)")
        est.warm_start_from(source_model, finetune=fold.finetune)
    return est


def fit_indices(spec: ModelSpec, fold: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(fit, validate) indices of a run's unit: deep models early-stop on the fold's validation split;
    classical pipelines have no use for it, so the fold's whole training part (train + val) fits them."""
    if spec.uses_validation:
        return fold.train, fold.val
    return np.concatenate([fold.train, fold.val]), None


def _take_from(ds: FERDataset) -> Take:
    def take(role: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ds.images[idx], ds.labels[idx]

    return take


def fit_and_score(spec: ModelSpec, est: Any, ds: FERDataset, fit_idx: np.ndarray, val_idx: np.ndarray | None,
                  eval_sets: Mapping[str, np.ndarray], *, callbacks: Sequence[EpochCallback] = (),
                  take: Take | None = None, status: Callable[[str], None] | None = None,
                  checkpoint: Path | None = None) -> UnitOutcome:
    """Fit ``est`` on ``fit_idx`` (early-stopping on ``val_idx`` when the model uses validation) and score it
    on each of ``eval_sets``. Every slice of the data goes through ``take``, so a caller can log it.

    A model with a ``memory_estimate`` is checked against the available memory first (``check_memory``).
    ``status`` (e.g. a progress bar's ``set_postfix_str``) hears "fitting 42 s" every second of a fit or a
    prediction that lasts more than a few seconds; deep models report their epochs through ``callbacks``.
    ``checkpoint``: where a model that saves its state per epoch (``fit(..., checkpoint=PATH)``) keeps it."""
    take = take or _take_from(ds)
    check_memory(spec, est, ds, len(fit_idx))
    X, y = take("fit", np.asarray(fit_idx))
    t0 = time.perf_counter()
    if spec.uses_validation:
        fit_kw: dict[str, Any] = {}
        if val_idx is not None and len(val_idx):
            fit_kw["X_val"], fit_kw["y_val"] = take("validate", np.asarray(val_idx))
        if callbacks:
            fit_kw["callbacks"] = list(callbacks)
        if checkpoint is not None and "checkpoint" in inspect.signature(est.fit).parameters:
            fit_kw["checkpoint"] = checkpoint
        est.fit(X, y, **fit_kw)
    else:
        with Heartbeat(status, "fitting", after=HEARTBEAT_AFTER_S, every=HEARTBEAT_EVERY_S):
            est.fit(X, y)
    fit_time = time.perf_counter() - t0
    iterations = est.fit_iterations() if callable(getattr(est, "fit_iterations", None)) else None
    return score_sets(est, ds, eval_sets, take=take, fit_time_s=fit_time, iterations=iterations,
                      status=None if spec.uses_validation else status)


def score_sets(est: Any, ds: FERDataset, eval_sets: Mapping[str, np.ndarray], *, take: Take | None = None,
               fit_time_s: float = 0.0, iterations: int | None = None,
               status: Callable[[str], None] | None = None) -> UnitOutcome:
    """Score a fitted model on each of ``eval_sets`` (a model trained elsewhere, e.g. ``--source-run``)."""
    take = take or _take_from(ds)
    metrics, probabilities, predict_time, n_pred = {}, {}, 0.0, 0
    for name, idx in eval_sets.items():
        X_eval, y_eval = take("score", np.asarray(idx))
        t0 = time.perf_counter()
        with Heartbeat(status, f"predicting {name}", after=HEARTBEAT_AFTER_S, every=HEARTBEAT_EVERY_S):
            proba = align_proba(est.predict_proba(X_eval), fitted_classes(est), ds.classes)
        predict_time += time.perf_counter() - t0
        n_pred += len(idx)
        metrics[name] = score(y_eval, proba, ds.classes)
        probabilities[name] = proba
    return UnitOutcome(est, metrics, probabilities, fit_time_s, 1000 * predict_time / max(n_pred, 1),
                       backend=getattr(est, "backend_", None), iterations=iterations)


def model_size(est: Any) -> int | None:
    """Parameters or support vectors, when the model can say (informative: never fails a unit)."""
    try:
        return int(est.model_size())
    except Exception:  # noqa: BLE001 - a size is informative only
        return None


def prediction_frame(ds: FERDataset, idx: np.ndarray, testset: str, proba: np.ndarray) -> pd.DataFrame:
    """Per-sample predictions of one test set, as the run folder stores them."""
    cls = np.asarray(ds.classes)
    frame = pd.DataFrame({
        "index": idx, "file": ds.files[idx], "testset": testset,
        "subject": ds.subjects[idx] if ds.subjects is not None else "",
        "y_true": [EMOTIONS[c] for c in ds.labels[idx]],
        "y_pred": [EMOTIONS[c] for c in cls[np.argmax(proba, axis=1)]],
    })
    for j, c in enumerate(cls):
        frame[f"p_{EMOTIONS[c]}"] = proba[:, j]
    return frame
