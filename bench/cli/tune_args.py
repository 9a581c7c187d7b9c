"""`bench tune` options, kept apart from ``bench.run.tuning`` so the CLI starts without importing Optuna."""

from __future__ import annotations

import argparse

from bench.cli.run_args import PROTOCOL_CHOICES
from bench.core.threads import add_threads_argument

DEFAULT_HEARTBEAT_S = 30  # a trial silent for 3x this long belongs to a dead process
DESCRIPTION = ("Tune one model's hyperparameters with Optuna on one outer fold: trials fit on the fold's "
               "training part and are scored (macro-F1) on its validation split, never on its test set. "
               "Re-running the same command resumes the study; several processes on one --storage share it.")


def add_tune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the model to tune (one name with a search space)")
    p.add_argument("--protocol", choices=PROTOCOL_CHOICES, default="kfold",
                   help="protocol whose outer fold is tuned (default: kfold)")
    p.add_argument("--dataset", default="synth-lab", help="dataset or spec (default: synth-lab)")
    p.add_argument("--source", default="synth-wild", help="cross: source dataset (default: synth-wild)")
    p.add_argument("--target", default="synth-lab", help="cross: target dataset (default: synth-lab)")
    p.add_argument("--trials", type=int, required=True,
                   help="finished trials the study should reach (already finished ones count)")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--storage", default=None,
                   help="SQLAlchemy URL of the study storage, e.g. postgresql://user:pass@host/db for many "
                        "machines (default: sqlite:///RUN/optuna.db)")
    p.add_argument("--fold", default=None, help="outer fold to tune: id (fold-03) or index (default: the first)")
    p.add_argument("--folds", default=None, help="as for bench run: number of folds or repeats")
    p.add_argument("--test-size", type=float, default=None, help="as for bench run")
    p.add_argument("--val-size", type=float, default=0.1,
                   help="validation fraction carved from the fold's training part; trials are scored on it "
                        "(default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed for splits, models and the sampler (default 0)")
    p.add_argument("--preset", choices=("default", "paper"), default="default", help="deep models: as for bench run")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="deep models: where to train")
    add_threads_argument(p)
    p.add_argument("--out", default="results", help="folder that holds run folders (default: results)")
    p.add_argument("--name", default=None,
                   help="run folder name (default: the one bench run derives from the same options)")
    p.add_argument("--heartbeat", type=int, default=DEFAULT_HEARTBEAT_S,
                   help="seconds between trial heartbeats; a trial silent for 3 heartbeats (its process died) "
                        f"is failed and re-queued; 0 turns it off (default {DEFAULT_HEARTBEAT_S})")
