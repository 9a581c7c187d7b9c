"""The architecture record and its registry: every network is registered, with its presets and the model names
it is offered under, in the family file that builds it (``paper000.py``, ``backbones.py`` ...).

``deep.zoo`` turns each record's ``models`` into registered models; ``deep.presets`` reads its ``presets``.
Names use hyphens (``vgg19-bn``, ``efficientnet-b0``).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.core.errors import ConfigError
from bench.core.registry import Registry
from deep.nets.base import FERNet

if TYPE_CHECKING:
    from deep.config import TrainConfig

PRESETS = ("default", "paper")  # every architecture has these; some also a named paper's ("paper001")
PAPER_PRESET = re.compile(r"^paper\d{3}$")
INITS = ("scratch", "imagenet")

# A recipe turns (architecture, whether it starts from ImageNet weights) into a training configuration
# (``deep.recipes.Recipe``, which also says what its paper states).
Recipe = Callable[["Arch", bool], "TrainConfig"]


@dataclass(frozen=True)
class ModelVariant:
    """One registered model built on an architecture: its name, how it starts, its line in ``bench models``, and
    per preset where it cannot follow the paper as written (gray input to ImageNet weights, a stem they do not
    fit)."""

    name: str
    init: str  # "scratch" or "imagenet"
    doc: str
    in_default_set: bool = False
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise ConfigError(f"model '{self.name}': init '{self.init}' is not one of {', '.join(INITS)}")
        if not self.doc.strip():
            raise ConfigError(f"model '{self.name}': registration is missing 'doc'")


@dataclass(frozen=True)
class Arch:
    """build(n_classes, *, input_size, pretrained, **arch_kwargs) -> FERNet, and what goes with it.

    ``presets`` maps each preset name to its recipe (``default``, ``paper`` and, for a network two papers use,
    the other paper's as ``paperNNN``); ``paper`` names the papers it comes from; ``tv_name`` is the torchvision
    name for ImageNet weights (None: scratch only).
    """

    name: str
    build: Callable[..., FERNet]
    doc: str
    paper: str
    default_size: int  # the CPU-friendly ``default`` preset's input side
    paper_size: int  # the ``paper`` preset's
    presets: dict[str, Recipe]
    models: tuple[ModelVariant, ...]
    tv_name: str | None = None

    def __post_init__(self) -> None:
        what = f"architecture '{self.name}'"
        for name in ("doc", "paper"):
            if not str(getattr(self, name) or "").strip():
                raise ConfigError(f"{what}: registration is missing '{name}'")
        missing = [p for p in PRESETS if not callable(self.presets.get(p))]
        if missing:
            raise ConfigError(f"{what}: registration is missing the preset(s) {', '.join(missing)}")
        odd = [p for p in self.presets if p not in PRESETS and not PAPER_PRESET.match(p)]
        if odd:
            raise ConfigError(f"{what}: preset names {', '.join(odd)} are not default, paper or paperNNN")
        if not self.models:
            raise ConfigError(f"{what}: registration is missing 'models' (the names it is offered under)")
        if any(v.init == "imagenet" for v in self.models) and self.tv_name is None:
            raise ConfigError(f"{what}: an ImageNet-initialised model needs 'tv_name' (its torchvision weights)")

    def arch_params(self) -> dict[str, Any]:
        """The architecture's own keywords (kernel size, batch norm ...) with their defaults."""
        fixed = {"n_classes", "input_size", "pretrained", "dropout", "stem"}
        sig = inspect.signature(self.build)
        return {k: p.default for k, p in sig.parameters.items() if k not in fixed and p.default is not p.empty}


ARCHS: Registry[Arch] = Registry("architecture")
ARCHS.declare_family("nets", "deep.nets")


def scratch_only(fn: Callable[..., FERNet]) -> Callable[..., FERNet]:
    """An ``Arch.build`` for a network defined here (no ImageNet weights): ``fn(n_classes, input_size=...,
    **kwargs)``. The wrapper keeps ``fn``'s signature, so its own keywords are the architecture's settings."""

    @functools.wraps(fn)
    def build(n_classes: int, *, input_size: int, pretrained: bool = False, **kwargs: Any) -> FERNet:
        return fn(n_classes, input_size=input_size, **kwargs)

    return build


def register_arch(arch: Arch) -> Arch:
    ARCHS.add(arch.name, arch, family="nets")
    return arch


def get_arch(name: str) -> Arch:
    return ARCHS.get(name)


def build_net(arch: str, n_classes: int, *, input_size: int | None = None, pretrained: bool = False,
              **kwargs: Any) -> FERNet:
    """A fresh network; ``pretrained`` loads ImageNet weights from the hub cache or raises UnitSkipped."""
    a = get_arch(arch)
    if pretrained and a.tv_name is None:
        raise ConfigError(f"{arch} has no ImageNet weights; use init='scratch' or a checkpoint path")
    return a.build(n_classes, input_size=input_size or a.default_size, pretrained=pretrained, **kwargs)
