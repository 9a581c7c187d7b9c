"""Paper 003's baseline CNN for FER2013 (Table 2: conv 32-64-pool-128-128-pool-256-256-pool, dense 256, 7)."""

from __future__ import annotations

from torch import nn

from deep import recipes
from deep.nets.arch import Arch, ModelVariant, register_arch, scratch_only
from deep.nets.base import NetSpec, SequentialCNN, conv_unit, dense_head, flat_features, init_scratch


def baseline(n_classes: int, input_size: int = 48, dropout: float = 0.3, batch_norm: bool = True) -> SequentialCNN:
    """Conv 3x3 32, 64 | max-pool | 128, 128 | max-pool | 256, 256 | max-pool, dense 256 -> classes.

    Keras' default 'valid' padding (48 -> 44 -> 22 -> 18 -> 9 -> 5 -> 2, 1024 features). The text adds what
    the table leaves out: "dropout (ranging from 0.3 to 0.5) and batch normalization": BN after each conv
    (``batch_norm``), dropout ``dropout`` after each pool and 0.5 before the output layer. Last block: the
    two 256 convs (conv-conv-pool, as VGG's "block 5").
    """
    bn = batch_norm
    body = nn.Sequential(
        conv_unit(1, 32, 3, bn=bn),
        conv_unit(32, 64, 3, bn=bn, pool=nn.MaxPool2d(2), dropout=dropout),
        conv_unit(64, 128, 3, bn=bn),
        conv_unit(128, 128, 3, bn=bn, pool=nn.MaxPool2d(2), dropout=dropout),
        conv_unit(128, 256, 3, bn=bn),
        conv_unit(256, 256, 3, bn=bn, pool=nn.MaxPool2d(2), dropout=dropout),
    )
    head = dense_head(flat_features(body, input_size), [256], n_classes, dropout=0.5)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=36), last_block=2)
    init_scratch(net)
    return net


register_arch(Arch(
    "cnn-003", scratch_only(baseline), doc="Paper 003 baseline CNN: conv 32-64-128-128-256-256, 3 max-pools, dense 256",
    paper="003", default_size=48, paper_size=48, presets={"default": recipes.default, "paper": recipes.paper003_adam},
    models=(ModelVariant("cnn-003", "scratch", "Paper 003 baseline CNN: conv 32-64-128-128-256-256 with 3 max-pools, "
                                               "dense 256, from scratch.", in_default_set=True),)))
