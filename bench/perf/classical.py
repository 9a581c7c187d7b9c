"""``bench perf classical``: the whole classical default set on one split, under each backend, in one process.

Per pipeline and backend (``--accel sklearn,intelex``): fit seconds (features included: the feature cache is
emptied first, so each pipeline pays its own extraction, as the first pipeline of a feature does in a run),
predict seconds on the test set, test accuracy and the library that did fit (``fitted_by``); per pipeline, how
many test predictions each accelerated backend shares with the first one (the parity the tests check on small
data, here on the benchmark's data); and the totals. The split is the dataset's official one (FER2013: fit on
Training + PublicTest, 32,298 images, as ``bench run`` fits classical pipelines, which have no use for a validation
part; PrivateTest scored) or, for a dataset without one (synthetic data), a stratified 80/20 hold-out.
Every unit goes through ``bench.run.unit`` as in ``bench run``: the same build, memory check and fit.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from baselines.backends import resolve
from baselines.features import clear_feature_cache
from bench.core.errors import ConfigError, DataError
from bench.core.heartbeat import elapsed
from bench.core.models import resolve_models
from bench.data import catalog
from bench.run.unit import build_estimator, build_kwargs, fit_and_score, fit_indices
from protocols import make_protocol

STATUS_EVERY_S = 30.0


def backends_of(accel: str, device: str = "auto") -> tuple[str, ...]:
    """``sklearn,auto`` -> the distinct backends they resolve to, in order (one line if one is not installed)."""
    names = [a.strip() for a in accel.split(",") if a.strip()]
    if not names:
        raise ConfigError(f"--accel '{accel}' names no backend; use e.g. sklearn,intelex")
    return tuple(dict.fromkeys(resolve(a, device) for a in names))


def benchmark_split(ds: Any) -> tuple[Any, Any]:
    """The dataset's official split, or a stratified 80/20 hold-out where it has none; and its protocol."""
    try:
        protocol = make_protocol("official")
        fold = next(iter(protocol.split(ds)))
    except DataError:
        protocol = make_protocol("random", test_size=0.2)
        fold = next(iter(protocol.split(ds)))
    return fold, protocol


class _Status:
    """A heartbeat sink that prints at most every ``STATUS_EVERY_S`` seconds (a line, not a redrawn bar)."""

    def __init__(self, tag: str, log: Any) -> None:
        self.tag, self.log, self.last = tag, log, 0.0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.last >= STATUS_EVERY_S:
            self.last = now
            print(f"    {self.tag}: {text}", file=self.log, flush=True)


def classical_benchmark(dataset: str, backends: tuple[str, ...], models: str = "classical",
                        data_dir: str | None = None, log: Any = None) -> dict[str, Any]:
    """Time every classical pipeline of ``models`` under each backend; see the module docstring. What it is
    timing is said on ``log`` (default: stderr) as it goes."""
    log = sys.stderr if log is None else log
    specs = [s for s in resolve_models(models) if s.family == "classical"]
    if not specs:
        raise ConfigError(f"--model '{models}' selects no classical pipeline")
    ds = catalog.load(dataset, data_dir)
    fold, protocol = benchmark_split(ds)
    split, primary = protocol.describe(), protocol.primary_testset
    fit_idx = fit_indices(specs[0], fold)[0]  # what bench run fits a classical pipeline on
    test_idx = fold.tests[primary]
    print(f"classical benchmark on {ds.name}: {len(specs)} pipelines x {len(backends)} backends "
          f"({', '.join(backends)}), fit on {len(fit_idx):,} images, scored on {primary} "
          f"({len(test_idx):,}); {split}", file=log, flush=True)
    units, t_start = [], time.perf_counter()
    for spec in specs:
        predictions: dict[str, np.ndarray] = {}
        for backend in backends:
            tag = f"{spec.name} [{backend}]"
            print(f"  {tag}: features + fit on {len(fit_idx):,} images, then predict", file=log, flush=True)
            clear_feature_cache()
            est = build_estimator(spec, build_kwargs(spec, seed=0, accel=backend))
            outcome = fit_and_score(spec, est, ds, fit_idx, None, fold.tests, status=_Status(tag, log))
            proba = outcome.probabilities[primary]
            predictions[backend] = np.asarray(ds.classes)[np.argmax(proba, axis=1)]
            n_pred = sum(len(i) for i in fold.tests.values())
            unit = {"model": spec.name, "backend": backend, "fitted_by": outcome.backend or "sklearn",
                    "fit_s": outcome.fit_time_s, "predict_s": outcome.predict_ms_per_image * n_pred / 1000,
                    "accuracy": outcome.metrics[primary]["accuracy"], "iterations": outcome.iterations}
            first = backends[0]
            if backend != first:
                unit["agreement"] = float(np.mean(predictions[backend] == predictions[first]))
            units.append(unit)
            print(f"  {tag}: fit {unit['fit_s']:.1f} s, predict {unit['predict_s']:.1f} s, accuracy "
                  f"{100 * unit['accuracy']:.2f}% (fitted by {unit['fitted_by']})", file=log, flush=True)
    return {"dataset": ds.name, "split": split, "n_fit": int(len(fit_idx)), "testset": primary,
            "n_test": int(len(test_idx)), "backends": list(backends), "units": units,
            "table": pipeline_table(units, backends), "totals": totals(units, backends),
            "wall_s": time.perf_counter() - t_start}


def pipeline_table(units: list[dict[str, Any]], backends: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per pipeline: fit and predict seconds and accuracy (%) under each backend, and the agreement of
    each other backend's test predictions with the first's (%) and its accuracy difference (points)."""
    rows = []
    for model in dict.fromkeys(u["model"] for u in units):
        by = {u["backend"]: u for u in units if u["model"] == model}
        row: dict[str, Any] = {"pipeline": model}
        for b in backends:
            row[f"fit s {b}"] = by[b]["fit_s"]
        for b in backends:
            row[f"predict s {b}"] = by[b]["predict_s"]
        for b in backends:
            row[f"acc % {b}"] = 100 * by[b]["accuracy"]
        for b in backends[1:]:
            row[f"fitted by ({b})"] = by[b]["fitted_by"]
            row[f"agree % {b}"] = 100 * by[b]["agreement"]
            row[f"Δacc {b}"] = 100 * (by[b]["accuracy"] - by[backends[0]]["accuracy"])
        rows.append(row)
    return rows


def totals(units: list[dict[str, Any]], backends: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per backend: total fit + predict seconds, the slowest pipeline and the mean accuracy."""
    out = []
    for b in backends:
        mine = [u for u in units if u["backend"] == b]
        slowest = max(mine, key=lambda u: u["fit_s"] + u["predict_s"])
        total = sum(u["fit_s"] + u["predict_s"] for u in mine)
        out.append({"backend": b, "pipelines": len(mine), "total s": total, "total": elapsed(total),
                    "slowest": slowest["model"], "slowest s": slowest["fit_s"] + slowest["predict_s"],
                    "mean acc %": 100 * float(np.mean([u["accuracy"] for u in mine]))})
    return out
