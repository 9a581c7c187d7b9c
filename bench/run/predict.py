"""``bench predict MODEL IMAGES...``: a model's per-class probabilities and predicted label for image files.

Images are read as uint8 grayscale (``bench.data.images``, as importers read them), optionally face-cropped
(``bench.data.facecrop``) and resized to the model's input size, so a folder scored here and the same images
imported as a dataset and scored by ``bench eval`` get the same probabilities. An image that cannot be read is
listed (in the CSV, with its reason, and on standard error) and the others are still scored.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import ConfigError, DataError
from bench.core.files import atomic_write_text
from bench.data.facecrop import crop_face, face_line
from bench.data.images import file_list, read_images, resize
from bench.data.importers.common import image_files
from bench.run.evaluate import onnx_input
from bench.run.saved_models import SavedModel, open_model


def predict_from_args(args: argparse.Namespace) -> int:
    saved = open_model(args.model, device=args.device, onnx_input=onnx_input(args))
    frame, report = predict_files(saved, collect(args.images), crop=args.crop_faces)
    text = frame.to_csv(index=False, float_format="%.6g")
    if args.out:
        atomic_write_text(Path(args.out), text)
    else:
        sys.stdout.write(text)
    for line in report:
        print(line, file=sys.stderr)
    return 0


def collect(paths: list[str]) -> list[Path]:
    """The image files named or found (recursively) in the folders named, in the order given."""
    files: list[Path] = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            found = image_files(p)
            if not found:
                raise DataError(f"folder {p} holds no image files ({', '.join(sorted({'.png', '.jpg', '.bmp'}))} ...)")
            files.extend(found)
        elif p.is_file() or not p.exists():
            files.append(p)  # a missing or odd file is reported as unreadable, not fatal
        else:
            raise ConfigError(f"{p} is neither a file nor a folder")
    return files


def predict_files(saved: SavedModel, files: list[Path], *, crop: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """One row per file: file, predicted label, p_<class> in the model's label order, and error (empty when
    scored); and the lines reporting what was done."""
    side = max(saved.card.image_size)
    # Each image is brought to the model's size (or face-cropped to it) as it is decoded: files of any size.
    prepare = partial(crop_face, size=side) if crop else partial(resize, size=side)
    read = read_images(files, skip_corrupt=True, prepare=prepare).images
    good = [f for f, img in zip(files, read) if img is not None]
    errors = {f: "no such file" if not f.exists() else "unreadable: corrupt or not an image"
              for f, img in zip(files, read) if img is None}
    if not good:
        raise DataError(f"none of the {len(files)} images could be read: {file_list(list(errors))}")
    report = []
    if crop:
        images = [c for c, _ in (img for img in read if img is not None)]
        report.append(face_line([str(f) for f in good], [ok for _, ok in (img for img in read if img is not None)],
                                "keep"))
    else:
        images = [img for img in read if img is not None]
    proba = saved.predict_proba(images)
    names = saved.card.class_names
    scored = pd.DataFrame({"file": [str(f) for f in good],
                           "predicted": [names[i] for i in np.argmax(proba, axis=1)]})
    for j, name in enumerate(names):
        scored[f"p_{name}"] = proba[:, j]
    scored["error"] = ""
    failed = pd.DataFrame({"file": [str(f) for f in errors], "predicted": "", "error": list(errors.values())})
    order = {str(f): i for i, f in enumerate(files)}
    frame = pd.concat([scored, failed], ignore_index=True) if len(failed) else scored
    frame = frame.sort_values("file", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    report.append(f"{len(good)} images scored by {saved.card.model} ({saved.path})"
                  + (f"; {len(errors)} unreadable: {file_list(list(errors))}" if errors else ""))
    return frame, report

