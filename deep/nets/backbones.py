"""torchvision backbones with a new head for the dataset's classes (papers 001, 003, 004).

Gray input: the first convolution is adapted to one channel. With ImageNet weights its kernel is the sum of
the RGB kernels (``weights.gray_conv``: the same function as feeding the gray channel three times, at a third
of the cost); from scratch it is a fresh 1-channel conv drawn like the original one. The ImageNet classifier
is dropped: global average pooling -> dropout -> ``Linear(features, n_classes)`` is the new head (paper 003's
``Linear(512, 7)`` for VGG19 and ResNet18; VGG's 4096-wide FC6/FC7 go with the ImageNet classifier, which
also makes VGG usable at 48x48). ``finetune="head"`` trains that Linear only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers as vgg_layers

from bench.core.errors import ConfigError
from deep import recipes
from deep.nets.arch import Arch, ModelVariant, Recipe, register_arch
from deep.nets.base import IMAGENET_GRAY, FERNet, NetSpec
from deep.nets.weights import gray_conv, load_imagenet


class ResNetFER(FERNet):
    def last_block_modules(self) -> list[nn.Module]:
        return [self.body.layer4]


class VGGBody(nn.Module):
    """torchvision's VGG convolutions with global average pooling and no ImageNet classifier.

    Built without the 120M-parameter FC6/FC7 that the new head replaces anyway (allocating them costs
    seconds); parameter names match torchvision's (``features.N``) so its checkpoints load.
    """

    def __init__(self, tv_name: str) -> None:
        super().__init__()
        letter = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}[tv_name.removesuffix("_bn")]
        self.features = vgg_layers(vgg_cfgs[letter], batch_norm=tv_name.endswith("_bn"))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        for m in self.modules():  # torchvision's VGG init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.avgpool(self.features(x)), 1)


class VGGFER(FERNet):
    def last_block_modules(self) -> list[nn.Module]:
        # Block 5: everything after the 4th max-pool (paper 001's "Dense layers + VGG-16 block 5").
        layers = list(self.body.features)
        pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
        return layers[pools[3] + 1:]


class DenseNetFER(FERNet):
    def last_block_modules(self) -> list[nn.Module]:
        return [self.body.features.denseblock4, self.body.features.norm5]


class InceptionFER(FERNet):
    def last_block_modules(self) -> list[nn.Module]:
        return [self.body.Mixed_7c]


class EfficientNetFER(FERNet):
    def last_block_modules(self) -> list[nn.Module]:
        # The last MBConv stage and the 1x1 conv to 1280 channels that follows it.
        return [self.body.features[-2], self.body.features[-1]]


# tv name -> (FERNet class, smallest input side the architecture accepts)
FAMILY: dict[str, tuple[type[FERNet], int]] = {
    **{f"resnet{d}": (ResNetFER, 16) for d in (18, 34, 50, 101, 152)},
    **{n: (VGGFER, 32) for n in ("vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn")},
    **{f"densenet{d}": (DenseNetFER, 29) for d in (121, 161, 169, 201)},
    "inception_v3": (InceptionFER, 75),
    **{f"efficientnet_b{i}": (EfficientNetFER, 16) for i in range(8)},
}


def _replace_first_conv(model: nn.Module, tv_name: str, pretrained: bool, stem: str) -> None:
    def gray(conv: nn.Conv2d) -> nn.Conv2d:
        if pretrained:
            return gray_conv(conv)
        new = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
        with torch.no_grad():  # one input slice of the original init keeps its distribution
            new.weight.copy_(conv.weight[:, :1])
            if conv.bias is not None:
                new.bias.copy_(conv.bias)
        return new

    if tv_name.startswith("resnet"):
        if stem == "cifar":
            # 3x3 stride-1 stem and no max-pool: a 48x48 face keeps 6x6 positions in layer4 instead of 2x2.
            model.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
            nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
            model.maxpool = nn.Identity()
        else:
            model.conv1 = gray(model.conv1)
    elif tv_name.startswith("vgg") or tv_name.startswith("efficientnet"):
        first = model.features[0] if tv_name.startswith("vgg") else model.features[0][0]
        if tv_name.startswith("vgg"):
            model.features[0] = gray(first)
        else:
            model.features[0][0] = gray(first)
    elif tv_name.startswith("densenet"):
        model.features.conv0 = gray(model.features.conv0)
    elif tv_name == "inception_v3":
        model.Conv2d_1a_3x3.conv = gray(model.Conv2d_1a_3x3.conv)


def _drop_classifier(model: nn.Module, tv_name: str) -> tuple[int, float]:
    """Remove the ImageNet classifier; return the feature width and the family's own dropout rate."""
    if tv_name.startswith("resnet"):
        n, p = model.fc.in_features, 0.0
        model.fc = nn.Identity()
    elif tv_name.startswith("vgg"):  # VGGBody has no classifier
        n, p = 512, 0.5
    elif tv_name.startswith("densenet"):
        n, p = model.classifier.in_features, 0.0
        model.classifier = nn.Identity()
    elif tv_name == "inception_v3":
        n, p = model.fc.in_features, 0.5
        model.fc = nn.Identity()
        model.dropout = nn.Identity()  # our head holds the dropout
    else:  # efficientnet: classifier = Dropout(p) -> Linear
        n, p = model.classifier[1].in_features, float(model.classifier[0].p)
        model.classifier = nn.Identity()
    return n, p


def backbone(tv_name: str, n_classes: int, *, model_name: str, input_size: int, pretrained: bool,
             dropout: float | None = None, stem: str = "imagenet") -> FERNet:
    """A torchvision ``tv_name`` (e.g. ``resnet18``) as a FERNet; ImageNet weights only from the hub cache.

    ``stem="cifar"`` (ResNets from scratch only) swaps the 7x7/2 conv + max-pool for a 3x3/1 conv, the usual
    choice for 32-48 px inputs. ``dropout`` defaults to the family's own rate (0 for ResNet/DenseNet).
    """
    if tv_name not in FAMILY:
        raise ConfigError(f"unknown backbone '{tv_name}'; known: {', '.join(FAMILY)}")
    cls, min_size = FAMILY[tv_name]
    if stem not in ("imagenet", "cifar") or (stem == "cifar" and (pretrained or not tv_name.startswith("resnet"))):
        raise ConfigError(f"{model_name}: stem='{stem}' is only for ResNets from scratch; use stem='imagenet'")
    if input_size < min_size:
        raise ConfigError(f"{model_name}: input_size {input_size} is below the {min_size} px it needs")
    if tv_name.startswith("vgg"):
        model: nn.Module = VGGBody(tv_name)
    elif tv_name == "inception_v3":
        # aux_logits as in the checkpoint, dropped after loading; inputs are normalised by us, not transform_input.
        model = tvm.inception_v3(weights=None, aux_logits=True, init_weights=not pretrained, transform_input=False)
    else:
        model = tvm.get_model_builder(tv_name)(weights=None)
    if pretrained:
        load_imagenet(model, model_name, tv_name, skip_prefix="classifier." if tv_name.startswith("vgg") else None)
    if tv_name == "inception_v3":
        model.aux_logits, model.AuxLogits = False, None
    _replace_first_conv(model, tv_name, pretrained, stem)
    n_features, family_dropout = _drop_classifier(model, tv_name)
    p = family_dropout if dropout is None else dropout
    head = nn.Sequential(*([nn.Dropout(p)] if p > 0 else []), nn.Linear(n_features, n_classes))
    if tv_name == "inception_v3":
        mean, std = (0.5, 0.5)  # torchvision's Inception weights expect (x - 0.5) / 0.5
    else:
        mean, std = IMAGENET_GRAY if pretrained else (0.5, 0.5)
    return cls(model, head, NetSpec(input_size=input_size, min_size=min_size, mean=mean, std=std))


# ----------------------------------------------------------------------------- registrations
def _tv_build(tv_name: str, name: str) -> Callable[..., FERNet]:
    def build(n_classes: int, *, input_size: int, pretrained: bool, dropout: float | None = None,
              stem: str = "imagenet") -> FERNet:
        return backbone(tv_name, n_classes, model_name=name, input_size=input_size, pretrained=pretrained,
                        dropout=dropout, stem=stem)

    return build


_PAPER_PRESETS = ("paper", "paper001", "paper003", "paper004")


def _imagenet(name: str, doc: str, *, default: bool = False, **notes: tuple[str, ...]) -> ModelVariant:
    """A model on ImageNet weights: under every paper preset it says it sees gray images, plus its own notes."""
    return ModelVariant(name, "imagenet", doc, in_default_set=default,
                        notes={p: (recipes.GRAY_INPUT, *notes.get(p, ())) for p in _PAPER_PRESETS})


def _scratch(name: str, doc: str) -> ModelVariant:
    return ModelVariant(f"{name}-scratch", "scratch", doc)


_STEM_NOTE = ("stem: paper 003 describes a 3x3 Conv2d(3, 64) stem, which ImageNet weights do not fit; resnet18 keeps "
              "the 7x7 ImageNet stem (resnet18-scratch has the 3x3 one)")
_VGG19_NOTE = "batch norm: paper 003's VGG19 has a BatchNorm2d after each convolution (vgg19-bn); this one has none"

# tv name -> (doc, papers, presets besides default, registered models); small default inputs so CPU runs finish,
# the papers' 224 (Inception: its 299) in their presets.
_BACKBONES: dict[str, tuple[str, str, dict[str, Recipe], tuple[ModelVariant, ...]]] = {
    "resnet18": ("ResNet-18", "003,001", {"paper": recipes.paper003_sgd, "paper001": recipes.paper001}, (
        _imagenet("resnet18", "ResNet-18, ImageNet weights (papers 003, 001), new head; skipped when the weights "
                              "are not cached.", default=True, paper=(_STEM_NOTE,)),
        _scratch("resnet18", "ResNet-18 from scratch (paper 003's CIFAR-style 3x3 stem in the paper preset)."))),
    "resnet34": ("ResNet-34", "001", {"paper": recipes.paper001}, (
        _imagenet("resnet34", "ResNet-34, ImageNet weights (paper 001), new head."),)),
    "resnet50": ("ResNet-50", "001", {"paper": recipes.paper001}, (
        _imagenet("resnet50", "ResNet-50, ImageNet weights (paper 001), new head."),)),
    "resnet152": ("ResNet-152", "001", {"paper": recipes.paper001}, (
        _imagenet("resnet152", "ResNet-152, ImageNet weights (paper 001), new head."),)),
    "vgg16": ("VGG-16", "001", {"paper": recipes.paper001}, (
        _imagenet("vgg16", "VGG-16, ImageNet weights (paper 001: finetune=head / head+last / all), new head."),
        _scratch("vgg16", "VGG-16 from scratch (paper 001's \"whole model from scratch\" training mode)."))),
    "vgg19": ("VGG-19", "003", {"paper": recipes.paper003_sgd}, (
        _imagenet("vgg19", "VGG-19 without batch norm, ImageNet weights; paper 003's VGG19 has it: vgg19-bn.",
                  paper=(_VGG19_NOTE,)),)),
    "vgg19_bn": ("VGG-19 with batch norm", "003,001", {"paper": recipes.paper003_sgd, "paper001": recipes.paper001}, (
        _imagenet("vgg19-bn", "VGG-19 with batch norm, ImageNet weights (paper 003's VGG19, paper 001's VGG-19-BN), "
                              "new head."),)),
    "densenet161": ("DenseNet-161", "001", {"paper": recipes.paper001}, (
        _imagenet("densenet161", "DenseNet-161, ImageNet weights (paper 001's best), new head."),)),
    "inception_v3": ("Inception-v3", "001", {"paper": recipes.paper001}, (
        _imagenet("inception-v3", "Inception-v3, ImageNet weights (paper 001), new head; input >= 75 (299 in the "
                                  "paper preset)."),)),
    "efficientnet_b0": ("EfficientNet-B0", "004", {"paper": recipes.paper004}, (
        _imagenet("efficientnet-b0", "EfficientNet-B0, ImageNet weights, two-phase fine-tuning in the paper preset "
                                     "(paper 004)."),
        _scratch("efficientnet-b0", "EfficientNet-B0 from scratch (the no-transfer reference for paper 004)."))),
    **{f"efficientnet_b{i}": (f"EfficientNet-B{i}", "004", {"paper": recipes.paper004}, (
        _imagenet(f"efficientnet-b{i}", f"EfficientNet-B{i}, ImageNet weights (paper 004)."),)) for i in range(1, 8)},
}
for _tv, (_doc, _paper, _presets, _models) in _BACKBONES.items():
    _name = _tv.replace("_", "-")
    _default = 75 if _tv == "inception_v3" else 64 if _tv.startswith(("vgg", "densenet")) else 48
    register_arch(Arch(_name, _tv_build(_tv, _name), doc=f"torchvision {_doc} with a gray stem and a new head",
                       paper=_paper, default_size=_default, paper_size=299 if _tv == "inception_v3" else 224,
                       presets={"default": recipes.default, **_presets}, models=_models, tv_name=_tv))
del _tv, _doc, _paper, _presets, _models, _name, _default
