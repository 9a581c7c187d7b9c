"""Training recipes (what the ``default`` and ``paper`` presets resolve to) and the deep search spaces.

An architecture record (``deep.nets.arch.Arch``) names its recipe per preset; several architectures share a
paper's recipe, so the recipes live here, each under the paper it follows. A recipe lists the settings its
paper states; every other setting is fer-bench's choice, and ``bench models --show NAME`` marks it so. Its
``notes`` say where the paper cannot be followed as written here, or is followed literally although it looks
like a slip; a run with the preset prints them and keeps them in its manifest.

- ``default``: 5 epochs (at least 120 steps on small sets) at the architecture's small input, patience 3.
- ``paper000`` (cnn-000-m1/m2/m3): Adam, 75 epochs, flip/rotation/crop/blur/noise augmentation used to balance
  the classes; the learning rate (Keras' default 1e-3) and the batch size (64) are ours.
- ``paper001`` (standard-cnn, vgg16, resnet34/50/152, densenet161, inception-v3; ``--preset paper001`` for
  vgg19-bn and resnet18): Adam lr 5e-4, beta1 0.9, beta2 0.009 as written, 50 epochs, 224x224 (Inception
  299), the entire model fine-tuned (its best mode).
- ``paper002`` (cnn-002): the paper states the network, not its training; all of it is ours (Adam 1e-3,
  50 epochs, batch 64, early stopping patience 10).
- ``paper003_adam`` (cnn-003): Adam 1e-4, 50 epochs, batch 64, no early stopping, 10% shift + flip, the
  best-validation-accuracy checkpoint.
- ``paper003_sgd`` (vgg19-bn and resnet18 with ImageNet weights, resnet18-scratch: paper 003's VGG19 "each
  [conv] followed by BatchNorm2d" and ResNet18): SGD momentum 0.9, lr 0.01, batch 64, up to 250 epochs with
  early stopping (patience 15, min delta 0.1% of validation accuracy), lr scheduled after epoch 80, gradient
  clipping, RandomCrop 44 + flip, TenCrop 44 at test, dropout 0.5; the schedule's shape (x0.9 every 5 epochs),
  the clipping value (0.1) and the weight decay (5e-4) follow the FER2013 PyTorch repository it builds on.
- ``paper004`` (efficientnet-b0..b7): two phases with Adam: 50 epochs of the new head at 1e-3, then 50 epochs
  (epochs 51-100) with the top 5 to 7 layers (6 here) unfrozen at 1e-5 (its experimental set-up; the
  training-mode paragraph says 1e-4: ``finetune_lr=1e-4``); rotation +-10 deg, scale 1.1, flip; 224x224.
  ``--preset paper004`` for standard-cnn: its 5x5 kernels, 50 epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from deep.augment import AugmentConfig
from deep.config import TrainConfig
from deep.nets.arch import Arch

# Light geometric jitter: what a few CPU epochs can use without underfitting.
DEFAULT_AUGMENT = AugmentConfig(flip=True, rotation=10.0, scale=0.1, shift=0.1)
# How the arithmetic runs, not what is learned: never a paper's setting, never marked as a choice.
RUNTIME = frozenset({"eval_batch_size", "amp", "channels_last", "augment.strength"})
GRAY_INPUT = ("gray input: the paper fed RGB images to ImageNet weights; fer-bench trains on gray images with "
              "the first convolution's RGB kernels summed (the same function on a gray image)")


@dataclass(frozen=True)
class Recipe:
    """A preset's training configuration for an architecture, with what its paper states about it."""

    name: str
    paper: str | None
    build: Callable[[Arch, bool], TrainConfig]
    stated: frozenset[str] = frozenset()  # settings the paper states ("augment.flip" for augmentation)
    notes: tuple[str, ...] = ()

    def __call__(self, arch: Arch, pretrained: bool) -> TrainConfig:
        return self.build(arch, pretrained)

    def our_choices(self, cfg: TrainConfig) -> list[str]:
        """Settings of ``cfg`` the paper does not state (none for a recipe that follows no paper)."""
        if self.paper is None:
            return []
        names = [f.name for f in fields(cfg) if f.name != "augment"]
        names += [f"augment.{f.name}" for f in fields(cfg.augment)]
        return [n for n in names if n not in self.stated and n not in RUNTIME]


def recipe(name: str, paper: str | None, stated: tuple[str, ...] = (), notes: tuple[str, ...] = ()
           ) -> Callable[[Callable[[Arch, bool], TrainConfig]], Recipe]:
    def deco(fn: Callable[[Arch, bool], TrainConfig]) -> Recipe:
        return Recipe(name, paper, fn, frozenset(stated), notes)

    return deco


def _resnet(arch: Arch) -> bool:
    return bool(arch.tv_name and arch.tv_name.startswith("resnet"))


@recipe("default", None)
def default(arch: Arch, pretrained: bool) -> TrainConfig:
    """Sized so that ``bench run --protocol cross --model all`` trains the default deep set on a 2-core CPU in
    at most about 9 minutes (source ~4300 images: 5 epochs; 500 target images: 15 epochs, patience 9, unless
    stopped early)."""
    return TrainConfig(epochs=5, min_steps=120, batch_size=64, optimizer="adam", lr=1e-3,
                       finetune_lr=1e-4 if pretrained else 3e-4, schedule="cosine", patience=3, monitor="val_loss",
                       input_size=arch.default_size, stem="imagenet" if _resnet(arch) else None,
                       augment=DEFAULT_AUGMENT)


@recipe("paper000", "000", stated=("optimizer", "epochs", "input_size", "finetune", "balance", "augment.flip"),
        notes=("class balance: the paper generates augmented copies of the rarer classes; fer-bench draws "
               "class-balanced batches and augments each one (balance='sampler')",))
def paper000(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=75, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                       balance="sampler", restore_best=False, input_size=48,
                       augment=AugmentConfig(flip=True, rotation=15.0, shift=0.1, scale=0.1, blur_p=0.2,
                                             blur_sigma=1.0, noise_p=0.2, noise_std=0.03))


@recipe("paper001", "001", stated=("optimizer", "lr", "finetune_lr", "beta1", "beta2", "epochs", "input_size",
                                   "finetune"),
        notes=("beta2 0.009 is followed as written (it reads like 0.999 with a slip; set beta2=0.999 to try "
               "that)",))
def paper001(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=32, optimizer="adam", lr=5e-4, finetune_lr=5e-4, beta1=0.9, beta2=0.009,
                       schedule="none", input_size=arch.paper_size, stem="imagenet" if _resnet(arch) else None,
                       augment=AugmentConfig(flip=True, rotation=5.0))


@recipe("paper002", "002", stated=("input_size", "dropout"))
def paper002(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                       patience=10, input_size=48, augment=AugmentConfig(flip=True))


@recipe("paper003-adam", "003", stated=("optimizer", "lr", "epochs", "batch_size", "patience", "monitor",
                                        "restore_best", "input_size", "augment.flip", "augment.shift",
                                        "augment.rotation", "augment.scale"))
def paper003_adam(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-4, finetune_lr=1e-4, schedule="none",
                       monitor="val_acc", input_size=48, augment=AugmentConfig(flip=True, shift=0.1))


@recipe("paper003-sgd", "003", stated=("optimizer", "momentum", "lr", "finetune_lr", "batch_size", "epochs",
                                       "patience", "min_delta", "monitor", "restore_best", "step_start",
                                       "needs_validation", "input_size", "dropout", "tta", "augment.flip",
                                       "augment.crop_fraction", "augment.rotation", "augment.scale",
                                       "augment.shift"))
def paper003_sgd(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=250, batch_size=64, optimizer="sgd", lr=0.01, finetune_lr=0.01, momentum=0.9,
                       weight_decay=5e-4, schedule="step", step_start=80, step_size=5, gamma=0.9, patience=15,
                       min_delta=0.001, monitor="val_acc", grad_clip=0.1, grad_clip_mode="value", input_size=44,
                       dropout=0.5, stem="cifar" if _resnet(arch) and not pretrained else None,
                       augment=AugmentConfig(flip=True, crop_fraction=44 / 48), tta="tencrop", needs_validation=True)


@recipe("paper004", "004", stated=("optimizer", "lr", "head_lr", "finetune_lr", "epochs", "head_epochs",
                                   "finetune", "input_size", "augment.flip", "augment.rotation",
                                   "augment.scale"),
        notes=("top layers: the paper unfreezes 'five to seven layers close to the output'; fer-bench unfreezes "
               "6 (top_layers=5 or 7 to change it)",))
def paper004(arch: Arch, pretrained: bool) -> TrainConfig:
    return TrainConfig(epochs=100, batch_size=32, optimizer="adam", lr=1e-3, head_lr=1e-3, finetune_lr=1e-5,
                       finetune="two-phase" if pretrained else "all", head_epochs=50, top_layers=6,
                       schedule="none", input_size=arch.paper_size,
                       augment=AugmentConfig(flip=True, rotation=10.0, scale=0.1))


@recipe("paper004-standard", "004", stated=("epochs", "input_size", "arch_params"))
def paper004_standard(arch: Arch, pretrained: bool) -> TrainConfig:
    """Paper 004's Table 1: the two-layer standard CNN with 5x5 kernels, 50 iterations, at several input sizes."""
    return TrainConfig(epochs=50, batch_size=32, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                       input_size=arch.paper_size, arch_params={"kernel": 5}, augment=AugmentConfig(flip=True))


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
