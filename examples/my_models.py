"""Your own models, without forking fer-bench: this file registers a classical pipeline with a custom feature and
a small CNN through ``bench.register_model``, the decorator the built-ins use.

    bench models --include examples/my_models.py --family classical
    bench run --include examples/my_models.py --model edges-svm,cnn-tiny --protocol kfold --dataset synth-lab --folds 3

A model is a function returning an unfitted estimator that honours the model contract (bench.core.contracts):
``fit``, ``predict_proba``, ``classes_``, ``get_params`` / ``set_params``; a deep one also takes the fold's
validation split. Its docstring's first line is what ``bench models`` shows; its search space is what
``bench tune`` samples.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from baselines.features.base import ImageFeatures
from bench import register_model


class EdgeHistograms(ImageFeatures):
    """Histograms of Sobel gradient magnitude over a ``grid`` x ``grid`` layout of cells."""

    def __init__(self, grid: int = 4, bins: int = 8) -> None:
        self.grid = grid
        self.bins = bins

    def _extract(self, images: np.ndarray) -> np.ndarray:
        rows = []
        for img in images:
            mag = cv2.magnitude(cv2.Sobel(img, cv2.CV_32F, 1, 0), cv2.Sobel(img, cv2.CV_32F, 0, 1))
            cells = [c for band in np.array_split(mag, self.grid, 0) for c in np.array_split(band, self.grid, 1)]
            rows.append(np.concatenate([np.histogram(c, self.bins, (0, 1443))[0] / c.size for c in cells]))
        return np.asarray(rows, dtype=np.float32)


def edges_space(trial: Any) -> dict[str, Any]:
    return {"features__grid": trial.suggest_int("features__grid", 3, 8),
            "svm__C": trial.suggest_float("svm__C", 0.01, 100.0, log=True)}


@register_model("classical", search_space=edges_space)
def edges_svm(seed: int = 0, **params: Any) -> Pipeline:
    """Sobel edge-magnitude histograms -> standard scaler -> RBF SVM (probabilities by Platt scaling)."""
    pipe = Pipeline([("features", EdgeHistograms()), ("scale", StandardScaler()),
                     ("svm", SVC(C=10.0, probability=True, random_state=seed))])
    return pipe.set_params(**params)


# ----------------------------------------------------------------------------- a small CNN
from torch import nn  # noqa: E402 - the deep half of the example

from deep import recipes  # noqa: E402
from deep.estimator import DeepClassifier  # noqa: E402
from deep.nets.arch import Arch, ModelVariant, register_arch, scratch_only  # noqa: E402
from deep.nets.base import NetSpec, SequentialCNN, conv_unit, dense_head, flat_features, init_scratch  # noqa: E402


def tiny_cnn(n_classes: int, input_size: int = 48, width: int = 16, dropout: float = 0.3) -> SequentialCNN:
    """Two conv-pool stages (``width`` and 2 x ``width`` filters) and a dense layer of 64."""
    body = nn.Sequential(conv_unit(1, width, 3, bn=True, pool=nn.MaxPool2d(2)),
                         conv_unit(width, 2 * width, 3, bn=True, pool=nn.MaxPool2d(2)))
    head = dense_head(flat_features(body, input_size), [64], n_classes, dropout=dropout)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=16), last_block=1)
    init_scratch(net)
    return net


register_arch(Arch("cnn-tiny", scratch_only(tiny_cnn), doc="a two-stage CNN", paper="ours", default_size=48,
                   paper_size=48, presets={"default": recipes.default, "paper": recipes.default},
                   models=(ModelVariant("cnn-tiny", "scratch", "a two-stage CNN"),)))


@register_model("deep", search_space=recipes.scratch_space)
def cnn_tiny(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """A two-stage CNN with batch norm (16 and 32 filters, dense 64), trained from scratch."""
    return DeepClassifier(arch="cnn-tiny", init="scratch", preset=preset, device=device, seed=seed, **params)
