"""Raw pixels, area-downscaled: the simplest baseline and the input of eigenfaces (PCA)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from baselines.features.base import ImageFeatures, as_images
from baselines.registry import register_feature
from bench.core.errors import ConfigError


def _size(size: int | tuple[int, int] | None, h: int, w: int) -> tuple[int, int]:
    if size is None:
        return h, w
    sh, sw = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if sh < 1 or sw < 1:
        raise ConfigError(f"pixel feature size {size} must be positive (e.g. 24 for 24x24)")
    return int(sh), int(sw)


def pixel_features(images: np.ndarray, size: int | tuple[int, int] | None = (24, 24)) -> np.ndarray:
    """Images resized to ``size`` (rows, cols; None keeps them) with cv2.INTER_AREA, flattened to float32."""
    images = as_images(images)
    n, h, w = images.shape
    sh, sw = _size(size, h, w)
    if (sh, sw) == (h, w):
        return images.reshape(n, -1).astype(np.float32)
    # One cv2 call per image: a 48x48 resize costs microseconds, and cv2's multi-channel INTER_AREA rounds
    # uint8 differently from the single-channel path, so batching it would change the features.
    out = np.empty((n, sh * sw), dtype=np.float32)
    for i, img in enumerate(images):
        out[i] = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA).ravel()
    return out


def pixels_space(t: Any) -> dict[str, Any]:
    """The side the face is downscaled to."""
    return {"features__size": t.suggest_categorical("features__size", [12, 16, 24, 32, 48])}


@register_feature("pixels", doc="raw pixels (24x24, area-downscaled)", search_space=pixels_space,
                  default_classifiers=("svm",))
class PixelFeatures(ImageFeatures):
    """Grey levels of the face downscaled to ``size`` (area interpolation), one feature per pixel."""

    def __init__(self, size: int | tuple[int, int] | None = (24, 24)) -> None:
        self.size = size

    def _extract(self, images: np.ndarray) -> np.ndarray:
        return pixel_features(images, self.size)
