"""Fine-tuning strategies: which parameters train, in which phases, at which learning rates.

``head``       the dense layers after the convolutional body (custom CNNs: all of them, paper 002's "FC";
               torchvision backbones: the new classifier).
``head+last``  the head plus the architecture's last convolutional block (``FERNet.last_block_modules``;
               paper 002's "FC + last conv", paper 001's "dense + VGG-16 block 5").
``all``        every layer (paper 002's "RE", paper 000's fine-tuning).
``two-phase``  paper 004: the head alone, then the head plus the top ``top_layers`` layers at a lower lr.
``scratch``    every layer from a fresh random init: pretrained or source weights are not loaded.

Frozen parameters have ``requires_grad=False`` and are not given to the optimiser; batch-norm layers whose
parameters are frozen are kept in eval mode during training, so their running mean/var do not move either
(Keras does the same for ``trainable=False`` BN). Dropout stays active everywhere in training mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from deep.config import TrainConfig
from deep.nets.base import FERNet


@dataclass(frozen=True)
class Phase:
    name: str
    trainable: str  # "all" | "head" | "head+last" | "top"
    epochs: int
    head_lr: float
    body_lr: float
    patience: int | None = None


def plan(cfg: TrainConfig, pretrained: bool, steps_per_epoch: int = 0) -> list[Phase]:
    """The phases of one fit. ``pretrained``: the body starts from trained weights (not random).

    With ``steps_per_epoch`` given, epochs are raised in proportion to reach ``cfg.min_steps`` steps, and
    the early-stopping patience with them (it counts the same amount of training, not the same epochs).
    """
    scale = 1.0
    if cfg.min_steps and steps_per_epoch:
        scale = max(1.0, cfg.min_steps / (cfg.epochs * steps_per_epoch))

    def epochs(n: int) -> int:
        return math.ceil(n * scale)

    patience = None if cfg.patience is None else epochs(cfg.patience)

    if cfg.finetune == "two-phase":
        head_epochs = cfg.head_epochs or max(1, cfg.epochs // 2)
        if head_epochs >= cfg.epochs:
            head_epochs = cfg.epochs - 1
        return [Phase("head", "head", epochs(head_epochs), cfg.head_lr, cfg.head_lr, patience),
                Phase("top", "top", epochs(cfg.epochs - head_epochs), cfg.finetune_lr, cfg.finetune_lr, patience)]
    trainable = "all" if cfg.finetune == "scratch" else cfg.finetune
    body_lr = cfg.finetune_lr if pretrained and cfg.finetune != "scratch" else cfg.lr
    return [Phase(cfg.finetune, trainable, epochs(cfg.epochs), cfg.lr, body_lr, patience)]


def trainable_modules(net: FERNet, trainable: str, top_layers: int = 0) -> list[nn.Module]:
    if trainable == "all":
        return [net]
    modules = net.head_modules()
    if trainable == "head+last":
        modules = modules + net.last_block_modules()
    elif trainable == "top":
        modules = modules + net.top_layers(top_layers)
    elif trainable != "head":
        raise ValueError(f"unknown trainable group '{trainable}'")
    return modules


def freeze(net: FERNet, trainable: str, top_layers: int = 0) -> list[nn.Parameter]:
    """Set ``requires_grad`` for a strategy; returns the parameters that train."""
    for p in net.parameters():
        p.requires_grad_(False)
    for m in trainable_modules(net, trainable, top_layers):
        for p in m.parameters():
            p.requires_grad_(True)
    return [p for p in net.parameters() if p.requires_grad]


def param_groups(net: FERNet, phase: Phase) -> list[dict]:
    """Optimiser groups: the head at ``head_lr``, trainable body parameters at ``body_lr``."""
    head_ids = {id(p) for m in net.head_modules() for p in m.parameters()}
    head = [p for p in net.parameters() if p.requires_grad and id(p) in head_ids]
    body = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": head, "lr": phase.head_lr, "name": "head"}]
    if body:
        groups.append({"params": body, "lr": phase.body_lr, "name": "body"})
    return groups


def train_mode(net: nn.Module) -> None:
    """``net.train()``, except batch norms whose parameters are frozen stay in eval mode."""
    net.train()
    for m in net.modules():
        if isinstance(m, _BatchNorm) and m.affine and not m.weight.requires_grad:
            m.eval()
