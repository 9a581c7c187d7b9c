"""A Gabor filter bank: magnitudes of complex responses, average-pooled over a grid of cells.

Kernels come from ``cv2.getGaborKernel`` (even part psi=0 made zero-mean so flat brightness gives no
response, odd part psi=pi/2); the magnitude sqrt(even^2 + odd^2) is the local energy at that scale and
orientation. Filtering is batched: each image is reflect-padded by the kernel radius (cv2's default border) and
the chunk is stacked into one tall image, so one ``cv2.filter2D`` call per kernel serves every image.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from baselines.features.base import ImageFeatures, as_images, batched
from baselines.registry import register_feature
from bench.core.errors import ConfigError

# sigma = 0.56 * wavelength gives a half-magnitude bandwidth of one octave (the usual choice for faces).
_SIGMA_PER_WAVELENGTH = 0.56


@lru_cache(maxsize=32)
def gabor_bank(wavelengths: tuple[float, ...], orientations: int,
               aspect: float) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(even, odd) float32 kernel pairs, scale-major then orientation."""
    if not wavelengths or min(wavelengths) < 2:
        raise ConfigError(f"Gabor wavelengths {wavelengths} must be non-empty and >= 2 pixels (Nyquist)")
    if orientations < 1:
        raise ConfigError(f"Gabor orientations={orientations} must be at least 1")
    bank = []
    for lam in wavelengths:
        sigma = _SIGMA_PER_WAVELENGTH * lam
        size = 2 * math.ceil(3 * sigma) + 1
        for k in range(orientations):
            theta = math.pi * k / orientations
            even = cv2.getGaborKernel((size, size), sigma, theta, lam, aspect, 0, ktype=cv2.CV_32F)
            odd = cv2.getGaborKernel((size, size), sigma, theta, lam, aspect, math.pi / 2, ktype=cv2.CV_32F)
            bank.append((even - even.mean(), odd))
    return tuple(bank)


def pool_grid(maps: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean of (N, H, W) maps over a gy x gx grid of near-equal cells -> (N, gy*gx)."""
    n, h, w = maps.shape
    gy, gx = grid
    rows = -(-np.arange(gy) * h // gy)  # ceil(k*h/gy): the same cells as the LBP grid
    cols = -(-np.arange(gx) * w // gx)
    sums = np.add.reduceat(np.add.reduceat(maps, rows, axis=1), cols, axis=2)
    sizes = np.diff(np.append(rows, h))[:, None] * np.diff(np.append(cols, w))[None, :]
    return (sums / sizes).reshape(n, -1)


def _params(wavelengths: tuple[float, ...] | list[float] | float, grid: int | tuple[int, int],
            h: int, w: int) -> tuple[tuple[float, ...], tuple[int, int]]:
    lams = (float(wavelengths),) if isinstance(wavelengths, (int, float)) else tuple(float(v) for v in wavelengths)
    gy, gx = (grid, grid) if isinstance(grid, (int, np.integer)) else (int(grid[0]), int(grid[1]))
    if not (1 <= gy <= h and 1 <= gx <= w):
        raise ConfigError(f"Gabor grid {gy}x{gx} does not fit {h}x{w} images; use at most {h}x{w} cells")
    return lams, (int(gy), int(gx))


def _filter_chunk(images: np.ndarray, bank: tuple[tuple[np.ndarray, np.ndarray], ...],
                  grid: tuple[int, int]) -> np.ndarray:
    n, h, w = images.shape
    x = images.astype(np.float32)
    out = []
    padded_by: dict[int, np.ndarray] = {}
    for even, odd in bank:
        r = even.shape[0] // 2
        if r not in padded_by:
            # np.pad "reflect" is cv2's BORDER_REFLECT_101, the border filter2D uses per image.
            padded_by[r] = np.pad(x, ((0, 0), (r, r), (r, r)), mode="reflect").reshape(n * (h + 2 * r), w + 2 * r)
        tall = padded_by[r]
        re = cv2.filter2D(tall, cv2.CV_32F, even).reshape(n, h + 2 * r, w + 2 * r)[:, r:r + h, r:r + w]
        im = cv2.filter2D(tall, cv2.CV_32F, odd).reshape(n, h + 2 * r, w + 2 * r)[:, r:r + h, r:r + w]
        out.append(pool_grid(np.sqrt(re * re + im * im), grid))
    return np.concatenate(out, axis=1)


def gabor_features(images: np.ndarray, wavelengths: tuple[float, ...] = (4.0, 5.66, 8.0), orientations: int = 6,
                   grid: int | tuple[int, int] = (8, 8), aspect: float = 0.5, chunk: int = 128) -> np.ndarray:
    """Batch Gabor descriptor: float32 (N, len(wavelengths) * orientations * gy * gx)."""
    images = as_images(images)
    lams, cells = _params(wavelengths, grid, *images.shape[1:])
    bank = gabor_bank(lams, int(orientations), float(aspect))
    return batched(images, chunk, lambda x: _filter_chunk(x, bank, cells))


def reference_gabor(images: np.ndarray, wavelengths: tuple[float, ...] = (4.0, 5.66, 8.0), orientations: int = 6,
                    grid: int | tuple[int, int] = (8, 8), aspect: float = 0.5) -> np.ndarray:
    """Per-image ``cv2.filter2D`` with the same bank and pooling (matches up to float32 rounding)."""
    images = as_images(images)
    lams, cells = _params(wavelengths, grid, *images.shape[1:])
    bank = gabor_bank(lams, int(orientations), float(aspect))
    rows = []
    for img in images:
        x = img.astype(np.float32)
        feats = []
        for even, odd in bank:
            re, im = cv2.filter2D(x, cv2.CV_32F, even), cv2.filter2D(x, cv2.CV_32F, odd)
            feats.append(pool_grid(np.sqrt(re * re + im * im)[None], cells)[0])
        rows.append(np.concatenate(feats))
    return np.stack(rows).astype(np.float32) if rows else np.empty((0, 0), dtype=np.float32)


def gabor_space(t: Any) -> dict[str, Any]:
    """Number of scales from a smallest wavelength (sqrt 2 apart), orientations, pooling grid."""
    scales = t.suggest_int("gabor_scales", 1, 4)
    smallest = t.suggest_float("gabor_min_wavelength", 3.0, 6.0)
    return {
        "features__wavelengths": tuple(round(smallest * math.sqrt(2) ** i, 3) for i in range(scales)),
        "features__orientations": t.suggest_int("features__orientations", 4, 8),
        "features__grid": t.suggest_categorical("features__grid", [4, 6, 8]),
    }


@register_feature("gabor", doc="Gabor magnitudes (3 scales x 6 orientations, 8x8 pooled)", search_space=gabor_space,
                  default_classifiers=("svm",))
class GaborFeatures(ImageFeatures):
    """Gabor filter-bank magnitudes (wavelengths in pixels x orientations), pooled on a grid."""

    def __init__(self, wavelengths: tuple[float, ...] = (4.0, 5.66, 8.0), orientations: int = 6,
                 grid: int | tuple[int, int] = (8, 8), aspect: float = 0.5) -> None:
        self.wavelengths = wavelengths
        self.orientations = orientations
        self.grid = grid
        self.aspect = aspect

    def _extract(self, images: np.ndarray) -> np.ndarray:
        return gabor_features(images, self.wavelengths, self.orientations, self.grid, self.aspect)
