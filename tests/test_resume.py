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
           "--model", "cnn-003", "--epochs", "6", "--threads", "1", "--ensemble", "none", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain = subprocess.run([*cmd, "--out", str(tmp_path / "plain")], env=env, capture_output=True, text=True,
                           timeout=900)
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "epoch 3/6" in plain.stderr  # --no-progress: one line per epoch

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
    assert 3 <= seen < 6, f"the run was not killed mid-training (last epoch seen {seen})"
    again = subprocess.run([*cmd, "--out", str(out)], env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resumed at epoch {seen + 1}" in again.stderr
    units = [json.loads(p.read_text()) for p in (tmp_path / "plain").glob("*/units/*/*.json")]
    resumed = [json.loads(p.read_text()) for p in out.glob("*/units/*/*.json")]
    assert resumed[0]["metrics"] == units[0]["metrics"] and resumed[0]["resumed_from_epoch"] == seen
    assert not list(out.glob("*/checkpoints/*/*.epoch.pt"))  # a finished unit's epoch state is removed
