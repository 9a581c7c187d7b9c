"""Training recipes (what the ``default`` and ``paper`` presets resolve to) and the deep search spaces.

An architecture record (``deep.nets.arch.Arch``) names its recipe per preset; several architectures share a
paper's recipe, so the recipes live here, each under the paper it follows:

- ``default``: 5 epochs (at least 120 steps on small sets) at the architecture's small input, patience 3.
- ``paper000`` (cnn-000-m1/m2/m3): Adam (Keras defaults, lr 1e-3), 75 epochs, flip/rotation/crop/blur/noise
  augmentation used to balance the classes (class-balanced sampling + augmentation); batch size not given: 64.
- ``paper001`` (standard-cnn, vgg16, vgg19-bn, ImageNet resnets, densenet161, inception-v3): Adam 5e-4 (its
  "beta2 0.009" read as the usual 0.999), 50 epochs, 224x224 (Inception 299), the entire model fine-tuned (its
  best mode); standard-cnn at its ``input_size`` (48 unless given).
- ``paper002`` (cnn-002): no optimiser given; Adam 1e-3, 50 epochs, batch 64, early stopping patience 10.
- ``paper003_adam`` (cnn-003): Adam 1e-4, 50 epochs, batch 64, 10% shift + flip, best-val-accuracy checkpoint.
- ``paper003_sgd`` (vgg19 with ImageNet weights, resnet18 from scratch: paper 003's VGG19 / ResNet18): SGD
  momentum 0.9, lr 0.01, decay x0.9 every 5 epochs after epoch 80, up to 250 epochs, early stopping patience
  15 on validation accuracy (min delta 0.1%), gradient clipping (value 0.1, as the FER2013 PyTorch repo it
  follows), RandomCrop 44 of 48 + flip, TenCrop test, 44x44 input. Paper 003's ResNet18 has a 3x3 Conv2d
  stem, i.e. the CIFAR-style network that ImageNet weights do not fit, so it is ``resnet18-scratch`` with
  ``stem="cifar"``.
- ``paper004`` (efficientnet-b0..b7): two-phase, Adam: 50 epochs of the new head at 1e-3, then 50 epochs with
  the top 6 layers unfrozen at 1e-4; rotation +-10 deg, scale 1.1, flip; 224x224.
"""

from __future__ import annotations

from typing import Any

from deep.augment import AugmentConfig
from deep.config import TrainConfig
from deep.nets.arch import Arch

# Light geometric jitter: what a few CPU epochs can use without underfitting.
DEFAULT_AUGMENT = AugmentConfig(flip=True, rotation=10.0, scale=0.1, shift=0.1)


def _resnet(arch: Arch) -> bool:
    return bool(arch.tv_name and arch.tv_name.startswith("resnet"))


def default(arch: Arch, pretrained: bool) -> TrainConfig:
    """Sized so that ``bench run --protocol cross --model all`` trains the default deep set on a 2-core CPU in
    at most about 9 minutes (source ~4300 images: 5 epochs; 500 target images: 15 epochs, patience 9, unless
    stopped early)."""
    return TrainConfig(epochs=5, min_steps=120, batch_size=64, optimizer="adam", lr=1e-3,
                       finetune_lr=1e-4 if pretrained else 3e-4, schedule="cosine", patience=3, monitor="val_loss",
                       input_size=arch.default_size, stem="imagenet" if _resnet(arch) else None,
                       augment=DEFAULT_AUGMENT)


def paper000(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=75, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                       balance="sampler", restore_best=False, input_size=48,
                       augment=AugmentConfig(flip=True, rotation=15.0, shift=0.1, scale=0.1, blur_p=0.2,
                                             blur_sigma=1.0, noise_p=0.2, noise_std=0.03))


def paper001(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=32, optimizer="adam", lr=5e-4, finetune_lr=5e-4, schedule="none",
                       input_size=arch.paper_size, stem="imagenet" if _resnet(arch) else None,
                       augment=AugmentConfig(flip=True, rotation=5.0))


def paper002(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                       patience=10, input_size=48, augment=AugmentConfig(flip=True))


def paper003_adam(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-4, finetune_lr=1e-4, schedule="none",
                       monitor="val_acc", input_size=48, augment=AugmentConfig(flip=True, shift=0.1))


def paper003_sgd(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=250, batch_size=64, optimizer="sgd", lr=0.01, finetune_lr=0.01, momentum=0.9,
                       weight_decay=5e-4, schedule="step", step_start=80, step_size=5, gamma=0.9, patience=15,
                       min_delta=0.001, monitor="val_acc", grad_clip=0.1, grad_clip_mode="value", input_size=44,
                       stem="cifar" if _resnet(arch) else None,
                       augment=AugmentConfig(flip=True, crop_fraction=44 / 48), tta="tencrop")


def paper004(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=100, batch_size=32, optimizer="adam", lr=1e-3, head_lr=1e-3, finetune_lr=1e-4,
                       finetune="two-phase" if pretrained else "all", head_epochs=50, top_layers=6,
                       schedule="none", input_size=arch.paper_size,
                       augment=AugmentConfig(flip=True, rotation=10.0, scale=0.1))


# ----------------------------------------------------------------------------- search spaces
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
