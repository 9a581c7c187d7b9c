"""Networks: the architecture registry (``deep.nets.arch``) and one family file per source of networks
(``paper000``, ``paper002``, ``paper003``, ``standard``, ``backbones``), each registering its architectures with
their presets and model names. The family files are found by ``ARCHS`` itself: adding one is adding a file."""

from deep.nets.arch import ARCHS, Arch, ModelVariant, build_net, get_arch, register_arch
from deep.nets.base import FERNet

__all__ = ["ARCHS", "Arch", "FERNet", "ModelVariant", "build_net", "get_arch", "register_arch"]
