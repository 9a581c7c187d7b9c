"""Augmentation and input preparation on whole batches of tensors (no per-sample PIL in the training loop).

A split stays one uint8 tensor (N, 1, H, W) on the training device; each batch is indexed out of it, turned to
float and augmented here with per-sample random parameters drawn from one ``torch.Generator``, so a seed gives
the same batches on every run. The papers' sets: flip, rotation, scale, shift (000, 003, 004), random crop +
TenCrop at test (003), blur and noise (000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from bench.core.errors import ConfigError

TTA_MODES = ("none", "flip", "tencrop")


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation; magnitudes are multiplied by ``strength`` (one knob for tuning).

    flip:          horizontal flip with probability 0.5.
    rotation:      degrees, uniform in [-rotation, rotation].
    scale:         zoom factor uniform in [1 - scale, 1 + scale] (paper 004: "scaling factor 1.1" -> 0.1).
    shift:         translation, uniform up to this fraction of the side in x and y (paper 003: 0.1).
    crop_fraction: random crop of this fraction of the side (paper 003: 44/48); evaluation then uses the
                   centre crop or TenCrop (``tta``). The crop is resized to the net's input size if it differs.
    blur_p, blur_sigma:   probability of a Gaussian blur, and its largest sigma in pixels.
    noise_p, noise_std:   probability of additive Gaussian noise, and its std on the [0, 1] scale.
    """

    flip: bool = True
    rotation: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    crop_fraction: float | None = None
    blur_p: float = 0.0
    blur_sigma: float = 1.0
    noise_p: float = 0.0
    noise_std: float = 0.03
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.crop_fraction is not None and not 0.0 < self.crop_fraction <= 1.0:
            raise ConfigError(f"crop_fraction must be in (0, 1], got {self.crop_fraction}")
        if min(self.rotation, self.scale, self.shift, self.blur_p, self.noise_p, self.strength) < 0:
            raise ConfigError("augmentation magnitudes and probabilities must be >= 0")

    def scaled(self) -> AugmentConfig:
        """The config with ``strength`` folded into the magnitudes."""
        s = self.strength
        return replace(self, rotation=self.rotation * s, scale=min(self.scale * s, 0.9), shift=self.shift * s,
                       blur_sigma=self.blur_sigma * s, noise_std=self.noise_std * s, strength=1.0)


NO_AUGMENT = AugmentConfig(flip=False)


def to_float(batch: Tensor) -> Tensor:
    """uint8 (B, 1, H, W) -> float32 in [0, 1]."""
    return batch.float().div_(255.0)


def crop_size(side: int, fraction: float | None) -> int:
    return side if fraction is None else max(1, round(side * fraction))


def random_crop(x: Tensor, size: int, gen: torch.Generator) -> Tensor:
    """A ``size`` x ``size`` crop at a random integer offset per sample (exact pixels, no interpolation)."""
    b, _, h, w = x.shape
    if size > min(h, w):
        raise ConfigError(f"crop {size} is larger than the {h}x{w} images")
    oy = torch.randint(0, h - size + 1, (b,), generator=gen, device=x.device)
    ox = torch.randint(0, w - size + 1, (b,), generator=gen, device=x.device)
    ar = torch.arange(size, device=x.device)
    rows = (oy[:, None] + ar)[:, None, :, None]  # (B, 1, size, 1)
    cols = (ox[:, None] + ar)[:, None, None, :]  # (B, 1, 1, size)
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return x[bi, ci, rows, cols]


def center_crop(x: Tensor, size: int) -> Tensor:
    """The central ``size`` x ``size`` window (torchvision's offset, ``round((side - size) / 2)``)."""
    return TF.center_crop(x, [size, size])


def ten_crop(x: Tensor, size: int) -> Tensor:
    """TenCrop on a batch: (10, B, C, size, size) = 4 corners + centre, then each of those mirrored."""
    crops = TF.five_crop(x, [size, size])
    # Not TF.ten_crop: it crops the mirrored image, so its flipped corners come in mirrored order
    # (flip(top-right) first); flipping each crop keeps the view order the trained models were scored with.
    return torch.stack([*crops, *(TF.horizontal_flip(c) for c in crops)])


def random_flip(x: Tensor, gen: torch.Generator, p: float = 0.5) -> Tensor:
    """Horizontal flip of a random half of the batch; exact (a copy of mirrored pixels)."""
    mask = torch.rand(x.shape[0], generator=gen, device=x.device) < p
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def random_affine(x: Tensor, gen: torch.Generator, rotation: float, scale: float, shift: float) -> Tensor:
    """Per-sample rotation/zoom/translation in one ``affine_grid`` + ``grid_sample`` call.

    Borders are filled with the nearest edge pixel (Keras' ``fill_mode='nearest'``, what papers 000 and 003
    used), so no black corners become a cue.
    """
    b = x.shape[0]

    def uniform(lim: float) -> Tensor:
        return (torch.rand(b, generator=gen, device=x.device) * 2 - 1) * lim

    angle = uniform(math.radians(rotation))
    zoom = 1.0 + uniform(scale)
    tx, ty = uniform(2 * shift), uniform(2 * shift)  # grid coordinates span [-1, 1], i.e. 2 per side
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Separable Gaussian blur with one sigma per sample (a grouped convolution over the batch)."""
    b, c, h, w = x.shape
    radius = max(1, math.ceil(2 * float(sigma.max())))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t[None, :] ** 2) / (2 * sigma[:, None].clamp_min(1e-3) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (B*C, 2r+1)
    y = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="replicate")
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    return y.reshape(b, c, h, w)


def augment(x: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    """Augment a float batch (B, C, H, W) in [0, 1]: crop, flip, affine, blur, noise."""
    cfg = cfg.scaled()
    if cfg.crop_fraction is not None:
        x = random_crop(x, crop_size(min(x.shape[-2:]), cfg.crop_fraction), gen)
    if cfg.flip:
        x = random_flip(x, gen)
    if cfg.rotation or cfg.scale or cfg.shift:
        x = random_affine(x, gen, cfg.rotation, cfg.scale, cfg.shift)
    b = x.shape[0]
    if cfg.blur_p > 0 and cfg.blur_sigma > 0:
        sigma = 0.1 + torch.rand(b, generator=gen, device=x.device) * max(cfg.blur_sigma - 0.1, 0.0)
        chosen = torch.rand(b, generator=gen, device=x.device) < cfg.blur_p
        x = torch.where(chosen[:, None, None, None], gaussian_blur(x, sigma), x)
    if cfg.noise_p > 0 and cfg.noise_std > 0:
        chosen = torch.rand(b, generator=gen, device=x.device) < cfg.noise_p
        noise = torch.randn(x.shape, generator=gen, device=x.device) * cfg.noise_std
        x = (x + noise * chosen[:, None, None, None]).clamp_(0.0, 1.0)
    return x


def resize(x: Tensor, size: int) -> Tensor:
    """Bilinear resize of a batch to ``size`` x ``size`` (antialiased when shrinking); no-op at that size."""
    # Antialiasing only when shrinking: upsampling through torch's antialiased kernel changes the last bits.
    shrink = size < min(x.shape[-2:])
    return TF.resize(x, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=shrink)


def eval_views(x: Tensor, cfg: AugmentConfig, tta: str) -> Tensor:
    """The views a float batch is scored on: (V, B, C, S, S), whose softmax outputs are averaged.

    With a training crop the centre crop is the single view (``tta="none"``) or TenCrop's ten (``"tencrop"``,
    paper 003); ``"flip"`` adds the mirrored image.
    """
    if tta not in TTA_MODES:
        raise ConfigError(f"tta must be one of {', '.join(TTA_MODES)}, got '{tta}'")
    size = crop_size(min(x.shape[-2:]), cfg.crop_fraction)
    if tta == "tencrop":
        return ten_crop(x, size)
    view = center_crop(x, size) if size < min(x.shape[-2:]) else x
    return torch.stack([view, view.flip(-1)]) if tta == "flip" else view[None]
