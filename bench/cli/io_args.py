"""Options of ``bench eval``, ``bench predict`` and ``bench export``: models in and out.

Kept apart from their handlers (``bench.run.evaluate``, ``predict``, ``export``) so ``bench --help`` imports
neither torch nor onnxruntime.
"""

from __future__ import annotations

import argparse

from bench.core.threads import add_threads_argument

EVAL = ("Score a saved model (RUN/models/MODEL/FOLD.pt or .skops) or an ONNX file from any framework on a "
        "dataset, without training: accuracy, macro-F1, per-class table and confusion matrix. It writes a run "
        "folder like any other run (protocol zero-shot), so 'bench leaderboard' and 'bench report' include it.")
PREDICT = ("Run a saved model or an ONNX file on image files or folders and write a CSV of per-class "
           "probabilities and the predicted label per image; unreadable images are listed, not fatal.")
EXPORT = ("Export a run's saved deep model (RUN/models/MODEL/UNIT.pt) to ONNX, with its label order and "
          "preprocessing in the file's metadata. Classical pipelines stay .skops files.")


def _add_model_input(p: argparse.ArgumentParser) -> None:
    """What an ONNX model may need to be told (a model exported by 'bench export' declares all of it)."""
    g = p.add_argument_group("ONNX models", "what the model's metadata does not declare (fer-bench's own "
                                            ".pt/.skops files record it)")
    g.add_argument("--input-size", default=None, metavar="N|HxW", help="side of the model's input; images are resized")
    g.add_argument("--channels", default=None, choices=("1", "3"), help="1: gray; 3: the gray image repeated as RGB")
    g.add_argument("--scale", default=None, choices=("0-1", "0-255", "imagenet"),
                   help="pixel scaling: /255, raw values, or /255 then ImageNet mean/std")
    g.add_argument("--layout", default=None, choices=("nchw", "nhwc"),
                   help="input layout when the graph's shape does not say (nchw: PyTorch, nhwc: Keras)")
    g.add_argument("--labels", default=None, metavar="NAMES",
                   help="the emotion of each output column in order, e.g. angry,disgust,fear,happy,sad,surprise,neutral")


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a .pt or .skops file saved by fer-bench, or an .onnx file")
    p.add_argument("--dataset", required=True, help="dataset or spec to score on (e.g. synth-wild, fer2013)")
    p.add_argument("--split", choices=("test", "all"), default=None,
                   help="test: the dataset's official test split, or --protocol's test folds (the fold the model "
                        "was held out from, when it was trained on this dataset); all: every image (default: test "
                        "when the dataset has an official split or the model was trained on it, else all)")
    p.add_argument("--protocol", default=None,
                   help="random, kfold or subject: score that protocol's test folds (with --folds, --seed, "
                        "--test-size as for bench run)")
    p.add_argument("--folds", default=None, help="with --protocol: its number of folds or repeats")
    p.add_argument("--seed", type=int, default=0, help="with --protocol: its seed (default 0)")
    p.add_argument("--test-size", type=float, default=None, help="with --protocol random: its test fraction")
    p.add_argument("--label", default=None, metavar="NAME",
                   help="the model's row name in the run folder and leaderboard (default: the model's name)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                   help="deep .pt models: where to run (default cpu; ONNX always runs on the CPU)")
    p.add_argument("--out", default="results", help="folder that holds run folders (default: results)")
    p.add_argument("--name", default=None,
                   help="run folder name (default: zero-shot-DATASET-SPLIT; models scored the same way share it)")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="where imported datasets are cached")
    add_threads_argument(p)
    _add_model_input(p)


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="a .pt or .skops file saved by fer-bench, or an .onnx file")
    p.add_argument("images", nargs="+", metavar="IMAGES", help="image files and/or folders (searched recursively)")
    p.add_argument("--out", default=None, metavar="FILE.csv", help="write the CSV here (default: standard output)")
    p.add_argument("--crop-faces", action="store_true",
                   help="crop the face of each image first (the importers' detector; the frame is kept where "
                        "none is found)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu", help="deep .pt models: where to run")
    add_threads_argument(p)
    _add_model_input(p)


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="a run folder whose models were saved (bench run --save-models)")
    p.add_argument("--model", required=True, help="the model's name in the run (e.g. cnn-003)")
    p.add_argument("--unit", default=None, help="the fold of the unit to export (needed when the run has several)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="onnx (the only format)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="where to write (default: beside the saved model, RUN/models/MODEL/UNIT.onnx)")
    add_threads_argument(p)
