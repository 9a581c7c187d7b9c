"""Training presets per architecture: ``default`` (short CPU runs) and ``paper`` (the papers' recipes).

Which recipe a preset means is written on the architecture's record in its family file
(``deep.nets.arch.Arch.presets``); the recipes themselves are in ``deep.recipes``.
"""

from __future__ import annotations

from bench.core.errors import ConfigError
from deep.config import TrainConfig
from deep.nets.arch import PRESETS, get_arch


def preset_config(arch: str, preset: str, *, pretrained: bool) -> TrainConfig:
    """The preset's TrainConfig for ``arch``; ``pretrained``: ImageNet init (its recipe and a lower body lr)."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}'; use one of {', '.join(PRESETS)}")
    a = get_arch(arch)
    return a.presets[preset](a, pretrained)
