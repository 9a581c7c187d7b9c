"""Long trainings survive interruption: a deep unit saves its state after every epoch and a killed run resumes the
unit at its next epoch, ending with the metrics of an uninterrupted run (on the CPU); progress shows per epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deep.estimator import DeepClassifier

ROOT = Path(__file__).resolve().parents[1]


class Stop(Exception):
    pass


def _data(n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array([0, 3, 6])[np.arange(n) % 3]
    x = rng.normal(90, 25, (n, 32, 32))
    for i, c in enumerate(y):
        x[i, 4 + 8 * (c % 3):12 + 8 * (c % 3), 6:20] += 100
    return np.clip(x, 0, 255).astype(np.uint8), y


@pytest.mark.parametrize("config", [{"patience": 3}, {"finetune": "two-phase", "head_epochs": 2, "top_layers": 2}])
def test_a_fit_killed_after_an_epoch_resumes_at_the_next_and_ends_identically(tmp_path, config):
    torch.set_num_threads(1)
    x, y = _data()
    def make() -> DeepClassifier:
        return DeepClassifier(arch="cnn-003", device="cpu", epochs=5, batch_size=16, seed=3, input_size=36,
                              config={"min_steps": 0, **config})

    whole = make().fit(x[:72], y[:72], X_val=x[72:], y_val=y[72:])
    expected = whole.predict_proba(x)

    path = tmp_path / "unit.epoch.pt"

    def die_after_third(record, net):
        if record["epoch"] == 3:
            raise Stop  # after the checkpoint of epoch 3 was written, as a kill would find it

    with pytest.raises(Stop):
        make().fit(x[:72], y[:72], X_val=x[72:], y_val=y[72:], callbacks=[die_after_third], checkpoint=path)
    assert torch.load(path, weights_only=True)["epoch"] == 3
    resumed = make().fit(x[:72], y[:72], X_val=x[72:], y_val=y[72:], checkpoint=path)
    assert resumed.resumed_from_ == 3
    assert [h["epoch"] for h in resumed.history_] == [h["epoch"] for h in whole.history_]
    np.testing.assert_array_equal(resumed.predict_proba(x), expected)
    other = make().set_params(lr=3e-3)  # another fit: the saved state is not its own, so it starts afresh
    assert other.fit(x[:72], y[:72], X_val=x[72:], y_val=y[72:], checkpoint=path).resumed_from_ is None


def _checkpoint_epoch(folder: Path) -> int:
    for path in folder.glob("*/checkpoints/*/*.epoch.pt"):
        try:
            return int(torch.load(path, weights_only=True)["epoch"])
        except Exception:  # noqa: BLE001 - being replaced at this instant; look again
            return 0
    return 0


def test_a_killed_run_resumes_the_unit_and_ends_with_the_uninterrupted_metrics(tmp_path):
    cmd = [sys.executable, "-m", "bench", "run", "--protocol", "random", "--dataset", "synth-lab:subjects=12,n=288",
           "--model", "cnn-000-m1", "--epochs", "8", "--threads", "1", "--ensemble", "none", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = subprocess.run([*cmd, "--out", str(tmp_path / "plain")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "epoch 3/8" in plain.stderr  # --no-progress: one line per epoch

    out = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _checkpoint_epoch(out)
        if seen >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    assert 3 <= seen < 8, f"the run was not killed mid-training (last epoch seen {seen})"
    again = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed at epoch {seen + 1}" in again.stderr
    units = [json.loads(p.read_text()) for p in (tmp_path / "plain").glob("*/units/*/*.json")]
    resumed = [json.loads(p.read_text()) for p in out.glob("*/units/*/*.json")]
    assert resumed[0]["metrics"] == units[0]["metrics"] and resumed[0]["resumed_from_epoch"] == seen
    # Its fit time counts every epoch, those trained before the kill too.
    assert resumed[0]["fit_time_s"] >= sum(h["time"] for h in resumed[0]["history"]) > 0
    assert not list(out.glob("*/checkpoints/*/*.epoch.pt"))  # a finished unit's epoch state is removed


# ---------------------------------------------------------------------- source models of cross runs
CROSS = ["run", "--protocol", "cross", "--source", "synth-wild:n=160", "--target", "synth-lab:subjects=10,n=140",
         "--model", "cnn-000-m1", "--epochs", "1", "--threads", "1", "--ensemble", "none", "--no-progress"]
FINE_TUNING = ("ft-fc", "ft-fc+cl", "ft-all")


def _cross_run(out: Path, capsys) -> tuple[int, str]:
    from bench.cli import main

    code = main([*CROSS, "--out", str(out), "--name", "x"])
    return code, capsys.readouterr().err


def _units(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (folder / "units" / "cnn-000-m1").glob("*.json")}


@pytest.mark.parametrize("damage", ["truncated", "empty", "deleted"])
def test_an_unreadable_source_model_reruns_its_unit_and_every_fine_tuning(tmp_path, capsys, damage):
    """A kill during the source model's save (or its loss) leaves fine-tuning units with nothing to start from:
    the resumed run trains the source again, then every fine-tuning unit, and finishes."""
    code, _ = _cross_run(tmp_path, capsys)
    folder = tmp_path / "x"
    assert code == 0
    first = _units(folder)
    checkpoint = folder / "checkpoints" / "cnn-000-m1" / "zero-shot.pt"
    assert checkpoint.stat().st_size > 0 and not list(checkpoint.parent.glob(".*.tmp"))  # written whole
    # As a kill after the source unit finished but before its fine-tuning units did would leave it:
    for variant in FINE_TUNING:
        (folder / "units" / "cnn-000-m1" / f"{variant}.json").unlink()
    {"truncated": lambda: checkpoint.write_bytes(checkpoint.read_bytes()[:1000]),
     "empty": lambda: checkpoint.write_bytes(b""), "deleted": checkpoint.unlink}[damage]()
    code, err = _cross_run(tmp_path, capsys)
    assert code == 0, err
    why = "missing" if damage == "deleted" else "unreadable"
    assert f"warning: source model {checkpoint} is {why}" in err
    assert "cnn-000-m1 zero-shot and its 3 fine-tuning units run again" in err
    again = _units(folder)
    assert set(again) == set(first) and all(u["status"] == "ok" for u in again.values())
    # The source was trained again on one thread from the same seed: the same model, the same scores.
    assert again["zero-shot"]["metrics"] == first["zero-shot"]["metrics"]
    for variant in FINE_TUNING:
        assert again[variant]["metrics"] == first[variant]["metrics"]
    assert torch.load(checkpoint, weights_only=True)["format"]  # readable again


def test_a_resumed_run_with_its_source_model_intact_trains_only_what_is_missing(tmp_path, capsys):
    code, _ = _cross_run(tmp_path, capsys)
    assert code == 0
    folder = tmp_path / "x"
    source_record = (folder / "units" / "cnn-000-m1" / "zero-shot.json").read_bytes()
    (folder / "units" / "cnn-000-m1" / "ft-all.json").unlink()
    code, err = _cross_run(tmp_path, capsys)
    assert code == 0 and "run again" not in err
    assert (folder / "units" / "cnn-000-m1" / "zero-shot.json").read_bytes() == source_record
    assert "(5 units were already done" in err  # only ft-all ran
