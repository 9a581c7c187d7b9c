"""``DeepClassifier``: a scikit-learn style estimator around one FERNet and the training loop.

Hyperparameters are ``__init__`` keywords stored as given (``get_params``/``set_params``/``clone`` work);
``None`` means "the preset's value" (``deep.presets``). ``fit`` resolves them into a ``TrainConfig``,
builds the network, trains it and keeps ``net_``, ``classes_``, ``history_`` and ``config_``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from bench.core.errors import ConfigError
from bench.core.files import atomic_write_bytes
from deep.config import STRATEGIES, TrainConfig
from deep.nets import build_net, get_arch
from deep.nets.base import FERNet
from deep.nets.weights import require_imagenet
from deep.presets import preset_config
from deep.train import (
    Callback,
    EpochCheckpoint,
    Split,
    image_tensor,
    predict_proba,
    resolve_runtime,
    state_copy,
)
from deep.train import fit as train_fit

CHECKPOINT_FORMAT = "fer-bench-deep/1"

# Estimator keywords that override the TrainConfig field of the same name when not None.
_OVERRIDES = ("epochs", "lr", "batch_size", "optimizer", "weight_decay", "finetune", "finetune_lr", "dropout",
              "input_size", "stem", "patience", "schedule", "label_smoothing", "balance", "tta", "amp", "grad_clip",
              "top_layers")
# What the architecture's weights depend on: a warm start copies them from the source model.
_SHAPE_FIELDS = ("input_size", "stem", "dropout", "arch_params")


class DeepClassifier(ClassifierMixin, BaseEstimator):
    """A FER network trained on uint8 (N, H, W) images with canonical emotion labels.

    arch:    an architecture of ``deep.nets.ARCHS`` (``cnn-003``, ``resnet18``, ``efficientnet-b0`` ...).
    init:    ``"scratch"``, ``"imagenet"`` (weights from the torch hub cache only, else UnitSkipped), or the
             path of a checkpoint written by ``save`` (its weights start the fit; the head is replaced when
             its classes differ).
    preset:  ``"default"`` (short CPU runs) or ``"paper"`` (the papers' recipes).
    finetune: ``"all"``, ``"head"``, ``"head+last"``, ``"two-phase"`` or ``"scratch"`` (``deep.finetune``).
    epochs:  exactly this many epochs (the preset's ``min_steps`` stretch no longer applies).
    patience: early-stopping patience in epochs; ``0`` turns early stopping off (``None``: the preset's).
    config:  any other ``TrainConfig`` fields, e.g. ``{"monitor": "val_acc", "augment": {"rotation": 15}}``.
    arch_params: the architecture's own keywords (``{"kernel": 5}`` for ``standard-cnn``), over the preset's.
    """

    def __init__(self, arch: str = "cnn-003", init: str = "scratch", preset: str = "default", device: str = "auto",
                 seed: int = 0, epochs: int | None = None, lr: float | None = None, batch_size: int | None = None,
                 optimizer: str | None = None, weight_decay: float | None = None, finetune: str | None = None,
                 finetune_lr: float | None = None, dropout: float | None = None, input_size: int | None = None,
                 stem: str | None = None, patience: int | None = None, schedule: str | None = None,
                 label_smoothing: float | None = None, balance: str | None = None,
                 augment_strength: float | None = None, tta: str | None = None, amp: bool | None = None,
                 grad_clip: float | None = None, top_layers: int | None = None, config: dict | None = None,
                 arch_params: dict | None = None, verbose: bool = False) -> None:
        self.arch = arch
        self.init = init
        self.preset = preset
        self.device = device
        self.seed = seed
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.finetune = finetune
        self.finetune_lr = finetune_lr
        self.dropout = dropout
        self.input_size = input_size
        self.stem = stem
        self.patience = patience
        self.schedule = schedule
        self.label_smoothing = label_smoothing
        self.balance = balance
        self.augment_strength = augment_strength
        self.tta = tta
        self.amp = amp
        self.grad_clip = grad_clip
        self.top_layers = top_layers
        self.config = config
        self.arch_params = arch_params
        self.verbose = verbose

    # ------------------------------------------------------------------ configuration
    def _init_kind(self) -> str:
        if self.init in ("scratch", "imagenet"):
            return self.init
        if isinstance(self.init, str | os.PathLike) and Path(self.init).is_file():
            return "checkpoint"
        raise ConfigError(f"init='{self.init}' is not 'scratch', 'imagenet' or an existing checkpoint file")

    def train_config(self, source: dict[str, Any] | None = None) -> TrainConfig:
        """The resolved TrainConfig: the preset's, then the keyword overrides, then ``config``.

        With a ``source`` model (warm start or checkpoint init) the fields its weights' shapes depend on
        (input size, stem, dropout) are the source's.
        """
        get_arch(self.arch)
        cfg = preset_config(self.arch, self.preset, pretrained=self._init_kind() == "imagenet")
        over: dict[str, Any] = {k: getattr(self, k) for k in _OVERRIDES if getattr(self, k) is not None}
        if over.get("patience") == 0:
            over["patience"] = None
        if "epochs" in over:
            over["min_steps"] = 0  # epochs asked for are the epochs run (small sets are not stretched)
        if self.augment_strength is not None:
            over["augment"] = replace(cfg.augment, strength=float(self.augment_strength))
        extra = dict(self.config or {})
        unknown = set(extra) - set(cfg.to_dict())
        if unknown:
            raise ConfigError(f"config keys {sorted(unknown)} are not TrainConfig fields: {', '.join(cfg.to_dict())}")
        if isinstance(extra.get("augment"), dict):
            extra["augment"] = replace(over.get("augment", cfg.augment), **extra["augment"])
        over.update(extra)
        if self.arch_params:
            over["arch_params"] = {**cfg.arch_params, **extra.get("arch_params", {}), **self.arch_params}
        unknown = set(over.get("arch_params", {})) - set(get_arch(self.arch).arch_params())
        if unknown:
            raise ConfigError(f"{self.arch} has no architecture setting {', '.join(sorted(unknown))}; its "
                              f"settings: {', '.join(get_arch(self.arch).arch_params()) or 'none'}")
        if source is not None:
            over.update({k: source["config"].get(k, getattr(cfg, k)) for k in _SHAPE_FIELDS})
        try:
            return replace(cfg, **over)
        except TypeError as exc:  # a value of the wrong type reaches a comparison in TrainConfig's checks
            raise ConfigError(f"{self.arch}: a training setting has a value of the wrong type ({exc})") from None

    def needs_validation(self) -> bool:
        """True when the recipe's epochs are only a cap for early stopping (it cannot train without a
        validation split)."""
        return self.train_config().needs_validation

    def needs_imagenet(self) -> bool:
        """True when fitting will load ImageNet weights (and skip if they are not cached)."""
        return (self._init_kind() == "imagenet" and getattr(self, "_source", None) is None
                and self.train_config().finetune != "scratch")

    def check_weights(self) -> None:
        """Raise UnitSkipped now if fitting would need ImageNet weights that are not in the hub cache."""
        if self.needs_imagenet():
            require_imagenet(self.arch, get_arch(self.arch).tv_name or self.arch)

    # ------------------------------------------------------------------ warm starts
    def warm_start_from(self, other: DeepClassifier, finetune: str) -> DeepClassifier:
        """Start the next ``fit`` from ``other``'s trained weights and train only what ``finetune`` says.

        ``other`` must be a fitted estimator of the same architecture. The classifier is kept when the next
        fit sees the same classes and replaced by a fresh one otherwise.
        """
        check_is_fitted(other, "net_")
        if other.arch != self.arch:
            raise ConfigError(f"cannot warm-start {self.arch} from a {other.arch} model; the architectures differ")
        if finetune not in STRATEGIES:
            raise ConfigError(f"finetune='{finetune}' is not one of {', '.join(STRATEGIES)}")
        self._source = {"state": {k: v.cpu() for k, v in state_copy(other.net_).items()},
                        "classes": [int(c) for c in other.classes_], "config": other.config_.to_dict()}
        self.finetune = finetune
        return self

    def _source_model(self) -> dict[str, Any] | None:
        """The trained weights the fit starts from: a warm start's, a checkpoint's, or None."""
        if getattr(self, "_source", None) is not None:
            return self._source
        if self._init_kind() != "checkpoint":
            return None
        ck = read_checkpoint(self.init)
        if ck["params"]["arch"] != self.arch:
            raise ConfigError(f"checkpoint {self.init} holds a {ck['params']['arch']} model, not {self.arch}")
        return {"state": ck["model"], "classes": ck["classes"], "config": ck["config"]}

    def _build(self, cfg: TrainConfig, source: dict[str, Any] | None) -> tuple[FERNet, bool]:
        """The network to train and whether its body starts from trained weights."""
        n_classes, kwargs = len(self.classes_), _net_kwargs(cfg)
        if cfg.finetune == "scratch":
            return build_net(self.arch, n_classes, **kwargs), False
        if source is not None:
            net = build_net(self.arch, len(source["classes"]), **kwargs)
            net.load_state_dict(source["state"])
            if [int(c) for c in source["classes"]] != [int(c) for c in self.classes_]:
                net.reset_classifier(n_classes)
            return net, True
        pretrained = self._init_kind() == "imagenet"
        return build_net(self.arch, n_classes, pretrained=pretrained, **kwargs), pretrained

    # ------------------------------------------------------------------ scikit-learn API
    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None, y_val: np.ndarray | None = None,
            callbacks: list[Callback] | tuple[Callback, ...] = (),
            checkpoint: str | os.PathLike | None = None) -> DeepClassifier:
        """Train on uint8 images (N, H, W) and canonical labels; early-stop on (X_val, y_val) when given.

        ``checkpoint``: a file the state is written to after every epoch; a fit of the same configuration and data
        that finds it resumes at the next epoch (``resumed_from_`` says where) and ends as an uninterrupted one.
        """
        y = np.asarray(y, dtype=np.int64)
        if len(X) != len(y):
            raise ConfigError(f"X has {len(X)} images but y has {len(y)} labels")
        self.classes_ = np.unique(y)
        source = self._source_model()
        cfg = self.train_config(source)
        rt = resolve_runtime(cfg, self.device)
        train = Split.from_numpy(X, np.searchsorted(self.classes_, y), rt.device)
        val = None
        if X_val is not None and y_val is not None and len(y_val):
            y_val = np.asarray(y_val, dtype=np.int64)
            known = np.isin(y_val, self.classes_)  # a class absent from training cannot be scored by the loss
            val = Split.from_numpy(np.asarray(X_val)[known], np.searchsorted(self.classes_, y_val[known]), rt.device)
        cb = list(callbacks) + ([_print_epoch] if self.verbose else [])
        cuda = [rt.device.index or 0] if rt.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # seeded without touching the caller's RNG state
            torch.manual_seed(self.seed)
            net, pretrained = self._build(cfg, source)
            if cfg.input_size < net.spec.min_size:
                raise ConfigError(f"{self.arch}: input_size {cfg.input_size} is below its minimum {net.spec.min_size}")
            net = net.to(rt.device, memory_format=rt.memory_format)
            gen = torch.Generator(device=rt.device).manual_seed(self.seed)
            saver = None
            if checkpoint is not None:
                saver = EpochCheckpoint(checkpoint, _fit_key(cfg, self, X, y, X_val, y_val, source))
            result = train_fit(net, train, val, cfg, rt, pretrained=pretrained, gen=gen, callbacks=cb,
                               checkpoint=saver)
        self.net_, self.config_, self.runtime_ = net, cfg, rt
        self.resumed_from_ = result.resumed_from
        self.history_ = result.history
        self.best_epoch_, self.best_score_ = result.best_epoch, result.best_score
        self._optimizer_state = result.optimizer_state
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (N, len(classes_)), averaged over TenCrop/flip views when ``tta`` says so."""
        check_is_fitted(self, "net_")
        x = image_tensor(X, self.runtime_.device)
        return predict_proba(self.net_, x, self.config_, self.runtime_).cpu().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    def model_size(self) -> int:
        """Number of parameters (trainable or frozen)."""
        check_is_fitted(self, "net_")
        return sum(p.numel() for p in self.net_.parameters())

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike, include_optimizer: bool = False,
             card: dict[str, Any] | None = None) -> None:
        """Write model, config, classes, history, epoch, best validation score and, if asked, optimiser state.

        The optimiser state is off by default: fine-tuning from a saved source model starts a new optimiser,
        and Adam's moments would triple the file (cnn-002: 77 MB of weights). ``card`` (plain values only,
        ``bench.run.saved_models``) says what the model is and what it was trained on.
        """
        check_is_fitted(self, "net_")
        ck = {"format": CHECKPOINT_FORMAT, "params": self.get_params(), "config": self.config_.to_dict(),
              "classes": [int(c) for c in self.classes_],
              "model": {k: v.cpu() for k, v in self.net_.state_dict().items()},
              "optimizer": self._optimizer_state if include_optimizer else None,
              "epoch": self.history_[-1]["epoch"] if self.history_ else 0,
              "best_epoch": self.best_epoch_, "best_score": self.best_score_, "history": self.history_}
        if card is not None:
            ck["card"] = card
        # Written whole or not at all: a kill mid-save must not leave a truncated model a resumed run would read.
        atomic_write_bytes(Path(path), lambda fh: torch.save(ck, fh))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> DeepClassifier:
        """A fitted estimator from ``save``'s file (no ImageNet weights needed: the file holds all weights)."""
        return cls.from_checkpoint(read_checkpoint(path), device)

    @classmethod
    def from_checkpoint(cls, ck: dict[str, Any], device: str = "auto") -> DeepClassifier:
        """A fitted estimator from a checkpoint ``read_checkpoint`` returned."""
        est = cls(**{**ck["params"], "device": device})
        cfg = TrainConfig.from_dict(ck["config"])
        rt = resolve_runtime(cfg, device)
        net = build_net(est.arch, len(ck["classes"]), **_net_kwargs(cfg))
        net.load_state_dict(ck["model"])
        est.net_ = net.to(rt.device, memory_format=rt.memory_format).eval()
        est.classes_ = np.asarray(ck["classes"], dtype=np.int64)
        est.config_, est.runtime_ = cfg, rt
        est.history_ = ck["history"]
        est.best_epoch_, est.best_score_ = ck["best_epoch"], ck["best_score"]
        est._optimizer_state = ck["optimizer"]
        return est


def _fit_key(cfg: TrainConfig, est: DeepClassifier, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None,
             y_val: np.ndarray | None, source: dict[str, Any] | None) -> str:
    """What makes two fits the same one (a saved epoch state is only resumed by the same fit)."""
    h = hashlib.blake2b(json.dumps([cfg.to_dict(), est.arch, est.init, est.seed], sort_keys=True,
                                   default=str).encode(), digest_size=16)
    for part in (X, y, X_val, y_val):
        if part is not None:
            h.update(np.ascontiguousarray(part).tobytes())
    if source is not None:
        h.update(b"source")
        for name, tensor in sorted(source["state"].items()):
            h.update(name.encode())
            h.update(tensor.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _net_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    kw: dict[str, Any] = {"input_size": cfg.input_size, **cfg.arch_params}
    if cfg.dropout is not None:
        kw["dropout"] = cfg.dropout
    if cfg.stem is not None:
        kw["stem"] = cfg.stem
    return kw


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A file ``DeepClassifier.save`` wrote, read with ``weights_only=True`` (no code runs on load)."""
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        raise ConfigError(f"cannot read checkpoint {path}: not a torch file (torch.save writes a zip archive)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        what = str(e).split("\n")[0] if "Weights only load failed" not in str(e) else (
            "it holds objects other than tensors and plain values, which weights_only=True refuses")
        raise ConfigError(f"cannot read checkpoint {path}: {what}") from e
    except OSError as e:
        raise ConfigError(f"cannot read checkpoint {path}: {e.strerror or e}") from e
    except Exception as e:  # noqa: BLE001 - torch's loader raises anything from KeyError to UnicodeDecodeError
        first = str(e).splitlines()[0] if str(e).strip() else ""
        raise ConfigError(f"cannot read checkpoint {path}: not a torch file ({type(e).__name__} {first})") from e
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not a fer-bench deep checkpoint ({CHECKPOINT_FORMAT}); write it with save()")
    return ck


def _print_epoch(rec: dict[str, Any], net: FERNet) -> None:
    val = f" val {rec['val_loss']:.3f}/{rec['val_acc']:.3f}" if rec["val_loss"] is not None else ""
    print(f"epoch {rec['epoch']:3d} [{rec['phase']}] lr {rec['lr']:.2e} train {rec['train_loss']:.3f}/"
          f"{rec['train_acc']:.3f}{val} {rec['time']:.1f}s", file=sys.stderr)

