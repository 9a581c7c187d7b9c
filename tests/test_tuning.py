"""Optuna tuning: nested and leak-free, seeded, pruned, resumable, shared by processes, seen by the dashboard.

Trials use a tiny learnable dataset and a flatten + logistic-regression pipeline registered here, so these
tests depend on no baseline's speed. The subprocess tests run ``bench tune`` with that model registered by a small driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from bench.core.errors import BenchError, ConfigError
from bench.core.models import ModelSpec
from bench.data import store as datastore
from bench.data.dataset import FERDataset
from bench.run.config import study_name
from bench.run.tuning import (
    FINISHED,
    SeededTPESampler,
    apply_best,
    open_storage,
    sqlite_url,
    tune_unit,
    tuned_estimator,
    tuning_path,
)
from protocols.base import Fold

TINY_MODEL = "tiny-logreg"
TINY_DATA = "tiny-faces"
SLEEP_ENV = "FER_BENCH_TEST_FIT_SLEEP"  # seconds each fit sleeps, so that a kill lands inside a trial
BARRIER_ENV = "FER_BENCH_TEST_BARRIER"  # DIR:N: fits wait until N processes have checked in under DIR


# ---------------------------------------------------------------------- a tiny model and dataset
class Flatten(BaseEstimator, TransformerMixin):
    def fit(self, X, y=None):
        if os.environ.get(BARRIER_ENV):
            folder, count = os.environ[BARRIER_ENV].rsplit(":", 1)
            deadline = time.monotonic() + 60
            while len(os.listdir(folder)) < int(count) and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(float(os.environ.get(SLEEP_ENV, "0")))
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1) / 255.0


class OneThreadLogReg(LogisticRegression):
    # On a shared 2-core machine BLAS threads spinning against each other make this 0.01 s fit take 0.3 s.
    def fit(self, X, y, sample_weight=None):
        with threadpool_limits(1):
            return super().fit(X, y, sample_weight)


def tiny_logreg(seed: int = 0) -> Pipeline:
    return Pipeline([("features", Flatten()), ("clf", OneThreadLogReg(max_iter=200, random_state=seed))])


def tiny_space(trial) -> dict:
    return {"clf__C": trial.suggest_float("C", 1e-4, 1e2, log=True)}


TINY_SPEC = ModelSpec(TINY_MODEL, "classical", tiny_logreg, "flatten + logistic regression", search_space=tiny_space)
_registered = False


def register_tiny() -> None:
    """Put the tiny model in the registry: only the subprocess driver calls this, so the registry of the test
    session itself (which other tests iterate over) never holds it."""
    global _registered
    if not _registered:
        from bench.core.models import register_model

        register_model("classical", name=TINY_MODEL, search_space=tiny_space, doc="flatten + logistic regression",
                       in_default_set=False)(tiny_logreg)
        _registered = True


def check_in() -> None:
    """The subprocess driver announces itself to the barrier, if any."""
    if os.environ.get(BARRIER_ENV):
        folder = Path(os.environ[BARRIER_ENV].rsplit(":", 1)[0])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(os.getpid())).touch()


def tiny_dataset(n: int = 150, seed: int = 0) -> FERDataset:
    """Three expressions told apart by where a bright blob sits, over noise and per-subject brightness."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 3, 4])[np.arange(n) % 3]
    subjects = np.array([f"s{i % 10:02d}" for i in range(n)])
    images = rng.normal(100, 30, size=(n, 16, 16))
    for i, lab in enumerate(labels):
        r, c = {0: (2, 2), 3: (2, 10), 4: (10, 6)}[int(lab)]
        images[i, r:r + 4, c:c + 4] += 70
        images[i] += int(subjects[i][1:]) * 3
    return FERDataset(TINY_DATA, np.clip(images, 0, 255).astype(np.uint8), labels,
                      [f"synthetic:{i}" for i in range(n)], subjects=subjects)


@pytest.fixture
def ds() -> FERDataset:
    return tiny_dataset()


@pytest.fixture
def fold(ds) -> Fold:
    from protocols import make_protocol

    return next(iter(make_protocol("kfold", folds=3, seed=0).split(ds)))


def _tune(spec, fold, ds, storage, n_trials=4, **kw):
    return tune_unit(spec, fold, ds, n_trials=n_trials, storage=storage, study_name=f"{spec.name}|t|{fold.id}",
                     seed=0, build_kwargs={"seed": 0}, **kw)


# ---------------------------------------------------------------------- nested and leak-free
class SpyFlatten(Flatten):
    """Flatten that records every image it is given, to check the tuner's own index log independently."""

    seen: list[bytes] = []

    def fit(self, X, y=None):
        SpyFlatten.seen += [img.tobytes() for img in X]
        return super().fit(X, y)

    def transform(self, X):
        SpyFlatten.seen += [img.tobytes() for img in X]
        return super().transform(X)


def spy_logreg(seed: int = 0) -> Pipeline:
    return Pipeline([("features", SpyFlatten()), ("clf", OneThreadLogReg(max_iter=200, random_state=seed))])


def test_trials_never_touch_the_outer_test_fold(ds, fold, tmp_path, monkeypatch):
    monkeypatch.setattr(SpyFlatten, "seen", [])
    seen: list[tuple[int, str, np.ndarray]] = []
    spec = ModelSpec(TINY_MODEL, "classical", spy_logreg, "spy", search_space=tiny_space)
    result = _tune(spec, fold, ds, sqlite_url(tmp_path / "optuna.db"), n_trials=5,
                   index_hooks=[lambda number, role, idx: seen.append((number, role, np.array(idx)))])
    # What the models saw, image by image: training and validation images only, never a test image.
    test_images = {ds.images[i].tobytes() for i in fold.test}
    inner_images = {ds.images[i].tobytes() for i in np.concatenate([fold.train, fold.val])}
    assert len(test_images) == len(fold.test) and SpyFlatten.seen
    assert not test_images & set(SpyFlatten.seen) and set(SpyFlatten.seen) <= inner_images
    # What the tuner's index log says: each trial fitted on exactly fold.train and scored on fold.val.
    assert result.n_trials == 5 and 0 <= result.best_value <= 1
    assert {n for n, _, _ in seen} == set(range(5))
    test = set(fold.test.tolist())
    assert test and len(seen) == 10
    for number, role, idx in seen:
        assert not test & set(idx.tolist()), f"trial {number} {role} touched test indices"
        assert np.array_equal(idx, fold.train if role == "fit" else fold.val)

    study = optuna.load_study(study_name=result.study_name, storage=result.storage)
    for t in study.trials:  # what the dashboard shows beside each trial
        attrs = t.user_attrs
        assert attrs["fold"] == fold.id and attrs["n_fit"] == len(fold.train) and attrs["n_val"] == len(fold.val)
        assert attrs["feature_dim"] == 16 * 16 and attrs["fit_time_s"] >= 0
        assert attrs["estimator_params"] == {"clf__C": t.params["C"]}
    assert result.best_params == {"clf__C": study.best_params["C"]}


def test_a_fold_whose_validation_overlaps_its_test_is_refused(ds, fold, tmp_path):
    bad = Fold("bad", fold.train, np.concatenate([fold.val, fold.test[:1]]), {"test": fold.test})
    with pytest.raises(BenchError, match="also test indices"):
        _tune(TINY_SPEC, bad, ds, sqlite_url(tmp_path / "optuna.db"), n_trials=1)


def test_a_study_is_bound_to_its_split(ds, fold, tmp_path):
    storage = sqlite_url(tmp_path / "optuna.db")
    _tune(TINY_SPEC, fold, ds, storage, n_trials=1)
    other = Fold(fold.id, fold.train[5:], np.concatenate([fold.val, fold.train[:5]]), fold.tests)
    with pytest.raises(ConfigError, match="another split"):
        _tune(TINY_SPEC, other, ds, storage, n_trials=2)


def test_fold_selection_by_id_or_index(ds):
    from bench.run.tuning import select_fold
    from protocols import make_protocol

    folds = list(make_protocol("kfold", folds=3, seed=0).split(ds))
    assert select_fold(folds, None, "classical") is folds[0]
    assert select_fold(folds, "fold-02", "classical") is select_fold(folds, "2", "classical") is folds[2]
    with pytest.raises(ConfigError, match="folds: fold-00, fold-01, fold-02"):
        select_fold(folds, "fold-7", "classical")


# ---------------------------------------------------------------------- seeding, resuming, engine hook
def test_seeded_sampler_depends_on_seed_and_trial_number_only():
    def draws(seed: int) -> list[float]:
        study = optuna.create_study(sampler=SeededTPESampler(seed))
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=4)
        return [t.params["x"] for t in study.trials]

    assert draws(3) == draws(3) != draws(4)
    assert len(set(draws(3))) == 4


def test_tuned_estimator_saves_best_params_and_resumes_without_new_trials(ds, fold, tmp_path):
    from bench.run.engine import RunConfig

    cfg = RunConfig(protocol="kfold", dataset=TINY_DATA, seed=0)
    est, record = tuned_estimator(TINY_SPEC, fold, ds, cfg, 3, tmp_path)
    assert record["n_trials"] == 3 and record["study_name"] == study_name(TINY_MODEL, "kfold", TINY_DATA, fold.id)
    assert est.get_params()["clf__C"] == record["best_params"]["clf__C"]
    assert not hasattr(est[-1], "coef_")  # unfitted: the engine fits it on the fold's training part
    saved = json.loads(tuning_path(tmp_path, TINY_MODEL, fold.id).read_text())
    assert saved["best_params"] == record["best_params"] and saved["storage"].endswith("optuna.db")

    _, again = tuned_estimator(TINY_SPEC, fold, ds, cfg, 3, tmp_path)
    study = optuna.load_study(study_name=record["study_name"], storage=record["storage"])
    assert record["trials_run_now"] == 3 and again["trials_run_now"] == 0  # the second call only reads the study
    assert {**again, "trials_run_now": 3} == record and len(study.trials) == 3
    assert apply_best(tiny_logreg(), {"clf__C": 2.5}).get_params()["clf__C"] == 2.5


# ---------------------------------------------------------------------- deep trials are pruned per epoch
class FakeDeep(BaseEstimator):
    """Stands in for a DeepClassifier: ``fit(..., callbacks=[cb])`` calls ``cb(record, net)`` every epoch."""

    def __init__(self, quality: float = 0.5, epochs: int = 6, seed: int = 0):
        self.quality, self.epochs, self.seed = quality, epochs, seed

    def fit(self, X, y, X_val=None, y_val=None, callbacks=()):
        self.classes_ = np.unique(y)
        for epoch in range(1, self.epochs + 1):  # deep.train counts epochs from 1
            record = {"epoch": epoch, "val_loss": 1 - self.quality, "val_acc": self.quality * epoch / self.epochs}
            for cb in callbacks:
                cb(record, None)
        self.best_epoch_ = self.epochs
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def test_deep_trials_report_epochs_and_hopeless_ones_are_pruned(ds, fold, tmp_path):
    spec = ModelSpec("fake-deep", "deep", FakeDeep, "fake deep model", uses_validation=True,
                     search_space=lambda t: {"quality": t.suggest_float("quality", 0.0, 1.0)})
    result = _tune(spec, fold, ds, sqlite_url(tmp_path / "optuna.db"), n_trials=12)
    study = optuna.load_study(study_name=result.study_name, storage=result.storage)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 12 and set(states) <= set(FINISHED)
    assert TrialState.PRUNED in states
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert all(len(t.intermediate_values) == 6 for t in complete)
    assert all(t.user_attrs["pruned_at_epoch"] >= 3 for t in study.trials if t.state == TrialState.PRUNED)
    assert all(t.user_attrs["best_epoch"] == 6 for t in complete)


# ---------------------------------------------------------------------- the dashboard
def _get_json(url: str, timeout: float = 10.0):
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


def test_dashboard_lists_the_runs_studies_on_loopback(ds, fold, tmp_path):
    from bench.run.dashboard import start_dashboard, storage_for

    run = tmp_path / "run"
    run.mkdir()
    result = _tune(TINY_SPEC, fold, ds, sqlite_url(run / "optuna.db"), n_trials=2)
    server = start_dashboard(storage_for(str(run), None), host="127.0.0.1", port=0)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        body = _get_json(f"http://127.0.0.1:{server.port}/api/studies")
        studies = body.get("study_summaries", body.get("studies"))  # upstream plans to rename the key
        assert result.study_name in [s["study_name"] for s in studies]
    finally:
        server.stop(timeout=10)
    assert not server._thread.is_alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/studies", timeout=2)  # noqa: S310


def test_dashboard_needs_a_run_with_a_storage(tmp_path):
    from bench.run.dashboard import storage_for

    with pytest.raises(ConfigError, match="optuna.db does not exist"):
        storage_for(str(tmp_path), None)
    with pytest.raises(ConfigError, match="not both"):
        storage_for(str(tmp_path), "sqlite:///x.db")


# ---------------------------------------------------------------------- bench tune processes
DRIVER = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import test_tuning
test_tuning.register_tiny()
test_tuning.check_in()
import bench.cli.app as cli
raise SystemExit(cli.main(["--debug", "tune", *sys.argv[1:]]))
"""


@contextlib.contextmanager
def tune_processes(tmp_path: Path, *options: str) -> Iterator[Callable[..., subprocess.Popen]]:
    """``start(trials, sleep, barrier=None, out="results")`` starts a ``bench tune`` process of the tiny model on
    the tiny dataset, 3 folds, writing under ``tmp_path/out`` with ``options`` added (``--storage URL``); every
    process still running at the end is killed, whatever the test did."""
    datastore.save_dataset(tiny_dataset(), datastore.data_dir(), {"importer": "test"})
    driver = tmp_path / "driver.py"
    here = Path(__file__).resolve().parent
    driver.write_text(DRIVER.format(root=str(here.parent), tests=str(here)))
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    procs: list[subprocess.Popen] = []

    def start(trials: int, sleep: float, barrier: tuple[Path, int] | None = None,
              out: str = "results") -> subprocess.Popen:
        cmd = [sys.executable, str(driver), "--model", TINY_MODEL, "--protocol", "kfold", "--folds", "3",
               "--dataset", TINY_DATA, "--trials", str(trials), "--out", str(tmp_path / out), "--name", "run",
               "--heartbeat", "1", *options]
        extra = {SLEEP_ENV: str(sleep)}
        if barrier:
            extra[BARRIER_ENV] = f"{barrier[0]}:{barrier[1]}"
        p = subprocess.Popen(cmd, env=dict(env, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p

    try:
        yield start
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate(timeout=30)


@pytest.fixture
def tune_cli(tmp_path):
    """Starts ``bench tune`` processes on the tiny dataset; yields (start, storage URL, study name)."""
    with tune_processes(tmp_path) as start:
        yield start, sqlite_url(tmp_path / "results" / "run" / "optuna.db"), study_name(TINY_MODEL, "kfold",
                                                                                       TINY_DATA, "fold-00")


def _study(storage: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage, heartbeat=None))


def _wait_mid_trial(storage: str, name: str, n_finished: int, proc: subprocess.Popen) -> dict[int, dict]:
    """Wait until ``n_finished`` trials are done and ``proc`` is inside its next trial's fit; returns the done."""
    deadline = time.monotonic() + 60
    db = Path(storage[len("sqlite:///"):])
    while True:
        assert proc.poll() is None, f"the tuner ended early: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, "the tuner made no progress in 60 s"
        if db.exists():
            try:
                trials = _study(storage, name).get_trials()
            except KeyError:  # the study is not created yet
                trials = []
            done = {t.number: t.params for t in trials if t.state in FINISHED}
            mine = [t for t in trials if t.state == TrialState.RUNNING
                    and t.user_attrs.get("worker", "").endswith(f":{proc.pid}") and "n_val" in t.user_attrs]
            if len(done) >= n_finished and mine:
                return done
        time.sleep(0.1)


def test_two_processes_share_one_study_without_lost_or_duplicate_trials(tune_cli, tmp_path):
    start, storage, name = tune_cli
    barrier = (tmp_path / "barrier", 2)  # no trial ends before both processes are up: both must take part
    procs = [start(20, 0.02, barrier), start(20, 0.02, barrier)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert f"study: {name}" in out
    study = _study(storage, name)
    done = study.get_trials(states=FINISHED)
    assert len(done) == 20
    assert len({t.number for t in done}) == 20 and len({t.params["C"] for t in done}) == 20
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in done} == {str(p.pid) for p in procs}
    # Anything else is a surplus trial that lost the race for the last slot and ended before doing any work.
    assert all(t.user_attrs.get("surplus") for t in study.trials if t.state not in FINISHED)


def test_an_interrupted_tune_resumes_the_same_study(tune_cli):
    start, storage, name = tune_cli
    n = 9
    first = start(n, 0.4)
    kept = _wait_mid_trial(storage, name, 2, first)
    first.send_signal(signal.SIGTERM)  # ends the trial in progress as failed, then the process
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130 and "re-run the same command to resume" in err

    second = start(n, 0.4)
    _wait_mid_trial(storage, name, len(kept) + 2, second)
    second.kill()  # SIGKILL: its running trial is left behind until its heartbeat goes stale
    second.communicate(timeout=30)
    kept = {t.number: t.params for t in _study(storage, name).get_trials(states=FINISHED)}
    assert len(kept) < n

    third = start(n, 0.02)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    assert f"study: {name}" in out and f"{n} trials finished" in out
    study = _study(storage, name)
    done = study.get_trials(states=FINISHED)
    assert len(done) == n and {t.number: t.params for t in done if t.number in kept} == kept
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(failed) == 2  # one trial cut short per interruption, nothing else
    killed = [t for t in failed if t.user_attrs["worker"].endswith(f":{second.pid}")]
    assert len(killed) == 1  # found stale by the third process and re-queued with the same parameters
    retries = [t for t in done if t.system_attrs.get("failed_trial") == killed[0].number]
    assert len(retries) == 1 and retries[0].params == killed[0].params


# ---------------------------------------------------------------------- bench tune, then bench run --tune N
def test_bench_tune_and_bench_run_tune_share_one_study(tmp_path, capsys):
    from bench.cli.app import main

    lab = "synth-lab:subjects=12,n=144"
    common = ["--protocol", "kfold", "--dataset", lab, "--folds", "2", "--out", str(tmp_path)]
    assert main(["tune", "--model", "hog-svm", *common, "--trials", "2"]) == 0
    tuned = capsys.readouterr().out
    assert "2 trials run now" in tuned and "bench run --protocol kfold" in tuned and "--tune 2" in tuned
    assert main(["run", "--model", "hog-svm", *common, "--tune", "2", "--no-progress", "--ensemble", "none"]) == 0
    out = capsys.readouterr().out
    (folder,) = list(tmp_path.iterdir())  # one run folder for both commands
    storage = sqlite_url(folder / "optuna.db")
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage))
    assert names == [f"hog-svm|kfold|{lab}|fold-00", f"hog-svm|kfold|{lab}|fold-01"]
    first = optuna.load_study(study_name=names[0], storage=storage)
    assert len(first.trials) == 2  # bench tune's two trials, reused: none added by bench run
    line = next(line for line in out.splitlines() if line.startswith("hog-svm") and "fold-00" in line)
    assert "reused: all finished before this run" in line
    other = next(line for line in out.splitlines() if line.startswith("hog-svm") and "fold-01" in line)
    assert "(2 run now)" in other
