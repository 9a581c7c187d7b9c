"""Bad input is refused up front with one line that names the option and the right fix; nothing is silently
ignored, created or exposed; and the command line never ends in a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import refused, run

from bench.cli import main
from bench.core.errors import ConfigError, DataError
from bench.data.dataset import FERDataset
from bench.results import stats

ROOT = Path(__file__).resolve().parents[1]
LAB = "synth-lab:n=240,subjects=12"






def _run(capsys, tmp_path: Path, *args: object) -> str:
    """A run that must be refused before it writes anything: its one error line."""
    err = refused(run(capsys, "run", "--out", tmp_path / "out", "--no-progress", *args))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("units"))
    return err


# ---------------------------------------------------------------------- item 5: epochs and device
@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_epochs_below_one_are_refused_up_front(capsys, tmp_path, epochs, monkeypatch):
    import bench.data.catalog as catalog

    monkeypatch.setattr(catalog, "load", lambda *a, **k: pytest.fail("data loaded before the options were checked"))
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "cnn-003", "--epochs", epochs)
    assert f"--epochs {epochs}" in err and "at least 1 epoch" in err


def test_device_cuda_without_a_gpu_fails_once_before_the_run(capsys, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "cnn-003,hog-svm",
               "--device", "cuda")
    assert "--device cuda: no CUDA GPU is visible" in err and "--device cpu" in err


def test_device_cuda_is_not_checked_for_a_classical_run():
    from bench.core.models import resolve_models
    from bench.run.setup import check_cuda

    check_cuda(resolve_models("hog-svm,lbp-knn"))  # no deep model: torch is never asked


# ---------------------------------------------------------------------- item 11: nothing ignored, created
def test_an_ensemble_of_unknown_models_is_refused(capsys, tmp_path):
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "hog-svm", "--ensemble",
               "foo+bar")
    assert "--ensemble 'foo+bar': 'foo', 'bar' are not models" in err
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "hog-svm", "--ensemble",
               "hog-svm")
    assert "two or more models" in err


def test_an_ensemble_whose_models_never_finished_is_named(capsys, tmp_path):
    with pytest.warns(UserWarning, match=r"--ensemble pixels-nb\+pixels-knn: no fold where all of its models "
                                         r"finished .*; run them first"):
        code, out, err = run(capsys, "run", "--out", tmp_path, "--no-progress", "--protocol", "random",
                             "--dataset", LAB, "--model", "pixels-nb", "--ensemble", "pixels-nb+pixels-knn")
    assert code == 0, err
    assert not (tmp_path / "random-synth-lab_n=240_subjects=12" / "units" / "ensemble-pixels-nb+pixels-knn").exists()


@pytest.mark.parametrize("command", ["tune", "dashboard"])
def test_a_sqlite_storage_in_a_missing_folder_is_refused_not_created(capsys, tmp_path, command, monkeypatch):
    from bench.run import dashboard

    monkeypatch.setattr(dashboard.DashboardServer, "serve_forever", lambda self: None)  # never block the test
    missing = tmp_path / "nonexistent" / "dir"
    url = f"sqlite:///{missing / 'x.db'}"
    if command == "tune":
        argv = ["tune", "--model", "pixels-nb", "--dataset", LAB, "--trials", "1", "--out", tmp_path / "out",
                "--storage", url]
    else:
        argv = ["dashboard", "--storage", url, "--port", "0"]
    err = refused(run(capsys, *argv))
    assert f"folder {missing} does not exist" in err
    assert not (tmp_path / "nonexistent").exists()


def test_the_dashboard_warns_when_it_listens_beyond_this_machine(capsys, tmp_path, monkeypatch):
    from bench.run import dashboard

    served = []
    monkeypatch.setattr(dashboard.DashboardServer, "serve_forever", lambda self: served.append(self.host))
    (tmp_path / "optuna.db").touch()
    assert main(["dashboard", str(tmp_path), "--host", "0.0.0.0", "--port", "0"]) == 0
    err = capsys.readouterr().err
    assert served == ["0.0.0.0"]
    assert "warning: --host 0.0.0.0 serves the studies to the network without a login" in err
    assert main(["dashboard", str(tmp_path), "--port", "0"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_cross_with_the_same_data_on_both_sides_is_refused(capsys, tmp_path):
    err = _run(capsys, tmp_path, "--protocol", "cross", "--source", LAB, "--target",
               "synth-lab:subjects=12,n=240,seed=0", "--model", "hog-svm")
    assert "--source 'synth-lab:n=240,subjects=12' and --target 'synth-lab:subjects=12,n=240,seed=0' are the " \
           "same data" in err and "--protocol subject" in err


def test_the_accuracy_interval_stays_within_0_and_100_percent():
    lo, hi = stats.t_interval([0.05, 0.95], bounds=stats.ACCURACY_RANGE)
    assert (lo, hi) == (0.0, 1.0)
    raw = stats.t_interval([0.05, 0.95])
    assert raw[0] < 0 and raw[1] > 1  # what a 2-fold t interval gives unclipped


def test_the_leaderboard_clips_the_interval_of_a_spread_two_fold_run(tmp_path):
    import fixtures_runs

    from bench.results.folder import RunFolder
    from leaderboard.build import render

    run = fixtures_runs.fabricate_run(tmp_path, "r", models={"model-a": 0.5}, n_folds=2)
    for fold, acc in (("fold-0", 0.05), ("fold-1", 0.95)):  # the folds disagree wildly
        path = RunFolder(run).unit_path("model-a", fold)
        path.write_text(path.read_text().replace('"accuracy": ', f'"accuracy": {acc}, "_was": ', 1))
    row = next(line for line in render([RunFolder(run)]).splitlines() if "model-a" in line)
    assert "[0.0, 100.0]" in row


# ---------------------------------------------------------------------- item 10: no tracebacks
def test_a_port_outside_the_tcp_range_is_one_line(capsys, tmp_path):
    (tmp_path / "optuna.db").touch()
    err = refused(run(capsys, "dashboard", tmp_path, "--port", "70000"))
    assert "--port 70000 is not a TCP port" in err


@pytest.mark.parametrize("host", ["999.1.1.1", "203.0.113.7"])
def test_a_bad_host_is_named_not_the_port(capsys, tmp_path, host):
    (tmp_path / "optuna.db").touch()
    err = refused(run(capsys, "dashboard", tmp_path, "--host", host, "--port", "0"))
    assert f"--host '{host}' is not an address of this machine" in err and "port" not in err


def test_report_out_pointing_at_a_file_is_one_line(capsys, tmp_path):
    import fixtures_runs

    run_dir = fixtures_runs.fabricate_run(tmp_path, "r")
    target = tmp_path / "file.md"
    target.write_text("x")
    err = refused(run(capsys, "report", run_dir, "--out", target))
    assert "--out" in err and "is a file" in err


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bench", "data", "list", "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.close()  # `bench data list | head -0`: the reader is gone before anything is written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141
    assert err == b"", err.decode()


# ---------------------------------------------------------------------- item 12: messages that fit
def test_a_negative_seed_is_named_as_such(capsys, tmp_path):
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "hog-svm", "--seed", "-1")
    assert "--seed must be a whole number from 0" in err and "--folds" not in err


@pytest.mark.parametrize("flag", ["--test-size", "--val-size"])
def test_an_oversized_fraction_is_told_to_shrink(capsys, tmp_path, flag):
    err = _run(capsys, tmp_path, "--protocol", "random", "--dataset", LAB, "--model", "hog-svm", flag, "0.99")
    assert f"use a smaller {flag}" in err and "larger" not in err


def test_one_subject_is_never_told_to_use_one_fold():
    from protocols import SubjectKFold

    one = FERDataset("solo", np.zeros((20, 8, 8), np.uint8), np.arange(20) % 4, [f"{i}.png" for i in range(20)],
                     subjects=["s1"] * 20)
    with pytest.raises(DataError) as info:
        list(SubjectKFold(folds=5).split(one))
    assert "solo has 1 subject" in str(info.value) and "--protocol kfold" in str(info.value)
    assert "--folds 1" not in str(info.value) and "loso" not in str(info.value)


def test_two_subjects_are_not_offered_loso():
    from protocols import SubjectKFold

    two = FERDataset("duo", np.zeros((20, 8, 8), np.uint8), np.arange(20) % 4, [f"{i}.png" for i in range(20)],
                     subjects=["s1", "s2"] * 10)
    with pytest.raises(DataError, match="use --folds 2 or --protocol kfold"):
        list(SubjectKFold(folds=5).split(two))


def test_make_protocol_checks_the_seed():
    from protocols import make_protocol

    with pytest.raises(ConfigError, match="--seed must be a whole number"):
        make_protocol("kfold", seed=-1)
    with pytest.raises(ConfigError, match="--seed must be a whole number"):
        make_protocol("kfold", seed=2**40)
