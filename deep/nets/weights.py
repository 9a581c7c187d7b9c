"""ImageNet weights from the torch hub cache only: never downloaded, never silently replaced by random init."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

from bench.core.errors import UnitSkipped


def imagenet_weights(tv_name: str) -> tvm.WeightsEnum:
    """The ImageNet-1k V1 weights of a torchvision model (the papers' era; every family has a V1)."""
    return tvm.get_model_weights(tv_name)["IMAGENET1K_V1"]


def cache_path(tv_name: str) -> Path:
    """Where torch.hub keeps the weights file: ``torch.hub.get_dir()/checkpoints/<file name of the URL>``."""
    url = imagenet_weights(tv_name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def require_imagenet(model_name: str, tv_name: str) -> Path:
    """The cached weights file, or UnitSkipped naming the file to place there."""
    path = cache_path(tv_name)
    if not path.is_file():
        raise UnitSkipped(
            f"{model_name} imagenet weights not found offline; place {path.name} in {path.parent}/"
        )
    return path


# Old DenseNet checkpoints name layers 'norm.1' where the module is now 'norm1' (torchvision fixes them the same way).
_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def load_imagenet(model: nn.Module, model_name: str, tv_name: str, skip_prefix: str | None = None) -> None:
    """Load the cached ImageNet state dict into the torchvision ``model`` (strict).

    ``skip_prefix``: checkpoint entries the model deliberately lacks (VGG's ImageNet classifier).
    """
    path = require_imagenet(model_name, tv_name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if tv_name.startswith("densenet"):
        state = {(_DENSENET_KEY.sub(r"\1\2", k)): v for k, v in state.items()}
    if skip_prefix:
        state = {k: v for k, v in state.items() if not k.startswith(skip_prefix)}
    model.load_state_dict(state)


def gray_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """A 1-channel copy of an RGB first convolution whose kernel is the sum of the RGB kernels.

    Feeding a gray image to it equals feeding the gray image replicated to three channels to ``conv`` (timm's
    ``adapt_input_conv``), at a third of the first layer's cost.
    """
    new = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    conv.groups, conv.bias is not None, conv.padding_mode)
    with torch.no_grad():
        new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new
