"""Paper 000's three custom CNNs (48x48 gray input, section 3), trained on FER2013 then fine-tuned on CK+/JAFFE.

The paper gives layer counts, not widths or kernel sizes; the choices below are stated per model. Convolutions
use Keras' default 'valid' padding (the paper used Keras) unless said otherwise.
"""

from __future__ import annotations

from torch import nn

from deep import recipes
from deep.nets.arch import Arch, ModelVariant, register_arch, scratch_only
from deep.nets.base import NetSpec, SequentialCNN, conv_unit, dense_head, flat_features, init_scratch


def model1(n_classes: int, input_size: int = 48, dropout: float = 0.0) -> SequentialCNN:
    """Model 1: 2 conv, 2 max-pool, 3 dense, ReLU after each conv and dense.

    Widths (not in the paper): conv 32 and 64 filters 3x3, each followed by 2x2 max-pool; dense 256 -> 128
    -> classes. The paper has no dropout in this model; ``dropout`` (default 0) adds one after each hidden
    dense layer for tuning. Last block (``head+last``): the second conv.
    """
    body = nn.Sequential(
        conv_unit(1, 32, 3, pool=nn.MaxPool2d(2)),
        conv_unit(32, 64, 3, pool=nn.MaxPool2d(2)),
    )
    head = dense_head(flat_features(body, input_size), [256, 128], n_classes, dropout=dropout)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=12), last_block=1)
    init_scratch(net)
    return net


def model2(n_classes: int, input_size: int = 48, dropout: float = 0.2) -> SequentialCNN:
    """Model 2: 5 conv, 1 max-pool, 2 average-pool, 3 dense, 2 dropouts after the dense layers.

    The layer list matches the widely copied Keras FER2013 network (serengil/tensorflow-101): conv 64 5x5,
    max-pool 5x5/2, conv 64 3x3 x2, avg-pool 3x3/2, conv 128 3x3 x2, avg-pool 3x3/2, dense 1024 -> 1024
    (dropout 0.2 after each) -> classes; widths are taken from it. Last block: the last two 128 convs and
    their pool (conv-conv-pool, as the second block).
    """
    body = nn.Sequential(
        conv_unit(1, 64, 5, pool=nn.MaxPool2d(5, stride=2)),
        conv_unit(64, 64, 3),
        conv_unit(64, 64, 3, pool=nn.AvgPool2d(3, stride=2)),
        conv_unit(64, 128, 3),
        conv_unit(128, 128, 3, pool=nn.AvgPool2d(3, stride=2)),
    )
    head = dense_head(flat_features(body, input_size), [1024, 1024], n_classes, dropout=dropout)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=45), last_block=2)
    init_scratch(net)
    return net


def model3(n_classes: int, input_size: int = 48, dropout: float = 0.25) -> SequentialCNN:
    """Model 3: 6 conv, 4 max-pool, 4 dense; batch norm and dropout after the conv and dense layers.

    Widths (not in the paper): conv 3x3 'same' 32, 32 | pool | 64, 64 | pool | 128 | pool | 128 | pool
    (48 -> 3), dense 512 -> 256 -> 128 -> classes. Batch norm follows every conv and hidden dense layer;
    the paper counts 7 dropouts, which we place after each of the 4 pooling stages and the 3 hidden dense
    layers (rate ``dropout`` in the conv part, 2x it, capped at 0.5, in the dense part). Last block: the
    last conv.
    """
    same = 1
    p_dense = min(2 * dropout, 0.5)
    body = nn.Sequential(
        conv_unit(1, 32, 3, padding=same, bn=True),
        conv_unit(32, 32, 3, padding=same, bn=True, pool=nn.MaxPool2d(2), dropout=dropout),
        conv_unit(32, 64, 3, padding=same, bn=True),
        conv_unit(64, 64, 3, padding=same, bn=True, pool=nn.MaxPool2d(2), dropout=dropout),
        conv_unit(64, 128, 3, padding=same, bn=True, pool=nn.MaxPool2d(2), dropout=dropout),
        conv_unit(128, 128, 3, padding=same, bn=True, pool=nn.MaxPool2d(2), dropout=dropout),
    )
    head = dense_head(flat_features(body, input_size), [512, 256, 128], n_classes, dropout=p_dense, bn=True)
    net = SequentialCNN(body, head, NetSpec(input_size=input_size, min_size=16), last_block=1)
    init_scratch(net)
    return net


for _fn, _n, _doc in ((model1, 1, "2 conv, 2 max-pool, 3 dense (48x48 gray)"),
                      (model2, 2, "5 conv, 1 max-pool, 2 avg-pool, 3 dense, 2 dropouts"),
                      (model3, 3, "6 conv, 4 max-pool, 4 dense, batch norm and dropout throughout")):
    register_arch(Arch(
        f"cnn-000-m{_n}", scratch_only(_fn), doc=f"Paper 000 Model {_n}: {_doc}", paper="000",
        default_size=48, paper_size=48, presets={"default": recipes.default, "paper": recipes.paper000},
        models=(ModelVariant(f"cnn-000-m{_n}", "scratch", f"Paper 000 Model {_n}: {_doc}, from scratch.",
                             in_default_set=True),)))
del _fn, _n, _doc
