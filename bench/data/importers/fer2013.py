"""FER2013 (Goodfellow et al. 2013): the Kaggle CSV or the common image-folder export, official split kept.

CSV: ``emotion,pixels,Usage`` rows of 48x48 pixels; Usage is Training / PublicTest / PrivateTest.
Folders: ``train/<emotion>/Training_*.jpg`` and ``test/<emotion>/{PublicTest,PrivateTest}_*.jpg``; the split
comes from the file-name prefix. FER2013 has no subject ids.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bench.core.emotions import BASIC7
from bench.core.errors import DataError
from bench.data.catalog import Importer, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.images import resize
from bench.data.importers import common

NAME = "fer2013"
VERSION = "1"
SIDE = 48
SPLITS = ("Training", "PublicTest", "PrivateTest")
# Files of folder exports that lost the prefix: their split is known only down to the folder.
FOLDER_SPLIT = {"train": "Training", "test": "Test"}
LAYOUT = "fer2013.csv (emotion,pixels,Usage) or a folder with train/<emotion>/ and test/<emotion>/"


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import FER2013 from its CSV or its image-folder layout (detected from PATH)."""
    root = common.require_path(path, NAME)
    common.require_not_empty(root, NAME)
    if root.is_dir() and not {"train", "test"} <= {p.name for p in common.subfolders(root)}:
        csvs = sorted(root.glob("*.csv"))
        if len(csvs) != 1:
            raise DataError(f"{root}: found {len(csvs)} CSV files and no train/ + test/ folders; "
                            f"give {LAYOUT}")
        root = csvs[0]
    if root.is_file():
        return _load_csv(root, name=name, size=opts.size)
    return _load_folders(root, name=name, opts=opts)


# --------------------------------------------------------------------------- CSV
def _load_csv(path: Path, *, name: str, size: int | None) -> FERDataset:
    try:
        # errors="replace": a binary file then fails the header check with a readable message
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            return _read_rows(path, csv.reader(fh), name=name, size=size)
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV ({exc}); give the FER2013 CSV") from None


def _read_rows(path: Path, reader, *, name: str, size: int | None) -> FERDataset:
    images, labels, files, splits = [], [], [], []
    header = [h.strip().lower() for h in next(reader, [])]
    if "emotion" not in header or "pixels" not in header:
        shown = ",".join(header)[:60] or "empty"
        raise DataError(f"{path}: header is {shown}, expected emotion,pixels,Usage; is this the FER2013 CSV?")
    col_e, col_p = header.index("emotion"), header.index("pixels")
    col_u = header.index("usage") if "usage" in header else None
    for row_no, row in enumerate(reader):
        if not row:
            continue
        where = f"{path} row {row_no} (line {row_no + 2})"
        if len(row) != len(header):
            raise DataError(f"{where}: {len(row)} fields for the {len(header)} columns of the header; "
                            "fix or remove the row")
        labels.append(_code(row[col_e], where))
        images.append(_pixels(row[col_p], where))
        if col_u is not None:
            splits.append(_usage(row[col_u], where))
        files.append(f"{path}#row{row_no}")
    if not images:
        raise DataError(f"{path}: the CSV has a header but no rows; give the full FER2013 CSV")
    stacked = np.stack(images)
    report = {"layout": f"CSV {path.name}: {len(images)} rows" + ("" if splits else " (no Usage column, no split)")}
    if size is not None and size != SIDE:
        stacked = np.stack([resize(img, size) for img in stacked])
        report["resized"] = f"resized to {size}x{size} from {SIDE}x{SIDE}"
    ds = FERDataset(
        name=name, images=stacked, labels=np.array(labels), files=np.array(files),
        meta={"split": np.array(splits)} if splits else {},
        info={"report": report},
    )
    common.add_duplicates(report, ds, path.parent)
    return ds


def _code(text: str, where: str) -> int:
    try:
        code = int(text.strip())
    except ValueError:
        code = -1
    if not 0 <= code < len(BASIC7):
        raise DataError(f"{where}: unknown emotion code '{text.strip()}'; FER2013 codes are 0..6 "
                        f"({', '.join(f'{i} {e}' for i, e in enumerate(BASIC7))})")
    return code  # FER2013 codes follow the canonical order


def _pixels(text: str, where: str) -> np.ndarray:
    try:  # the fast parser; anything it rejects is re-read below to name the exact problem
        arr = np.fromstring(text, dtype=np.int64, sep=" ")
    except ValueError:
        arr = np.empty(0, dtype=np.int64)
    if arr.size == SIDE * SIDE and 0 <= arr.min() and arr.max() <= 255:
        return arr.astype(np.uint8).reshape(SIDE, SIDE)
    values = text.split()
    if len(values) != SIDE * SIDE:
        raise DataError(f"{where}: {len(values)} pixel values, expected {SIDE * SIDE} ({SIDE}x{SIDE}); "
                        "fix or remove the row")
    try:
        arr = np.array(values, dtype=np.int64)
    except ValueError:
        # Not str.isdigit alone: it accepts '²', which int() refuses.
        bad = next((v for v in values if not (v.isascii() and v.lstrip("-").isdigit())), values[0])
        raise DataError(f"{where}: pixel value '{bad[:20]}' is not a number; pixels must be "
                        "space-separated integers 0..255") from None
    if arr.min() < 0 or arr.max() > 255:
        raise DataError(f"{where}: pixel values must lie in 0..255, found {arr.min()}..{arr.max()}")
    return arr.astype(np.uint8).reshape(SIDE, SIDE)


def _usage(text: str, where: str) -> str:
    value = text.strip()
    if value not in SPLITS:
        raise DataError(f"{where}: Usage '{value}' is not one of {', '.join(SPLITS)}")
    return value


# --------------------------------------------------------------------------- image folders
def _load_folders(root: Path, *, name: str, opts: Options) -> FERDataset:
    samples: list[common.Sample] = []
    unprefixed = 0
    for folder, fallback in FOLDER_SPLIT.items():
        for class_dir in common.subfolders(root / folder):
            label = common.label_of(class_dir.name, f"folder {class_dir}", "rename or remove the folder")
            for f in common.class_images(class_dir, "put its images back or remove the folder"):
                split = f.name.split("_", 1)[0]
                if split not in SPLITS:
                    split, unprefixed = fallback, unprefixed + 1
                samples.append(common.Sample(f, label, meta={"split": split}))
    if not samples:
        raise common.no_images(root, NAME, LAYOUT)
    report = {"layout": f"image folders train/ and test/: {len(samples)} files"}
    if unprefixed:
        report["split"] = (f"{unprefixed} files lack a Training_/PublicTest_/PrivateTest_ prefix; their split is "
                           "their folder (Training or Test)")
    ignored = [p.name for p in common.subfolders(root) if p.name not in FOLDER_SPLIT]
    if ignored:
        report["ignored"] = f"folders {', '.join(ignored)} (only train/ and test/ are read)"
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root, subjects=False,
                                meta_keys=["split"])


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="FER2013: fer2013.csv or the train/ + test/ image folders (official split kept; no subjects)",
    options=[common.size_option(SIDE, "FER2013 is natively 48"), common.SKIP_CORRUPT],
))
load = IMPORTER.load
