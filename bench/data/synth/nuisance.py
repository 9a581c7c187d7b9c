"""Nuisance factors: what changes the pixels but not the expression.

Geometric ones (rotation, scale, shift, pose-like squash) are one affine warp per image; occluders are drawn
per image; photometric ones (illumination gradient, contrast, gamma, noise) run vectorised over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Nuisance:
    """Strength of each nuisance factor; every one is drawn independently per image."""

    rotation: float = 0.0  # degrees, standard deviation
    scale: float = 0.0  # relative, standard deviation
    shift: float = 0.0  # fraction of the image side, standard deviation
    squash: float = 0.0  # up to this much horizontal compression (a head turned away)
    yaw: float = 0.0  # pseudo-yaw of the inner features, standard deviation (renderer units)
    gradient: float = 0.0  # peak relative brightness change of a linear illumination gradient
    gamma: float = 0.0  # standard deviation of log(gamma)
    contrast: tuple[float, float] = (1.0, 1.0)  # contrast factor range
    noise: tuple[float, float] = (0.0, 0.0)  # gaussian noise sigma range, gray levels
    blur: float = 0.0  # probability of a gaussian blur (sigma 0.5..1.2 px at 48x48)
    occlusion: float = 0.0  # probability of an occluder (hand, sunglasses, microphone, caption bar)
    clutter: bool = False  # random shapes in the background


def warp(img: np.ndarray, rng: np.random.Generator, cfg: Nuisance) -> np.ndarray:
    """Rotate, scale, shift and squash one image about its centre (borders reflected, like a wider crop)."""
    size = img.shape[0]
    angle = rng.normal(0.0, cfg.rotation)
    scale = float(np.exp(rng.normal(0.0, cfg.scale)))
    squash = 1.0 - cfg.squash * rng.random()
    tx, ty = rng.normal(0.0, cfg.shift * size, 2)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[0, :] *= squash  # horizontal compression after the rotation, about the image centre
    m[0, 2] += (1.0 - squash) * size / 2 + tx
    m[1, 2] += ty
    return cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def occlude(img: np.ndarray, rng: np.random.Generator) -> str:
    """Draw one occluder in place and return its kind (recorded in the sample's metadata)."""
    size = img.shape[0]
    kind = str(rng.choice(["hand", "sunglasses", "microphone", "caption"]))
    tone = float(rng.uniform(20, 230))
    s = size / 48.0
    if kind == "hand":  # a blob over one part of the lower face or a cheek
        c = (int(rng.uniform(0.2, 0.8) * size), int(rng.uniform(0.6, 0.95) * size))
        cv2.ellipse(img, c, (int(rng.uniform(7, 13) * s), int(rng.uniform(5, 10) * s)), rng.uniform(0, 180),
                    0, 360, tone, -1, cv2.LINE_AA)
    elif kind == "sunglasses":
        y = int(rng.uniform(0.33, 0.45) * size)
        for cx in (0.32, 0.68):
            cv2.ellipse(img, (int(cx * size), y), (int(7 * s), int(5 * s)), 0, 0, 360, float(rng.uniform(5, 40)),
                        -1, cv2.LINE_AA)
    elif kind == "microphone":  # a bar entering from below
        x = int(rng.uniform(0.25, 0.75) * size)
        cv2.line(img, (x, size), (x + int(rng.normal(0, 6) * s), int(rng.uniform(0.65, 0.85) * size)), tone,
                 max(2, int(4 * s)), cv2.LINE_AA)
    else:  # a caption or watermark strip along an edge
        y0 = int(rng.choice([0, size - 8 * s]))
        cv2.rectangle(img, (0, y0), (size, y0 + int(rng.uniform(4, 8) * s)), tone, -1)
    return kind


def background(img: np.ndarray, rng: np.random.Generator, level: float, clutter: bool) -> None:
    """Paint the background: a flat level, plus random shapes when ``clutter`` (a scene behind the person)."""
    img[:] = int(level)
    if clutter:
        size = img.shape[0]
        count = int(rng.integers(1, 4))
        for (x1, y1, x2, y2), tone in zip(rng.integers(0, size, (count, 4)).tolist(),
                                         rng.uniform(0, 255, count).tolist()):
            cv2.rectangle(img, (x1, y1), (x2, y2), tone, -1)


def photometric(images: np.ndarray, rng: np.random.Generator, cfg: Nuisance) -> np.ndarray:
    """Illumination gradient, contrast, gamma, blur and noise on a uint8 batch (N, H, W); returns uint8."""
    n, h, w = images.shape
    x = (np.arange(w, dtype=np.float32) / (w - 1) - 0.5)[None, None, :]
    y = (np.arange(h, dtype=np.float32) / (h - 1) - 0.5)[None, :, None]
    theta = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    amp = rng.uniform(0, cfg.gradient, n).astype(np.float32)
    light = 1.0 + 2.0 * amp[:, None, None] * (np.cos(theta)[:, None, None] * x + np.sin(theta)[:, None, None] * y)
    out = images.astype(np.float32) / 255.0 * light
    contrast = rng.uniform(*cfg.contrast, n).astype(np.float32)[:, None, None]
    mean = out.mean(axis=(1, 2), keepdims=True)
    out = np.clip(mean + contrast * (out - mean), 0.0, 1.0)
    gamma = np.exp(rng.normal(0.0, cfg.gamma, n)).astype(np.float32)[:, None, None]
    out = np.power(out, gamma) * 255.0
    if cfg.blur > 0:
        for i in np.flatnonzero(rng.random(n) < cfg.blur):
            sigma = float(rng.uniform(0.5, 1.2)) * max(h, w) / 48.0
            out[i] = cv2.GaussianBlur(out[i], (0, 0), sigma)
    sigma = rng.uniform(*cfg.noise, n).astype(np.float32)[:, None, None]
    out += sigma * rng.standard_normal((n, h, w), dtype=np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
