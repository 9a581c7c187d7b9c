"""Optional face cropping for importers: find the frontal face, crop it with a margin, resize.

OpenCV's bundled Haar cascade (``haarcascade_frontalface_default.xml``) is used when the installed OpenCV has
one. OpenCV 5 dropped ``CascadeClassifier`` and its data files; there the LBP frontal-face cascade that
scikit-image ships (an OpenCV-trained cascade) is used instead. The report names the detector, because crops
from the two differ slightly and results should say which one produced them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from bench.core.errors import ConfigError
from bench.data.images import file_list, resize

HAAR_FILE = "haarcascade_frontalface_default.xml"
# Detection runs on a copy whose longer side is at most this: faces in FER datasets fill a good part of the
# frame, and full-resolution search (640x490 CK+, 562x762 KDEF) costs several times more for the same boxes.
DETECT_SIDE = 320
# Share of the box added on each side (--face-margin): the Haar box is tight around brows and mouth; 0.1 keeps
# forehead to chin on head-and-shoulders photos (JAFFE, the Taiwanese database) and little of the hair and
# background, which at 0.2-0.3 already take a fifth of the crop.
MARGIN = 0.1
# The thumbnail grid of crops saved beside an imported dataset: an evenly spaced sample in file order.
GRID_COLUMNS, GRID_ROWS = 8, 6

Box = tuple[int, int, int, int]  # x, y, w, h


@dataclass(frozen=True)
class Detector:
    """``detect(gray)`` gives candidate boxes with a score; the best-scoring one is taken as the face."""

    name: str
    detect: Callable[[np.ndarray], list[tuple[Box, float]]]


@lru_cache(maxsize=1)
def detector() -> Detector:
    """The face detector available in this installation (cached: loading a cascade takes a while)."""
    haar = Path(getattr(getattr(cv2, "data", None), "haarcascades", "")) / HAAR_FILE
    if hasattr(cv2, "CascadeClassifier") and haar.is_file():
        cascade = cv2.CascadeClassifier(str(haar))
        if not cascade.empty():
            return Detector(f"OpenCV {cv2.__version__} Haar cascade {HAAR_FILE}", _haar(cascade))
    try:
        from skimage import data
        from skimage.feature import Cascade
    except ImportError as exc:  # pragma: no cover - scikit-image is a dependency
        raise ConfigError("--crop-faces needs OpenCV with Haar cascades (opencv-python-headless<5) or "
                          "scikit-image; install one of them") from exc
    lbp = Cascade(data.lbp_frontal_face_cascade_filename())
    return Detector("scikit-image LBP frontal-face cascade (OpenCV here has no Haar cascade)", _skimage(lbp))


def _haar(cascade) -> Callable[[np.ndarray], list[tuple[Box, float]]]:
    def detect(gray: np.ndarray) -> list[tuple[Box, float]]:
        side = min(gray.shape)
        boxes, neighbours = cascade.detectMultiScale2(cv2.equalizeHist(gray), scaleFactor=1.1, minNeighbors=5,
                                                      minSize=(side // 8, side // 8))
        # Score by merged neighbour count: on equalized frames a weak false positive can be larger than the face.
        return [(tuple(int(v) for v in b), float(n)) for b, n in zip(boxes, neighbours)]  # type: ignore[misc]

    return detect


def _skimage(cascade) -> Callable[[np.ndarray], list[tuple[Box, float]]]:
    def detect(gray: np.ndarray) -> list[tuple[Box, float]]:
        side = min(gray.shape)
        found = cascade.detect_multi_scale(img=cv2.equalizeHist(gray), scale_factor=1.2, step_ratio=1,
                                           min_size=(side // 8, side // 8), max_size=gray.shape,
                                           min_neighbor_number=4)
        # scikit-image gives no confidence; the largest box is the likeliest face in a portrait.
        return [((d["c"], d["r"], d["width"], d["height"]), float(d["width"] * d["height"])) for d in found]

    return detect


def find_face(gray: np.ndarray) -> Box | None:
    """The best-scoring face in a grayscale frame, in the frame's own coordinates, or None."""
    scale = min(1.0, DETECT_SIDE / max(gray.shape))
    small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    found = detector().detect(small)
    if not found:
        return None
    x, y, w, h = max(found, key=lambda bs: (bs[1], bs[0][2] * bs[0][3]))[0]
    return round(x / scale), round(y / scale), round(w / scale), round(h / scale)


def crop_box(gray: np.ndarray, box: Box, margin: float = MARGIN) -> np.ndarray:
    """A square crop around ``box`` grown by ``margin`` on each side, kept inside the frame."""
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    side = min(side, gray.shape[0], gray.shape[1])
    cx, cy = x + w / 2, y + h / 2
    x0 = int(round(min(max(cx - side / 2, 0), gray.shape[1] - side)))
    y0 = int(round(min(max(cy - side / 2, 0), gray.shape[0] - side)))
    return gray[y0:y0 + side, x0:x0 + side]


def crop_face(img: np.ndarray, size: int, margin: float = MARGIN) -> tuple[np.ndarray, bool]:
    """The face of one frame, cropped with ``margin`` and resized to ``size`` x ``size`` (the whole frame resized
    when no face is found), and whether a face was found."""
    box = find_face(img)
    return resize(crop_box(img, box, margin) if box is not None else img, size), box is not None


def face_margin(value: object) -> float:
    """``--face-margin``: the share of the face box added on each side, from 0 to 1."""
    try:
        margin = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"--face-margin '{value}' is not a number; give a share of the face box such as "
                          f"{MARGIN}") from None
    if not 0 <= margin <= 1:
        raise ConfigError(f"--face-margin {value}: give a share of the face box from 0 to 1 (default {MARGIN})")
    return margin


def crop_grid(crops: Sequence[np.ndarray]) -> np.ndarray | None:
    """A thumbnail grid (one uint8 image) of an evenly spaced sample of ``crops``, in their order, so the crops
    can be looked at before anything is trained on them; None without crops."""
    if not crops:
        return None
    n = min(len(crops), GRID_COLUMNS * GRID_ROWS)
    picks = np.linspace(0, len(crops) - 1, n).round().astype(int)
    side = crops[0].shape[0]
    rows = -(-n // GRID_COLUMNS)
    grid = np.full((rows * (side + 2), min(n, GRID_COLUMNS) * (side + 2)), 255, dtype=np.uint8)
    for k, i in enumerate(picks):
        r, c = divmod(k, GRID_COLUMNS)
        grid[r * (side + 2) + 1:r * (side + 2) + 1 + side, c * (side + 2) + 1:c * (side + 2) + 1 + side] = crops[i]
    return grid


def check_if_no_face(if_no_face: str) -> str:
    if if_no_face not in ("keep", "drop"):
        raise ConfigError(f"--if-no-face '{if_no_face}' is not one of keep, drop")
    return if_no_face


def face_line(files: Sequence[str], found: Sequence[bool], if_no_face: str, margin: float = MARGIN) -> str:
    """The report line: how many faces were found, and what became of the frames without one."""
    missed = [f for f, ok in zip(files, found) if not ok]
    share = 100 * sum(found) / max(len(found), 1)
    line = (f"face found in {sum(found)} of {len(found)} images ({share:.1f}%) by the {detector().name}, "
            f"cropped with a margin of {margin:g} of the box on each side")
    if missed:
        action = "kept as the full frame resized" if if_no_face == "keep" else "dropped"
        line += f"; {len(missed)} without a face {action}: {file_list(missed)}"
    return line

