"""2-D discrete wavelet transform features (PyWavelets), computed over a whole chunk of images per call.

``mode="coefficients"`` concatenates sub-band coefficients: ``bands="approx"`` keeps the approximation of the
last level (the usual "LL sub-band" face descriptor), ``"last"`` adds that level's three detail bands and
``"all"`` every detail band of every level. ``mode="energies"`` summarises each selected sub-band by its energy
(mean square), mean absolute value and standard deviation: a few dozen numbers per image.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pywt

from baselines.features.base import ImageFeatures, as_images, batched
from baselines.registry import register_feature
from bench.core.errors import ConfigError

MODES = ("coefficients", "energies")
BANDS = ("approx", "last", "all")


def _check(wavelet: str, level: int, mode: str, bands: str, extension: str) -> None:
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ConfigError(f"wavelet '{wavelet}' is not a discrete PyWavelets wavelet; try haar, db2, sym4, coif1")
    if int(level) < 1:
        raise ConfigError(f"DWT level={level} must be at least 1")
    if mode not in MODES:
        raise ConfigError(f"DWT mode '{mode}' is unknown; use one of {', '.join(MODES)}")
    if bands not in BANDS:
        raise ConfigError(f"DWT bands '{bands}' is unknown; use one of {', '.join(BANDS)}")
    if extension not in pywt.Modes.modes:
        raise ConfigError(f"DWT extension '{extension}' is unknown; use one of {', '.join(pywt.Modes.modes)}")


def _selected(coeffs: list, bands: str) -> list[np.ndarray]:
    """Sub-bands of ``wavedec2`` output (approximation first), batch axis first."""
    out = [coeffs[0]]
    if bands == "last":
        out += list(coeffs[1])
    elif bands == "all":
        out += [band for level in coeffs[1:] for band in level]
    return out


def _describe(coeffs: list, mode: str, bands: str) -> np.ndarray:
    parts = _selected(coeffs, bands)
    n = len(parts[0])
    if mode == "coefficients":
        return np.concatenate([p.reshape(n, -1) for p in parts], axis=1)
    stats = []
    for p in parts:
        flat = p.reshape(n, -1)
        stats += [np.mean(flat**2, axis=1), np.mean(np.abs(flat), axis=1), np.std(flat, axis=1)]
    return np.stack(stats, axis=1)


def _wavedec2(x: np.ndarray, wavelet: str, level: int, extension: str) -> list:
    with warnings.catch_warnings():
        # Deep levels on small faces are a legitimate choice; pywt's boundary-effect warning is noise here.
        warnings.filterwarnings("ignore", message="Level value of", category=UserWarning)
        return pywt.wavedec2(x, wavelet, mode=extension, level=level, axes=(-2, -1))


def dwt_features(images: np.ndarray, wavelet: str = "haar", level: int = 2, mode: str = "coefficients",
                 bands: str = "last", extension: str = "symmetric", chunk: int = 64) -> np.ndarray:
    """Batch DWT descriptor: one ``pywt.wavedec2`` per chunk of images (float64 inside, float32 out)."""
    _check(wavelet, level, mode, bands, extension)
    images = as_images(images)
    # Small chunks keep pywt's float64 intermediates in cache; that is what makes the batch call pay off.
    return batched(images, chunk, lambda x: _describe(
        _wavedec2(x.astype(np.float64), wavelet, int(level), extension), mode, bands))


def reference_dwt(images: np.ndarray, wavelet: str = "haar", level: int = 2, mode: str = "coefficients",
                  bands: str = "last", extension: str = "symmetric") -> np.ndarray:
    """The per-image loop over ``pywt.wavedec2`` that ``dwt_features`` must equal."""
    images = as_images(images)
    rows = []
    for img in images:
        coeffs = _wavedec2(img, wavelet, int(level), extension)
        rows.append(_describe([c[None] if isinstance(c, np.ndarray) else tuple(b[None] for b in c)
                               for c in coeffs], mode, bands)[0])
    return np.stack(rows).astype(np.float32) if rows else np.empty((0, 0), dtype=np.float32)


def dwt_space(t: Any) -> dict[str, Any]:
    """Wavelet, depth, coefficients or sub-band energies, and which bands."""
    return {
        "features__wavelet": t.suggest_categorical("features__wavelet", ["haar", "db2", "db4", "sym4", "coif1"]),
        "features__level": t.suggest_int("features__level", 1, 3),
        "features__mode": t.suggest_categorical("features__mode", ["coefficients", "energies"]),
        "features__bands": t.suggest_categorical("features__bands", ["approx", "last", "all"]),
    }


@register_feature("dwt", doc="Haar DWT level 2 (last-level approximation and details)", search_space=dwt_space,
                  default_classifiers=("svm", "rbf", "knn", "lda", "logreg"))
class DWTFeatures(ImageFeatures):
    """2-D wavelet decomposition: sub-band coefficients or per-band energy statistics."""

    def __init__(self, wavelet: str = "haar", level: int = 2, mode: str = "coefficients", bands: str = "last",
                 extension: str = "symmetric") -> None:
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.bands = bands
        self.extension = extension

    def _extract(self, images: np.ndarray) -> np.ndarray:
        return dwt_features(images, self.wavelet, self.level, self.mode, self.bands, self.extension)
