"""Units on a Dask cluster (bench/run/executors.py): the same results as in one process, a fine-tuning unit that
waits for its source, a killed worker, Ctrl-C, and one-line errors for a bad cluster.

Every cluster is local (127.0.0.1) and tiny; nothing here times anything. A test model that sleeps inside its
fit (``sleepy``) leaves marker files, so a test can see which worker process is inside which fit.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import bench.run.engine as engine
import bench.run.executors as executors
from bench.cli import main
from bench.core.models import MODELS, ModelSpec
from bench.data import store as datastore
from bench.results.folder import RunFolder

LAB = "synth-lab:subjects=12,n=144"
WILD = "synth-wild:n=240"
SLEEPY = "sleepy-test-model"
TIMEOUT_S = 240  # generous: a loaded 2-core machine starts worker processes slowly


# ---------------------------------------------------------------------- a model that sleeps in its fit
class Sleepy(BaseEstimator, ClassifierMixin):
    """Logistic regression on raw pixels that sleeps ``sleep`` seconds inside fit, between two marker files."""

    def __init__(self, marker_dir: str = "", sleep: float = 0.0, seed: int = 0) -> None:
        self.marker_dir = marker_dir
        self.sleep = sleep
        self.seed = seed

    def fit(self, X, y):
        tag = Path(self.marker_dir) / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tag.with_suffix(".start").touch()
        time.sleep(self.sleep)
        with threadpool_limits(1):
            self.clf_ = LogisticRegression(max_iter=200, random_state=self.seed).fit(self._flat(X), y)
        self.classes_ = self.clf_.classes_
        tag.with_suffix(".end").touch()
        return self

    def predict_proba(self, X):
        return self.clf_.predict_proba(self._flat(X))

    @staticmethod
    def _flat(X):
        return np.asarray(X, dtype=np.float32).reshape(len(X), -1) / 255.0


def sleepy(seed: int = 0, *, marker_dir: str, sleep: float) -> Sleepy:
    return Sleepy(marker_dir, sleep, seed)


def register_sleepy(marker_dir: Path, sleep: float) -> None:
    """Register the sleepy model in this process (its builder travels to the workers by reference)."""
    marker_dir.mkdir(parents=True, exist_ok=True)
    MODELS.add(SLEEPY, ModelSpec(SLEEPY, "classical", functools.partial(sleepy, marker_dir=str(marker_dir),
                                                                        sleep=sleep),
                                 "sleepy logistic regression", search_space=lambda t: {}), family="classical")


@pytest.fixture
def sleepy_model(tmp_path):
    markers = tmp_path / "markers"
    register_sleepy(markers, 1.0)
    yield markers
    del MODELS._entries[SLEEPY]


def _markers(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"*.{kind}"))


# ---------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def cluster():
    """A local cluster of two single-threaded worker processes (nannies restart a killed one)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as lc, Client(lc) as client:
        yield lc.scheduler_address, client


@pytest.fixture
def one_thread():
    """Deep results are compared across processes with one kernel thread each; restore this process after."""
    import torch

    before, env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    yield
    torch.set_num_threads(before)
    if env is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = env


def _run(out: Path, *extra: str) -> int:
    return main(["run", "--out", str(out), "--no-progress", "--ensemble", "none", *extra])


def _metrics(folder: Path) -> pd.DataFrame:
    frame = pd.read_csv(folder / "metrics.csv")
    return frame.drop(columns=["fit_time_s", "predict_ms_per_image"]).sort_values(["model", "fold", "testset"])


def _same_predictions(a: Path, b: Path) -> None:
    """Every unit's per-sample predictions and probabilities agree between two run folders."""
    units = sorted((u["model"], u["fold"]) for u in RunFolder(a).read_units())
    assert units == sorted((u["model"], u["fold"]) for u in RunFolder(b).read_units())
    for model, fold in units:
        pd.testing.assert_frame_equal(RunFolder(a).read_predictions(model, fold),
                                      RunFolder(b).read_predictions(model, fold))


def _one_error_line(capsys, *needles: str) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


# ---------------------------------------------------------------------- same results
def test_two_local_workers_give_the_metrics_of_one_process(tmp_path):
    args = ["--protocol", "kfold", "--dataset", LAB, "--folds", "2", "--model", "hog-svm,lbp-logreg,dwt-lda"]
    assert _run(tmp_path, *args, "--name", "sequential") == 0
    assert _run(tmp_path, *args, "--name", "dask", "--workers", "2") == 0
    pd.testing.assert_frame_equal(_metrics(tmp_path / "sequential"), _metrics(tmp_path / "dask"))
    _same_predictions(tmp_path / "sequential", tmp_path / "dask")
    assert len(_metrics(tmp_path / "dask")) == 6 and set(_metrics(tmp_path / "dask").status) == {"ok"}
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert manifest["config"]["workers"] == 2 and manifest["models"] == ["hog-svm", "lbp-logreg", "dwt-lda"]


def test_local_workers_keep_the_cpu_malloc_tuning_of_deep_units(monkeypatch):
    """Dask's nannies export MALLOC_TRIM_THRESHOLD_ (into this process too), which would turn deep/allocator.py off
    in every worker it spawns."""
    import platform

    from bench.data import catalog
    from bench.run.config import RunConfig
    from deep.allocator import retain_freed_memory

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)  # set by an earlier cluster of this process
    cfg = RunConfig(protocol="kfold", dataset=LAB, workers=1, threads=1)
    with executors.DaskExecutor(engine.run_unit, cfg, catalog.load(LAB), []) as executor:
        tuned = executor.client.run(retain_freed_memory)
        assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert list(tuned.values()) == [platform.libc_ver()[0] == "glibc"]


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")  # one epoch: a few classes only
def test_fine_tuning_units_start_from_their_source_model_on_the_cluster(tmp_path, cluster, one_thread):
    address, _ = cluster
    args = ["--protocol", "cross", "--source", WILD, "--target", LAB, "--model", "cnn-000-m1", "--epochs", "1",
            "--device", "cpu", "--threads", "1"]
    assert _run(tmp_path, *args, "--name", "sequential") == 0
    assert _run(tmp_path, *args, "--name", "dask", "--scheduler", address) == 0
    dask = _metrics(tmp_path / "dask")
    assert {"ft-fc", "ft-fc+cl", "ft-all"} <= set(dask.variant) and set(dask.status) == {"ok"}
    # Identical fine-tuned predictions: each fine-tuning task got the very model its source task trained.
    _same_predictions(tmp_path / "sequential", tmp_path / "dask")
    pd.testing.assert_frame_equal(_metrics(tmp_path / "sequential"), dask)
    run = RunFolder(tmp_path / "dask")
    sources = {u["init_from"] for u in run.read_units() if u.get("init_from")}
    assert sources and all(run.checkpoint_path("cnn-000-m1", s).is_file() for s in sources)  # by the client

    # Resume with only the fine-tuning units missing: their source comes from its checkpoint, same results.
    for u in run.read_units():
        if u.get("init_from"):
            run.unit_path("cnn-000-m1", u["fold"]).unlink()
    assert _run(tmp_path, *args, "--name", "dask", "--scheduler", address) == 0
    _same_predictions(tmp_path / "sequential", tmp_path / "dask")
    pd.testing.assert_frame_equal(_metrics(tmp_path / "sequential"), _metrics(tmp_path / "dask"))


# ---------------------------------------------------------------------- failures of the cluster
def test_a_killed_worker_has_its_unit_rerun_and_nothing_finished_is_lost(tmp_path, cluster, sleepy_model):
    address, _ = cluster
    out = tmp_path / "out"
    args = ["--protocol", "kfold", "--dataset", LAB, "--folds", "4", "--model", SLEEPY, "--name", "r",
            "--scheduler", address]
    codes: list[int] = []
    runner = threading.Thread(target=lambda: codes.append(_run(out, *args)), daemon=True)
    runner.start()
    units = out / "r" / "units" / SLEEPY
    deadline = time.monotonic() + TIMEOUT_S
    while True:  # wait for a finished unit and a fit in progress, then kill the process inside that fit
        assert runner.is_alive() and time.monotonic() < deadline, "no unit was ever in progress"
        done = sorted(units.glob("*.json")) if units.is_dir() else []
        ends = {p.stem for p in _markers(sleepy_model, "end")}
        running = [p for p in _markers(sleepy_model, "start") if p.stem not in ends]
        if done and running:
            break
        time.sleep(0.05)
    kept = {p.name: p.read_bytes() for p in done}
    victim = int(running[0].stem.split("-")[0])
    os.kill(victim, signal.SIGKILL)
    runner.join(TIMEOUT_S)
    assert codes == [0]
    units_now = RunFolder(out / "r").read_units()
    assert len(units_now) == 4 and {u["status"] for u in units_now} == {"ok"}
    assert all((units / name).read_bytes() == data for name, data in kept.items())  # finished units untouched
    assert len(_markers(sleepy_model, "start")) >= 5  # the killed fit ran again, in another process
    assert running[0].stem not in {p.stem for p in _markers(sleepy_model, "end")}


DRIVER = """
import sys
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
import test_cluster
test_cluster.register_sleepy(Path({markers!r}), {sleep!r})
import bench.cli.app as cli
raise SystemExit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_cancels_the_tasks_and_keeps_what_finished(tmp_path, cluster, sleepy_model):
    address, client = cluster
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(root=str(Path(__file__).parents[1]), tests=str(Path(__file__).parent), markers=str(sleepy_model), sleep=1.0))
    out = tmp_path / "out"
    args = ["run", "--protocol", "kfold", "--dataset", LAB, "--folds", "4", "--model", SLEEPY, "--name", "r",
            "--out", str(out), "--no-progress", "--ensemble", "none", "--scheduler", address]
    proc = subprocess.Popen([sys.executable, str(driver), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    units = out / "r" / "units" / SLEEPY
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while not (units.is_dir() and any(units.glob("*.json"))):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no unit finished"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "interrupted: finished units are saved" in err
    finished = len(RunFolder(out / "r").read_units())
    assert 1 <= finished < 4
    deadline = time.monotonic() + TIMEOUT_S
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.1)  # a fit already running ends on its own; nothing queued follows it
    assert not any(client.processing().values())
    started = len(_markers(sleepy_model, "start"))
    time.sleep(2)
    assert len(_markers(sleepy_model, "start")) == started  # the cancelled units never start

    assert _run(out, *args[1:-2], "--scheduler", address) == 0  # resume: only the missing units run
    assert len(RunFolder(out / "r").read_units()) == 4
    assert len(_markers(sleepy_model, "start")) == started + 4 - finished


# ---------------------------------------------------------------------- the README's commands
def test_the_readme_cluster_commands_are_valid_bench_commands():
    import ast
    import re
    import shlex

    from bench.cli.app import build_parser

    text = (Path(__file__).parents[1] / "README.md").read_text()
    section = text.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", section, flags=re.S))
    commands = [shlex.split(line.split(" #")[0])[1:] for line in shell.splitlines() if line.startswith("bench ")]
    (script,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)  # the Slurm example calls bench's main
    (call,) = [n for n in ast.walk(ast.parse(script)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "main"]
    commands.append([a.value if isinstance(a, ast.Constant) else "tcp://127.0.0.1:8786" for a in call.args[0].elts])
    assert len(commands) == 6
    for argv in commands:
        assert build_parser().parse_args(argv).command in ("run", "tune", "dashboard")


# ---------------------------------------------------------------------- bad input: one line, exit 2, nothing written
@pytest.mark.parametrize(("extra", "needle"), [
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not both"),
    (["--scheduler", "tcp://127.0.0.1:8786", "--tune", "2"], "--storage"),
])
def test_bad_cluster_options_fail_in_one_line(tmp_path, capsys, extra, needle):
    assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm", *extra) == 2
    _one_error_line(capsys, needle)
    assert not list(tmp_path.iterdir())


def test_an_unreachable_scheduler_fails_in_one_line_with_its_address(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 2.0)
    assert _run(tmp_path, "--protocol", "kfold", "--dataset", LAB, "--model", "hog-svm",
                "--scheduler", address) == 2
    _one_error_line(capsys, address, "dask scheduler")
    assert not list(tmp_path.iterdir())


def test_a_worker_without_the_dataset_cache_fails_in_one_line(tmp_path, capsys, cluster, monkeypatch):
    from bench.data import catalog

    address, _ = cluster
    ds = catalog.load(LAB)
    ds.name = "imported-lab"
    cache = tmp_path / "cache"
    datastore.save_dataset(ds, cache, {"importer": "test"})
    real_prepare = engine.prepare

    def prepare_then_lose_the_cache(*a, **k):
        loaded = real_prepare(*a, **k)
        for f in cache.iterdir():  # the client has its data; the workers will not find it
            f.unlink()
        return loaded

    monkeypatch.setattr(engine, "prepare", prepare_then_lose_the_cache)
    out = tmp_path / "out"
    assert _run(out, "--protocol", "kfold", "--dataset", "imported-lab", "--model", "hog-svm",
                "--data-dir", str(cache), "--scheduler", address) == 2
    _one_error_line(capsys, "Dask worker tcp://127.0.0.1:", str(cache.resolve()), "imported-lab",
                    "every worker must see the cache")
    assert not out.exists()
