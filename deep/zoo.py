"""Registered deep models, generated from the architecture records (``deep.nets``): one model per
``ModelVariant`` of each architecture (``resnet18``, ``resnet18-scratch`` ...).

Each builds an unfitted ``DeepClassifier``; keywords override the preset (``lr=3e-4``, ``finetune="head"``,
``init="scratch"``...). Torchvision backbones under their plain name start from ImageNet weights, as the
papers fine-tune them; without the weights file in the torch hub cache the builder raises ``UnitSkipped``
at once (never a random-init model under a pretrained name). ``-scratch`` variants train from random init.

In the default set (``--model deep|all``): the papers' custom CNNs trained from scratch (cnn-000-m1/m2/m3,
cnn-002, cnn-003: papers 000 and 002 are the cross-dataset studies), and resnet18 with ImageNet weights,
skipped instantly when the weights are not cached and about as costly as cnn-003 at its 48 px default input
when they are. Everything else is registered but runs only when named: each would take the 2-core CPU budget
of ``bench run --protocol cross --model all`` (15 minutes) past its limit; efficientnet-b0 at 48 px trains
2.5x slower than cnn-003 on CPU (depthwise convolutions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bench.core.models import register_model
from deep.estimator import DeepClassifier
from deep.nets.arch import ARCHS, PRESETS, Arch, ModelVariant
from deep.recipes import finetune_space, scratch_space


def _describe(arch: Arch, variant: ModelVariant) -> Callable[[], dict[str, Any]]:
    def describe() -> dict[str, Any]:
        pretrained = variant.init == "imagenet"
        return {"architecture": arch.name, "init": variant.init, "paper": arch.paper,
                "architecture settings": arch.arch_params(),
                "presets": {p: asdict(arch.presets[p](arch, pretrained)) for p in PRESETS},
                "our choices": {p: list(arch.our_choices.get(p, ())) for p in PRESETS}}

    return describe


def _register(arch: Arch, variant: ModelVariant) -> Callable[..., DeepClassifier]:
    def build(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
        est = DeepClassifier(arch=arch.name, preset=preset, device=device, seed=seed,
                             **{"init": variant.init, **params})
        est.check_weights()  # UnitSkipped now, not after the engine has prepared the fold
        return est

    build.__name__ = build.__qualname__ = variant.name.replace("-", "_")
    space = finetune_space if variant.init == "imagenet" else scratch_space
    return register_model("deep", name=variant.name, doc=variant.doc, search_space=space,
                          in_default_set=variant.in_default_set, describe=_describe(arch, variant),
                          paper=arch.paper, architecture=arch.name)(build)


# The papers' own networks first, then torchvision's, each by name: a stable order whatever the file order.
for _arch in sorted(ARCHS.entries(), key=lambda e: (e.obj.tv_name is not None, e.name)):
    for _variant in _arch.obj.models:
        _fn = _register(_arch.obj, _variant)
        globals()[_fn.__name__] = _fn  # importable by name: deep.zoo.cnn_003
del _arch, _variant, _fn
