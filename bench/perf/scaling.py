"""``bench perf scale``: how time and memory of each stage grow with the number of images.

Every (model, size) point runs in a fresh child process (``python -m bench.perf.scaling MODEL N``), so imports,
caches and the allocator's high-water mark of one point never leak into the next. Per point, on synth-wild
of N images:

- split_s:      the 10 stratified folds of ``kfold`` plus the engine's leakage checks on them (image digests,
                shared subjects): nothing in splitting may be worse than linear;
- features_s:   classical pipelines, the feature step alone (batch extraction into float32);
- classifier_s: classical pipelines, scaler + classifier on those features;
- fit_s:        the whole fit (for deep models: one epoch, no minimum number of steps);
- predict_s:    predicting 1000 of the images (KNN's cost is here, not in its fit);
- peak_extra_mb: the resident-set high-water mark during split + fit + predict, above the resident set
                once the data is loaded and the model built (the kernel's peak is reset at that moment).

The parent prints each point, the log-log slope of every timed stage between consecutive sizes and over the
whole range, and a log-log plot.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from typing import Any

import numpy as np

from bench.core.errors import ConfigError

QUERIES = 1000
MIN_SIZE = 300
STAGES = ("split_s", "features_s", "classifier_s", "fit_s", "predict_s")


def _status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux >= 4.0); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure(model: str, n: int, queries: int = QUERIES, folds: int = 10) -> dict[str, Any]:
    """One point of the scaling curve, measured in this process (call it in a fresh one)."""
    from threadpoolctl import threadpool_limits

    from bench.core.models import MODELS
    from bench.data import catalog as datasets
    from protocols import fold_leakage, make_protocol

    ds = datasets.load(f"synth-wild:n={n}")
    spec = MODELS.get(model)
    deep = spec.family == "deep"
    est = spec.build(seed=0, **({"epochs": 1, "config": {"min_steps": 0}} if deep else {}))
    X, y = ds.images, ds.labels
    rss_before = _status_mb("VmRSS")
    peak_known = _reset_peak()

    t0 = time.perf_counter()
    for fold in make_protocol("kfold", folds=folds).split(ds):
        fold_leakage(ds, fold)
    split_s = time.perf_counter() - t0

    row: dict[str, Any] = {"model": model, "n": n, "split_s": split_s, "features_s": None, "classifier_s": None}
    if deep:
        t0 = time.perf_counter()
        est.fit(X, y)
        row["fit_s"] = time.perf_counter() - t0
    else:
        # The pipeline's steps, timed one by one under the BLAS cap the pipeline's own fit uses.
        with threadpool_limits(limits=getattr(est, "blas_threads", None), user_api="blas"):
            t0 = time.perf_counter()
            feats = est[0].fit_transform(X, y)
            t1 = time.perf_counter()
            est[1:].fit(feats, y)
            t2 = time.perf_counter()
        row.update(features_s=t1 - t0, classifier_s=t2 - t1, fit_s=t2 - t0,
                   feature_dtype=str(feats.dtype), feature_dims=int(feats.shape[1]))
        del feats
    t0 = time.perf_counter()
    est.predict(X[:queries])
    row["predict_s"] = time.perf_counter() - t0

    peak = _status_mb("VmHWM")
    row.update(images_mb=X.nbytes / 2**20, rss_before_mb=rss_before,
               peak_extra_mb=(peak - rss_before) if peak_known and peak and rss_before else None)
    return row


def _slope(xs: list[float], ys: list[float | None]) -> float | None:
    pts = [(math.log(x), math.log(v)) for x, v in zip(xs, ys, strict=True) if v and v > 0]
    if len(pts) < 2:
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and timed stage: the log-log slope between consecutive sizes and over all sizes."""
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        pts = sorted((r for r in rows if r["model"] == model), key=lambda r: r["n"])
        ns = [r["n"] for r in pts]
        for stage in (*STAGES, "peak_extra_mb"):
            values = [r.get(stage) for r in pts]
            if not any(values):
                continue
            g: dict[str, Any] = {"model": model, "stage": stage}
            for (n0, v0), (n1, v1) in zip(zip(ns, values), zip(ns[1:], values[1:]), strict=False):
                g[f"{n0}->{n1}"] = _slope([n0, n1], [v0, v1])
            g["overall"] = _slope(ns, values)
            out.append(g)
    return out


def scale_benchmark(models: list[str], sizes: list[int], plot: str | None = None,
                    log: Any = sys.stderr) -> list[dict[str, Any]]:
    """Each (model, size) measured in its own child process; rows in model, size order."""
    if not models or not sizes or min(sizes) < MIN_SIZE:
        raise ConfigError(f"bench perf scale needs models and sizes of at least {MIN_SIZE} images (10 stratified "
                          "folds with a validation split); use e.g. --sizes 1000,4000")
    from bench.core.models import MODELS

    for model in models:
        MODELS.get(model)  # an unknown name fails here, with suggestions, before any child starts
    rows = []
    for model in models:
        for n in sorted(sizes):
            proc = subprocess.run([sys.executable, "-m", "bench.perf.scaling", model, str(n)], capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                raise ConfigError(f"scale benchmark for {model} at n={n} failed: {tail}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"  {model} n={n}: fit {row['fit_s']:.2f} s, peak +{row['peak_extra_mb'] or 0:.0f} MB", file=log)
            rows.append(row)
    if plot:
        _plot(rows, plot)
        print(f"wrote {plot}", file=log)
    return rows


def _plot(rows: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
        pts = sorted((r for r in rows if r["model"] == model), key=lambda r: r["n"])
        ns, color = [r["n"] for r in pts], f"C{i}"
        ax_t.loglog(ns, [r["fit_s"] for r in pts], "o-", color=color, label=f"{model} fit")
        for stage, style in (("features_s", "s--"), ("split_s", "x:"), ("predict_s", "^-.")):
            values = [r.get(stage) for r in pts]
            if all(values):
                ax_t.loglog(ns, values, style, color=color, alpha=0.6, label=f"{model} {stage[:-2]}")
        if all(r.get("peak_extra_mb") for r in pts):
            ax_m.loglog(ns, [r["peak_extra_mb"] for r in pts], "o-", color=color, label=model)
    lo, hi = min(r["n"] for r in rows), max(r["n"] for r in rows)
    ref = min(r["fit_s"] for r in rows)
    ax_t.loglog([lo, hi], [ref, ref * hi / lo], color="grey", lw=0.8, label="linear")
    ax_t.set(xlabel="images", ylabel="seconds", title="time per stage")
    ax_m.set(xlabel="images", ylabel="MB above the loaded data", title="peak extra resident memory")
    ax_t.legend(fontsize=7, ncol=2)
    ax_m.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
