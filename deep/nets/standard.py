"""The two-layer "standard CNN" of papers 001 and 004, whose accuracy they report against the input size."""

from __future__ import annotations

from torch import nn

from deep import recipes
from deep.nets.arch import Arch, ModelVariant, register_arch, scratch_only
from deep.nets.base import NetSpec, SequentialCNN, conv_unit, dense_head, flat_features, init_scratch


def standard_cnn(n_classes: int, input_size: int = 48, kernel: int = 3, dropout: float = 0.5) -> SequentialCNN:
    """Two conv-pool stages (32 and 64 filters, ``kernel`` x ``kernel``, 2x2 max-pool), dense 128 -> classes.

    Paper 001 uses 3x3 kernels, paper 004 5x5 (``kernel``); both vary the input from 48x48 to 360x360
    (``input_size``). Widths and the dense layer are not given; these are the usual Keras example's. The
    flattened size grows with the input (64*88*88 at 360), as in the papers. Last block: the second conv.
    """
    body = nn.Sequential(
        conv_unit(1, 32, kernel, pool=nn.MaxPool2d(2)),
        conv_unit(32, 64, kernel, pool=nn.MaxPool2d(2)),
    )
    head = dense_head(flat_features(body, input_size), [128], n_classes, dropout=dropout)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=4 * kernel), last_block=1)
    init_scratch(net)
    return net


register_arch(Arch(
    "standard-cnn", scratch_only(standard_cnn), doc="Papers 001/004 standard CNN: 2 conv-pool stages + dense",
    paper="001,004", default_size=48, paper_size=48,
    presets={"default": recipes.default, "paper": recipes.paper001, "paper004": recipes.paper004_standard},
    models=(ModelVariant("standard-cnn", "scratch", "Papers 001/004 standard CNN: 2 conv-pool stages + dense, input "
                                                    "size 48..360 (input_size=)."),)))
