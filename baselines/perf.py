"""Batch feature extraction against the per-image skimage / PyWavelets loop it replaces: speed and agreement.

``bench perf features`` prints these rows. Both paths run in this process on the same images and parameters;
the batch path is called directly, so the feature cache plays no part in the timing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from baselines.features import (
    dwt_features,
    gabor_features,
    hog_features,
    lbp_features,
    reference_dwt,
    reference_gabor,
    reference_hog,
    reference_lbp,
)
from baselines.features.base import as_images
from bench.core.errors import ConfigError

# name -> (batch path, per-image reference, speed-up the batch path is expected to reach on 2 cores)
FEATURE_PATHS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray], float]] = {
    "lbp": (lbp_features, reference_lbp, 3.0),
    "hog": (hog_features, reference_hog, 1.5),
    "dwt": (dwt_features, reference_dwt, 1.0),
    "gabor": (gabor_features, reference_gabor, 1.0),
}


def _seconds(fn: Callable[..., np.ndarray], images: np.ndarray, params: dict[str, Any]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn(images, **params)
    return time.perf_counter() - start, out


def feature_benchmark(images: np.ndarray, which: Sequence[str] = ("lbp", "hog", "dwt"), *,
                      params: dict[str, dict[str, Any]] | None = None, reference_images: int | None = None,
                      repeats: int = 1, log: Any = None) -> list[dict[str, Any]]:
    """Time the batch path and the per-image reference of each feature on ``images``.

    ``params`` maps a feature name to keyword arguments used by both paths (defaults otherwise).
    ``reference_images`` runs the (slow) reference on only the first k images; its images/s is then measured on
    those, and ``max_abs_diff`` compares the two paths on them. ``repeats`` keeps the best of several timings,
    which steadies the numbers on a shared machine.

    Each row: feature, images, dims, batch_images_per_s, reference_images_per_s, reference_images, speedup
    (batch / reference throughput), target, meets_target, max_abs_diff.
    """
    log = sys.stderr if log is None else log  # what is being timed is said there as it starts
    images = as_images(images)
    if len(images) == 0:
        raise ConfigError("feature_benchmark needs at least one image")
    unknown = [w for w in which if w not in FEATURE_PATHS]
    if unknown:
        raise ConfigError(f"unknown feature(s) {', '.join(unknown)}; choose from {', '.join(FEATURE_PATHS)}")
    k = len(images) if reference_images is None else max(1, min(int(reference_images), len(images)))
    rows = []
    for name in which:
        batch, reference, target = FEATURE_PATHS[name]
        print(f"features {name}: batch path on {len(images):,} images, per-image reference on {k:,}"
              f"{f', best of {repeats}' if repeats > 1 else ''}", file=log, flush=True)
        kwargs = dict((params or {}).get(name, {}))
        batch(images[:8], **kwargs)  # warm-up: lookup tables, imports, first-call allocations
        reference(images[:2], **kwargs)
        t_batch = t_ref = float("inf")
        for _ in range(max(1, repeats)):  # interleaved, so a burst of load elsewhere hits both paths alike
            seconds, fast = _seconds(batch, images, kwargs)
            t_batch = min(t_batch, seconds)
            seconds, ref = _seconds(reference, images[:k], kwargs)
            t_ref = min(t_ref, seconds)
        batch_rate, ref_rate = len(images) / t_batch, k / t_ref
        rows.append({
            "feature": name,
            "images": len(images),
            "dims": int(fast.shape[1]),
            "batch_images_per_s": batch_rate,
            "reference_images_per_s": ref_rate,
            "reference_images": k,
            "speedup": batch_rate / ref_rate,
            "target": target,
            "meets_target": batch_rate / ref_rate >= target,
            "max_abs_diff": float(np.abs(fast[:k].astype(np.float64) - ref.astype(np.float64)).max()),
        })
    return rows
