"""The typed training configuration: everything one fit depends on, stored in checkpoints (no globals)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bench.core.errors import ConfigError
from deep.augment import TTA_MODES, AugmentConfig

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("none", "step", "cosine", "plateau")
BALANCE = ("none", "sampler", "loss")
MONITORS = ("val_loss", "val_acc")
STRATEGIES = ("all", "head", "head+last", "two-phase", "scratch")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``deep.presets`` fills it per model and preset; estimator keywords override fields.

    Learning rates: from scratch every layer uses ``lr``. Starting from trained weights (ImageNet, a source
    model, a checkpoint) the head still uses ``lr`` and the pretrained body ``finetune_lr``. ``two-phase``
    (paper 004) first trains the head alone for ``head_epochs`` at ``head_lr``, then the head and the top
    ``top_layers`` body layers for the remaining epochs at ``finetune_lr``.

    ``min_steps``: a 500-image target set makes 8 steps per epoch, so the few epochs that suit a 6000-image
    source would leave target-only models at chance; each phase's epochs are raised (in proportion) until
    the fit makes at least ``min_steps`` optimiser steps, and ``patience`` with them. Early stopping still
    ends the fit when validation stalls.

    Early stopping watches ``monitor`` on the validation split; ``patience`` epochs without an improvement of
    ``min_delta`` stop the phase, and the best epoch's weights are restored (``restore_best``) whether or not
    it stopped early. Without a validation split every epoch runs and the last weights are kept.

    ``amp`` (bfloat16 autocast; float16 + loss scaling on GPUs without bf16) and ``channels_last`` default to
    on for CUDA and for CPUs with native bf16 (measured here 2-3x faster); CPU runs stay deterministic.

    ``arch_params`` are the architecture's own keywords (``standard-cnn``'s ``kernel``); a recipe may fix them
    (paper 004's 5x5 standard CNN). ``needs_validation``: the recipe's epochs are a cap reached only without
    early stopping (paper 003's "up to 250 epochs"), so it refuses to train without a validation split.
    """

    epochs: int = 8
    min_steps: int = 0  # small training sets get more epochs, up to this many optimiser steps per fit
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    finetune_lr: float = 1e-4
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    step_size: int = 5  # schedule="step": multiply by gamma every step_size epochs after step_start
    step_start: int = 0
    gamma: float = 0.5
    patience: int | None = None
    min_delta: float = 0.0
    monitor: str = "val_loss"
    restore_best: bool = True
    grad_clip: float | None = None
    grad_clip_mode: str = "norm"  # "norm": clip_grad_norm_; "value": clamp each gradient (paper 003's repo)
    label_smoothing: float = 0.0
    balance: str = "none"  # class-balanced sampling or class-weighted loss
    finetune: str = "all"
    head_epochs: int = 0  # two-phase: epochs of the head-only phase (0: half of ``epochs``)
    head_lr: float = 1e-3
    top_layers: int = 6
    input_size: int = 48
    dropout: float | None = None  # None: the architecture's own rate
    stem: str | None = None  # ResNets: "imagenet" or "cifar"; None: the preset's choice
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    tta: str = "none"  # "tencrop" for paper 003's TenCrop test, "flip" for flip averaging
    eval_batch_size: int = 256
    amp: bool | None = None
    channels_last: bool | None = None
    beta1: float = 0.9  # Adam / AdamW
    beta2: float = 0.999
    arch_params: dict[str, Any] = field(default_factory=dict)  # the architecture's own keywords (kernel ...)
    # The recipe's epochs are only a cap: it stops early on the validation split and cannot run without one.
    needs_validation: bool = False

    def __post_init__(self) -> None:
        for name, value, choices in [("optimizer", self.optimizer, OPTIMIZERS), ("schedule", self.schedule, SCHEDULES),
                                     ("balance", self.balance, BALANCE), ("monitor", self.monitor, MONITORS),
                                     ("finetune", self.finetune, STRATEGIES), ("tta", self.tta, TTA_MODES),
                                     ("grad_clip_mode", self.grad_clip_mode, ("norm", "value"))]:
            if value not in choices:
                raise ConfigError(f"{name}='{value}' is not one of {', '.join(choices)}")
        if self.epochs < 1 or self.batch_size < 1 or self.min_steps < 0:
            raise ConfigError(f"epochs and batch_size must be >= 1, min_steps >= 0 (got {self.epochs}, "
                              f"{self.batch_size}, {self.min_steps})")
        if self.lr <= 0 or self.finetune_lr <= 0 or self.head_lr <= 0:
            raise ConfigError("learning rates must be > 0")
        if self.finetune == "two-phase" and self.epochs < 2:
            raise ConfigError("finetune='two-phase' needs epochs >= 2 (head phase + top-layers phase)")
        if self.patience is not None and self.patience < 1:
            raise ConfigError(f"patience must be >= 1 or None, got {self.patience}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError(f"beta1 and beta2 must lie in [0, 1), got {self.beta1}, {self.beta2}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        if isinstance(d.get("augment"), dict):
            d["augment"] = AugmentConfig(**d["augment"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
