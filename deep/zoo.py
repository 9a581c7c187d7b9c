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

import inspect
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any

from bench.core.errors import ConfigError
from bench.core.models import register_model
from deep.augment import AugmentConfig
from deep.config import TrainConfig
from deep.estimator import DeepClassifier
from deep.nets.arch import ARCHS, Arch, ModelVariant
from deep.recipes import finetune_space, scratch_space


def _describe(arch: Arch, variant: ModelVariant) -> Callable[[], dict[str, Any]]:
    def describe() -> dict[str, Any]:
        pretrained = variant.init == "imagenet"
        configs = {p: arch.presets[p](arch, pretrained) for p in arch.presets}
        return {"architecture": arch.name, "init": variant.init, "paper": arch.paper,
                "architecture settings": arch.arch_params(),
                "presets": {p: asdict(cfg) for p, cfg in configs.items()},
                "our choices": {p: _our_choices(arch.presets[p], cfg) for p, cfg in configs.items()},
                "notes": {p: list(notes_of(arch, variant, p)) for p in arch.presets if notes_of(arch, variant, p)}}

    return describe


def _our_choices(recipe: Any, cfg: Any) -> list[str]:
    return recipe.our_choices(cfg) if hasattr(recipe, "our_choices") else []


def notes_of(arch: Arch, variant: ModelVariant, preset: str) -> tuple[str, ...]:
    """Where this model cannot follow its preset's paper as written (empty for the default preset)."""
    recipe = arch.presets.get(preset)
    return tuple(getattr(recipe, "notes", ())) + variant.notes.get(preset, ())


def _settings(arch: Arch, variant: ModelVariant) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Per-model settings: the estimator's keywords (``finetune``, ``lr`` ...), any TrainConfig field, any
    augmentation field (``rotation`` or ``augment.rotation``) and the architecture's own keywords (``kernel``)."""
    own = [k for k in inspect.signature(DeepClassifier).parameters
           if k not in ("arch", "config", "arch_params", "verbose", "seed", "device")]
    train = [f.name for f in fields(TrainConfig) if f.name not in ("augment", "arch_params")]
    augment = [f.name for f in fields(AugmentConfig)]
    arch_own = arch.arch_params()

    def resolve(settings: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        config: dict[str, Any] = {}
        aug: dict[str, Any] = {}
        arch_params: dict[str, Any] = {}
        for key, value in settings.items():
            bare = key.removeprefix("augment.")
            if key in own:
                params[key] = value
            elif key in train:
                config[key] = value
            elif bare in augment and (key != bare or bare not in train):
                aug[bare] = value
            elif key in arch_own:
                default = arch_own[key]
                if default is not None and type(value) is not type(default) and not (
                        isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)):
                    raise ConfigError(f"{variant.name}: setting {key}={value!r} should be {type(default).__name__} "
                                      f"like its default {default!r}")
                arch_params[key] = value
            else:
                valid = sorted(set(own) | set(train) | {f"augment.{a}" for a in augment} | set(arch_own))
                raise ConfigError(f"{variant.name} has no setting '{key}'; its settings: {', '.join(valid)}")
        if aug:
            config["augment"] = aug
        if config:
            params["config"] = config
        if arch_params:
            params["arch_params"] = arch_params
        # Every value is checked now (a bad optimiser name, a negative lr), not when the unit trains.
        try:
            DeepClassifier(arch=arch.name, init=params.get("init", variant.init), **{
                k: v for k, v in params.items() if k != "init"}).train_config()
        except ConfigError as exc:
            raise ConfigError(f"{variant.name}: {exc}") from None
        return params

    return resolve


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
                          settings=_settings(arch, variant), paper=arch.paper, architecture=arch.name,
                          presets=tuple(arch.presets))(build)


# The papers' own networks first, then torchvision's, each by name: a stable order whatever the file order.
for _arch in sorted(ARCHS.entries(), key=lambda e: (e.obj.tv_name is not None, e.name)):
    for _variant in _arch.obj.models:
        _fn = _register(_arch.obj, _variant)
        globals()[_fn.__name__] = _fn  # importable by name: deep.zoo.cnn_003
del _arch, _variant, _fn
