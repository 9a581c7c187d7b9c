"""Histograms of oriented gradients, batch-vectorised, with the definition of ``skimage.feature.hog``.

skimage's per-image HOG spends its time in Python (one call per block) and in one pass over the image per
orientation. Here a chunk of images goes through one gradient computation, one weighted ``np.bincount`` for all
cell histograms and one vectorised block normalisation. For uint8 images the gradients are integers in
[-255, 255], so magnitude and orientation bin come from a 511x511 table computed with skimage's own float64
formulas: the bins are exactly skimage's, including its float32 bin edges.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import numpy as np

from baselines.features.base import ImageFeatures, as_images, batched
from baselines.registry import register_feature
from bench.core.errors import ConfigError

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_EPS = 1e-5  # skimage's eps in _hog_normalize_block


def _pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


@cache
def _bin_edges(orientations: int) -> np.ndarray:
    # skimage compares float64 angles with float32 edges (``cdef float``): keep that rounding.
    step = np.float32(180.0 / orientations)
    return np.array([np.float32(step * np.float32(i)) for i in range(orientations + 1)], dtype=np.float64)


def _orientation_bins(g_row: np.ndarray, g_col: np.ndarray, orientations: int) -> np.ndarray:
    """Bin of each gradient; ``orientations`` marks the angles skimage's edges leave out (none for n | 180)."""
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    return np.searchsorted(_bin_edges(orientations), angle, side="right") - 1


@lru_cache(maxsize=8)
def _gradient_table(orientations: int) -> tuple[np.ndarray, np.ndarray]:
    """(magnitude, bin) of every integer gradient (g_row, g_col), flattened at (g_row+255)*511 + g_col+255."""
    g = np.arange(-255, 256, dtype=np.float64)
    g_row, g_col = np.meshgrid(g, g, indexing="ij")
    magnitude = np.hypot(g_col, g_row).ravel()
    bins = _orientation_bins(g_row, g_col, orientations).ravel().astype(np.uint8)
    return magnitude, bins


def _gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences with zero borders, as skimage's ``_hog_channel_gradient`` (batch over axis 0)."""
    g_row = np.zeros_like(img)
    g_col = np.zeros_like(img)
    g_row[:, 1:-1, :] = img[:, 2:, :] - img[:, :-2, :]
    g_col[:, :, 1:-1] = img[:, :, 2:] - img[:, :, :-2]
    return g_row, g_col


def _normalise_blocks(blocks: np.ndarray, method: str) -> np.ndarray:
    """skimage's _hog_normalize_block over the last three axes of (..., b_row, b_col, orientations)."""
    axes = (-3, -2, -1)
    if method == "L1":
        return blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS)
    if method == "L1-sqrt":
        return np.sqrt(blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS))
    out = blocks / np.sqrt((blocks**2).sum(axis=axes, keepdims=True) + _EPS**2)
    if method == "L2-Hys":
        out = np.minimum(out, 0.2)
        out = out / np.sqrt((out**2).sum(axis=axes, keepdims=True) + _EPS**2)
    return out


def _check(images: np.ndarray, orientations: int, cell: tuple[int, int], block: tuple[int, int],
           block_norm: str) -> None:
    if block_norm not in BLOCK_NORMS:
        raise ConfigError(f"HOG block_norm '{block_norm}' is unknown; use one of {', '.join(BLOCK_NORMS)}")
    if not 1 <= orientations <= 255:
        raise ConfigError(f"HOG orientations={orientations} is out of range; use 1..255 (9 is usual)")
    if min(cell) < 1 or min(block) < 1:
        raise ConfigError(f"HOG pixels_per_cell {cell} and cells_per_block {block} must be positive")
    h, w = images.shape[1:]
    if h // cell[0] < block[0] or w // cell[1] < block[1]:
        raise ConfigError(
            f"{h}x{w} images are too small for HOG with {cell[0]}x{cell[1]}-pixel cells and "
            f"{block[0]}x{block[1]}-cell blocks; they need at least {block[0] * cell[0]}x{block[1] * cell[1]} "
            "pixels: use smaller cells or blocks"
        )


def _hog_chunk(images: np.ndarray, orientations: int, cell: tuple[int, int], block: tuple[int, int],
               block_norm: str, transform_sqrt: bool) -> np.ndarray:
    n, h, w = images.shape
    (c_row, c_col), (b_row, b_col) = cell, block
    n_cr, n_cc = h // c_row, w // c_col
    if transform_sqrt:
        g_row, g_col = _gradients(np.sqrt(images.astype(np.float64)))
        crop = (slice(None), slice(0, n_cr * c_row), slice(0, n_cc * c_col))
        g_row, g_col = g_row[crop], g_col[crop]
        magnitude = np.hypot(g_col, g_row)
        bins = _orientation_bins(g_row, g_col, orientations)
    else:
        g_row, g_col = _gradients(images.astype(np.int32))
        crop = (slice(None), slice(0, n_cr * c_row), slice(0, n_cc * c_col))
        index = (g_row[crop] + 255) * 511 + (g_col[crop] + 255)
        mag_table, bin_table = _gradient_table(orientations)
        magnitude, bins = np.take(mag_table, index), np.take(bin_table, index)
    # Pixels of cell (i, j) of image m vote into slot ((m*n_cr + i)*n_cc + j)*(orientations+1) + bin; the
    # extra slot per cell takes the angles skimage's float32 edges leave out, and is dropped.
    slots = orientations + 1
    cell_id = (np.arange(n_cr * c_row) // c_row)[:, None] * n_cc + (np.arange(n_cc * c_col) // c_col)[None, :]
    base = (np.arange(n, dtype=np.int64)[:, None, None] * (n_cr * n_cc) + cell_id) * slots
    sums = np.bincount((base + bins).ravel(), weights=magnitude.ravel(), minlength=n * n_cr * n_cc * slots)
    # skimage accumulates each cell in a C float: round the sums to float32 the same way.
    hist = (sums.astype(np.float32) / np.float32(c_row * c_col)).astype(np.float64)
    hist = hist.reshape(n, n_cr, n_cc, slots)[..., :orientations]
    windows = np.lib.stride_tricks.sliding_window_view(hist, (b_row, b_col), axis=(1, 2))
    blocks = windows.transpose(0, 1, 2, 4, 5, 3)  # (n, blocks_r, blocks_c, b_row, b_col, orientations)
    return _normalise_blocks(blocks, block_norm).reshape(n, -1)


def hog_features(images: np.ndarray, orientations: int = 9, pixels_per_cell: int | tuple[int, int] = (8, 8),
                 cells_per_block: int | tuple[int, int] = (2, 2), block_norm: str = "L2-Hys",
                 transform_sqrt: bool = False, chunk: int = 256) -> np.ndarray:
    """Batch HOG: float32 (N, blocks * cells_per_block * orientations), as ``skimage.feature.hog``."""
    images = as_images(images)
    cell, block = _pair(pixels_per_cell), _pair(cells_per_block)
    _check(images, orientations, cell, block, block_norm)
    return batched(images, chunk,
                   lambda x: _hog_chunk(x, orientations, cell, block, block_norm, transform_sqrt))


def reference_hog(images: np.ndarray, orientations: int = 9, pixels_per_cell: int | tuple[int, int] = (8, 8),
                  cells_per_block: int | tuple[int, int] = (2, 2), block_norm: str = "L2-Hys",
                  transform_sqrt: bool = False) -> np.ndarray:
    """The per-image loop over ``skimage.feature.hog`` that ``hog_features`` must match."""
    from skimage.feature import hog

    images = as_images(images)
    rows = [hog(img, orientations=orientations, pixels_per_cell=_pair(pixels_per_cell),
                cells_per_block=_pair(cells_per_block), block_norm=block_norm, transform_sqrt=transform_sqrt,
                feature_vector=True) for img in images]
    return np.stack(rows).astype(np.float32) if rows else np.empty((0, 0), dtype=np.float32)


def hog_space(t: Any) -> dict[str, Any]:
    """Orientations, cell and block sizes, gamma compression."""
    return {
        "features__orientations": t.suggest_int("features__orientations", 6, 12),
        "features__pixels_per_cell": t.suggest_categorical("features__pixels_per_cell", [4, 6, 8, 12]),
        "features__cells_per_block": t.suggest_int("features__cells_per_block", 1, 3),
        "features__transform_sqrt": t.suggest_categorical("features__transform_sqrt", [False, True]),
    }


@register_feature("hog", doc="HOG (9 orientations, 8x8-pixel cells, 2x2-cell blocks, L2-Hys)", search_space=hog_space,
                  default_classifiers=("svm", "rbf", "knn", "lda", "logreg", "xgb", "nb", "tree"))
class HOGFeatures(ImageFeatures):
    """Histograms of oriented gradients (Dalal & Triggs), as skimage.feature.hog defines them."""

    def __init__(self, orientations: int = 9, pixels_per_cell: int | tuple[int, int] = (8, 8),
                 cells_per_block: int | tuple[int, int] = (2, 2), block_norm: str = "L2-Hys",
                 transform_sqrt: bool = False) -> None:
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt

    def _extract(self, images: np.ndarray) -> np.ndarray:
        return hog_features(images, self.orientations, self.pixels_per_cell, self.cells_per_block,
                            self.block_norm, self.transform_sqrt)
