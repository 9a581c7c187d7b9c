"""Architecture table: name -> builder of a ``FERNet`` (see ``deep.nets.base``), with its input sizes.

Names use hyphens (``vgg19-bn``, ``efficientnet-b0``); ``deep.zoo`` registers models built from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core.errors import ConfigError, did_you_mean
from deep.nets import paper000, paper002, paper003, standard
from deep.nets.backbones import backbone
from deep.nets.base import FERNet


@dataclass(frozen=True)
class Arch:
    """build(n_classes, input_size=..., pretrained=..., **kwargs) -> FERNet."""

    name: str
    build: Callable[..., FERNet]
    default_size: int  # the CPU-friendly ``default`` preset
    paper_size: int  # the ``paper`` preset
    tv_name: str | None = None  # torchvision name for ImageNet weights; None: scratch only


def _custom(fn: Callable[..., FERNet]) -> Callable[..., FERNet]:
    def build(n_classes: int, *, input_size: int, pretrained: bool, **kwargs: Any) -> FERNet:
        return fn(n_classes, input_size=input_size, **kwargs)

    return build


def _tv(tv_name: str, name: str) -> Callable[..., FERNet]:
    def build(n_classes: int, *, input_size: int, pretrained: bool, **kwargs: Any) -> FERNet:
        return backbone(tv_name, n_classes, model_name=name, input_size=input_size, pretrained=pretrained, **kwargs)

    return build


def _table() -> dict[str, Arch]:
    archs = [
        Arch("cnn-000-m1", _custom(paper000.model1), 48, 48),
        Arch("cnn-000-m2", _custom(paper000.model2), 48, 48),
        Arch("cnn-000-m3", _custom(paper000.model3), 48, 48),
        Arch("cnn-002", _custom(paper002.baseline), 48, 48),
        Arch("cnn-003", _custom(paper003.baseline), 48, 48),
        Arch("standard-cnn", _custom(standard.standard_cnn), 48, 48),
    ]
    # Small inputs by default so CPU runs finish; the papers fine-tune at 224 (Inception at its 299).
    sizes = {"inception_v3": (75, 299)}
    tv_names = ["vgg16", "vgg19", "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet152", "densenet161",
                "inception_v3"] + [f"efficientnet_b{i}" for i in range(8)]
    for tv in tv_names:
        name = tv.replace("_", "-")
        default, paper = sizes.get(tv, (64 if tv.startswith(("vgg", "densenet")) else 48, 224))
        archs.append(Arch(name, _tv(tv, name), default, paper, tv_name=tv))
    return {a.name: a for a in archs}


ARCHS: dict[str, Arch] = _table()


def get_arch(name: str) -> Arch:
    if name not in ARCHS:
        raise ConfigError(f"unknown architecture '{name}';{did_you_mean(name, list(ARCHS))} "
                          f"available: {', '.join(ARCHS)}")
    return ARCHS[name]


def build_net(arch: str, n_classes: int, *, input_size: int | None = None, pretrained: bool = False,
              **kwargs: Any) -> FERNet:
    """A fresh network; ``pretrained`` loads ImageNet weights from the hub cache or raises UnitSkipped."""
    a = get_arch(arch)
    if pretrained and a.tv_name is None:
        raise ConfigError(f"{arch} has no ImageNet weights; use init='scratch' or a checkpoint path")
    return a.build(n_classes, input_size=input_size or a.default_size, pretrained=pretrained, **kwargs)


__all__ = ["ARCHS", "Arch", "FERNet", "build_net", "get_arch"]
