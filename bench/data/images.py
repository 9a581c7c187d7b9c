"""Reading image files as uint8 grayscale, robustly and in parallel; resizing and stacking them."""

from __future__ import annotations

import io
import os
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.core.errors import DataError

# How many file names a report line lists before it says "and N more".
_LIST_LIMIT = 5
# Larger images are refused (or skipped with --skip-corrupt) before they are decoded: a 40000x40000 file would
# need 1.6 GB as grayscale alone. FER images are faces, far smaller than this.
MAX_PIXELS = 100_000_000
# Reading a header costs more than decoding a small JPEG, so only files that could hold MAX_PIXELS are checked
# before decoding: deflate (PNG, TIFF) compresses at most 1032:1, LZW (GIF, TIFF) about 2730:1, JPEG and BMP RLE
# far less, so a file below MAX_PIXELS / 4096 bytes cannot decode to more. The decoded size is checked too.
HEADER_CHECK_BYTES = MAX_PIXELS // 4096
JPEG_MAGIC = b"\xff\xd8\xff"
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
# The largest side an image is resized to or generated at (FER models train on 48..299 px).
MAX_SIDE = 1024


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
    return decode_gray(path)[0]


def decode_gray(path: Path) -> tuple[np.ndarray, str | None]:
    """A file as a uint8 (H, W) grayscale array, and how its pixel values were brought to 0..255 when they
    were not 8-bit (None when they were). CorruptImage, naming the file, when it cannot be used."""
    try:
        data = np.fromfile(path, dtype=np.uint8)  # bytes + imdecode also copes with non-ASCII paths
    except FileNotFoundError as exc:
        raise CorruptImage(f"cannot read image {path}: it is a dangling link or was removed; restore it, or pass "
                           "--skip-corrupt to leave it out") from exc
    except OSError as exc:
        raise CorruptImage(f"cannot read image {path} ({exc.strerror or exc}); fix its permissions, or pass "
                           "--skip-corrupt to leave it out") from exc
    img = None
    if data.size:
        if data.size >= HEADER_CHECK_BYTES:
            _check_dimensions(path, data)
        try:
            # ANYDEPTH keeps 16-bit and float pixels as they are (GRAYSCALE would cut them to 8 bits), and colour
            # is converted here, not by the codec: with GRAYSCALE libpng and libjpeg each make their own gray, so
            # one picture saved as PNG and as JPEG would differ. UNCHANGED keeps alpha apart from the colours;
            # JPEG, which has none, is read with ANYCOLOR so that its EXIF orientation is applied.
            flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if data[:3].tobytes() == JPEG_MAGIC else cv2.IMREAD_UNCHANGED
            img = cv2.imdecode(data, flags)
            if img is not None and img.ndim == 3 and img.shape[2] == 4 and data[:4].tobytes() in TIFF_MAGIC:
                img = None  # OpenCV premultiplies a TIFF's alpha into its colours even here: Pillow reads it
            img = _gray(img, cv2.COLOR_BGR2GRAY)
        except cv2.error:
            img = None  # e.g. OpenCV's own size limit; Pillow below checks the header and names the problem
        if img is None:
            _check_dimensions(path, data)
            img = _read_with_pillow(data)
    if img is None or img.size == 0:
        raise CorruptImage(f"image {path} is corrupt or not an image ({data.size} bytes); replace it, or pass "
                           "--skip-corrupt to leave it out")
    if img.size > MAX_PIXELS:
        raise CorruptImage(f"image {path} is {img.shape[1]}x{img.shape[0]} pixels, more than the "
                           f"{MAX_PIXELS // 10**6} megapixels an image may have here; shrink it, or pass "
                           "--skip-corrupt to leave it out")
    return to_uint8(img, path)


def _check_dimensions(path: Path, data: np.ndarray) -> None:
    """Refuse an image whose header announces more than MAX_PIXELS, before anything is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data.tobytes())) as im:  # reads the header only
                width, height = im.size
        size = f"{width}x{height} pixels"
    except Image.DecompressionBombError as exc:
        # Pillow's own limit lies above ours; its message holds the pixel count, not the sides.
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(pixels.group(1)) // 10**6} megapixels" if pixels else "far larger than that"
        width, height = MAX_PIXELS, 2
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return  # a format Pillow does not know: OpenCV decodes it, within its own limits
    if width * height > MAX_PIXELS:
        raise CorruptImage(f"image {path} is {size}, more than the {MAX_PIXELS // 10**6} megapixels an image may "
                           "have here; shrink it, or pass --skip-corrupt to leave it out")


def _read_with_pillow(data: np.ndarray) -> np.ndarray | None:
    # Pillow reads a few variants OpenCV refuses (palette GIFs, some TIFF compressions).
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            if im.mode in ("I", "F", "L") or im.mode.startswith("I;16"):
                return np.asarray(im)  # 16/32-bit or float: scaled by to_uint8, never clipped by convert("L")
            if im.mode in ("1", "LA", "La"):
                return np.asarray(im.convert("L"))
            # Colour (palette, RGBA, CMYK...) through RGB and the same formula as OpenCV's decoding above.
            return _gray(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2GRAY)
    except Exception:  # noqa: BLE001 - any decoder failure means the file is unusable
        return None


def _gray(img: np.ndarray | None, code: int) -> np.ndarray | None:
    """One grayscale for every decoder: OpenCV's luma (0.299 R + 0.587 G + 0.114 B) of a colour image, its
    alpha channel dropped (never blended); gray images pass as they are."""
    if img is None or img.ndim == 2:
        return img
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return cv2.cvtColor(np.ascontiguousarray(img), code)


def to_uint8(img: np.ndarray, path: Path | str) -> tuple[np.ndarray, str | None]:
    """Pixel values in 0..255 by the image's own depth: integers deeper than 8 bits by the bits their values
    use (12-bit values in a 16-bit file span 0..4095), floats from 0..1 or 0..255. Returns the image and a
    note for the import report (None for 8-bit images); values it cannot place are a CorruptImage."""
    if img.dtype == np.uint8:
        return np.ascontiguousarray(img), None
    if img.dtype.kind in "iub":
        low, high = int(img.min()), int(img.max())
        if low < 0:
            raise CorruptImage(f"image {path} holds negative pixel values ({low}..{high}); convert it to an "
                               "unsigned image, or pass --skip-corrupt to leave it out")
        bits = max(8, high.bit_length())
        scaled = np.rint(img.astype(np.float64) * (255 / (2**bits - 1))).astype(np.uint8)
        container = 8 * img.dtype.itemsize
        return scaled, f"{container}-bit images with {bits}-bit values (0..{2**bits - 1}) scaled to 0..255"
    if img.dtype.kind == "f":
        finite = np.isfinite(img)
        low, high = (float(img[finite].min()), float(img[finite].max())) if finite.any() else (0.0, np.inf)
        if not finite.all() or low < 0 or high > 255:
            raise CorruptImage(f"image {path} holds float pixel values outside 0..1 and 0..255 ({low:g}..{high:g}"
                               f"{', or NaN/inf' if not finite.all() else ''}); convert it to an 8-bit image, or "
                               "pass --skip-corrupt to leave it out")
        if high <= 1:
            return np.rint(img * 255).astype(np.uint8), "float images with values in 0..1 scaled to 0..255"
        return np.rint(img).astype(np.uint8), "float images with values in 0..255 rounded"
    raise CorruptImage(f"image {path} has pixels of type {img.dtype}; convert it to an 8-bit image, or pass "
                       "--skip-corrupt to leave it out")


@dataclass
class Decoded:
    """What ``read_images`` read: ``prepare``'s result per file (None where skipped), the skipped files, the
    native (H, W) sizes of the images read and how many images were rescaled to 0..255 in which way."""

    images: list[Any]
    skipped: list[Path]
    shapes: Counter
    depths: Counter


def read_images(paths: Sequence[Path], *, skip_corrupt: bool,
                prepare: Callable[[np.ndarray], Any] | None = None) -> Decoded:
    """Read many files (a small thread pool: decoding releases the GIL), each handed to ``prepare`` (e.g. a
    resize) as soon as it is decoded, so that only prepared images are held, never all at native size.

    A skipped (corrupt) file has None in its slot; without ``skip_corrupt`` the first corrupt file raises.
    """

    def chunk(part: Sequence[Path]) -> list[tuple[Any, tuple[int, ...], str | None] | CorruptImage]:
        out: list[tuple[Any, tuple[int, ...], str | None] | CorruptImage] = []
        for path in part:
            try:
                img, depth = decode_gray(path)
            except CorruptImage as exc:
                out.append(exc)
                continue
            out.append((prepare(img) if prepare is not None else img, img.shape, depth))
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
    decoded = Decoded([], [], Counter(), Counter())
    for path, res in zip(paths, results):
        if isinstance(res, CorruptImage):
            if not skip_corrupt:
                raise res
            decoded.skipped.append(path)
            decoded.images.append(None)
            continue
        image, shape, depth = res
        decoded.images.append(image)
        decoded.shapes[shape] += 1
        if depth:
            decoded.depths[depth] += 1
    return decoded


def depth_line(depths: Counter) -> str | None:
    """Report line on images that were not 8-bit and how their values were brought to 0..255."""
    if not depths:
        return None
    return "; ".join(f"{n} {note}" for note, n in sorted(depths.items()))


def check_memory(n_images: int, side: int, what: str, fix: str) -> None:
    """Refuse to allocate ``n_images`` uint8 images of ``side`` x ``side`` when they alone would take more
    than half of this machine's memory: the run copies them again (folds, features), and the kernel would
    kill the process long after it started instead of this one line now."""
    need = n_images * side * side
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return  # a system that cannot say: let the allocation decide
    if need > total // 2:
        raise DataError(f"{what}: {n_images} images of {side}x{side} need {need / 2**30:.1f} GiB, more than half "
                        f"of this machine's {total / 2**30:.1f} GiB; {fix}")


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
