"""Options of ``bench run`` and ``bench tune``: one declaration of the experiment options both share, so the two
commands build the same run configuration (``bench.run.config.RunConfig``) from the same flags.

Kept apart from the engine so the command line starts without importing scikit-learn.
"""

from __future__ import annotations

import argparse

from bench.core.threads import add_threads_argument


def add_include_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--include", action="append", default=None, metavar="PATH",
                   help="a .py file (or a folder of them) registering your own models with bench.register_model; "
                        "may be given several times")


def add_experiment_arguments(p: argparse.ArgumentParser) -> None:
    """Protocol, data, split and training options: what a run folder's configuration is made of."""
    add_include_argument(p)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="an experiment file (experiments/NAME.toml) or a run's manifest.json to repeat it; options "
                        "given on the command line win over the file")
    p.add_argument("--protocol", default="cross",
                   help="random: stratified hold-out; kfold: stratified k-fold; subject: subject-disjoint k-fold "
                        "or LOSO; official: the dataset's own split; cross: source -> target (default: cross); "
                        "'bench protocols' lists them with their options")
    p.add_argument("--dataset", default="synth-lab",
                   help="dataset or spec for single-dataset protocols (default: synth-lab)")
    p.add_argument("--source", default="synth-wild", help="cross: source dataset (default: synth-wild)")
    p.add_argument("--target", default="synth-lab",
                   help="cross: target dataset, or several comma-separated (default: synth-lab)")
    p.add_argument("--folds", default=None,
                   help="kfold/subject: number of folds (default 10); subject also takes 'loso'; "
                        "random/cross: number of repeats with different seeds (default 1)")
    p.add_argument("--test-size", type=float, default=None,
                   help="random/cross: test fraction (default 0.1 for random, 0.2 per domain for cross)")
    p.add_argument("--val-size", type=float, default=0.1,
                   help="validation fraction carved from each fold's training part (default 0.1); 0: none, deep "
                        "models then train their preset's fixed epochs and keep the last weights")
    p.add_argument("--target-fraction", default="1.0",
                   help="cross: comma-separated fractions of the target training data (e.g. 0.5,1.0)")
    p.add_argument("--source-split", default=None, metavar="TRAIN/VAL/TEST",
                   help="cross: fractions of the source, e.g. 0.8/0.1/0.1 (default: its official split when it has "
                        "one, else --test-size and --val-size)")
    p.add_argument("--target-split", default=None, metavar="TRAIN/VAL/TEST",
                   help="cross: fractions of each target, e.g. 0.6/0.2/0.2 (default: --test-size and --val-size)")
    p.add_argument("--target-split-by", choices=("subject", "random"), default=None,
                   help="cross: split each target subject-disjoint (default, where it has subjects) or at random "
                        "as some papers did (the leakage column then counts the shared subjects)")
    p.add_argument("--variants", default=None, metavar="LIST",
                   help="cross: only these adaptation strategies besides zero-shot, by name or the papers' "
                        "abbreviation, e.g. target-only,ft-all or SCRATCH,RE (default: all six)")
    p.add_argument("--official-split", choices=("standard", "paper003"), default=None,
                   help="official: standard (FER2013 Training / PublicTest / PrivateTest) or paper003 (test = "
                        "PublicTest + PrivateTest, validation --val-size of Training)")
    p.add_argument("--labels", default=None, metavar="CLASSES",
                   help="merge (A=B) and/or keep (A,B,...) classes in every dataset of the run, e.g. "
                        "'contempt=disgust' or 'angry,happy,sad,neutral'")
    p.add_argument("--seed", type=int, default=0, help="seed for splits, models and the sampler (default 0)")
    p.add_argument("--preset", default="default",
                   help="deep models: 'default' keeps CPU runs short; 'paper' follows the paper each network comes "
                        "from; paperNNN a named paper's recipe for a network two papers use (e.g. paper001 for "
                        "resnet18); 'bench models --show NAME' prints them")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="deep models: train exactly N epochs (overrides the preset's epochs and minimum steps)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="deep models: where to train")
    p.add_argument("--offline", action="store_true",
                   help="never download: a pretrained model whose ImageNet weights are not in the torch hub cache is "
                        "skipped, naming the URL and the cache path (also FER_BENCH_OFFLINE=1)")
    p.add_argument("--accel", choices=("sklearn", "intelex", "cuml", "auto"), default="sklearn",
                   help="classical models: the library that fits their estimators; sklearn: scikit-learn, the "
                        "reference (default); intelex: scikit-learn-intelex, oneDAL on the CPU (RBF SVM, KNN; "
                        "pip install 'fer-bench[accel]'); cuml: cuML on a CUDA GPU (pip install 'fer-bench[cuda]'); "
                        "auto: cuml with --device cuda if installed, else intelex if installed, else sklearn. "
                        "Part of the run's identity and folder name")
    add_threads_argument(p)
    p.add_argument("--out", default="results", help="folder that holds run folders (default: results)")
    p.add_argument("--name", default=None,
                   help="run folder name (default: derived from protocol, data, seed and tuning; the same "
                        "command resumes the same folder)")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna study storage, any SQLAlchemy URL, e.g. postgresql://user:pass@host/db for many "
                        "machines (default: sqlite:///RUN/optuna.db)")


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="all",
                   help="comma-separated model names or patterns ('hog-*'), or classical, deep, all (default: all); "
                        "'bench models' lists them")
    add_experiment_arguments(p)
    p.add_argument("--ensemble", default="auto",
                   help="'+'-joined model names whose softmax outputs are averaged into an extra row "
                        "(several groups comma-separated); 'auto' = paper 000's cnn-000-m1+m2+m3 when all ran; "
                        "'none' to skip")
    p.add_argument("--tune", type=int, default=0, metavar="N",
                   help="tune every model with N Optuna trials inside each outer fold's training data "
                        "(objective: validation macro-F1), then fit the best configuration and score the test "
                        "fold (default: 0, no tuning); 'bench tune' fills the same studies")
    p.add_argument("--source-run", default=None, metavar="RUN",
                   help="cross: take the trained source (zero-shot) models from this earlier run instead of training "
                        "them again: a cross run, or a run on the source alone (e.g. its official split with "
                        "--save-models) whose fold holds this run's source training and validation data")
    p.add_argument("--save-models", action="store_true",
                   help="keep every unit's fitted model in RUN/models/<model>/<fold>.pt|.skops, with a card saying what it "
                        "was trained on (for bench eval, predict and export)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars: one line per finished unit, and per epoch of a deep unit")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run the (model, fold) units on a local Dask cluster of N worker processes (--threads "
                        "each, default 1); results are the same as in one process")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the units on an existing Dask cluster, e.g. tcp://HOST:8786 (started with 'dask "
                        "scheduler' and 'dask worker', or by dask-jobqueue); workers need the dataset cache")
