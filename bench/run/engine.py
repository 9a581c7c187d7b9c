"""The run engine: (model x fold) units, each saved the moment it finishes into a self-describing run folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from bench.core.errors import ConfigError, UnitSkipped
from bench.core.models import ModelSpec, resolve_models
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder
from bench.run import tuning
from bench.run.config import RunConfig
from bench.run.ensemble import add_ensembles
from bench.run.executors import Executor, open_executor
from bench.run.setup import prepare, start_run
from bench.run.unit import (
    build_estimator,
    build_kwargs,
    fit_and_score,
    fit_indices,
    model_size,
    prediction_frame,
)
from leaderboard.build import run_summary_markdown
from protocols import Fold, Protocol
from protocols.leakage import coverage, fold_leakage

__all__ = ["RunConfig", "execute", "prepare", "run_from_args", "run_unit"]


def run_from_args(args: argparse.Namespace) -> int:
    return execute(RunConfig.from_args(args))


# ---------------------------------------------------------------------- one unit
def run_unit(spec: ModelSpec, fold: Fold, ds: FERDataset, cfg: RunConfig, source_model: Any = None,
             run_path: Path | None = None) -> tuple[dict[str, Any], pd.DataFrame | None, Any]:
    """Train one model on one fold (tuned first with ``cfg.tune``) and score it on every test set of the fold."""
    record: dict[str, Any] = {"model": spec.name, "family": spec.family, "fold": fold.id, "variant": fold.variant,
                              "strategy": fold.info.get("strategy", ""), "init_from": fold.init_from,
                              "finetune": fold.finetune, "seed": cfg.seed, "n_train": int(len(fold.train)),
                              "n_val": int(len(fold.val))}
    kwargs = build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs)
    params = None
    try:
        if cfg.tune:
            if run_path is None:
                raise ConfigError("tuning needs a run folder for its study storage")
            result = tuning.tune_fold(spec, fold, ds, cfg, kwargs, run_path, source_model=source_model)
            params, record["tuned"] = result.best_params, result.record()
        est = build_estimator(spec, kwargs, params, fold=fold, source_model=source_model)
    except UnitSkipped as exc:
        return dict(record, status="skipped", message=str(exc)), None, None

    fit_idx, val_idx = fit_indices(spec, fold)
    outcome = fit_and_score(spec, est, ds, fit_idx, val_idx, fold.tests)
    history = getattr(est, "history_", None)
    record.update(status="ok", metrics=outcome.metrics, fit_time_s=round(outcome.fit_time_s, 4),
                  predict_ms_per_image=round(outcome.predict_ms_per_image, 5), model_size=model_size(est),
                  history=history or None)
    if history:
        # Without a validation split the history holds val_acc None: the last epoch is then the kept one.
        best = max(history, key=lambda h: -1 if h.get("val_acc") is None else h["val_acc"])
        record["train_accuracy"] = best.get("train_acc")
    frames = [prediction_frame(ds, idx, name, outcome.probabilities[name]) for name, idx in fold.tests.items()]
    return record, pd.concat(frames, ignore_index=True), est


# ---------------------------------------------------------------------- the run
def execute(cfg: RunConfig) -> int:
    protocol = cfg.make_protocol()
    specs = resolve_models(cfg.models)
    ds, facts = prepare(cfg, protocol)
    folds = list(protocol.split(ds))
    if cfg.tune and cfg.storage:
        tuning.check_storage(cfg.storage)  # an unreachable database fails before anything is written
    # A Dask cluster is reached and its workers checked before anything is written, and closed on the way out.
    with open_executor(cfg, run_unit, ds, specs) as executor:
        return _run_units(cfg, executor, protocol, specs, ds, facts, folds)


def _run_units(cfg: RunConfig, executor: Executor, protocol: Protocol, specs: list[ModelSpec], ds: FERDataset,
               facts: dict[str, Any], folds: list[Fold]) -> int:
    run = start_run(cfg, protocol, ds, facts, folds, specs)
    run.write_json(run.path / "leakage.json", {"folds": {f.id: fold_leakage(ds, f) for f in folds},
                                               "coverage": coverage(ds, folds)})

    units = [(s, f) for s in specs for f in folds if s.family in f.families]
    sources_needed = {(s.name, f.init_from) for s, f in units if f.init_from}
    trained: dict[tuple[str, str], Any] = {}
    failed = skipped = 0
    print(f"run {run.path}: {len(specs)} models x {len(folds)} folds = {len(units)} units "
          f"({protocol.describe()})", file=sys.stderr)
    todo = [(s, f) for s, f in units if not run.unit_done(s.name, f.id)]
    done_before = len(units) - len(todo)

    def source_of(spec: ModelSpec, fold: Fold) -> Any:
        return trained.get((spec.name, fold.init_from)) or _load_checkpoint(run, spec, fold.init_from, cfg)

    bar = tqdm(total=len(units), initial=done_before, unit="unit", disable=not cfg.progress, dynamic_ncols=True,
               file=sys.stderr)
    for done in executor.run(todo, ds, cfg, run.path, source_of):
        spec, fold, record, est = done.spec, done.fold, done.record, done.estimator
        bar.set_description(f"{spec.name} {fold.id}")
        run.write_unit(record, done.predictions)
        if est is not None and (spec.name, fold.id) in sources_needed:
            trained[(spec.name, fold.id)] = est
            if hasattr(est, "save"):
                est.save(run.checkpoint_path(spec.name, fold.id))
        failed += record["status"] == "failed"
        skipped += record["status"] == "skipped"
        tqdm.write(_unit_line(record), file=sys.stdout)
        bar.update()
    bar.close()
    run.write_metrics_table()

    add_ensembles(run, folds, cfg.ensemble)
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
    est = spec.build(**build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs))
    return type(est).load(path, device=cfg.device) if hasattr(est, "load") else None


def _unit_line(r: dict[str, Any]) -> str:
    head = f"{r['model']:<18} {r['fold']:<16}"
    if r["status"] != "ok":
        return f"{head} {r['status']}: {r.get('message', '')}"
    scores = "  ".join(f"{k} acc {m['accuracy']:.3f} f1 {m['macro_f1']:.3f}" for k, m in r["metrics"].items())
    tuned = r.get("tuned")
    note = ""
    if tuned:
        now = tuned.get("trials_run_now")
        how = " (reused: all finished before this run)" if now == 0 else f" ({now} run now)"
        note = f"  tuned: {tuned['n_trials']} trials in study '{tuned['study_name']}'{how}"
    return f"{head} {scores}  fit {r['fit_time_s']:.1f}s{note}"
