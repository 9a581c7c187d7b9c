"""Training presets per architecture: ``default`` (short CPU runs) and ``paper`` (the papers' recipes).

``paper`` follows the paper each architecture comes from; where two papers use the same network the one
whose recipe is stated completely wins, as listed here:

- cnn-000-m1/m2/m3 (paper 000): Adam (Keras defaults, lr 1e-3), 75 epochs, flip/rotation/crop/blur/noise
  augmentation used to balance the classes (class-balanced sampling + augmentation); batch size not given: 64.
- cnn-002 (paper 002): no optimiser given; Adam 1e-3, 50 epochs, batch 64, early stopping patience 10.
- cnn-003 (paper 003): Adam 1e-4, 50 epochs, batch 64, 10% shift + flip, best-val-accuracy checkpoint.
- vgg19 (ImageNet) and resnet18-scratch (paper 003's VGG19 / ResNet18): SGD momentum 0.9, lr 0.01, decay
  x0.9 every 5 epochs after epoch 80, up to 250 epochs, early stopping patience 15 on validation accuracy
  (min delta 0.1%), gradient clipping (value 0.1, as the FER2013 PyTorch repo it follows), RandomCrop 44 of
  48 + flip, TenCrop test, 44x44 input. Paper 003's ResNet18 has a 3x3 Conv2d stem, i.e. the CIFAR-style
  network that ImageNet weights do not fit, so it is ``resnet18-scratch`` with ``stem="cifar"``.
- standard-cnn, vgg16, vgg19-bn, resnet18/34/50/152, densenet161, inception-v3 (paper 001): Adam 5e-4
  (its "beta2 0.009" read as the usual 0.999), 50 epochs, 224x224 (Inception 299), the entire model
  fine-tuned (its best mode); standard-cnn at its ``input_size`` (48 unless given).
- efficientnet-b0..b7 (paper 004): two-phase, Adam: 50 epochs of the new head at 1e-3, then 50 epochs with the
  top 6 layers unfrozen at 1e-4; rotation +-10 deg, scale 1.1, flip; 224x224.
"""

from __future__ import annotations

from bench.core.errors import ConfigError
from deep.augment import AugmentConfig
from deep.config import TrainConfig
from deep.nets import get_arch

PRESETS = ("default", "paper")

# Light geometric jitter: what a few CPU epochs can use without underfitting.
DEFAULT_AUGMENT = AugmentConfig(flip=True, rotation=10.0, scale=0.1, shift=0.1)

PAPER001 = {"vgg16", "vgg19-bn", "resnet18", "resnet34", "resnet50", "resnet152", "densenet161", "inception-v3",
            "standard-cnn"}


def default_preset(arch: str, pretrained: bool) -> TrainConfig:
    """5 epochs (at least 120 steps on small sets) at the architecture's small input; patience 3.

    Sized so that ``bench run --protocol cross --model all`` trains the default deep set on a 2-core CPU in
    at most about 9 minutes (source ~4300 images: 5 epochs; 500 target images: 15 epochs, patience 9, unless
    stopped early).
    """
    a = get_arch(arch)
    return TrainConfig(epochs=5, min_steps=120, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-4 if pretrained else 3e-4,
                       schedule="cosine", patience=3, monitor="val_loss", input_size=a.default_size,
                       stem="imagenet" if a.tv_name and a.tv_name.startswith("resnet") else None,
                       augment=DEFAULT_AUGMENT)


def paper_preset(arch: str, pretrained: bool) -> TrainConfig:
    a = get_arch(arch)
    if arch.startswith("cnn-000"):
        return TrainConfig(epochs=75, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                           balance="sampler", restore_best=False, input_size=48,
                           augment=AugmentConfig(flip=True, rotation=15.0, shift=0.1, scale=0.1, blur_p=0.2,
                                                 blur_sigma=1.0, noise_p=0.2, noise_std=0.03))
    if arch == "cnn-002":
        return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-3, finetune_lr=1e-3, schedule="none",
                           patience=10, input_size=48, augment=AugmentConfig(flip=True))
    if arch == "cnn-003":
        return TrainConfig(epochs=50, batch_size=64, optimizer="adam", lr=1e-4, finetune_lr=1e-4, schedule="none",
                           monitor="val_acc", input_size=48, augment=AugmentConfig(flip=True, shift=0.1))
    if arch == "vgg19" or (arch == "resnet18" and not pretrained):
        return TrainConfig(epochs=250, batch_size=64, optimizer="sgd", lr=0.01, finetune_lr=0.01, momentum=0.9,
                           weight_decay=5e-4, schedule="step", step_start=80, step_size=5, gamma=0.9, patience=15,
                           min_delta=0.001, monitor="val_acc", grad_clip=0.1, grad_clip_mode="value", input_size=44,
                           stem="cifar" if arch == "resnet18" else None,
                           augment=AugmentConfig(flip=True, crop_fraction=44 / 48), tta="tencrop")
    if arch.startswith("efficientnet"):
        return TrainConfig(epochs=100, batch_size=32, optimizer="adam", lr=1e-3, head_lr=1e-3, finetune_lr=1e-4,
                           finetune="two-phase" if pretrained else "all", head_epochs=50, top_layers=6,
                           schedule="none", input_size=a.paper_size,
                           augment=AugmentConfig(flip=True, rotation=10.0, scale=0.1))
    if arch in PAPER001:
        size = 48 if arch == "standard-cnn" else a.paper_size
        return TrainConfig(epochs=50, batch_size=32, optimizer="adam", lr=5e-4, finetune_lr=5e-4, schedule="none",
                           input_size=size, stem="imagenet" if arch.startswith("resnet") else None,
                           augment=AugmentConfig(flip=True, rotation=5.0))
    raise ConfigError(f"no paper preset for '{arch}'; use preset='default'")


def preset_config(arch: str, preset: str, *, pretrained: bool) -> TrainConfig:
    """The preset's TrainConfig for ``arch``; ``pretrained``: ImageNet init (its recipe and a lower body lr).

    ResNet-18 from scratch gets paper 003's recipe, with ImageNet weights paper 001's.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}'; use one of {', '.join(PRESETS)}")
    if preset == "default":
        return default_preset(arch, pretrained)
    return paper_preset(arch, pretrained)
