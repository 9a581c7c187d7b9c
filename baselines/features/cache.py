"""A process-wide cache of feature rows, keyed by (feature configuration, image content).

Ten folds of one dataset transform the same images ten times; the cache makes that one extraction. It lives at
module level, not on the transformers, so ``clone()``/``get_params()`` never see it, and it is keyed by content
(a digest per image), not by array identity, so a fold's subset hits the rows its parent computed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


def image_digests(images: np.ndarray) -> list[bytes]:
    """A 16-byte blake2b digest per image (the same digest as ``FERDataset.image_hashes``)."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evicted: int = 0


class FeatureCache:
    """Least-recently-used store of float32 feature rows, bounded by ``max_bytes``.

    ``max_bytes`` defaults to ``$FER_BENCH_FEATURE_CACHE_MB`` (MiB) or 1024 MiB; 0 disables caching.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        if max_bytes is None:
            max_bytes = int(float(os.environ.get("FER_BENCH_FEATURE_CACHE_MB", "1024")) * 2**20)
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._rows: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._bytes = 0
        # Thread-based joblib backends may transform concurrently; the dict surgery must not interleave.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._bytes = 0
            self.stats = CacheStats()

    def features(self, config: str, images: np.ndarray, extract: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Rows of ``extract(images)``, computing only the images this configuration has not seen yet."""
        if self.max_bytes <= 0 or len(images) == 0:
            return extract(images)
        digests = image_digests(images)
        found = self._get_many(config, digests)
        missing: dict[bytes, list[int]] = {}  # digest -> positions; byte-identical images are extracted once
        for i, (d, row) in enumerate(zip(digests, found)):
            if row is None:
                missing.setdefault(d, []).append(i)
        computed: np.ndarray | None = None
        if missing:
            first = [pos[0] for pos in missing.values()]
            computed = np.asarray(extract(images[first]), dtype=np.float32)
            self._put_many(config, list(missing), computed)
        width = computed.shape[1] if computed is not None else found[0].shape[0]  # type: ignore[union-attr]
        out = np.empty((len(images), width), dtype=np.float32)
        for i, row in enumerate(found):
            if row is not None:
                out[i] = row
        if computed is not None:
            for row, positions in zip(computed, missing.values()):
                out[positions] = row
        return out

    # ------------------------------------------------------------------ internals
    def _get_many(self, config: str, digests: Sequence[bytes]) -> list[np.ndarray | None]:
        with self._lock:
            out: list[np.ndarray | None] = []
            for d in digests:
                row = self._rows.get((config, d))
                if row is not None:
                    self._rows.move_to_end((config, d))
                out.append(row)
            hits = sum(r is not None for r in out)
            self.stats.hits += hits
            self.stats.misses += len(out) - hits
            return out

    def _put_many(self, config: str, digests: Sequence[bytes], rows: np.ndarray) -> None:
        if rows.shape[1] * rows.itemsize > self.max_bytes:
            return
        with self._lock:
            for d, row in zip(digests, rows):
                key = (config, d)
                if key in self._rows:
                    continue
                # A copy, so one cached row never pins the whole batch it was computed in.
                self._rows[key] = row.copy()
                self._bytes += row.nbytes
            while self._bytes > self.max_bytes and self._rows:
                _, old = self._rows.popitem(last=False)
                self._bytes -= old.nbytes
                self.stats.evicted += 1


FEATURE_CACHE = FeatureCache()


def clear_feature_cache() -> None:
    """Forget every cached feature row (e.g. between benchmarks that time extraction)."""
    FEATURE_CACHE.clear()
