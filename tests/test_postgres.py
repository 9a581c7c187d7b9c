"""Tuning on a PostgreSQL server: studies shared by processes and by a run's Dask workers, a killed tuner that
resumes, the dashboard, and a database that cannot be reached.

The server is a throw-away one started from the machine's binaries (tests/pg_server.py, the ``pg_url`` fixture
of conftest.py: a fresh database per test); without PostgreSQL installed these tests are skipped (on CI they
fail instead). Tuner processes run the tiny model of test_tuning.py.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from test_tuning import TINY_DATA, TINY_MODEL, TINY_SPEC, _tune, tiny_dataset, tune_processes

from bench.cli import main
from bench.run.config import study_name
from bench.run.tuning import FINISHED, open_storage

ROOT = Path(__file__).resolve().parents[1]
LAB = "synth-lab:subjects=12,n=144"
TIMEOUT_S = 240

@pytest.fixture
def tune_pg(tmp_path, pg_url):
    """Starts ``bench tune`` processes of the tiny model on one PostgreSQL study; yields (start, url, study)."""
    with tune_processes(tmp_path, "--storage", pg_url) as start:
        yield start, pg_url, study_name(TINY_MODEL, "kfold", TINY_DATA, "fold-00")


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url, heartbeat=None))


def test_postgres_storage_is_opened_without_sqlite_settings(pg_url):
    storage = open_storage(pg_url, heartbeat=None)
    try:
        assert storage.engine.dialect.name == "postgresql" and storage.engine.driver == "psycopg"
        assert storage.engine.pool._pre_ping  # server connections are checked before use
        with storage.engine.connect() as con:  # no SQLite PRAGMA reached the server
            assert con.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"  # the test server's own
    finally:
        storage.engine.dispose()


def test_two_bench_tune_processes_fill_one_postgres_study_with_exactly_n_trials(tune_pg, tmp_path):
    start, url, name = tune_pg
    barrier = (tmp_path / "barrier", 2)  # no trial ends before both processes are up: both take part
    procs = [start(10, 0.05, barrier, out="a"), start(10, 0.05, barrier, out="b")]
    for p in procs:
        out, err = p.communicate(timeout=TIMEOUT_S)
        assert p.returncode == 0, err[-3000:]
        assert f"study: {name}" in out and "postgresql+psycopg://" in out
    done = _study(url, name).get_trials(states=FINISHED)
    assert len(done) == 10 and len({t.number for t in done}) == 10
    assert {t.user_attrs["worker"].rsplit(":", 1)[1] for t in done} == {str(p.pid) for p in procs}


def _wait_for(url: str, name: str, n_finished: int, proc: subprocess.Popen) -> None:
    """Until ``n_finished`` trials are done and ``proc`` is inside the fit of its next trial."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the tuner made no progress"
        try:
            trials = _study(url, name).get_trials()
        except KeyError:  # the study is not created yet
            trials = []
        mine = [t for t in trials if t.state == TrialState.RUNNING and "n_val" in t.user_attrs
                and t.user_attrs.get("worker", "").endswith(f":{proc.pid}")]
        if sum(t.state in FINISHED for t in trials) >= n_finished and mine:
            return
        time.sleep(0.1)


def test_a_killed_tune_resumes_its_postgres_study(tune_pg):
    start, url, name = tune_pg
    n = 6
    first = start(n, 0.5)
    _wait_for(url, name, 2, first)
    first.kill()  # SIGKILL: its running trial is left RUNNING until its heartbeat goes stale
    first.communicate(timeout=30)
    kept = {t.number: t.params for t in _study(url, name).get_trials(states=FINISHED)}
    assert 2 <= len(kept) < n

    second = start(n, 0.02)
    out, err = second.communicate(timeout=TIMEOUT_S)
    assert second.returncode == 0, err[-3000:]
    assert f"{n} trials finished" in out
    study = _study(url, name)
    done = study.get_trials(states=FINISHED)
    assert len(done) == n and {t.number: t.params for t in done if t.number in kept} == kept
    assert not study.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))
    (killed,) = study.get_trials(states=(TrialState.FAIL,))  # failed by the second process, re-run as it was
    assert [t.params for t in done if t.system_attrs.get("failed_trial") == killed.number] == [killed.params]


def test_bench_run_tune_on_two_workers_fills_each_postgres_study_with_exactly_n_trials(tmp_path, pg_url):
    common = ["--protocol", "kfold", "--dataset", LAB, "--folds", "2", "--storage", pg_url]
    # A bench tune process works on fold-00's study meanwhile: the run's workers share it.
    tuner = subprocess.Popen([sys.executable, "-m", "bench", "tune", "--model", "hog-svm", *common, "--trials", "3",
                              "--fold", "fold-00", "--out", str(tmp_path / "tune")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        code = main(["run", "--model", "hog-svm", *common, "--tune", "3", "--workers", "2", "--out",
                     str(tmp_path / "run"), "--no-progress", "--ensemble", "none"])
        _, err = tuner.communicate(timeout=TIMEOUT_S)
    finally:
        if tuner.poll() is None:
            tuner.kill()
    assert code == 0 and tuner.returncode == 0, err[-3000:]
    names = sorted(s.study_name for s in optuna.get_all_study_summaries(open_storage(pg_url, heartbeat=None)))
    assert names == [f"hog-svm|kfold|{LAB}|fold-00", f"hog-svm|kfold|{LAB}|fold-01"]
    for name in names:
        assert len(_study(pg_url, name).get_trials(states=FINISHED)) == 3
    (folder,) = (tmp_path / "run").iterdir()
    assert not (folder / "optuna.db").exists()  # the studies live on the server
    for fold in ("fold-00", "fold-01"):  # written by the client from what its workers sent back
        assert (folder / "tuning" / "hog-svm" / f"{fold}.json").is_file()


def test_bench_dashboard_opens_a_postgres_study(tmp_path, pg_url, ds, fold):
    result = _tune(TINY_SPEC, fold, ds, pg_url, n_trials=2)
    proc = subprocess.Popen([sys.executable, "-m", "bench", "dashboard", "--storage", pg_url, "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "optuna-dashboard on URL: http://127.0.0.1:PORT/dashboard/ (...)"
        assert "optuna-dashboard on postgresql+psycopg://" in line, proc.stderr.read() if proc.poll() else line
        base = line.split(": ", 1)[1].split("/dashboard/")[0]
        assert base.startswith("http://127.0.0.1:")
        import json

        with urllib.request.urlopen(f"{base}/api/studies", timeout=30) as resp:  # noqa: S310 - loopback
            body = json.loads(resp.read())
        studies = body.get("study_summaries", body.get("studies"))
        assert result.study_name in [s["study_name"] for s in studies]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture
def ds():
    return tiny_dataset()


@pytest.fixture
def fold(ds):
    from protocols import make_protocol

    return next(iter(make_protocol("kfold", folds=3, seed=0).split(ds)))


# ---------------------------------------------------------------------- a database that cannot be reached
@pytest.mark.parametrize("command", ["run", "tune"])
def test_an_unreachable_database_fails_in_one_line_with_its_address(tmp_path, capsys, command):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://fer:secret@127.0.0.1:{port}/studies"
    tuning = ["--tune", "2", "--no-progress"] if command == "run" else ["--trials", "2"]
    code = main([command, "--model", "hog-svm", "--protocol", "kfold", "--dataset", LAB, "--storage", url,
                 "--out", str(tmp_path), *tuning])
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and f"127.0.0.1:{port}" in err[0] and "cannot reach the study database" in err[0]
    assert "secret" not in err[0]  # the password is masked
    assert not list(tmp_path.iterdir())  # nothing written
