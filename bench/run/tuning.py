"""Hyperparameter tuning with Optuna, nested inside one outer fold and resumable (STYLE.md point 8).

Leak-free by construction: a trial fits on the fold's ``train`` indices and is scored on its ``val``
indices (macro-F1: accuracy flatters the majority class of imbalanced FER data); the outer test indices are
never sliced. The tuned model is then trained and tested by the run engine as usual.

Studies are persistent and named ``MODEL|PROTOCOL|DATA|FOLD`` (``|sN`` appended for a non-zero seed) in a
SQLAlchemy storage, by default ``sqlite:///RUN/optuna.db``. Re-running the same command resumes a study, and
several processes on one storage share it: each trial first claims one of the ``n_trials`` slots (see
``_claim_slot``), so together they finish exactly ``n_trials`` trials. Trials of a killed process stop
sending heartbeats; after a grace period they are failed and re-queued with the same parameters.

Deep trials report their validation accuracy after every epoch and a ``MedianPruner`` stops the hopeless
ones: ``DeepClassifier.fit(..., callbacks=[cb])`` calls ``cb(record, net)`` with the epoch's history record
(``record["epoch"]``, ``record["val_acc"]``), and the ``optuna.TrialPruned`` raised there ends the fit.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FixedTrial, FrozenTrial, TrialState

from bench.core.errors import BenchError, ConfigError
from bench.core.models import MODELS, ModelSpec
from bench.data.dataset import FERDataset
from bench.results.folder import RunFolder, path_part
from bench.run.config import RunConfig
from bench.run.setup import prepare, start_run
from bench.run.storage import SQLITE, check_storage, default_storage, sqlite_file, sqlite_url  # noqa: F401 - sqlite_url: part of the tuning API
from bench.run.unit import build_estimator, build_kwargs, fit_and_score, model_size

METRIC = "macro_f1"  # what a trial maximises, on the fold's validation split
DEFAULT_HEARTBEAT_S = 30  # a trial silent for 3x this long belongs to a dead process
SERVER_CONNECT_TIMEOUT_S = 10  # an unreachable database server fails after this long, not minutes
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)  # trials that count towards --trials
# Per-epoch scores a deep trial reports, first one present wins (deep.train records val_acc). Pruning compares
# trials at the same epoch on this score; the trial's final value is still the validation macro-F1.
EPOCH_KEYS = ("val_macro_f1", "val_acc", "val_accuracy")

# (trial number, role, indices) -> None; role is "fit" or "score". Tests register here to prove that no
# trial touches the outer test fold.
IndexHook = Callable[[int, str, np.ndarray], None]
WORKER = f"{socket.gethostname()}:{os.getpid()}"  # which process ran a trial, shown in the dashboard


@dataclass
class TuneResult:
    best_params: dict[str, Any]  # estimator parameters, ready for ``apply_best``
    best_value: float  # validation macro-F1 of the best trial
    n_trials: int  # finished (complete or pruned) trials in the study
    study_name: str
    storage: str
    metric: str = METRIC
    best_trial: int | None = None
    optuna_params: dict[str, Any] = field(default_factory=dict)  # the sampled values, as the dashboard shows
    n_before: int = 0  # finished trials the study already held when this call opened it

    def record(self) -> dict[str, Any]:
        """What a unit record stores under ``"tuned"`` (leaderboards show "tuned (N trials)")."""
        return {"n_trials": self.n_trials, "best_params": _jsonable(self.best_params),
                "best_value": self.best_value, "metric": self.metric, "study_name": self.study_name,
                "storage": self.storage, "trials_run_now": max(self.n_trials - self.n_before, 0)}

    def reuse_line(self) -> str:
        """Whether this call ran trials or found the study done (a shared study is reused as it is)."""
        if self.n_before >= self.n_trials:
            return f"reused: its {self.n_trials} trials were finished before, none run now"
        return f"{self.n_trials - self.n_before} trials run now, {self.n_before} found finished"


class _SurplusTrial(Exception):
    """A trial created after other processes had already claimed every slot; it ends FAIL without work."""


# ---------------------------------------------------------------------- names and storage
def open_storage(url: str, *, heartbeat: int | None = DEFAULT_HEARTBEAT_S) -> optuna.storages.RDBStorage:
    """An RDB storage that several processes can share.

    SQLite gets a 60 s lock timeout: processes queue for the write lock instead of failing with "database is
    locked". A database server (PostgreSQL through psycopg 3: ``postgresql+psycopg://user:pass@host/db``) is
    reached first, with a connect timeout, so a wrong address fails at once in one line; its pooled
    connections are checked before use, since a trial can outlast the server's idle timeout. With a
    heartbeat, the running trials of a killed process are failed after 3 heartbeats and re-queued once with
    the same parameters, so a kill loses no slot.
    """
    check_storage(url)
    engine_kwargs: dict[str, Any] = {}
    is_sqlite = url.startswith(SQLITE)
    if is_sqlite:
        engine_kwargs["connect_args"] = {"timeout": 60}
        db = sqlite_file(url)
        if db is not None:
            _sqlite_wal(db)
    else:
        engine_kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": SERVER_CONNECT_TIMEOUT_S}
    kw: dict[str, Any] = {}
    if heartbeat:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)  # optuna >= 4.9
        retry = retry or optuna.storages.RetryFailedTrialCallback
        kw = {"heartbeat_interval": int(heartbeat), "grace_period": 3 * int(heartbeat)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Older Optuna (3.4, the floor) names this argument failed_trial_callback.
            params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
            key = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
            kw[key] = retry(max_retry=1)
    shown = storage_address(url)
    try:
        if not is_sqlite:
            _reach(url, engine_kwargs)
        storage = _rdb_storage(url, engine_kwargs, kw)
    except ImportError as exc:  # e.g. postgresql:// without its driver installed
        raise ConfigError(f"--storage '{shown}' needs a database driver that is not installed ({exc}); for "
                          "PostgreSQL use postgresql+psycopg://... (psycopg 3)") from exc
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises several types for a bad URL or server
        raise ConfigError(f"cannot open --storage '{shown}' ({_reason(exc)}); give a SQLAlchemy URL such as "
                          "sqlite:///RUN/optuna.db or postgresql+psycopg://user:pass@host/db") from exc
    if is_sqlite:
        _sqlite_sync_normal(storage.engine)
    return storage


def reach_storage(url: str) -> None:
    """Open (and set up) a study storage once, so an unreachable database fails before a run writes anything."""
    open_storage(url, heartbeat=None).engine.dispose()


def storage_address(url: str) -> str:
    """The storage URL as messages show it: any password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can parse: the error about it comes later
        return url


def _reason(exc: BaseException) -> str:
    """The driver's own words (SQLAlchemy wraps them with a link to its docs)."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {' '.join(str(inner).split())}"


def _reach(url: str, engine_kwargs: dict[str, Any]) -> None:
    """Connect once to a database server, or fail in one line that names it."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, **engine_kwargs)
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.OperationalError as exc:
        raise ConfigError(f"cannot reach the study database at --storage '{storage_address(url)}' "
                          f"({_reason(exc)}); check the host, port, user and database name, and that the server is running") from None
    finally:
        engine.dispose()


def _rdb_storage(url: str, engine_kwargs: dict[str, Any], kw: dict[str, Any], attempts: int = 5
                 ) -> optuna.storages.RDBStorage:
    """RDBStorage, retried: processes started together race to create the tables of a new storage, and
    the loser fails on a unique constraint. Once the winner is done, a second attempt finds the tables."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **kw)
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _sqlite_wal(path: Path) -> None:
    """Put a SQLite file in write-ahead-log mode (a setting stored in the file).

    With the default rollback journal every commit waits for a disk sync (tens of ms; a trial makes about
    fifteen), and readers such as the dashboard block writers. WAL needs a local disk: to share a study
    between machines use PostgreSQL, not SQLite on a network file system.
    """
    import sqlite3

    con = sqlite3.connect(path, timeout=60)
    deadline = time.monotonic() + 60
    try:
        # Changing the journal mode needs the file to itself, and SQLite answers "database is locked" at once,
        # without its busy timeout, while a process started alongside is creating the tables: wait it out.
        while True:
            try:
                if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    con.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        con.close()


def _sqlite_sync_normal(engine: Any) -> None:
    """synchronous=NORMAL on every connection: in WAL mode a killed process still loses no commit."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened while optuna created its tables reconnect with the setting


def tuning_path(run_path: str | Path, model: str, fold_id: str) -> Path:
    return Path(run_path) / "tuning" / path_part(model) / f"{fold_id}.json"


def save_result(run_path: str | Path, model: str, fold_id: str, result: TuneResult) -> Path:
    """Write ``RUN/tuning/MODEL/FOLD.json`` atomically and return its path."""
    path = tuning_path(run_path, model, fold_id)
    RunFolder(run_path).write_json(path, {"model": model, "fold": fold_id, **asdict(result),
                                          "best_params": _jsonable(result.best_params)})
    return path


def apply_best(estimator: Any, best_params: dict[str, Any]) -> Any:
    """Set the tuned parameters on an unfitted estimator (``set_params``, as scikit-learn does); returns it."""
    if best_params:
        estimator.set_params(**best_params)
    return estimator


# ---------------------------------------------------------------------- sampling
class SeededTPESampler(BaseSampler):
    """A TPE sampler whose random stream is seeded from (seed, trial number).

    One ``TPESampler(seed=seed)`` per process would make two processes sharing a study, or a resumed study,
    replay the same random start-up points. Seeding per trial number keeps a study reproducible however many
    processes ran it and wherever it was interrupted.
    """

    def __init__(self, seed: int = 0, **tpe_kwargs: Any) -> None:
        self._seed = int(seed)
        self._tpe_kwargs = tpe_kwargs
        self._inner = TPESampler(seed=self._seed, **tpe_kwargs)

    def _trial_seed(self, number: int) -> int:
        digest = hashlib.sha256(f"{self._seed}:{number}".encode()).digest()
        return int.from_bytes(digest[:4], "little")

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._inner = TPESampler(seed=self._trial_seed(trial.number), **self._tpe_kwargs)
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
                        ) -> dict[str, Any]:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: Any) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to do: every trial is seeded from its number."""


# ---------------------------------------------------------------------- the objective
def _jsonable(obj: Any) -> Any:
    """Parameters as JSON values (user attributes and tuning files must be JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return repr(obj)


def split_digest(ds: FERDataset, fold: Any) -> str:
    """Identifies the data a study tunes on: the dataset and the fold's train and validation indices."""
    h = hashlib.sha256(ds.fingerprint().encode())
    h.update(np.asarray(fold.train, dtype=np.int64).tobytes())
    h.update(b"|")
    h.update(np.asarray(fold.val, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def _check_fold(fold: Any) -> None:
    """Refuse to tune when a fold's validation split is empty or overlaps its test set."""
    if len(fold.train) == 0 or len(fold.val) == 0:
        raise ConfigError(f"fold {fold.id} has {len(fold.train)} training and {len(fold.val)} validation "
                          "samples; tuning needs both (use a larger --val-size)")
    test = fold.test
    for role, idx in (("training", fold.train), ("validation", fold.val)):
        shared = np.intersect1d(idx, test)
        if len(shared):
            raise BenchError(f"fold {fold.id}: {len(shared)} {role} indices are also test indices; "
                             "refusing to tune on them")


def feature_dim(estimator: Any, X: np.ndarray) -> int | None:
    """Width of what the classifier sees: a pipeline's feature output (from one image), or the input of a
    fitted network's classifier layer."""
    head = getattr(getattr(estimator, "net_", None), "head", None)
    if head is not None:
        try:
            return int(head[-1].in_features)
        except (AttributeError, IndexError, TypeError):
            return None
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) < 2:
        return None
    try:
        # Step by step rather than ``estimator[:-1].transform``: scikit-learn refuses to transform with a
        # pipeline slice whose stateless steps carry no fitted attributes.
        out = X[:1]
        for _, step in steps[:-1]:
            if step not in (None, "passthrough"):
                out = step.transform(out)
        return int(np.asarray(out).reshape(1, -1).shape[1])
    except Exception:  # noqa: BLE001 - informative only; a trial never fails for it
        return None


def _epoch_score(logs: dict[str, Any]) -> float | None:
    for key in EPOCH_KEYS:
        value = logs.get(key)
        if value is not None and math.isfinite(float(value)):
            return float(value)
    return None


def epoch_reporter(trial: optuna.Trial) -> Callable[..., None]:
    """The callback a deep estimator calls after each epoch with its history record: report the validation
    score, and stop a hopeless trial by raising ``optuna.TrialPruned``."""

    calls = 0

    def callback(record: dict[str, Any], net: Any = None) -> None:
        nonlocal calls
        calls += 1
        value = _epoch_score(record)
        if value is None:
            return
        epoch = int(record.get("epoch", calls))
        trial.report(value, epoch)
        if trial.should_prune():
            trial.set_user_attr("pruned_at_epoch", int(epoch))
            raise optuna.TrialPruned(f"epoch {epoch}: validation score {value:.4f} below the median")

    return callback


def _claim_slot(trial: optuna.Trial, n_trials: int) -> None:
    """End this trial unless it holds one of the study's ``n_trials`` slots.

    Slots go by trial number, which the storage hands out in order. Trials with a lower number that are
    running or queued may still finish, so they count as ahead of this one; a failed one frees its slot.
    This way processes sharing a study never finish more than ``n_trials`` trials between them.
    """
    ahead = sum(1 for t in trial.study.get_trials(deepcopy=False, states=(*FINISHED, TrialState.RUNNING,
                                                                          TrialState.WAITING))
                if t.number < trial.number)
    if ahead >= n_trials:
        trial.set_user_attr("surplus", True)
        raise _SurplusTrial(f"all {n_trials} trials are taken by other processes")


def _objective(spec: ModelSpec, fold: Any, ds: FERDataset, build_kwargs: dict[str, Any], n_trials: int,
               index_hooks: list[IndexHook], source_model: Any) -> Callable[[optuna.Trial], float]:
    fit_idx, val_idx = np.asarray(fold.train), np.asarray(fold.val)

    def objective(trial: optuna.Trial) -> float:
        _claim_slot(trial, n_trials)
        for key, value in {"fold": fold.id, "model": spec.name, "worker": WORKER, "n_fit": int(len(fit_idx)),
                           "n_val": int(len(val_idx))}.items():
            trial.set_user_attr(key, value)
        params = spec.search_space(trial)  # type: ignore[misc]
        trial.set_user_attr("estimator_params", _jsonable(params))

        def take(role: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # Every slice of the data a trial uses goes through here, so the hooks see all of it.
            for hook in index_hooks:
                hook(trial.number, role, idx)
            return ds.images[idx], ds.labels[idx]

        est = build_estimator(spec, build_kwargs, params, fold=fold, source_model=source_model)
        # The same path as a run's unit, scored on the validation split instead of the test sets.
        outcome = fit_and_score(spec, est, ds, fit_idx, val_idx if spec.uses_validation else None,
                                {"val": val_idx}, callbacks=[epoch_reporter(trial)], take=take)
        trial.set_user_attr("fit_time_s", round(outcome.fit_time_s, 4))
        if getattr(est, "best_epoch_", None) is not None:
            trial.set_user_attr("best_epoch", int(est.best_epoch_))
        scores = outcome.metrics["val"]
        trial.set_user_attr("val_accuracy", round(scores["accuracy"], 6))
        trial.set_user_attr("feature_dim", feature_dim(est, ds.images[fit_idx[:1]]))
        trial.set_user_attr("model_size", model_size(est))
        return float(scores[METRIC])

    return objective


# ---------------------------------------------------------------------- driving a study
def _counts(study: optuna.Study) -> tuple[int, int]:
    """(finished, running) trials of the study."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return sum(s in FINISHED for s in states), sum(s == TrialState.RUNNING for s in states)


def _best(study: optuna.Study) -> FrozenTrial | None:
    """The best complete trial, the earliest among equals; None before one completes."""
    # Not study.best_trial: Optuna before 3.6 raises on PostgreSQL when two trials tie on the best value.
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not done:
        return None
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return min(done, key=lambda t: (sign * t.value, t.number))


def _fail_stale(study: optuna.Study) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _trial_line(study: optuna.Study, t: FrozenTrial, n_trials: int) -> str | None:
    if t.user_attrs.get("surplus"):
        return None
    done, _ = _counts(study)
    head = f"trial {t.number:>3} [{done}/{n_trials}]"
    if t.state == TrialState.COMPLETE:
        best = _best(study)
        best_value = best.value if best is not None else float("nan")
        return (f"{head} {METRIC} {t.value:.4f} (best {best_value:.4f})  fit {t.user_attrs.get('fit_time_s', 0):.1f}s  "
                f"{json.dumps(t.params, sort_keys=True)}")
    return f"{head} {t.state.name.lower()}"


def _drive(study: optuna.Study, objective: Callable[[optuna.Trial], float], n_trials: int,
           timeout: float | None, log: Callable[[str], None] | None, poll_s: float) -> None:
    """Run trials until the study has ``n_trials`` finished ones (or ``timeout`` seconds passed)."""
    start = time.monotonic()
    failures = 0
    waiting_said = False

    def after(st: optuna.Study, t: FrozenTrial) -> None:
        nonlocal failures
        failures += t.state == TrialState.FAIL and not t.user_attrs.get("surplus")
        line = _trial_line(st, t, n_trials)
        if log and line:
            log(line)

    # Belt and braces: the slot claim already bounds the count; this stops a process's loop early.
    stop_at_n = optuna.study.MaxTrialsCallback(n_trials, states=FINISHED)
    while True:
        _fail_stale(study)
        finished, running = _counts(study)
        if finished >= n_trials or (timeout is not None and time.monotonic() - start >= timeout):
            return
        if finished + running >= n_trials:
            # Other processes hold the last slots. Wait: a slot comes back if one of them fails or dies.
            if log and not waiting_said:
                log(f"waiting for {running} running trial(s) of other processes")
                waiting_said = True
            time.sleep(poll_s)
            continue
        if failures >= max(3, n_trials):
            raise BenchError(f"{failures} trials of study '{study.study_name}' failed; see the dashboard "
                             "or the log above for their errors")
        study.optimize(objective, n_trials=1, catch=(_SurplusTrial,), callbacks=[stop_at_n, after])


def tune_unit(spec: ModelSpec, fold: Any, ds: FERDataset, *, n_trials: int, timeout: float | None = None,
              storage: str, study_name: str, seed: int, build_kwargs: dict[str, Any],
              heartbeat: int | None = DEFAULT_HEARTBEAT_S, source_model: Any = None,
              index_hooks: list[IndexHook] | None = None, log: Callable[[str], None] | None = None,
              poll_s: float = 1.0) -> TuneResult:
    """Tune ``spec`` on one outer fold: fit on ``fold.train``, maximise macro-F1 on ``fold.val``.

    The study ``study_name`` in ``storage`` (a SQLAlchemy URL) is created or resumed; only the trials still
    missing to reach ``n_trials`` finished (complete or pruned) ones are run, shared with any other process
    working on the same study. ``fold.tests`` is never read except to check it is disjoint from train/val.
    """
    if n_trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {n_trials}")
    _check_fold(fold)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from ``log`` instead
    study = optuna.create_study(
        storage=open_storage(storage, heartbeat=heartbeat), study_name=study_name, direction="maximize",
        load_if_exists=True, sampler=SeededTPESampler(seed),
        # Epochs count from 1: a trial is compared with the median of earlier trials from its third epoch
        # on, once three trials have finished; early epochs are too noisy to judge.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=3),
    )
    digest = split_digest(ds, fold)
    known = study.user_attrs.get("split_digest")
    if known is None:
        for key, value in {"split_digest": digest, "model": spec.name, "fold": fold.id, "dataset": ds.name,
                           "metric": METRIC, "n_fit": int(len(fold.train)), "n_val": int(len(fold.val))}.items():
            study.set_user_attr(key, value)
    elif known != digest:
        raise ConfigError(f"study '{study_name}' in {storage_address(storage)} was tuned on other data or another "
                          "split of it (dataset, --folds, --val-size or --seed differ); use another --storage or --name")
    n_before, _ = _counts(study)
    objective = _objective(spec, fold, ds, build_kwargs, n_trials, list(index_hooks or []), source_model)
    _drive(study, objective, n_trials, timeout, log, poll_s)

    finished, _ = _counts(study)
    best = _best(study)
    if best is None:
        raise BenchError(f"no trial of study '{study_name}' completed ({finished} finished, all pruned or "
                         "interrupted); run more --trials or a longer --timeout")
    # Re-run the search space on the best trial's values: the estimator parameters come back with their
    # exact types (tuples, derived values) rather than their JSON copies.
    best_params = spec.search_space(FixedTrial(best.params))  # type: ignore[misc]
    return TuneResult(best_params=best_params, best_value=float(best.value), n_trials=finished,
                      study_name=study_name, storage=storage_address(storage), best_trial=best.number,
                      optuna_params=dict(best.params), n_before=n_before)


# ---------------------------------------------------------------------- bench run --tune N
def tune_fold(spec: ModelSpec, fold: Any, ds: FERDataset, cfg: RunConfig, build_kwargs: dict[str, Any],
              run_path: str | Path, *, timeout: float | None = None, source_model: Any = None,
              log: Callable[[str], None] | None = None) -> TuneResult:
    """For ``bench run --tune N``: tune on the fold's training part; the best parameters are also saved to
    ``RUN/tuning/MODEL/FOLD.json``. An already finished study (``bench tune`` shares it) is only read."""
    result = tune_unit(spec, fold, ds, n_trials=cfg.tune, timeout=timeout,
                       storage=cfg.storage or default_storage(run_path),
                       study_name=cfg.study_name(spec.name, fold.id), seed=cfg.seed, build_kwargs=build_kwargs,
                       source_model=source_model, log=log)
    save_result(run_path, spec.name, fold.id, result)
    return result


def tuned_estimator(spec: ModelSpec, fold: Any, ds: FERDataset, cfg: RunConfig, n_trials: int,
                    run_path: str | Path, *, timeout: float | None = None,
                    source_model: Any = None) -> tuple[Any, dict[str, Any]]:
    """The unfitted tuned estimator of one fold and its record (as the engine builds it)."""
    kwargs = build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs,
                          accel=cfg.accel)
    result = tune_fold(spec, fold, ds, replace(cfg, tune=n_trials), kwargs, run_path, timeout=timeout,
                       source_model=source_model)
    return build_estimator(spec, kwargs, result.best_params, fold=fold, source_model=source_model), result.record()


# ---------------------------------------------------------------------- bench tune (options: bench.cli.tune_args)
def select_fold(folds: list[Any], wanted: str | None, family: str) -> Any:
    """The fold named (id or index) by ``--fold``, default the first one the model family runs on."""
    usable = [f for f in folds if family in f.families]
    if not usable:
        raise ConfigError(f"no fold of this protocol applies to {family} models")
    if wanted is None:
        return usable[0]
    ids = [f.id for f in folds]
    if wanted in ids:
        fold = folds[ids.index(wanted)]
    elif wanted.isdigit() and int(wanted) < len(folds):
        fold = folds[int(wanted)]
    else:
        raise ConfigError(f"--fold '{wanted}' is not a fold of this protocol; folds: {', '.join(ids)} "
                          f"(or an index 0..{len(folds) - 1})")
    if family not in fold.families:
        raise ConfigError(f"fold {fold.id} does not apply to {family} models; pick another --fold")
    if fold.init_from:
        raise ConfigError(f"fold {fold.id} fine-tunes the model of {fold.init_from}; tune a fold that trains "
                          f"from scratch (e.g. --fold {fold.init_from})")
    return fold


def tune_from_args(args: argparse.Namespace) -> int:
    """``bench tune``: tune one outer fold of one model, save and print the best parameters.

    The run configuration is ``bench run``'s with ``--tune`` = ``--trials``: the same run folder, manifest and
    study names, so ``bench run ... --tune N`` afterwards reuses the studies this command filled.
    """
    heartbeat = DEFAULT_HEARTBEAT_S if args.heartbeat is None else args.heartbeat
    if heartbeat < 0:
        raise ConfigError(f"--heartbeat must be a number of seconds >= 0 (0 turns it off), got {heartbeat}")
    cfg = RunConfig.from_args(args)
    spec = MODELS.get(args.model)
    protocol = cfg.make_protocol()
    ds, facts = prepare(cfg, protocol)
    folds = list(protocol.split(ds))
    fold = select_fold(folds, args.fold, spec.family)
    if cfg.storage:
        reach_storage(cfg.storage)  # an unreachable database fails before the run folder is written
    run = start_run(cfg, protocol, ds, facts, folds, [spec], lock=False)
    storage = cfg.storage or default_storage(run.path)
    name = cfg.study_name(spec.name, fold.id)
    print(f"tuning {spec.name} on {fold.id} ({len(fold.train)} fit / {len(fold.val)} validation images, "
          f"{len(fold.test)} test images untouched): study '{name}' in {storage_address(storage)}", file=sys.stderr)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # SIGTERM ends the trial in progress as an interruption (marked failed at once), not a silent death that
    # only the heartbeat notices.
    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()  # only it may install handlers
    previous = signal.signal(signal.SIGTERM, on_term) if main_thread else None
    kwargs = build_kwargs(spec, seed=cfg.seed, preset=cfg.preset, device=cfg.device, epochs=cfg.epochs,
                          accel=cfg.accel)
    try:
        result = tune_unit(spec, fold, ds, n_trials=cfg.tune, timeout=args.timeout, storage=storage,
                           study_name=name, seed=cfg.seed, build_kwargs=kwargs, heartbeat=heartbeat or None, log=log)
    except KeyboardInterrupt:
        print(f"interrupted: the finished trials are kept in study '{name}'; re-run the same command to resume",
              file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    path = save_result(run.path, spec.name, fold.id, result)
    print(f"best {METRIC} {result.best_value:.4f} (trial {result.best_trial}, {result.n_trials} trials finished)")
    print(f"best params: {json.dumps(_jsonable(result.best_params), sort_keys=True)}")
    print(f"study: {result.study_name} ({result.reuse_line()})")
    print(f"storage: {result.storage}")
    print(f"saved: {path}")
    look = (f"bench dashboard {run.path}" if args.storage is None
            else f"bench dashboard --storage '{storage_address(storage)}'")
    print(f"look: {look}")
    run_again = " ".join(["bench", "run", *_run_flags(cfg)])
    print(f"then: {run_again} (reuses this study for {fold.id} and tunes the other folds)")
    return 0


def _run_flags(cfg: RunConfig) -> list[str]:
    """The ``bench run`` options that open this command's run folder and studies."""
    flags = ["--protocol", cfg.protocol]
    for role, spec in cfg.data_specs().items():
        flags += [f"--{role}", spec]
    flags += ["--model", cfg.models, "--tune", str(cfg.tune)]
    for flag, value, default in (("--folds", cfg.folds, None), ("--test-size", cfg.test_size, None),
                                 ("--val-size", cfg.val_size, 0.1), ("--seed", cfg.seed, 0),
                                 ("--preset", cfg.preset, "default"), ("--epochs", cfg.epochs, None),
                                 ("--out", cfg.out, "results"), ("--name", cfg.name, None),
                                 ("--storage", cfg.storage, None)):
        if value != default:
            flags += [flag, str(value)]
    if cfg.target_fractions != (1.0,):
        flags += ["--target-fraction", ",".join(f"{f:g}" for f in cfg.target_fractions)]
    for flag, (_param, value) in cfg.protocol_options().items():
        flags += [flag, str(value)]
    return flags
