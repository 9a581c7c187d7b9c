"""Paper 002's baseline CNN (memory integrity in cross-dataset FER), about 19.2M parameters at 48x48."""

from __future__ import annotations

from torch import nn

from deep import recipes
from deep.nets.arch import Arch, ModelVariant, register_arch, scratch_only
from deep.nets.base import NetSpec, SequentialCNN, conv_unit, dense_head, flat_features, init_scratch


def baseline(n_classes: int, input_size: int = 48, dropout: float = 0.5) -> SequentialCNN:
    """5 conv (64, 64 filters 2x2; 128, 128, 128 filters 3x3) with BN + ReLU after each, max-pool after conv 2
    and 5, FC 2048 -> 1024 -> classes with dropout 0.5.

    Unpadded ('valid') convolutions give 48 -> 46 -> 23 -> 17 -> 8, i.e. 128*8*8 = 8192 inputs to FC 2048 and
    19.27M parameters, the paper's "19.2M" (with 'same' padding it would be 40M). Last block (paper 002's
    "FC + last convolutional layer"): conv 5.
    """
    body = nn.Sequential(
        conv_unit(1, 64, 2, bn=True),
        conv_unit(64, 64, 2, bn=True, pool=nn.MaxPool2d(2)),
        conv_unit(64, 128, 3, bn=True),
        conv_unit(128, 128, 3, bn=True),
        conv_unit(128, 128, 3, bn=True, pool=nn.MaxPool2d(2)),
    )
    head = dense_head(flat_features(body, input_size), [2048, 1024], n_classes, dropout=dropout)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=20), last_block=1)
    init_scratch(net)
    return net


register_arch(Arch(
    "cnn-002", scratch_only(baseline), doc="Paper 002 baseline CNN: 5 conv with BN, FC 2048-1024, 19.2M parameters",
    paper="002", default_size=48, paper_size=48, presets={"default": recipes.default, "paper": recipes.paper002},
    models=(ModelVariant("cnn-002", "scratch", "Paper 002 baseline CNN: 5 conv with BN, FC 2048-1024, 19.2M "
                                               "parameters, from scratch.", in_default_set=True),)))
