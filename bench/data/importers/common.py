"""What every importer shares: path checks, image discovery, robust grayscale reading, resizing and assembly.

An importer only has to turn its native layout into a list of ``Sample`` records (file, label, subject, meta);
``build_dataset`` reads, optionally face-crops, resizes and stacks the images and writes the import report.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.emotions import EMOTIONS, canonical
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import Option, Options
from bench.data.dataset import FERDataset
from bench.data.facecrop import MARGIN, check_if_no_face, crop_face, crop_grid, face_line, face_margin
from bench.data.images import MAX_SIDE, depth_line, file_list, read_images, resize, stack
from bench.data.store import CROP_GRID

IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".pgm", ".ppm", ".webp"})


@dataclass
class Sample:
    """One image to import: where it is, its canonical label and its provenance."""

    path: Path
    label: int
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- options shared by importers
def parse_size(value: str | int | None) -> int | None:
    """``--size`` value: a side length in pixels, or ``native``/``0``/None to keep the stored size."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("native", "none", "0", ""):
        return None
    try:
        size = int(text)
    except ValueError:
        size = -1
    if not 8 <= size <= MAX_SIDE:
        raise ConfigError(f"--size '{value}' is not a side length; give pixels between 8 and {MAX_SIDE} (e.g. 48) "
                          "or 'native'")
    return size


def size_option(default: int | None, note: str) -> Option:
    return Option("--size", f"resize every image to SIZE x SIZE pixels, or 'native' to keep the stored size; {note}",
                  default=default, type=parse_size)


SKIP_CORRUPT = Option("--skip-corrupt", "skip unreadable or corrupt image files and list them in the import report "
                      "instead of stopping at the first one", default=False, type=bool)
CROP_FACES = Option("--crop-faces", "crop the detected face (OpenCV Haar cascade; scikit-image's LBP "
                    "cascade where OpenCV has none) before resizing", default=False, type=bool)
FACE_MARGIN = Option("--face-margin", "with --crop-faces, the share of the detected face box added on each side "
                     f"(0 to 1; {MARGIN} keeps forehead to chin on head-and-shoulders photos)", default=MARGIN,
                     type=face_margin)
IF_NO_FACE = Option("--if-no-face", "with --crop-faces, what to do with an image where no face is found: keep the "
                    "full frame resized, or drop the image", default="keep", choices=("keep", "drop"))
CONTEMPT = Option("--contempt", "contempt samples: keep as their own class, merge into disgust (as paper 000 does), "
                  "or drop them", default="keep", choices=("keep", "merge", "drop"))
_CONTEMPT_DONE = {"keep": "kept as contempt", "merge": "merged into disgust", "drop": "dropped"}


def contempt(ds: FERDataset, mode: str, report: dict[str, str], *, unit: str = "images",
             count: int | None = None, also_drop: np.ndarray | None = None) -> FERDataset:
    """Keep, merge into disgust or drop the contempt class with the dataset's own class operations, and say so
    in the report (``count`` of ``unit``: CK+ counts sequences). ``also_drop`` marks samples that go with the
    contempt class when it is dropped (CK+'s neutral first frames of contempt sequences)."""
    if "contempt" not in ds.class_names:
        return ds
    report["contempt"] = f"{count if count is not None else ds.class_counts()['contempt']} {unit} {_CONTEMPT_DONE[mode]}"
    if mode == "merge":
        return ds.merge_classes({"contempt": "disgust"})
    if mode == "drop":
        if also_drop is not None and also_drop.any():
            ds = ds.subset(np.flatnonzero(~also_drop))
        return ds.drop_classes(["contempt"])
    return ds


# --------------------------------------------------------------------------- paths
def require_path(path: str | os.PathLike, importer: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p} does not exist; give the {importer} dataset's root folder "
                        f"(see 'bench data import {importer} --help')")
    return p


def require_dir(path: str | os.PathLike, importer: str) -> Path:
    p = require_path(path, importer)
    if not p.is_dir():
        raise DataError(f"{p} is not a folder; give the {importer} dataset's root folder")
    require_not_empty(p, importer)
    return p


def require_not_empty(p: Path, importer: str) -> None:
    if p.is_dir() and not any(_visible(c.name) for c in p.iterdir()):
        raise DataError(f"folder {p} is empty; give the {importer} dataset's root folder "
                        f"(see 'bench data import {importer} --help')")


def label_of(name: str, where: str, fix: str) -> int:
    """Canonical label of a folder or code name, with an importer-specific fix in the error."""
    try:
        return canonical(name)
    except DataError:
        raise DataError(f"unknown emotion label '{name}' in {where}; expected one of {', '.join(EMOTIONS)}; "
                        f"{fix}") from None


def _visible(name: str) -> bool:
    # macOS resource forks (._x.jpg) and dot files are never images of the dataset.
    return not name.startswith(".")


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS and _visible(path.name)


def image_files(folder: Path, *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` in a stable (sorted) order, hidden files and folders left out."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if _visible(d)]
        found.extend(Path(dirpath, f) for f in filenames
                     if os.path.splitext(f)[1].lower() in IMAGE_EXTS and _visible(f))
    return sorted(found)


def subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and _visible(p.name))


def class_images(class_dir: Path, how_to_fix: str) -> list[Path]:
    """The images of one class folder; a folder that exists but holds none is an error, not a silent gap."""
    files = image_files(class_dir)
    if not files:
        raise DataError(f"class folder {class_dir} has no images; {how_to_fix}")
    return files


def no_images(root: Path, importer: str, layout: str) -> DataError:
    loose = image_files(root, recursive=False) if root.is_dir() else []
    found = f"only images directly in it ({loose[0].name} ...)" if loose else "no image files found"
    return DataError(f"{root}: {found}; the {importer} importer expects {layout}")


def size_line(shapes: Counter, size: int | None, cropped: bool) -> str | None:
    """Report line on how images were sized, or None when nothing was resized."""
    if size is None:
        return None
    native = ", ".join(f"{w}x{h} ({n} images)" for (h, w), n in shapes.most_common(3))
    if len(shapes) > 3:
        native += f" and {len(shapes) - 3} more sizes"
    if cropped:
        return f"face crops (full frames where no face was found) resized to {size}x{size}; frames were {native}"
    if set(shapes) == {(size, size)}:
        return None
    extra = "" if all(h == w for h, w in shapes) else " (aspect ratio not kept)"
    return f"frames resized to {size}x{size} from {native}{extra}"


def add_duplicates(report: dict[str, str], ds: FERDataset, root: Path | None = None) -> None:
    """Report exact duplicates, with one example so the user can find them (FER2013 has some, across splits)."""
    groups = ds.duplicate_groups()
    if not groups:
        return
    first = groups[0]
    line = (f"{len(groups)} groups of byte-identical images ({sum(len(g) for g in groups)} images), "
            f"e.g. {' = '.join(_rel([Path(f) for f in ds.files[first[:2]]], root))}")
    if "split" in ds.meta:
        crossing = sum(1 for g in groups if len(set(ds.meta["split"][g].tolist())) > 1)
        line += f"; {crossing} groups span official splits"
    conflicting = sum(1 for g in groups if len(set(ds.labels[g].tolist())) > 1)
    if conflicting:
        line += f"; {conflicting} groups carry conflicting labels"
    report["duplicates"] = line


def build_dataset(samples: Sequence[Sample], *, name: str, opts: Options, report: dict[str, str],
                  root: Path | None = None, subjects: bool = True, meta_keys: Sequence[str] = (),
                  finish: Callable[[FERDataset], FERDataset] | None = None) -> FERDataset:
    """Read, crop and resize the samples' images and assemble the FERDataset with its import report.

    The shared options (``size``, ``skip_corrupt``, ``crop_faces``, ``if_no_face``) come from ``opts`` where
    the importer declares them. ``finish`` (e.g. the contempt handling) runs on the assembled dataset before
    its duplicates are counted.
    """
    size, skip_corrupt = opts.get("size"), bool(opts.get("skip_corrupt", False))
    crop_faces, if_no_face = bool(opts.get("crop_faces", False)), opts.get("if_no_face", "keep")
    if crop_faces and size is None:
        raise ConfigError("--crop-faces needs a target size: face crops differ in size (e.g. --size 96)")
    if crop_faces:
        check_if_no_face(if_no_face)
        margin = face_margin(opts.get("face_margin", MARGIN))
        prepare: Callable[[np.ndarray], Any] | None = partial(crop_face, size=size, margin=margin)
    else:
        prepare = None if size is None else partial(resize, size=size)
    # Each image is cropped or resized the moment it is decoded: only small images are ever held together.
    decoded = read_images([s.path for s in samples], skip_corrupt=skip_corrupt, prepare=prepare)
    if decoded.skipped:
        report["skipped corrupt"] = f"{len(decoded.skipped)} files: {file_list(_rel(decoded.skipped, root))}"
    depth = depth_line(decoded.depths)
    if depth:
        report["pixel depth"] = depth
    kept = [i for i, img in enumerate(decoded.images) if img is not None]
    imgs = [decoded.images[i] for i in kept]
    if crop_faces:
        found = [ok for _, ok in imgs]
        report["faces"] = face_line(_rel([samples[i].path for i in kept], root), found, if_no_face, margin)
        grid = crop_grid([c for c, ok in imgs if ok])
        kept = [k for k, ok in zip(kept, found) if ok or if_no_face == "keep"]
        imgs = [c for c, ok in imgs if ok or if_no_face == "keep"]
    line = size_line(decoded.shapes, size, crop_faces)
    if line:
        report["resized"] = line
    if not kept:
        what = f"all {len(samples)} files were skipped as corrupt" if samples else "no image files were found"
        raise DataError(f"{root or 'the dataset'}: nothing to import ({what}); check the layout and the files")
    chosen = [samples[i] for i in kept]
    ds = FERDataset(
        name=name,
        images=stack(imgs, [s.path for s in chosen], size),
        labels=np.array([s.label for s in chosen], dtype=np.int64),
        files=np.array([str(s.path) for s in chosen], dtype=str),
        subjects=np.array([s.subject for s in chosen], dtype=str) if subjects else None,
        meta={k: np.array([s.meta[k] for s in chosen]) for k in meta_keys},
        info={"report": report},
    )
    if crop_faces and grid is not None:
        ds.info[CROP_GRID] = grid  # the store saves it beside the cache as an image, never into the manifest
    if finish is not None:
        ds = finish(ds)
    add_duplicates(report, ds, root)
    return ds


def _rel(paths: Sequence[Path], root: Path | None) -> list[str]:
    if root is None:
        return [str(p) for p in paths]
    out = []
    for p in paths:
        try:
            out.append(p.relative_to(root).as_posix())
        except ValueError:
            out.append(str(p))
    return out


def compile_regex(pattern: str, flag: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{flag} '{pattern}' is not a valid regular expression ({exc})") from exc
