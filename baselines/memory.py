"""How much memory fitting a classical pipeline takes, estimated before it starts.

A unit checks this against the memory available before it extracts a single feature, so a pipeline that cannot
fit fails at once with one line instead of after minutes of work (or in the kernel's out-of-memory killer).
The estimate adds, on top of the images already loaded:

- features: float32 (n, D), D read off the extractor on one blank image of the dataset's size, plus the rows
  the feature cache keeps (up to its bound) and the extractors' per-chunk working memory;
- scale: StandardScaler's float32 copy;
- pca and the classifier: each registered classifier's ``memory`` rule (``baselines.registry``), for the
  backend its step was built for; PCA's rule in ``baselines.classifiers.pca``.

The parts are not all alive at once: the peak is the largest of extraction, scaling and the classifier's fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from baselines.backends import built_backend
from baselines.classifiers.pca import pca_memory
from baselines.features.base import ImageFeatures, as_images
from baselines.features.cache import FEATURE_CACHE
from baselines.registry import CLASSIFIERS

FEATURE_WORKING_MEMORY = 2**28  # per-chunk intermediates of batch extraction (Gabor responses are the largest)


@dataclass
class MemoryEstimate:
    """Bytes per part of a pipeline's fit, and the peak they add up to."""

    peak: int
    parts: dict[str, int] = field(default_factory=dict)
    n_features: int = 0

    def largest(self) -> str:
        return max(self.parts, key=self.parts.get) if self.parts else ""  # type: ignore[arg-type]


def feature_dims(features: ImageFeatures, image_shape: tuple[int, ...]) -> int:
    """The extractor's output width for images of ``image_shape`` (run on one blank image, past the cache)."""
    blank = as_images(np.zeros((1, *image_shape), dtype=np.uint8))
    return int(features._extract(blank).shape[1])


def pipeline_memory(steps: list[tuple[str, Any]], n_samples: int, image_shape: tuple[int, ...],
                    n_classes: int) -> MemoryEstimate:
    """The memory a features -> scale -> (pca) -> classifier pipeline takes to fit ``n_samples`` images."""
    steps = dict(steps)
    n, d = int(n_samples), feature_dims(steps["features"], image_shape)
    feats = 4 * n * d
    parts = {"features": feats, "feature cache": min(feats, max(FEATURE_CACHE.max_bytes, 0)),
             "extraction": FEATURE_WORKING_MEMORY, "scale": feats}
    width = d
    if "pca" in steps:
        width = max(1, min(int(steps["pca"].n_components), n, d))
        parts["pca"] = pca_memory(n, d, width)
    name = next(s for s in steps if s not in ("features", "scale", "pca"))
    rule = CLASSIFIERS.get(name).memory if name in CLASSIFIERS.names() else None
    backend = built_backend(steps[name])
    parts[name] = int(rule(n, width, n_classes, backend)) if rule else 8 * n * width
    fit = feats + parts.get("pca", 0) + parts[name]
    peak = parts["feature cache"] + max(feats + FEATURE_WORKING_MEMORY, 2 * feats, fit)
    return MemoryEstimate(int(peak), parts, d)



