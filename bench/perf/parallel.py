"""``bench perf parallel``: the same run in one process and on a local Dask cluster, timed in one benchmark.

Each run is a fresh ``bench run`` child process writing into a temporary folder: first in one process, then
with ``--workers N``. The wall times include everything a user waits for (the cluster's start, each worker
loading the data); the two runs' metrics must be identical, and the speed-up is printed against its target.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import ConfigError

TARGET_SPEEDUP = 1.6  # 2 workers on a 2-core machine, the classical default set
TIMING_COLUMNS = ["fit_time_s", "predict_ms_per_image"]


def run_args(dataset: str, model: str, folds: int, protocol: str = "kfold") -> list[str]:
    """The ``bench run`` options both runs share."""
    return ["--protocol", protocol, "--dataset", dataset, "--model", model, "--folds", str(folds),
            "--ensemble", "none", "--no-progress"]


def _timed_run(args: list[str], out: Path, name: str) -> tuple[float, pd.DataFrame]:
    cmd = [sys.executable, "-m", "bench", "run", *args, "--out", str(out), "--name", name]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise ConfigError(f"'bench run {' '.join(args)}' failed with exit {proc.returncode}: {tail}")
    metrics = pd.read_csv(out / name / "metrics.csv").drop(columns=TIMING_COLUMNS)
    return wall, metrics.sort_values(["model", "fold", "testset"]).reset_index(drop=True)


def parallel_benchmark(args: list[str], workers: int = 2) -> list[dict[str, Any]]:
    """Wall time of ``bench run ARGS`` in one process and with ``--workers N``; the second row holds the
    speed-up, its target and whether both runs gave the same metrics."""
    if workers < 2:
        raise ConfigError(f"--workers must be at least 2 to compare with one process, got {workers}")
    with tempfile.TemporaryDirectory(prefix="fer-bench-parallel-") as tmp:
        out = Path(tmp)
        seq_s, seq = _timed_run(args, out, "sequential")
        par_s, par = _timed_run([*args, "--workers", str(workers)], out, "dask")
    speedup = seq_s / par_s
    command = "bench run " + " ".join(args)
    units = len(seq[["model", "fold"]].drop_duplicates())
    return [
        {"command": command, "executor": "one process", "workers": 1, "units": units, "wall_s": round(seq_s, 1)},
        {"command": command, "executor": "local Dask cluster", "workers": workers, "units": units,
         "wall_s": round(par_s, 1), "speedup": round(speedup, 2), "target": TARGET_SPEEDUP,
         "speedup_ok": speedup >= TARGET_SPEEDUP, "same_metrics": seq.equals(par)},
    ]
