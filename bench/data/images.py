"""Reading image files as uint8 grayscale, robustly and in parallel; resizing and stacking them."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from bench.core.errors import DataError

# How many file names a report line lists before it says "and N more".
_LIST_LIMIT = 5


class CorruptImage(DataError):
    """An image file that exists but cannot be decoded."""


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    # libpng/libjpeg chatter about broken files would bury our own one-line error or report.
    # OpenCV 4 has cv2.setLogLevel, OpenCV 5 moved it to cv2.utils.logging; 0 is SILENT in both.
    api = cv2 if hasattr(cv2, "setLogLevel") else getattr(getattr(cv2, "utils", None), "logging", None)
    if api is None:
        yield
        return
    level = api.getLogLevel()
    api.setLogLevel(0)
    try:
        yield
    finally:
        api.setLogLevel(level)


def read_gray(path: Path) -> np.ndarray:
    """A file as a uint8 (H, W) grayscale array; CorruptImage naming the file when it cannot be decoded."""
    try:
        data = np.fromfile(path, dtype=np.uint8)  # bytes + imdecode also copes with non-ASCII paths
    except OSError as exc:
        raise CorruptImage(f"cannot read image {path} ({exc.strerror or exc}); fix its permissions, or pass "
                           "--skip-corrupt to leave it out") from exc
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if img is None and data.size:
        img = _read_with_pillow(path)
    if img is None or img.size == 0:
        raise CorruptImage(f"image {path} is corrupt or not an image ({data.size} bytes); replace it, or pass "
                           "--skip-corrupt to leave it out")
    return np.ascontiguousarray(img, dtype=np.uint8)


def _read_with_pillow(path: Path) -> np.ndarray | None:
    # Pillow reads a few variants OpenCV refuses (palette GIFs, some TIFF compressions).
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    except Exception:  # noqa: BLE001 - any decoder failure means the file is unusable
        return None


def read_images(paths: Sequence[Path], *, skip_corrupt: bool) -> tuple[list[np.ndarray | None], list[Path]]:
    """Read many files (a small thread pool: decoding releases the GIL); returns images and the skipped files.

    A skipped (corrupt) file has None in its slot; without ``skip_corrupt`` the first corrupt file raises.
    """

    def chunk(part: Sequence[Path]) -> list[np.ndarray | CorruptImage]:
        out: list[np.ndarray | CorruptImage] = []
        for path in part:
            try:
                out.append(read_gray(path))
            except CorruptImage as exc:
                out.append(exc)
        return out

    workers = max(1, min(4, os.cpu_count() or 1))
    # Few large chunks: one future per file costs more than decoding a 48x48 JPEG.
    step = max(64, -(-len(paths) // workers))
    parts = [paths[i:i + step] for i in range(0, len(paths), step)]
    with _quiet_opencv():
        if len(parts) <= 1:
            results = chunk(paths)
        else:
            with ThreadPoolExecutor(len(parts)) as pool:
                results = [img for part in pool.map(chunk, parts) for img in part]
    images: list[np.ndarray | None] = []
    skipped: list[Path] = []
    for path, res in zip(paths, results):
        if isinstance(res, CorruptImage):
            if not skip_corrupt:
                raise res
            skipped.append(path)
            images.append(None)
        else:
            images.append(res)
    return images, skipped


# --------------------------------------------------------------------------- resizing and assembly
def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Square resize; area interpolation when shrinking (no aliasing), linear when enlarging."""
    return resize_to(img, (size, size))


def resize_to(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize to ``shape`` (H, W), as ``resize`` does: area interpolation when shrinking, linear when enlarging."""
    h, w = int(shape[0]), int(shape[1])
    if img.shape == (h, w):
        return img
    interp = cv2.INTER_AREA if h * w < img.shape[0] * img.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def resize_all(images: Sequence[np.ndarray] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Images of any sizes as one uint8 (N, H, W) array of ``shape``; an array already that size is returned as is."""
    h, w = int(shape[0]), int(shape[1])
    if isinstance(images, np.ndarray) and images.ndim == 3 and images.shape[1:] == (h, w):
        return images
    out = np.empty((len(images), h, w), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = resize_to(img, (h, w))
    return out


def stack(images: Sequence[np.ndarray], files: Sequence[Path | str], size: int | None) -> np.ndarray:
    """One (N, H, W) array; images must already share a size unless ``size`` resizes them."""
    if size is not None:
        images = [resize(img, size) for img in images]
    shapes = Counter(img.shape for img in images)
    if len(shapes) > 1:
        common = shapes.most_common(1)[0][0]
        odd = next(i for i, img in enumerate(images) if img.shape != common)
        raise DataError(f"images differ in size ({files[odd]} is {images[odd].shape[1]}x{images[odd].shape[0]}, "
                        f"most are {common[1]}x{common[0]}); pass --size N to resize them all")
    if not images:
        return np.zeros((0, size or 1, size or 1), dtype=np.uint8)
    return np.stack(images).astype(np.uint8, copy=False)


def file_list(paths: Sequence[Path | str], limit: int = _LIST_LIMIT) -> str:
    names = [str(p) for p in paths]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
