"""The run engine: (model x fold) units, each saved the moment it finishes into a self-describing run folder."""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import __version__
from bench.core.emotions import EMOTIONS
from bench.core.errors import BenchError, ConfigError, UnitSkipped
from bench.core.models import ModelSpec, resolve_models
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from bench.results.metrics import align_proba, score

VERSIONED_PACKAGES = ("numpy", "scikit-learn", "scikit-image", "PyWavelets", "xgboost", "torch", "torchvision",
                      "optuna", "pandas", "opencv-python-headless")


@dataclass
class RunConfig:
    protocol: str = "cross"
    dataset: str = "synth-lab"
    source: str = "synth-wild"
    target: str = "synth-lab"
    models: str = "all"
    folds: str | None = None
    test_size: float | None = None
    val_size: float = 0.1
    seed: int = 0
    preset: str = "default"
    epochs: int | None = None
    device: str = "auto"
    target_fractions: tuple[float, ...] = (1.0,)
    ensemble: str = "auto"
    tune: int = 0
    storage: str | None = None
    out: str = "results"
    name: str | None = None
    data_dir: str | None = None
    progress: bool = True
    command: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunConfig:
        try:
            fractions = tuple(float(f) for f in str(args.target_fraction).split(",") if f.strip())
        except ValueError as exc:
            raise ConfigError(f"--target-fraction '{args.target_fraction}' must be numbers like 0.5,1.0") from exc
        if not fractions or any(not 0 < f <= 1 for f in fractions):
            raise ConfigError(f"--target-fraction '{args.target_fraction}': fractions must lie in (0, 1]")
        return cls(protocol=args.protocol, dataset=args.dataset, source=args.source, target=args.target,
                   models=args.model, folds=args.folds, test_size=args.test_size, val_size=args.val_size,
                   seed=args.seed, preset=args.preset, epochs=args.epochs, device=args.device, target_fractions=fractions,
                   ensemble=args.ensemble, tune=args.tune, storage=args.storage, out=args.out, name=args.name, data_dir=args.data_dir,
                   progress=not args.no_progress, command=["bench", *sys.argv[1:]])

    def identity(self) -> dict[str, Any]:
        """What defines the run's results (the models list may grow when a run is resumed with more)."""
        keys = ["protocol", "folds", "test_size", "val_size", "seed", "preset", "epochs", "target_fractions", "tune"]
        keys += ["source", "target"] if self.protocol == "cross" else ["dataset"]
        return {k: getattr(self, k) for k in keys}

    def default_name(self) -> str:
        data = f"{self.source}-to-{self.target}" if self.protocol == "cross" else self.dataset
        name = f"{self.protocol}-{data}"
        if self.seed:
            name += f"-s{self.seed}"
        if self.preset != "default":
            name += f"-{self.preset}"
        if self.tune:
            name += f"-tuned{self.tune}"
        return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", name)


def run_from_args(args: argparse.Namespace) -> int:
    return execute(RunConfig.from_args(args))


# ---------------------------------------------------------------------- data and folds
def prepare(cfg: RunConfig) -> tuple[FERDataset, dict[str, Any]]:
    from bench.data import catalog as datasets

    if cfg.protocol == "cross":
        from protocols.cross import merge_domains

        src, tgt = datasets.load(cfg.source, cfg.data_dir), datasets.load(cfg.target, cfg.data_dir)
        info = {"source": _dataset_facts(src), "target": _dataset_facts(tgt)}
        return merge_domains(src, tgt), info
    ds = datasets.load(cfg.dataset, cfg.data_dir)
    return ds, {"dataset": _dataset_facts(ds)}


def _dataset_facts(ds: FERDataset) -> dict[str, Any]:
    return {"name": ds.name, "fingerprint": ds.fingerprint(), "n_images": len(ds), "image_size": list(ds.image_size),
            "classes": ds.class_names, "class_counts": ds.class_counts(),
            "n_subjects": len(ds.subject_counts()) if ds.has_subjects else None,
            "generator_or_importer": {k: v for k, v in ds.info.items() if k != "report"}}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "fer-bench": __version__}
    for pkg in VERSIONED_PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


# ---------------------------------------------------------------------- one unit
def build_kwargs(spec: ModelSpec, cfg: RunConfig) -> dict[str, Any]:
    """The keywords a registered builder gets in a run (tuning builds its trials with the same)."""
    if spec.family == "deep":
        extra = {"epochs": cfg.epochs, "config": {"min_steps": 0}} if cfg.epochs else {}
        return {"seed": cfg.seed, "preset": cfg.preset, "device": cfg.device, **extra}
    return {"seed": cfg.seed}


def _build(spec: ModelSpec, cfg: RunConfig) -> Any:
    return spec.build(**build_kwargs(spec, cfg))


def _model_size(est: Any) -> int | None:
    if hasattr(est, "model_size"):
        return int(est.model_size())
    try:
        from baselines import model_size

        return int(model_size(est))
    except Exception:  # noqa: BLE001 - size is informative, never worth failing a unit
        return None


def run_unit(spec: ModelSpec, fold, ds: FERDataset, cfg: RunConfig, source_model: Any = None,
             run_path: Path | None = None) -> tuple[dict[str, Any], pd.DataFrame | None, Any]:
    """Train one model on one fold and score it on every test set of the fold."""
    record: dict[str, Any] = {"model": spec.name, "family": spec.family, "fold": fold.id, "variant": fold.variant,
                              "strategy": fold.info.get("strategy", ""), "init_from": fold.init_from,
                              "finetune": fold.finetune, "seed": cfg.seed, "n_train": int(len(fold.train)),
                              "n_val": int(len(fold.val))}
    try:
        if cfg.tune:
            from bench.run.tuning import tuned_estimator

            if run_path is None:
                raise ConfigError("tuning needs a run folder for its study storage")
            est, record["tuned"] = tuned_estimator(spec, fold, ds, cfg, cfg.tune, run_path, storage=cfg.storage,
                                                   source_model=source_model)
        else:
            est = _build(spec, cfg)
        if fold.init_from:
            if source_model is None:
                raise UnitSkipped(f"the source model of fold '{fold.init_from}' is not available; "
                                  "re-run without --model filters so it trains first")
            est.warm_start_from(source_model, finetune=fold.finetune)
    except UnitSkipped as exc:
        return dict(record, status="skipped", message=str(exc)), None, None

    X, y = ds.images, ds.labels
    t0 = time.perf_counter()
    if spec.uses_validation:
        est.fit(X[fold.train], y[fold.train], X_val=X[fold.val], y_val=y[fold.val])
    else:
        # Classical pipelines have no early stopping: the fold's whole training part (train + val) fits them.
        train = np.concatenate([fold.train, fold.val])
        est.fit(X[train], y[train])
    fit_time = time.perf_counter() - t0

    metrics, frames, predict_time, n_pred = {}, [], 0.0, 0
    for testset, idx in fold.tests.items():
        t0 = time.perf_counter()
        proba = align_proba(est.predict_proba(X[idx]), est.classes_, ds.classes)
        predict_time += time.perf_counter() - t0
        n_pred += len(idx)
        metrics[testset] = score(y[idx], proba, ds.classes)
        frames.append(_prediction_frame(ds, idx, testset, proba))
    history = getattr(est, "history_", None)
    record.update(status="ok", metrics=metrics, fit_time_s=round(fit_time, 4),
                  predict_ms_per_image=round(1000 * predict_time / max(n_pred, 1), 5),
                  model_size=_model_size(est), history=history or None)
    if history:
        # Without a validation split the history holds val_acc None: the last epoch is then the kept one.
        best = max(history, key=lambda h: -1 if h.get("val_acc") is None else h["val_acc"])
        record["train_accuracy"] = best.get("train_acc")
    return record, pd.concat(frames, ignore_index=True), est


def _prediction_frame(ds: FERDataset, idx: np.ndarray, testset: str, proba: np.ndarray) -> pd.DataFrame:
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


# ---------------------------------------------------------------------- the run
def execute(cfg: RunConfig) -> int:
    from protocols import make_protocol
    from protocols.leakage import coverage, fold_leakage

    protocol = make_protocol(cfg.protocol, folds=cfg.folds, seed=cfg.seed, test_size=cfg.test_size,
                             val_size=cfg.val_size, target_fractions=cfg.target_fractions)
    specs = resolve_models(cfg.models)
    ds, data_facts = prepare(cfg)
    folds = list(protocol.split(ds))
    run = RunFolder(Path(cfg.out) / (cfg.name or cfg.default_name()))
    identity = cfg.identity()
    manifest = {
        "run_id": run.path.name,
        "command": cfg.command,
        "config": {**asdict(cfg), "target_fractions": list(cfg.target_fractions)},
        "config_key": hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "protocol": {"name": cfg.protocol, "description": protocol.describe(), "params": protocol.config()},
        "data": data_facts,
        "dataset_fingerprint": ds.fingerprint(),
        "classes": ds.class_names,
        "models": [s.name for s in specs],
        "folds": [{"id": f.id, "variant": f.variant, "n_train": len(f.train), "n_val": len(f.val),
                   "tests": {k: len(v) for k, v in f.tests.items()}} for f in folds],
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    run.start(manifest)
    run.write_json(run.path / "leakage.json", {"folds": {f.id: fold_leakage(ds, f) for f in folds},
                                               "coverage": coverage(ds, folds)})

    units = [(s, f) for s in specs for f in folds if s.family in f.families]
    sources_needed = {(s.name, f.init_from) for s, f in units if f.init_from}
    trained: dict[tuple[str, str], Any] = {}
    failed = skipped = done_before = 0
    from tqdm import tqdm

    print(f"run {run.path}: {len(specs)} models x {len(folds)} folds = {len(units)} units "
          f"({protocol.describe()})", file=sys.stderr)
    bar = tqdm(units, total=len(units), unit="unit", disable=not cfg.progress, dynamic_ncols=True, file=sys.stderr)
    for spec, fold in bar:
        bar.set_description(f"{spec.name} {fold.id}")
        if run.unit_done(spec.name, fold.id):
            done_before += 1
            continue
        source = None
        if fold.init_from:
            source = trained.get((spec.name, fold.init_from)) or _load_checkpoint(run, spec, fold.init_from, cfg)
        try:
            record, preds, est = run_unit(spec, fold, ds, cfg, source, run.path)
        except (BenchError, Exception) as exc:  # noqa: BLE001 - one broken model must not lose the others
            record, preds, est = ({"model": spec.name, "family": spec.family, "fold": fold.id,
                                   "variant": fold.variant, "status": "failed",
                                   "message": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}, None, None)
        run.write_unit(record, preds)
        if est is not None and (spec.name, fold.id) in sources_needed:
            trained[(spec.name, fold.id)] = est
            if hasattr(est, "save"):
                est.save(run.checkpoint_path(spec.name, fold.id))
        failed += record["status"] == "failed"
        skipped += record["status"] == "skipped"
        tqdm.write(_unit_line(record), file=sys.stdout)
    bar.close()
    run.write_metrics_table()

    from bench.run.ensemble import add_ensembles

    add_ensembles(run, folds, cfg.ensemble)
    from leaderboard.build import run_summary_markdown

    text = run_summary_markdown(run)
    (run.path / "leaderboard.md").write_text(text)
    print(text)
    print(f"run folder: {run.path} ({done_before} units were already done, {skipped} skipped, {failed} failed)",
          file=sys.stderr)
    if failed:
        print(f"error: {failed} units failed; their messages are in {run.path}/metrics.csv", file=sys.stderr)
        return 1
    return 0


def _load_checkpoint(run: RunFolder, spec: ModelSpec, fold_id: str, cfg: RunConfig) -> Any:
    path = run.checkpoint_path(spec.name, fold_id)
    if not path.exists():
        return None
    est = _build(spec, cfg)
    return type(est).load(path, device=cfg.device) if hasattr(est, "load") else None


def _unit_line(r: dict[str, Any]) -> str:
    head = f"{r['model']:<18} {r['fold']:<16}"
    if r["status"] != "ok":
        return f"{head} {r['status']}: {r.get('message', '')}"
    scores = "  ".join(f"{k} acc {m['accuracy']:.3f} f1 {m['macro_f1']:.3f}" for k, m in r["metrics"].items())
    return f"{head} {scores}  fit {r['fit_time_s']:.1f}s"
