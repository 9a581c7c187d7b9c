"""ImageNet weights through torchvision's weights API: downloaded into the torch hub cache on first use (with a
progress bar and torchvision's hash check), reused afterwards, never silently replaced by random init.

Offline (``--offline`` or ``FER_BENCH_OFFLINE=1``), or when the download fails or the file's hash is wrong, a
pretrained model is skipped with one line naming the URL and the cache path: the unit is recorded as skipped,
never trained from random init under a pretrained name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn
from torchvision import models as tvm

from bench.core.errors import UnitSkipped
from bench.core.offline import OFFLINE_ENV, is_offline


def imagenet_weights(tv_name: str) -> tvm.WeightsEnum:
    """The ImageNet-1k V1 weights of a torchvision model (the papers' era; every family has a V1)."""
    return tvm.get_model_weights(tv_name)["IMAGENET1K_V1"]


def weights_url(tv_name: str) -> str:
    return imagenet_weights(tv_name).url


def cache_path(tv_name: str) -> Path:
    """Where torch.hub keeps the weights file: ``torch.hub.get_dir()/checkpoints/<file name of the URL>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights_url(tv_name))


def require_imagenet(model_name: str, tv_name: str) -> Path:
    """The weights file in the hub cache, downloaded there first when missing (and allowed).

    Raises UnitSkipped naming the URL and the cache path when the file is missing and cannot be fetched, or
    fails torchvision's hash check (the file name carries the first hex digits of its SHA-256).
    """
    path, url = cache_path(tv_name), weights_url(tv_name)
    if path.is_file():
        return path
    where = f"{url} -> {path}"
    if is_offline():
        raise UnitSkipped(f"{model_name} imagenet weights are not in the cache and downloads are off "
                          f"({OFFLINE_ENV}=1 / --offline): fetch {where}, or drop --offline")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torchvision's file names carry the first hex digits of the file's SHA-256 (resnet18-f37072fd.pth); torch
        # checks them and removes its temporary file on a mismatch, as load_state_dict_from_url(check_hash=True).
        torch.hub.download_url_to_file(url, str(path), hash_prefix=_hash_prefix(path), progress=True)
    except (URLError, OSError, TimeoutError) as exc:
        raise UnitSkipped(f"{model_name} imagenet weights could not be downloaded ({_reason(exc)}): {where}; "
                          "connect to the network or place the file there") from None
    except RuntimeError as exc:  # torch's hash mismatch: the temporary file is already removed
        raise UnitSkipped(f"{model_name} imagenet weights from {url} failed the hash check ({exc}); "
                          f"nothing was written to {path}") from None
    return path


def _hash_prefix(path: Path) -> str | None:
    match = re.search(r"-([a-f0-9]{8,})\.", path.name)
    return match.group(1) if match else None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split()) or type(exc).__name__


# Old DenseNet checkpoints name layers 'norm.1' where the module is now 'norm1' (torchvision fixes them the same way).
_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def load_imagenet(model: nn.Module, model_name: str, tv_name: str, skip_prefix: str | None = None) -> None:
    """Load the ImageNet state dict into the torchvision ``model`` (strict), downloading it first if needed.

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
