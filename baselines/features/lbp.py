"""Local binary patterns: uniform-pattern histograms over a grid of cells (Shan et al. 2009 style).

The batch path gives exactly ``skimage.feature.local_binary_pattern`` codes, ~5-8x faster than calling it per
image. Each non-integer sample point of the circle is a bilinear interpolation, i.e. a linear filter; the
difference "neighbour - centre" is computed for a whole chunk of images at once with ``cv2.filter2D`` in
float32. Its sign is skimage's bit except where the difference is ~0 (flat regions, where the float64 rounding
of skimage's interpolation decides); those few pixels are recomputed with skimage's exact float64 arithmetic.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import cv2
import numpy as np

from baselines.features.base import ImageFeatures, as_images, batched
from baselines.registry import register_feature
from bench.core.errors import ConfigError

METHODS = ("uniform", "nri_uniform", "default")
# A float32 "neighbour - centre" is off by at most ~1e-4 (values up to 255), so outside +-1e-2 its sign is
# certainly skimage's. Inside are the exact ties of flat regions (whose float64 rounding decides the bit) and
# rare near-cancellations; both are recomputed in float64 exactly as skimage does.
_TIE_TOLERANCE = 1e-2


def _check(P: int, R: float, method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"LBP method '{method}' is unknown; use one of {', '.join(METHODS)}")
    if not 1 <= int(P) <= 16:
        raise ConfigError(f"LBP P={P} is out of range; use 1 <= P <= 16 (8 is the classic setting)")
    if not R > 0:
        raise ConfigError(f"LBP radius R={R} must be positive (1 or 2 are the classic settings)")


def n_bins(P: int, method: str) -> int:
    """Histogram bins of one cell: P+2 (uniform), P(P-1)+3 (nri_uniform: 59 for P=8) or 2^P (default)."""
    return {"uniform": P + 2, "nri_uniform": P * (P - 1) + 3, "default": 2**P}[method]


@cache
def pattern_table(P: int, method: str) -> np.ndarray:
    """Raw P-bit code (bit i = neighbour i >= centre) -> pattern id, as skimage numbers them."""
    codes = np.arange(2**P, dtype=np.int64)
    if method == "default":
        return codes.astype(np.uint16 if P > 8 else np.uint8)
    bits = (codes[:, None] >> np.arange(P)) & 1
    # skimage skips the wrap-around pair; circular transitions are even, so "<= 2" means the same either way.
    changes = np.count_nonzero(bits[:, :-1] != bits[:, 1:], axis=1)
    ones = bits.sum(axis=1)
    uniform = changes <= 2
    if method == "uniform":
        table = np.where(uniform, ones, P + 1)
    else:  # nri_uniform: 1 + (ones-1)*P + rotation for each uniform pattern with 0 < ones < P
        first_one = np.argmax(bits == 1, axis=1)
        first_zero = np.argmax(bits == 0, axis=1)
        rot = np.where(first_one == 0, ones - first_zero, P - first_one)
        table = np.where(ones == 0, 0, np.where(ones == P, P * (P - 1) + 1, 1 + (ones - 1) * P + rot))
        table = np.where(uniform, table, P * (P - 1) + 2)
    return table.astype(np.uint8 if n_bins(P, method) <= 256 else np.uint16)


def _sample_points(P: int, R: float) -> tuple[np.ndarray, np.ndarray]:
    # skimage's circle, rounded the same way, so floor/ceil pick the same pixels.
    angles = 2 * np.pi * np.arange(P, dtype=np.float64) / P
    return np.round(-R * np.sin(angles), 5), np.round(R * np.cos(angles), 5)


def _exact_texture(padded: np.ndarray, i: np.ndarray, r: np.ndarray, c: np.ndarray, rp: float, cp: float,
                   pad: int) -> np.ndarray:
    """skimage's bilinear_interpolation (mode 'C', cval 0) in its exact float64 operation order."""
    rf = r.astype(np.float64) + rp
    cf = c.astype(np.float64) + cp
    minr, maxr = np.floor(rf), np.ceil(rf)
    minc, maxc = np.floor(cf), np.ceil(cf)
    dr, dc = rf - minr, cf - minc

    def px(rr: np.ndarray, cc: np.ndarray) -> np.ndarray:  # the zero padding plays skimage's cval=0
        return padded[i, rr.astype(np.intp) + pad, cc.astype(np.intp) + pad].astype(np.float64)

    top = (1 - dc) * px(minr, minc) + dc * px(minr, maxc)
    bottom = (1 - dc) * px(maxr, minc) + dc * px(maxr, maxc)
    return (1 - dr) * top + dr * bottom


def _interpolation_kernel(rp: float, cp: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The smallest kernel (and its anchor) whose correlation gives "interpolated neighbour - centre"."""
    fr, fc, cr, cc = int(np.floor(rp)), int(np.floor(cp)), int(np.ceil(rp)), int(np.ceil(cp))
    dr, dc = rp - fr, cp - fc
    r0, c0 = min(fr, 0), min(fc, 0)
    kernel = np.zeros((max(cr, 0) - r0 + 1, max(cc, 0) - c0 + 1), dtype=np.float64)
    kernel[fr - r0, fc - c0] += (1 - dr) * (1 - dc)
    kernel[fr - r0, cc - c0] += (1 - dr) * dc
    kernel[cr - r0, fc - c0] += dr * (1 - dc)
    kernel[cr - r0, cc - c0] += dr * dc
    kernel[-r0, -c0] -= 1.0
    return kernel.astype(np.float32), (-c0, -r0)  # cv2 anchors are (x, y)


def _mask_positions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the non-zero bytes of a C-contiguous uint8 mask.

    np.nonzero on a uint8 chunk costs more than the filtering itself; scanning it as 8-byte words first and
    looking inside only the few non-zero words is ~10x faster.
    """
    flat = mask.reshape(-1)
    n8 = flat.size // 8 * 8
    words = np.flatnonzero(flat[:n8].view(np.uint64))
    candidates = (words[:, None] * 8 + np.arange(8)).ravel()
    index = np.concatenate([candidates[flat[candidates] != 0], n8 + np.flatnonzero(flat[n8:])])
    return np.divmod(index, mask.shape[1])


@lru_cache(maxsize=8)
def _padding_rows(n: int, h: int, pad: int) -> np.ndarray:
    """Rows of the tall view (tall rows pad .. n*(h+2*pad)-pad) that lie in the padding between images."""
    t = np.arange(pad, n * (h + 2 * pad) - pad) % (h + 2 * pad)
    return np.flatnonzero((t < pad) | (t >= pad + h))


def _codes(images: np.ndarray, P: int, R: float) -> tuple[np.ndarray, int]:
    """Raw P-bit codes on the "tall" layout: (n*(h+2*pad), w), valid rows pad..pad+h of each h+2*pad block.

    All images are zero-padded (skimage's mode='C', cval=0) and stacked into one 2-D image, so every step is a
    single cv2/numpy call on a 2-D array for the whole chunk: a neighbour is a shifted view, an interpolated
    neighbour is one filter2D, and no image bleeds into the next because the padding is at least the radius.
    The few rows inside the padding get codes too; they are never read.
    """
    n, h, w = images.shape
    rps, cps = _sample_points(P, R)
    pad = int(np.ceil(max(np.abs(rps).max(), np.abs(cps).max())))
    H, W = h + 2 * pad, w + 2 * pad
    padded = np.zeros((n, H, W), dtype=np.uint8)
    padded[:, pad:pad + h, pad:pad + w] = images
    tall = padded.reshape(n * H, W)
    rows, cols = slice(pad, n * H - pad), slice(pad, pad + w)
    centre = tall[rows, cols]
    codes = np.zeros((n * H, w), dtype=np.uint16 if P > 8 else np.uint8)
    inner = codes[rows]
    shifted = np.empty_like(inner)
    tall32: np.ndarray | None = None
    for k, (rp, cp) in enumerate(zip(rps, cps)):
        if rp == np.floor(rp) and cp == np.floor(cp):
            # Integer offset: skimage's interpolation returns the pixel itself, exactly.
            dr, dc = int(rp), int(cp)
            bit = tall[pad + dr:n * H - pad + dr, pad + dc:pad + dc + w] >= centre
        else:
            if tall32 is None:
                tall32 = tall.astype(np.float32)
            kernel, anchor = _interpolation_kernel(float(rp), float(cp))
            diff = cv2.filter2D(tall32, cv2.CV_32F, kernel, anchor=anchor, borderType=cv2.BORDER_CONSTANT)
            diff = diff[rows, cols]
            diff[_padding_rows(n, h, pad)] = 1.0  # rows between images are all ties; keep them out of the check
            bit = diff >= 0
            near = cv2.inRange(diff, -_TIE_TOLERANCE, _TIE_TOLERANCE)
            if cv2.countNonZero(near):
                tr, cc = _mask_positions(near)
                ii, rr = np.divmod(tr + pad, H)  # row tr of the view is row tr + pad of the tall image
                rr -= pad
                tex = _exact_texture(padded, ii, rr, cc, float(rp), float(cp), pad)
                bit[tr, cc] = (tex - images[ii, rr, cc].astype(np.float64)) >= 0
        np.left_shift(bit.view(np.uint8), k, out=shifted, dtype=shifted.dtype, casting="unsafe")
        np.bitwise_or(inner, shifted, out=inner)
    return codes, pad


def lbp_image(images: np.ndarray, P: int = 8, R: float = 2.0, method: str = "nri_uniform") -> np.ndarray:
    """Pattern ids (N, H, W), equal to ``local_binary_pattern(image, P, R, method)`` of each image."""
    _check(P, R, method)
    P, R = int(P), float(R)
    images = as_images(images)
    n, h, w = images.shape
    codes, pad = _codes(images, P, R)
    table = pattern_table(P, method)
    if codes.dtype == np.uint8 and table.dtype == np.uint8:
        full = np.zeros(256, dtype=np.uint8)  # cv2.LUT wants exactly 256 entries; codes stay below 2^P
        full[:len(table)] = table
        patterns = cv2.LUT(codes, full)  # several times faster than np.take for a 256-entry table
    else:
        patterns = np.take(table, codes)
    return patterns.reshape(n, h + 2 * pad, w)[:, pad:pad + h]


def _cell_index(h: int, w: int, grid: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Cell id of each pixel for a gy x gx grid of near-equal cells, and the pixel count of each cell."""
    gy, gx = grid
    rows = (np.arange(h) * gy) // h
    cols = (np.arange(w) * gx) // w
    cell = rows[:, None] * gx + cols[None, :]
    return cell, np.bincount(cell.ravel(), minlength=gy * gx)


@lru_cache(maxsize=4)
def _bin_base(n: int, h: int, w: int, gy: int, gx: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """One bincount serves a whole chunk: pixel of image i in cell c with pattern b counts at base + b, where
    base = (i*cells + c)*bins. Cached: every chunk but the last has the same shape."""
    cell, sizes = _cell_index(h, w, (gy, gx))
    base = (np.arange(n, dtype=np.int64)[:, None, None] * (gy * gx) + cell) * bins
    base.setflags(write=False)
    return base, sizes


def _grid(grid: int | tuple[int, int] | list[int], h: int, w: int) -> tuple[int, int]:
    gy, gx = (grid, grid) if isinstance(grid, (int, np.integer)) else tuple(grid)
    if not (1 <= gy <= h and 1 <= gx <= w):
        raise ConfigError(f"LBP grid {gy}x{gx} does not fit {h}x{w} images; use a grid of at most {h}x{w} cells")
    return int(gy), int(gx)


def grid_histograms(patterns: np.ndarray, bins: int, grid: int | tuple[int, int]) -> np.ndarray:
    """Per-cell pattern frequencies (each cell's histogram sums to 1), cells row-major: (N, cells*bins)."""
    n, h, w = patterns.shape
    gy, gx = _grid(grid, h, w)
    base, sizes = _bin_base(n, h, w, gy, gx, bins)
    counts = np.bincount((base + patterns).ravel(), minlength=n * gy * gx * bins)
    hist = counts.reshape(n, gy * gx, bins) / sizes[None, :, None]
    return hist.reshape(n, -1).astype(np.float32)


def lbp_features(images: np.ndarray, P: int = 8, R: float = 2.0, method: str = "nri_uniform",
                 grid: int | tuple[int, int] = (6, 6), chunk: int = 128) -> np.ndarray:
    """Batch LBP descriptor: float32 (N, gy*gx*n_bins(P, method))."""
    _check(P, R, method)
    P, R = int(P), float(R)
    images = as_images(images)
    _grid(grid, *images.shape[1:])
    bins = n_bins(P, method)
    return batched(images, chunk, lambda x: grid_histograms(lbp_image(x, P, R, method), bins, grid))


def reference_lbp(images: np.ndarray, P: int = 8, R: float = 2.0, method: str = "nri_uniform",
                  grid: int | tuple[int, int] = (6, 6)) -> np.ndarray:
    """The per-image loop over ``skimage.feature.local_binary_pattern`` that ``lbp_features`` must equal."""
    from skimage.feature import local_binary_pattern

    images = as_images(images)
    bins = n_bins(P, method)
    rows = [grid_histograms(local_binary_pattern(img, P, R, method).astype(np.int64)[None], bins, grid)[0]
            for img in images]
    return np.stack(rows) if rows else np.empty((0, 0), dtype=np.float32)


def lbp_space(t: Any) -> dict[str, Any]:
    """Neighbours, radius, pattern family and grid, for 48x48 to 96x96 faces."""
    return {
        "features__P": t.suggest_categorical("features__P", [8, 12]),
        "features__R": t.suggest_categorical("features__R", [1.0, 1.5, 2.0]),
        "features__method": t.suggest_categorical("features__method", ["uniform", "nri_uniform"]),
        "features__grid": t.suggest_int("features__grid", 4, 8),
    }


@register_feature("lbp", doc="LBP uniform-pattern histograms (P=8, R=2, 59 bins, 6x6 grid)", search_space=lbp_space,
                  default_classifiers=("svm", "rbf", "knn", "lda", "logreg"))
class LBPFeatures(ImageFeatures):
    """Uniform LBP histograms over a grid of cells (P neighbours at radius R)."""

    def __init__(self, P: int = 8, R: float = 2.0, method: str = "nri_uniform",
                 grid: int | tuple[int, int] = (6, 6)) -> None:
        self.P = P
        self.R = R
        self.method = method
        self.grid = grid

    def _extract(self, images: np.ndarray) -> np.ndarray:
        return lbp_features(images, self.P, self.R, self.method, self.grid)
