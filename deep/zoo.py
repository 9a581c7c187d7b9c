"""Registered deep models: one function per model name (``resnet18_scratch`` -> ``resnet18-scratch``).

Each builds an unfitted ``DeepClassifier``; keywords override the preset (``lr=3e-4``, ``finetune="head"``,
``init="scratch"``...). Torchvision backbones under their plain name start from ImageNet weights, as the
papers fine-tune them; without the weights file in the torch hub cache the builder raises ``UnitSkipped``
at once (never a random-init model under a pretrained name). ``-scratch`` variants train from random init.

In the default set (``--model deep|all``): the papers' custom CNNs trained from scratch (cnn-000-m1/m2/m3,
cnn-002, cnn-003: papers 000 and 002 are the cross-dataset studies), and resnet18 with ImageNet weights,
skipped instantly when the weights are not cached and about as costly as cnn-003 at its 48 px default input
when they are. Everything else (resnet18-scratch, VGG, the larger ResNets, DenseNet, Inception,
EfficientNets, standard-cnn) is registered but runs only when named: each would take the 2-core CPU budget
of ``bench run --protocol cross --model all`` (15 minutes) past its limit; efficientnet-b0 at 48 px trains
2.5x slower than cnn-003 on CPU (depthwise convolutions).
"""

from __future__ import annotations

from typing import Any

from bench.core.models import register_model
from deep.estimator import DeepClassifier


def scratch_space(trial: Any) -> dict[str, Any]:
    """Optuna search space of a model trained from scratch."""
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "augment_strength": trial.suggest_float("augment_strength", 0.0, 2.0),
        "epochs": trial.suggest_int("epochs", 4, 40),
    }


def finetune_space(trial: Any) -> dict[str, Any]:
    """Optuna search space of a pretrained model: adds the fine-tuning depth and the body's lr."""
    return {
        **scratch_space(trial),
        "finetune": trial.suggest_categorical("finetune", ["head", "head+last", "two-phase", "all"]),
        "finetune_lr": trial.suggest_float("finetune_lr", 1e-5, 1e-3, log=True),
    }


def _build(arch: str, init: str, seed: int, preset: str, device: str, params: dict[str, Any]) -> DeepClassifier:
    params = {"init": init, **params}
    est = DeepClassifier(arch=arch, preset=preset, device=device, seed=seed, **params)
    est.check_weights()  # UnitSkipped now, not after the engine has prepared the fold
    return est


# ----------------------------------------------------------------------------- paper 000
@register_model("deep", search_space=scratch_space, paper="000")
def cnn_000_m1(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Paper 000 Model 1: 2 conv, 2 max-pool, 3 dense (48x48 gray), from scratch."""
    return _build("cnn-000-m1", "scratch", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, paper="000")
def cnn_000_m2(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Paper 000 Model 2: 5 conv, 1 max-pool, 2 avg-pool, 3 dense, 2 dropouts, from scratch."""
    return _build("cnn-000-m2", "scratch", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, paper="000")
def cnn_000_m3(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Paper 000 Model 3: 6 conv, 4 max-pool, 4 dense, batch norm and dropout throughout, from scratch."""
    return _build("cnn-000-m3", "scratch", seed, preset, device, params)


# ----------------------------------------------------------------------------- papers 002, 003, 001/004
@register_model("deep", search_space=scratch_space, paper="002")
def cnn_002(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Paper 002 baseline CNN: 5 conv with BN, FC 2048-1024, 19.2M parameters, from scratch."""
    return _build("cnn-002", "scratch", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, paper="003")
def cnn_003(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Paper 003 baseline CNN: conv 32-64-128-128-256-256 with 3 max-pools, dense 256, from scratch."""
    return _build("cnn-003", "scratch", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, in_default_set=False, paper="001")
def standard_cnn(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Papers 001/004 standard CNN: 2 conv-pool stages + dense, input size 48..360 (input_size=)."""
    return _build("standard-cnn", "scratch", seed, preset, device, params)


# ----------------------------------------------------------------------------- ResNets
@register_model("deep", search_space=finetune_space, paper="001,003")
def resnet18(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """ResNet-18, ImageNet weights (papers 001, 003), new head; skipped when the weights are not cached."""
    return _build("resnet18", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, in_default_set=False, paper="003")
def resnet18_scratch(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """ResNet-18 from scratch (paper 003's CIFAR-style ResNet18 in the paper preset)."""
    return _build("resnet18", "scratch", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def resnet34(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """ResNet-34, ImageNet weights (paper 001), new head."""
    return _build("resnet34", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def resnet50(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """ResNet-50, ImageNet weights (paper 001), new head."""
    return _build("resnet50", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def resnet152(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """ResNet-152, ImageNet weights (paper 001), new head."""
    return _build("resnet152", "imagenet", seed, preset, device, params)


# ----------------------------------------------------------------------------- VGG, DenseNet, Inception
@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def vgg16(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """VGG-16, ImageNet weights (paper 001: dense only / + block 5 / entire model), new head."""
    return _build("vgg16", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, in_default_set=False, paper="001")
def vgg16_scratch(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """VGG-16 from scratch (paper 001's "from scratch" training mode)."""
    return _build("vgg16", "scratch", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="003")
def vgg19(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """VGG-19, ImageNet weights (paper 003), new Linear(512, classes) head."""
    return _build("vgg19", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def vgg19_bn(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """VGG-19 with batch norm, ImageNet weights (paper 001), new head."""
    return _build("vgg19-bn", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def densenet161(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """DenseNet-161, ImageNet weights (paper 001's best), new head."""
    return _build("densenet161", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="001")
def inception_v3(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """Inception-v3, ImageNet weights (paper 001), new head; input >= 75 (299 in the paper preset)."""
    return _build("inception-v3", "imagenet", seed, preset, device, params)


# ----------------------------------------------------------------------------- EfficientNets (paper 004)
@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b0(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B0, ImageNet weights, two-phase fine-tuning in the paper preset (paper 004)."""
    return _build("efficientnet-b0", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=scratch_space, in_default_set=False, paper="004")
def efficientnet_b0_scratch(seed: int = 0, preset: str = "default", device: str = "auto",
                            **params: Any) -> DeepClassifier:
    """EfficientNet-B0 from scratch (the no-transfer reference for paper 004)."""
    return _build("efficientnet-b0", "scratch", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b1(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B1, ImageNet weights (paper 004)."""
    return _build("efficientnet-b1", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b2(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B2, ImageNet weights (paper 004)."""
    return _build("efficientnet-b2", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b3(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B3, ImageNet weights (paper 004)."""
    return _build("efficientnet-b3", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b4(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B4, ImageNet weights (paper 004)."""
    return _build("efficientnet-b4", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b5(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B5, ImageNet weights (paper 004)."""
    return _build("efficientnet-b5", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b6(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B6, ImageNet weights (paper 004)."""
    return _build("efficientnet-b6", "imagenet", seed, preset, device, params)


@register_model("deep", search_space=finetune_space, in_default_set=False, paper="004")
def efficientnet_b7(seed: int = 0, preset: str = "default", device: str = "auto", **params: Any) -> DeepClassifier:
    """EfficientNet-B7, ImageNet weights (paper 004)."""
    return _build("efficientnet-b7", "imagenet", seed, preset, device, params)
