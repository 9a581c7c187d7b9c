"""What every feature extractor shares: input checks, chunking, the cache, and scikit-learn's contract."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from baselines.features.cache import FEATURE_CACHE
from bench.core.errors import DataError


def as_images(X: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W); flattened square images (N, H*H) are reshaped."""
    X = np.asarray(X)
    if X.ndim == 2 and X.shape[1] > 0:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise DataError(
                f"got flattened images with {X.shape[1]} values each, which is not a square size; "
                "pass images as (N, H, W)"
            )
        X = X.reshape(len(X), side, side)
    if X.ndim != 3:
        raise DataError(f"feature extractors take images (N, H, W), got an array of shape {X.shape}")
    if X.dtype != np.uint8:
        raise DataError(f"feature extractors take uint8 images, got {X.dtype}; convert with .astype(np.uint8)")
    return X


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def batched(images: np.ndarray, size: int, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``fn`` over chunks of ``size`` images, stacked: bounds the memory of per-pixel intermediates."""
    if len(images) == 0:
        return np.empty((0, 0), dtype=np.float32)
    out: np.ndarray | None = None
    for part in chunks(len(images), size):
        rows = fn(images[part])
        if out is None:  # filled in place: concatenating the chunks would copy every feature once more
            out = np.empty((len(images), rows.shape[1]), dtype=np.float32)
        out[part] = rows
    return out  # type: ignore[return-value]


class ImageFeatures(TransformerMixin, BaseEstimator):
    """Base class of the stateless image -> float32 (N, D) extractors.

    Subclasses define ``_extract(images)`` (the batch path). ``transform`` adds input checks and the feature
    cache; ``fit`` learns nothing, so these can sit in any Pipeline, be cloned per fold and be tuned with
    ``set_params``.
    """

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ImageFeatures:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        images = as_images(X)
        return FEATURE_CACHE.features(self._cache_key(images.shape[1:]), images, self._extract)

    def _extract(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _cache_key(self, image_shape: tuple[int, ...]) -> str:
        params = ",".join(f"{k}={v!r}" for k, v in sorted(self.get_params(deep=False).items()))
        return f"{type(self).__module__}.{type(self).__qualname__}({params})@{image_shape}"

    def __sklearn_is_fitted__(self) -> bool:
        return True  # nothing is learned; Pipeline and check_is_fitted should not ask for a fit

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's Tags type
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
