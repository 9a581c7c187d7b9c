"""The training loop, in the manner of torchvision's references/classification/train.py, on tensor splits.

A split is one uint8 tensor on the training device; batches are indexed out of it and prepared on the tensor
(``deep.augment``): float, augment, resize to the net's input size, normalise, channels-last. One loop runs
each phase of the fine-tuning plan (``deep.finetune``) with its optimiser and schedule, validates every epoch,
stops early on the validation split and restores the best epoch's weights.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import WeightedRandomSampler

from bench.core.errors import ConfigError
from bench.core.files import atomic_write_bytes
from deep.allocator import retain_freed_memory
from deep.augment import augment, eval_views, resize, to_float
from deep.config import TrainConfig
from deep.finetune import Phase, freeze, param_groups, plan, train_mode
from deep.nets.base import FERNet

Callback = Callable[[dict[str, Any], FERNet], None]


def image_tensor(images: Any, device: torch.device) -> Tensor:
    """uint8 (N, H, W) array -> uint8 (N, 1, H, W) tensor on ``device``.

    On the CPU the tensor shares the array's memory when it can (nothing writes into it): a FER2013-size
    training fold is then held once, not twice. Read-only arrays (memory-mapped caches) are copied, as torch
    needs writable memory.
    """
    arr = np.asarray(images)
    if arr.dtype != np.uint8 or arr.ndim != 3:
        raise ConfigError(f"images must be uint8 (N, H, W), got {arr.dtype} {arr.shape}")
    if not (arr.flags.writeable and arr.flags.c_contiguous):
        arr = np.array(arr, copy=True, order="C")
    return torch.from_numpy(arr).unsqueeze(1).to(device)


@dataclass
class Split:
    """Images (N, 1, H, W) uint8 and class positions (N,) int64, both on the training device."""

    x: Tensor
    y: Tensor

    @classmethod
    def from_numpy(cls, images: Any, positions: Any, device: torch.device) -> Split:
        return cls(image_tensor(images, device), torch.as_tensor(np.asarray(positions), dtype=torch.int64).to(device))

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Runtime:
    """Where and how the arithmetic runs, resolved once from the config and the machine."""

    device: torch.device
    amp_dtype: torch.dtype | None  # None: float32
    channels_last: bool

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but no CUDA GPU is visible; use device='cpu' or 'auto'")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"device must be auto, cpu or cuda, got '{device}'")
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """Native bfloat16 in oneDNN (AVX512-BF16 / AMX): there bf16 autocast + channels-last trains 2-3x faster."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_runtime(cfg: TrainConfig, device: str) -> Runtime:
    dev = resolve_device(device)
    if dev.type == "cuda":
        fast = True
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        retain_freed_memory()
        fast = cpu_has_fast_bf16()
        dtype = torch.bfloat16
    amp = fast if cfg.amp is None else cfg.amp
    channels_last = (amp if dev.type == "cpu" else True) if cfg.channels_last is None else cfg.channels_last
    return Runtime(dev, dtype if amp else None, channels_last)


@dataclass
class TrainResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    optimizer_state: dict[str, Any] | None = None
    resumed_from: int | None = None  # the last epoch a resumed fit found saved


# --------------------------------------------------------------------------- batches
def prepare(x: Tensor, net: FERNet, rt: Runtime) -> Tensor:
    """Float [0, 1] batch -> the net's input: resized, normalised, in the runtime's memory format."""
    spec = net.spec
    x = resize(x, spec.input_size)
    x = (x - spec.mean) / spec.std
    return x.contiguous(memory_format=rt.memory_format)


@torch.inference_mode()
def predict_proba(net: FERNet, x_u8: Tensor, cfg: TrainConfig, rt: Runtime, tta: str | None = None) -> Tensor:
    """Softmax probabilities (N, K) in float32, averaged over the evaluation views (TenCrop, flip)."""
    net.eval()
    out = []
    for start in range(0, len(x_u8), cfg.eval_batch_size):
        xb = to_float(x_u8[start:start + cfg.eval_batch_size])
        views = eval_views(xb, cfg.augment, cfg.tta if tta is None else tta)
        v, b = views.shape[:2]
        with rt.autocast():
            logits = net(prepare(views.flatten(0, 1), net, rt))
        out.append(logits.float().softmax(-1).view(v, b, -1).mean(0))
    return torch.cat(out) if out else torch.empty(0, net.n_classes, device=x_u8.device)


def evaluate(net: FERNet, split: Split, cfg: TrainConfig, rt: Runtime) -> tuple[float, float]:
    """(loss, accuracy) on a split, on the single centre view (TTA is for the final predictions)."""
    p = predict_proba(net, split.x, cfg, rt, tta="none")
    loss = F.nll_loss(p.clamp_min(1e-12).log(), split.y).item()
    return loss, (p.argmax(1) == split.y).float().mean().item()


# --------------------------------------------------------------------------- optimisation pieces
def make_optimizer(groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    # The fused kernels update all parameters in one pass: Adam's step was 40% of cnn-002's (19M parameters)
    # CPU training time with the per-tensor loop, 25% less time overall fused.
    params = [p for g in groups for p in g["params"]]
    fused = all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               fused=fused)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(groups, lr=groups[0]["lr"], betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay, fused=fused)


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, epochs: int) -> Any:
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    if cfg.schedule == "step":
        # Paper 003's repo: after epoch step_start, lr *= gamma every step_size epochs.
        def factor(e: int) -> float:
            return cfg.gamma ** ((e - cfg.step_start) // cfg.step_size) if e >= cfg.step_start else 1.0

        return torch.optim.lr_scheduler.LambdaLR(opt, factor)
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2)
    return None


def class_weights(y: Tensor, n_classes: int) -> Tensor:
    """N / (K * count) per class: every class contributes equally to the loss."""
    counts = torch.bincount(y, minlength=n_classes).float()
    return torch.where(counts > 0, len(y) / (n_classes * counts.clamp_min(1)), torch.zeros_like(counts))


def epoch_order(y: Tensor, cfg: TrainConfig, n_classes: int, gen: torch.Generator) -> Tensor:
    """Sample order of one epoch: a permutation, or class-balanced draws with replacement.

    The sampler draws with ``torch.multinomial`` on float64 weights: a few indices per epoch differ from a
    draw on the float32 weights (as before), whose cumulative sums round differently.
    """
    if cfg.balance == "sampler":
        sampler = WeightedRandomSampler(class_weights(y, n_classes)[y], num_samples=len(y), replacement=True,
                                        generator=gen)
        return torch.tensor(list(sampler), dtype=torch.int64, device=y.device)
    return torch.randperm(len(y), generator=gen, device=y.device)


def state_copy(net: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


# --------------------------------------------------------------------------- the loop
def train_one_epoch(net: FERNet, data: Split, cfg: TrainConfig, rt: Runtime, opt: torch.optim.Optimizer,
                    criterion: nn.Module, scaler: torch.amp.GradScaler, gen: torch.Generator,
                    n_classes: int) -> tuple[float, float]:
    train_mode(net)
    order = epoch_order(data.y, cfg, n_classes, gen)
    params = [p for g in opt.param_groups for p in g["params"]]
    # Sums stay on the device: no host sync per step on GPUs.
    loss_sum = torch.zeros((), device=rt.device)
    correct = torch.zeros((), dtype=torch.int64, device=rt.device)
    seen = 0
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        if len(idx) < 2:  # a batch of one breaks batch norm; its sample comes back next epoch
            continue
        xb = prepare(augment(to_float(data.x[idx]), cfg.augment, gen), net, rt)
        yb = data.y[idx]
        with rt.autocast():
            logits = net(xb)
            loss = criterion(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            scaler.unscale_(opt)
            if cfg.grad_clip_mode == "norm":
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            else:
                nn.utils.clip_grad_value_(params, cfg.grad_clip)
        scaler.step(opt)
        scaler.update()
        loss_sum += loss.detach() * len(idx)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(idx)
    mean_loss = loss_sum.item() / max(seen, 1)
    if not math.isfinite(mean_loss):
        raise FloatingPointError("training loss is not finite; lower lr or enable grad_clip")
    return mean_loss, correct.item() / max(seen, 1)


class EpochCheckpoint:
    """A fit's state after each epoch, in one file written atomically, so a killed fit resumes at the next epoch.

    It holds the weights, the optimiser, schedule and loss-scaler state, the early-stopping state (best score,
    best weights, stale epochs), the history and the random number generators (the fit's own and torch's
    global one, which dropout draws from), so that a resumed fit on the CPU ends exactly where an uninterrupted
    one does. ``key`` identifies the fit (configuration, classes, data): a file with another key is not resumed.
    """

    def __init__(self, path: str | Path, key: str) -> None:
        self.path = Path(path)
        self.key = key

    def load(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - a truncated or foreign file means starting the fit afresh
            return None
        return state if isinstance(state, dict) and state.get("key") == self.key else None

    def save(self, state: dict[str, Any]) -> None:
        atomic_write_bytes(self.path, lambda fh: torch.save({**state, "key": self.key}, fh))

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _cpu(state: Any) -> Any:
    """Tensors of a (nested) state moved to the CPU, so a checkpoint loads on any device."""
    if isinstance(state, Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu(v) for v in state)
    return state


def fit(net: FERNet, train: Split, val: Split | None, cfg: TrainConfig, rt: Runtime, *, pretrained: bool,
        gen: torch.Generator, callbacks: Sequence[Callback] = (),
        checkpoint: EpochCheckpoint | None = None) -> TrainResult:
    """Train ``net`` in place through the phases of ``cfg.finetune``; returns the per-epoch history.

    With ``checkpoint`` the state is saved after every epoch and a saved state of the same fit is resumed: the
    fit continues at the epoch after the last one saved (``result.resumed_from`` says which).
    """
    n_classes = net.n_classes
    if len(train) < 2:
        raise ConfigError(f"need at least 2 training images, got {len(train)}")
    weight = class_weights(train.y, n_classes) if cfg.balance == "loss" else None
    criterion = nn.CrossEntropyLoss(weight=weight, label_smoothing=cfg.label_smoothing)
    scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.amp_dtype == torch.float16)
    result = TrainResult()
    phases = plan(cfg, pretrained, steps_per_epoch=math.ceil(len(train) / cfg.batch_size))
    total = sum(p.epochs for p in phases)
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:
        net.load_state_dict(saved["net"])
        result.history = list(saved["history"])
        result.best_epoch, result.best_score = saved["best_epoch"], saved["best_score"]
        result.resumed_from = int(saved["epoch"])
        gen.set_state(saved["gen"])
        torch.set_rng_state(saved["cpu_rng"])
        if rt.device.type == "cuda" and saved.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(saved["cuda_rng"], rt.device)
    epoch = 0
    for index, phase in enumerate(phases):
        if saved is not None and index < saved["phase"]:
            epoch += phase.epochs
            continue
        resume = saved if saved is not None and index == saved["phase"] else None
        epoch = _run_phase(net, phase, index, train, val, cfg, rt, criterion, scaler, gen, result, epoch, callbacks,
                           total, checkpoint, resume)
    return result


def _run_phase(net: FERNet, phase: Phase, index: int, train: Split, val: Split | None, cfg: TrainConfig,
               rt: Runtime, criterion: nn.Module, scaler: torch.amp.GradScaler, gen: torch.Generator,
               result: TrainResult, epoch: int, callbacks: Sequence[Callback], total: int,
               checkpoint: EpochCheckpoint | None, resume: dict[str, Any] | None) -> int:
    freeze(net, phase.trainable, cfg.top_layers)
    opt = make_optimizer(param_groups(net, phase), cfg)
    sched = make_scheduler(opt, cfg, phase.epochs)
    best_score, best_state, best_epoch, stale, done = -math.inf, None, None, 0, 0
    if resume is not None:
        opt.load_state_dict(resume["opt"])
        if sched is not None and resume.get("sched") is not None:
            sched.load_state_dict(resume["sched"])
        scaler.load_state_dict(resume["scaler"])
        best_score, best_state = resume["phase_best_score"], resume["phase_best_state"]
        best_epoch, stale, done = resume["phase_best_epoch"], resume["stale"], resume["done"]
        epoch = resume["epoch"]
    stopped = resume is not None and phase.patience is not None and stale >= phase.patience
    for _ in range(done, phase.epochs if not stopped else done):
        epoch += 1
        done += 1
        t0 = time.perf_counter()
        lr = opt.param_groups[0]["lr"]
        train_loss, train_acc = train_one_epoch(net, train, cfg, rt, opt, criterion, scaler, gen, net.n_classes)
        seconds = time.perf_counter() - t0
        record: dict[str, Any] = {"epoch": epoch, "phase": phase.name, "lr": lr, "train_loss": train_loss,
                                  "train_acc": train_acc, "val_loss": None, "val_acc": None,
                                  "epochs_total": total, "images_per_s": len(train) / max(seconds, 1e-9)}
        improved = False
        if val is not None and len(val):
            record["val_loss"], record["val_acc"] = evaluate(net, val, cfg, rt)
            score = -record["val_loss"] if cfg.monitor == "val_loss" else record["val_acc"]
            if score > best_score + cfg.min_delta:
                best_score, best_epoch, stale, improved = score, epoch, 0, True
                if cfg.restore_best:
                    best_state = state_copy(net)
            else:
                stale += 1
        record["best"] = improved
        record["time"] = time.perf_counter() - t0
        result.history.append(record)
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            sched.step(record["val_loss"] if record["val_loss"] is not None else train_loss)
        elif sched is not None:
            sched.step()
        if checkpoint is not None:
            checkpoint.save(_cpu({
                "phase": index, "epoch": epoch, "done": done, "net": net.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict() if sched is not None else None, "scaler": scaler.state_dict(),
                "phase_best_score": best_score, "phase_best_state": best_state, "phase_best_epoch": best_epoch,
                "stale": stale, "history": result.history, "best_epoch": result.best_epoch,
                "best_score": result.best_score, "gen": gen.get_state(), "cpu_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(rt.device) if rt.device.type == "cuda" else None}))
        for cb in callbacks:
            cb(record, net)
        if phase.patience is not None and stale >= phase.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    if best_epoch is not None:
        result.best_epoch = best_epoch
        result.best_score = best_score if cfg.monitor == "val_acc" else -best_score
    result.optimizer_state = opt.state_dict()
    return epoch
