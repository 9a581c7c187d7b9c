"""Training presets per architecture: ``default`` (short CPU runs), ``paper`` (the recipe of the paper the
network comes from) and, for a network two papers use, the other one's (``paper001``).

Which recipe a preset means is written on the architecture's record in its family file
(``deep.nets.arch.Arch.presets``); the recipes themselves, with what each paper states, are in ``deep.recipes``.
"""

from __future__ import annotations

from bench.core.errors import ConfigError
from deep.config import TrainConfig
from deep.nets.arch import get_arch


def preset_config(arch: str, preset: str, *, pretrained: bool) -> TrainConfig:
    """The preset's TrainConfig for ``arch``; ``pretrained``: ImageNet init (its recipe and a lower body lr)."""
    a = get_arch(arch)
    if preset not in a.presets:
        raise ConfigError(f"{arch} has no preset '{preset}'; its presets: {', '.join(a.presets)}")
    return a.presets[preset](a, pretrained)
