"""``bench tune`` options: ``bench run``'s experiment options plus the study's, kept apart from
``bench.run.tuning`` so the command line starts without importing Optuna."""

from __future__ import annotations

import argparse

from bench.cli.run_args import add_experiment_arguments

DESCRIPTION = ("Tune one model's hyperparameters with Optuna on one outer fold: trials fit on the fold's "
               "training part and are scored (macro-F1) on its validation split, never on its test set. "
               "Re-running the same command resumes the study; several processes on one --storage share it; "
               "'bench run' with the same options and --tune N (N = --trials) reuses it.")


def add_tune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the model to tune (one name; 'bench models' lists them)")
    add_experiment_arguments(p)
    p.set_defaults(protocol="kfold")
    p.add_argument("--trials", type=int, required=True,
                   help="finished trials the study should reach (already finished ones count); the run folder is "
                        "the one 'bench run --tune TRIALS' uses")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    p.add_argument("--fold", default=None, help="outer fold to tune: id (fold-03) or index (default: the first)")
    p.add_argument("--heartbeat", type=int, default=None,
                   help="seconds between trial heartbeats; a trial silent for 3 heartbeats (its process died) "
                        "is failed and re-queued; 0 turns it off (default 30)")
