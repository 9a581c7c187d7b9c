"""The run engine: (model x fold) units, each saved the moment it finishes into a self-describing run folder."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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
from bench.run.progress import EpochProgress
from bench.run.saved_models import load_model, save_run_model
from bench.run.setup import check_models, check_validation, prepare, source_models, start_run
from bench.run.unit import (
    build_estimator,
    build_kwargs,
    fit_and_score,
    fit_indices,
    model_size,
    prediction_frame,
    score_sets,
)
from leaderboard.build import run_summary_markdown
from protocols import Fold, Protocol
from protocols.leakage import coverage, fold_leakage

__all__ = ["RunConfig", "execute", "prepare", "run_from_args", "run_unit"]


def run_from_args(args: argparse.Namespace) -> int:
    return execute(RunConfig.from_args(args))


# ---------------------------------------------------------------------- one unit
def run_unit(spec: ModelSpec, fold: Fold, ds: FERDataset, cfg: RunConfig, source_model: Any = None,
             run_path: Path | None = None, trained: Any = None,
             status: Callable[[str], None] | None = None,
             keep_source: bool = False) -> tuple[dict[str, Any], pd.DataFrame | None, Any]:
    """Train one model on one fold (tuned first with ``cfg.tune``) and score it on every test set of the fold.

    ``trained``: a model fitted elsewhere on this fold's training data (``--source-run``), only scored.
    ``status`` hears how long a classical fit has been running (a progress bar's postfix). The files the unit
    leaves in ``run_path`` (its source model for fine-tuning units with ``keep_source``, its model with
    ``--save-models``) are complete before the engine writes the unit's record, which is what says it is done."""
    record: dict[str, Any] = {"model": spec.name, "family": spec.family, "fold": fold.id, "variant": fold.variant,
                              "strategy": fold.info.get("strategy", ""), "init_from": fold.init_from,
                              "finetune": fold.finetune, "seed": cfg.seed, "n_train": int(len(fold.train)),
                              "n_val": int(len(fold.val))}
    if trained is not None:
        outcome = score_sets(trained, ds, fold.tests)
        record.update(status="ok", metrics=outcome.metrics, fit_time_s=0.0, source_run=cfg.source_run,
                      predict_ms_per_image=round(outcome.predict_ms_per_image, 5), model_size=model_size(trained),
                      history=getattr(trained, "history_", None) or None)
        frames = [prediction_frame(ds, idx, name, outcome.probabilities[name]) for name, idx in fold.tests.items()]
        return record, pd.concat(frames, ignore_index=True), trained
    kwargs = build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs,
                          accel=cfg.accel)
    params = None
    try:
        if cfg.tune:
            if run_path is None:
                raise ConfigError("tuning needs a run folder for its study storage")
            result = tuning.tune_fold(spec, fold, ds, cfg, kwargs, run_path, source_model=source_model,
                                      log=lambda line: tqdm.write(f"  {spec.name} {fold.id} {line}", file=sys.stderr))
            params, record["tuned"] = result.best_params, result.record()
        est = build_estimator(spec, kwargs, params, fold=fold, source_model=source_model)
    except UnitSkipped as exc:
        return dict(record, status="skipped", message=str(exc)), None, None

    fit_idx, val_idx = fit_indices(spec, fold)
    epochs = EpochProgress(f"{spec.name} {fold.id}", bar=cfg.progress) if spec.uses_validation else None
    saved = RunFolder(run_path).epoch_checkpoint_path(spec.name, fold.id) if run_path is not None else None
    try:
        outcome = fit_and_score(spec, est, ds, fit_idx, val_idx, fold.tests, callbacks=[epochs] if epochs else (),
                                checkpoint=saved, status=status)
    finally:
        if epochs is not None:
            epochs.close()
    if getattr(est, "resumed_from_", None):
        record["resumed_from_epoch"] = int(est.resumed_from_)
        print(f"{spec.name} {fold.id}: resumed at epoch {est.resumed_from_ + 1} from its last epoch checkpoint",
              file=sys.stderr)
    if run_path is not None:
        keep_model_files(RunFolder(run_path), spec, fold, est, ds, cfg, fit_idx, val_idx, keep_source)
    if saved is not None:
        saved.unlink(missing_ok=True)  # the unit is done: its per-epoch state is not needed to resume
    history = getattr(est, "history_", None)
    fit_time_s = outcome.fit_time_s
    if record.get("resumed_from_epoch"):  # the epochs trained before the interruption count too
        fit_time_s += sum(h.get("time") or 0.0 for h in history[:record["resumed_from_epoch"]])
    record.update(status="ok", metrics=outcome.metrics, fit_time_s=round(fit_time_s, 4),
                  predict_ms_per_image=round(outcome.predict_ms_per_image, 5), model_size=model_size(est),
                  history=history or None,
                  **{k: v for k, v in (("backend", outcome.backend), ("iterations", outcome.iterations)) if v})
    if history:
        # Without a validation split the history holds val_acc None: the last epoch is then the kept one.
        best = max(history, key=lambda h: -1 if h.get("val_acc") is None else h["val_acc"])
        record["train_accuracy"] = best.get("train_acc")
    frames = [prediction_frame(ds, idx, name, outcome.probabilities[name]) for name, idx in fold.tests.items()]
    return record, pd.concat(frames, ignore_index=True), est


def keep_model_files(run: RunFolder, spec: ModelSpec, fold: Fold, est: Any, ds: FERDataset, cfg: RunConfig,
                     fit_idx: np.ndarray, val_idx: np.ndarray | None, keep_source: bool) -> None:
    """A finished unit's model files, each written whole or not at all: the source model fine-tuning units
    start from (``RUN/checkpoints``), and with ``--save-models`` the model with its card (``RUN/models``)."""
    if keep_source and hasattr(est, "save"):
        est.save(run.checkpoint_path(spec.name, fold.id))
    if cfg.save_models:
        seen = fit_idx if val_idx is None else np.concatenate([fit_idx, val_idx])
        save_run_model(run, spec.name, fold.id, est, ds, seen, protocol=cfg.make_protocol().config())


# ---------------------------------------------------------------------- the run
def execute(cfg: RunConfig) -> int:
    protocol = cfg.make_protocol()
    specs = resolve_models(cfg.models)
    notes = check_models(specs, cfg.preset)
    ds, facts = prepare(cfg, protocol)
    folds = list(protocol.split(ds))
    check_validation(specs, folds, cfg)
    given = source_models(cfg, facts, folds, specs)
    if cfg.tune and cfg.storage:
        tuning.reach_storage(cfg.storage)  # an unreachable database fails before anything is written
    # A Dask cluster is reached and its workers checked before anything is written, and closed on the way out.
    with open_executor(cfg, run_unit, ds, specs) as executor:
        return _run_units(cfg, executor, protocol, specs, ds, facts, folds, notes, given)


def _run_units(cfg: RunConfig, executor: Executor, protocol: Protocol, specs: list[ModelSpec], ds: FERDataset,
               facts: dict[str, Any], folds: list[Fold], notes: dict[str, list[str]],
               given: dict[tuple[str, str], Path]) -> int:
    run = start_run(cfg, protocol, ds, facts, folds, specs, notes)
    for name, lines in notes.items():
        for line in lines:
            print(f"note: {name} ({cfg.preset} preset): {line}", file=sys.stderr)
    run.write_json(run.path / "leakage.json", {"folds": {f.id: fold_leakage(ds, f) for f in folds},
                                               "coverage": coverage(ds, folds)})

    units = [(s, f) for s in specs for f in folds if s.family in f.families]
    sources_needed = {(s.name, f.init_from) for s, f in units if f.init_from}
    trained: dict[tuple[str, str], Any] = {}
    failed = skipped = 0
    print(f"run {run.path}: {len(specs)} models x {len(folds)} folds = {len(units)} units "
          f"({protocol.describe()})", file=sys.stderr)
    done = {(s.name, f.id) for s, f in units if run.unit_done(s.name, f.id)}
    done -= _stale_sources(run, units, done, trained, cfg, given)
    todo = [(s, f) for s, f in units if (s.name, f.id) not in done]
    done_before = len(units) - len(todo)

    bar = tqdm(total=len(units), initial=done_before, unit="unit", disable=not cfg.progress, dynamic_ncols=True,
               file=sys.stderr)

    def inputs_of(spec: ModelSpec, fold: Fold) -> dict[str, Any]:
        """run_unit's keywords for one unit, asked when it starts: the model it fine-tunes (trained earlier in
        this run), the model it only scores (--source-run), where a fit reports its progress."""
        source = None
        if fold.init_from:
            source = trained.get((spec.name, fold.init_from)) or _load_checkpoint(run, spec, fold.init_from, cfg)
        done_elsewhere = _load(spec, given[(spec.name, fold.id)], cfg) if (spec.name, fold.id) in given else None
        return {"source_model": source, "trained": done_elsewhere, "keep_source": (spec.name, fold.id) in sources_needed,
                "status": bar.set_postfix_str if cfg.progress else None}

    for done in executor.run(todo, ds, cfg, run.path, inputs_of):
        spec, fold, record, est = done.spec, done.fold, done.record, done.estimator
        bar.set_description(f"{spec.name} {fold.id}")
        run.write_unit(record, done.predictions)
        if est is not None and (spec.name, fold.id) in sources_needed:
            trained[(spec.name, fold.id)] = est
        failed += record["status"] == "failed"
        skipped += record["status"] == "skipped"
        tqdm.write(_unit_line(record), file=sys.stdout)
        bar.update()
    bar.close()
    run.write_metrics_table()

    add_ensembles(run, folds, cfg.ensemble)
    text = run_summary_markdown(run)
    run.write_text("leaderboard.md", text)
    print(text)
    print(f"run folder: {run.path} ({done_before} units were already done, {skipped} skipped, {failed} failed)",
          file=sys.stderr)
    if failed:
        print(f"error: {failed} units failed; their messages are in {run.path}/metrics.csv", file=sys.stderr)
        return 1
    return 0


def _stale_sources(run: RunFolder, units: list[tuple[ModelSpec, Fold]], done: set[tuple[str, str]],
                   loaded: dict[tuple[str, str], Any], cfg: RunConfig,
                   given: dict[tuple[str, str], Path]) -> set[tuple[str, str]]:
    """Finished source units whose saved model a waiting fine-tuning unit needs but cannot read (missing,
    truncated by a kill, damaged): they run again, and so do all their fine-tuning units, so that no fold
    mixes two source models. Readable ones are loaded into ``loaded``."""
    stale: set[tuple[str, str]] = set()
    for spec, fold in units:
        key = (spec.name, fold.id)
        dependants = [(s.name, f.id) for s, f in units if s.name == spec.name and f.init_from == fold.id]
        if key not in done or not dependants or all(d in done for d in dependants):
            continue
        path = given.get(key) or run.checkpoint_path(spec.name, fold.id)  # --source-run: the other run's file
        try:
            model = _load(spec, path, cfg) if path.exists() else None
        except Exception as exc:  # noqa: BLE001 - any reader failure means the file cannot start a fine-tuning
            why = f"unreadable ({' '.join(str(exc).split())[:160]})"
        else:
            if model is not None:
                loaded[key] = model
                continue
            why = "missing"
        print(f"warning: source model {path} is {why}: {spec.name} {fold.id} and its {len(dependants)} fine-tuning "
              "units run again", file=sys.stderr)
        stale |= {key, *dependants}
    return stale


def _load_checkpoint(run: RunFolder, spec: ModelSpec, fold_id: str, cfg: RunConfig) -> Any:
    path = run.checkpoint_path(spec.name, fold_id)
    return _load(spec, path, cfg) if path.exists() else None


def _load(spec: ModelSpec, path: Path, cfg: RunConfig) -> Any:
    """A model file of a unit: a saved classical pipeline (``.skops``), or a deep model or checkpoint."""
    if path.suffix == ".skops":
        return load_model(path)
    est = spec.build(**build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs,
                                    accel=cfg.accel))
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
    solver = [b for b in (r.get("backend"),) if b and b != "sklearn"]
    solver += [f"{r['iterations']} iterations"] if r.get("iterations") else []
    fit = f"fit {r['fit_time_s']:.1f}s" + (f" ({', '.join(solver)})" if solver else "")
    return f"{head} {scores}  {fit}{note}"
