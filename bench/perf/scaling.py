"""``bench perf scale``: how time and memory of each stage grow with the number of images, per backend.

Every (model, backend, size) point runs in a fresh child process (``python -m bench.perf.scaling MODEL N BACKEND
DATASET``), so imports, caches and the allocator's high-water mark of one point never leak into the next. The
data: ``synth-wild`` (or ``synth-lab``) generated at N images, or N training images of an imported dataset
(its official training split when it has one, e.g. FER2013's 28,709; a stratified sample below that). Per point:

- split_s:      the 10 stratified folds of ``kfold`` plus the engine's leakage checks on them (image digests,
                shared subjects): nothing in splitting may be worse than linear;
- features_s:   classical pipelines, the feature step alone (batch extraction into float32);
- classifier_s: classical pipelines, scaler (+ PCA) + classifier on those features;
- fit_s:        the whole fit (for deep models: one epoch, no minimum number of steps);
- predict_s:    predicting 1000 of the images (KNN's cost is here, not in its fit);
- peak_extra_mb: the resident-set high-water mark during split + fit + predict, above the resident set
                once the data is loaded and the model built (the kernel's peak is reset at that moment).

Classical pipelines are measured under each backend asked for (``--accel sklearn,intelex``: scikit-learn and
scikit-learn-intelex side by side; ``fitted_by`` says which library did fit); deep models once. The parent
prints each point, the log-log slope of every timed stage between consecutive sizes and over the whole range,
and a log-log plot. A long benchmark resumes: the points already measured (``--resume`` with ``--json FILE``,
which is rewritten after every point) are kept and only the others are measured.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.core.errors import ConfigError
from bench.core.heartbeat import Heartbeat

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


def scale_data(dataset: str, n: int, data_dir: str | None = None) -> Any:
    """``n`` images of ``dataset``: a synthetic family generated at that size, or ``n`` training images of an
    imported dataset (its official training split where it has one), a stratified sample when fewer."""
    from sklearn.model_selection import train_test_split

    from bench.data import catalog
    from bench.data.catalog import SYNTHETIC

    if ":" not in dataset and dataset in SYNTHETIC.names():
        return catalog.load(f"{dataset}:n={n}", data_dir)
    ds = catalog.load(dataset, data_dir)
    pool = training_pool(ds)
    if n > len(pool):
        raise ConfigError(f"{dataset} has {len(pool):,} training images, fewer than the {n:,} asked for; "
                          f"use --sizes up to {len(pool)}")
    if n < len(pool):
        pool, _ = train_test_split(pool, train_size=n, stratify=ds.labels[pool], random_state=0)
    return ds.subset(np.sort(pool))


def training_pool(ds: Any) -> np.ndarray:
    """Indices of the dataset's official training part, or of all its images when it has no official split."""
    from bench.core.errors import DataError
    from protocols import make_protocol

    try:
        fold = next(iter(make_protocol("official").split(ds)))
    except DataError:
        return np.arange(len(ds))
    return np.asarray(fold.train)  # FER2013: its 28,709 Training images


def measure(model: str, n: int, backend: str = "sklearn", dataset: str = "synth-wild", queries: int = QUERIES,
            folds: int = 10, data_dir: str | None = None, log: Any = None) -> dict[str, Any]:
    """One point of the scaling curve, measured in this process (call it in a fresh one); each stage is
    announced on ``log`` (default: stderr) as it starts."""
    log = sys.stderr if log is None else log
    from threadpoolctl import threadpool_limits

    from baselines.backends import SKLEARN, dispatch_log, fitted_backend
    from bench.core.models import MODELS
    from bench.run.unit import build_kwargs
    from protocols import fold_leakage, make_protocol

    ds = scale_data(dataset, n, data_dir)
    spec = MODELS.get(model)
    deep = spec.family == "deep"
    kwargs = {"epochs": 1, "config": {"min_steps": 0}} if deep else build_kwargs(spec, seed=0, accel=backend)
    est = spec.build(**{"seed": 0, **kwargs})
    X, y = ds.images, ds.labels
    rss_before = _status_mb("VmRSS")
    peak_known = _reset_peak()

    def stage(what: str) -> Heartbeat:
        print(f"    {model} n={n:,}: {what}", file=log, flush=True)
        return Heartbeat(lambda s: print(f"    ... {s}", file=log, flush=True), what, after=30.0, every=30.0)

    t0 = time.perf_counter()
    with stage(f"splitting into {folds} folds with the leakage checks"):
        for fold in make_protocol("kfold", folds=folds).split(ds):
            fold_leakage(ds, fold)
    split_s = time.perf_counter() - t0

    row: dict[str, Any] = {"model": model, "backend": "-" if deep else backend, "n": n, "dataset": dataset,
                           "split_s": split_s, "features_s": None, "classifier_s": None}
    if deep:
        t0 = time.perf_counter()
        with stage("training one epoch"):
            est.fit(X, y)
        row["fit_s"] = time.perf_counter() - t0
    else:
        # The pipeline's steps, timed one by one under the BLAS cap the pipeline's own fit uses.
        with threadpool_limits(limits=getattr(est, "blas_threads", None), user_api="blas"):
            t0 = time.perf_counter()
            with stage("extracting features"):
                feats = est[0].fit_transform(X, y)
            t1 = time.perf_counter()
            with stage(f"fitting the classifier on {backend}"), dispatch_log(backend == "intelex") as dispatches:
                est[1:].fit(feats, y)
            t2 = time.perf_counter()
        fitted = {fitted_backend(step, dispatches) for _, step in est.steps[2:]}
        row.update(features_s=t1 - t0, classifier_s=t2 - t1, fit_s=t2 - t0,
                   fitted_by=next((b for b in sorted(fitted) if b != SKLEARN), SKLEARN),
                   feature_dtype=str(feats.dtype), feature_dims=int(feats.shape[1]))
        del feats
    t0 = time.perf_counter()
    with stage(f"predicting {min(queries, len(X)):,} images"):
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


def _curves(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(model, backend) -> its points, by size."""
    keys = dict.fromkeys((r["model"], r.get("backend", "-")) for r in rows)
    return {k: sorted((r for r in rows if (r["model"], r.get("backend", "-")) == k), key=lambda r: r["n"])
            for k in keys}


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model, backend and timed stage: the log-log slope between consecutive sizes and over all sizes."""
    out = []
    for (model, backend), pts in _curves(rows).items():
        ns = [r["n"] for r in pts]
        for stage in (*STAGES, "peak_extra_mb"):
            values = [r.get(stage) for r in pts]
            if not any(values):
                continue
            g: dict[str, Any] = {"model": model, "backend": backend, "stage": stage}
            for (n0, v0), (n1, v1) in zip(zip(ns, values), zip(ns[1:], values[1:]), strict=False):
                g[f"{n0}->{n1}"] = _slope([n0, n1], [v0, v1])
            g["overall"] = _slope(ns, values)
            out.append(g)
    return out


def point_key(row: dict[str, Any]) -> tuple[str, str, int, str]:
    """What identifies a point: model, backend, size and dataset."""
    return row["model"], row.get("backend", "-"), int(row["n"]), row.get("dataset", "synth-wild")


def scale_benchmark(models: list[str], sizes: list[int], plot: str | None = None, *,
                    backends: tuple[str, ...] = ("sklearn",), dataset: str = "synth-wild",
                    data_dir: str | None = None, log: Any = None, done: list[dict[str, Any]] | None = None,
                    on_point: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Each (model, backend, size) measured in its own child process; rows in model, backend, size order.
    Deep models are measured once (backend ``-``). Progress, the children's stage lines included, goes to
    ``log`` (default: stderr) as it happens. Points in ``done`` (an earlier, interrupted benchmark's) are kept
    instead of measured again; ``on_point`` gets the rows so far after each point (to save them)."""
    log = sys.stderr if log is None else log
    if not models or not sizes or min(sizes) < MIN_SIZE:
        raise ConfigError(f"bench perf scale needs models and sizes of at least {MIN_SIZE} images (10 stratified "
                          "folds with a validation split); use e.g. --sizes 1000,4000")
    from bench.core.models import MODELS

    families = {model: MODELS.get(model).family for model in models}  # unknown names fail here, before any child
    earlier = {point_key(r): r for r in done or []}
    rows = []
    for model in models:
        for backend in (backends if families[model] == "classical" else ("-",)):
            for n in sorted(sizes):
                tag = model if backend == "-" else f"{model} [{backend}]"
                kept = earlier.get((model, backend, n, dataset))
                if kept is not None:
                    print(f"  {tag} n={n:,}: measured before, kept", file=log, flush=True)
                    rows.append(kept)
                    continue
                print(f"timing {tag} at n={n:,} ({dataset}) in a child process", file=log, flush=True)
                cmd = [sys.executable, "-m", "bench.perf.scaling", model, str(n), backend, dataset, data_dir or ""]
                returncode, stdout, last = _run_child(cmd, log)
                if returncode != 0:
                    raise ConfigError(f"scale benchmark for {tag} at n={n} failed: {last}")
                row = json.loads(stdout.strip().splitlines()[-1])
                print(f"  {tag} n={n:,}: fit {row['fit_s']:.2f} s, predict "
                      f"{row['predict_s']:.2f} s, peak +{row['peak_extra_mb'] or 0:.0f} MB", file=log, flush=True)
                rows.append(row)
                if on_point is not None:
                    on_point(rows)
    if plot:
        _plot(rows, plot)
        print(f"wrote {plot}", file=log)
    return rows


def _run_child(cmd: list[str], log: Any) -> tuple[int, str, str]:
    """Run a measuring child, passing its stderr (its stage lines) on to ``log`` as they come; its exit code,
    its stdout (the row) and its last stderr line (the error, if it failed)."""
    last = "?"
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stderr:  # type: ignore[union-attr]
            if line.strip():
                last = line.strip()
                print(line.rstrip(), file=log, flush=True)
        stdout = proc.stdout.read()  # type: ignore[union-attr] - one JSON line: no pipe fills meanwhile
    return proc.returncode, stdout, last


def _plot(rows: list[dict[str, Any]], path: str) -> None:
    """Time and peak memory against the number of images, log-log. A few curves show every stage; many (the
    default set under two backends) show the whole fit alone, a colour per model and a line style per backend,
    with the legend beside the plots so that it hides none of them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    curves = _curves(rows)
    detailed = len(curves) <= 4
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2) if detailed else (13, 5.5))
    models = list(dict.fromkeys(name for name, _ in curves))
    backends = list(dict.fromkeys(backend for _, backend in curves))
    styles = dict(zip(backends, ("-", "--", ":", "-."), strict=False))
    palette = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]  # 40 colours for the models
    for i, ((name, backend), pts) in enumerate(curves.items()):
        model = name if backend == "-" else f"{name} [{backend}]"
        ns = [r["n"] for r in pts]
        memory = [r.get("peak_extra_mb") for r in pts]
        if detailed:
            color = f"C{i % 10}"
            ax_t.loglog(ns, [r["fit_s"] for r in pts], "o-", color=color, label=f"{model} fit")
            for stage, style in (("features_s", "s--"), ("split_s", "x:"), ("predict_s", "^-.")):
                values = [r.get(stage) for r in pts]
                if all(values):
                    ax_t.loglog(ns, values, style, color=color, alpha=0.6, label=f"{model} {stage[:-2]}")
            if all(memory):
                ax_m.loglog(ns, memory, "o-", color=color, label=model)
            continue
        color, style = palette[models.index(name) % len(palette)], styles.get(backend, "-")
        ax_t.loglog(ns, [r["fit_s"] for r in pts], marker="o", ms=3, ls=style, color=color)
        if all(memory):
            ax_m.loglog(ns, memory, marker="o", ms=3, ls=style, color=color)
    lo, hi = min(r["n"] for r in rows), max(r["n"] for r in rows)
    ref = min(r["fit_s"] for r in rows)
    ax_t.loglog([lo, hi], [ref, ref * hi / lo], color="grey", lw=0.8, label="linear")
    ax_t.set(xlabel="images", ylabel="seconds", title="time per stage" if detailed else "fit (features + classifier)")
    ax_m.set(xlabel="images", ylabel="MB above the loaded data", title="peak extra resident memory")
    if detailed:
        ax_t.legend(fontsize=7, ncol=2)
        ax_m.legend(fontsize=8)
        fig.tight_layout()
    else:
        handles = [Line2D([], [], color=palette[i % len(palette)], marker="o", ms=3, label=m)
                   for i, m in enumerate(models)]
        handles += [Line2D([], [], color="black", ls=styles[b], label=f"[{b}]") for b in backends]
        handles.append(Line2D([], [], color="grey", lw=0.8, label="linear"))
        fig.legend(handles=handles, loc="center right", fontsize=7, ncol=1 if len(handles) <= 28 else 2)
        fig.tight_layout(rect=(0, 0, 0.8 if len(handles) <= 28 else 0.7, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    _model, _n, _backend, _dataset, _data_dir = (sys.argv[1:] + ["sklearn", "synth-wild", ""])[:5]
    print(json.dumps(measure(_model, int(_n), _backend, _dataset, data_dir=_data_dir or None)))
