"""CK+ (Lucey et al. 2010) in its original layout: image sequences plus one emotion file per labelled sequence.

``cohn-kanade-images/S005/001/S005_001_00000011.png`` and ``Emotion/S005/001/S005_001_00000011_emotion.txt``
(a float code such as ``   3.0000000e+00``). Only sequences with an emotion file are labelled; a sequence runs
from neutral to the peak expression in its last frame.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.core.emotions import INDEX
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import Importer, Option, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.images import file_list
from bench.data.importers import common

NAME = "ckplus"
VERSION = "1"
IMAGES_DIR, EMOTION_DIR = "cohn-kanade-images", "Emotion"
CODES = {0: "neutral", 1: "angry", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad", 7: "surprise"}
LAYOUT = (f"{IMAGES_DIR}/S###/###/S###_###_########.png and {EMOTION_DIR}/S###/###/S###_###_########_emotion.txt "
          "under PATH")
_FRAME = re.compile(r"_(\d+)$")


def check_frames(value: str) -> str:
    """``--frames`` as given, once it is known to be 'peak' or 'lastN'."""
    parse_frames(value)
    return str(value).strip().lower()


def parse_frames(value: str) -> int:
    """``peak`` -> 1, ``lastN`` -> N: how many frames to take from the end of each labelled sequence."""
    text = str(value).strip().lower()
    if text == "peak":
        return 1
    m = re.fullmatch(r"last(\d+)", text)
    if not m or int(m.group(1)) < 1:
        raise ConfigError(f"--frames '{value}' is not 'peak' or 'lastN' (N >= 1, e.g. last3)")
    return int(m.group(1))


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import labelled CK+ sequences: their last N frames, optionally their first frame as neutral."""
    root = common.require_dir(path, NAME)
    n_last = parse_frames(opts.frames)
    first_as_neutral = opts.first_as_neutral
    images_root, emotion_root = _find(root, IMAGES_DIR), _find(root, EMOTION_DIR)
    emotion_files = sorted(p for p in emotion_root.glob("*/*/*_emotion.txt") if not p.name.startswith("."))
    if not emotion_files:
        raise DataError(f"{emotion_root} holds no S###/###/*_emotion.txt files; CK+ labels come from them")
    per_sequence: dict[Path, list[Path]] = defaultdict(list)
    for emo in emotion_files:
        per_sequence[emo.parent].append(emo)
    twice = {seq: files for seq, files in per_sequence.items() if len(files) > 1}
    if twice:
        seq, files = next(iter(twice.items()))
        raise DataError(f"sequence {seq.parent.name}/{seq.name} has {len(files)} emotion files "
                        f"({', '.join(f.name for f in files)}){f' (and {len(twice) - 1} more sequences)' if len(twice) > 1 else ''}; "
                        "CK+ labels a sequence once: remove the extra files")
    samples: list[common.Sample] = []
    short, contempt_seqs = [], set()
    for emo in emotion_files:
        subject, seq = emo.parent.parent.name, emo.parent.name
        label = _read_code(emo)
        if label == INDEX["contempt"]:
            contempt_seqs.add(f"{subject}_{seq}")
        seq_dir = images_root / subject / seq
        seq_frames = common.image_files(seq_dir, recursive=False) if seq_dir.is_dir() else []
        if not seq_frames:
            raise DataError(f"{emo} labels sequence {subject}/{seq} but {seq_dir} holds no frames; "
                            "restore the sequence or remove its emotion file")
        sequence = f"{subject}_{seq}"
        chosen = seq_frames[-n_last:]
        for f in chosen:
            samples.append(common.Sample(f, label, subject, {"sequence": sequence, "frame": _frame_no(f, seq_frames)}))
        if first_as_neutral:
            if seq_frames[0] in chosen:
                short.append(sequence)
            else:
                first = seq_frames[0]
                samples.append(common.Sample(first, INDEX["neutral"], subject,
                                             {"sequence": sequence, "frame": _frame_no(first, seq_frames)}))
    n_seq = sum(1 for _ in images_root.glob("*/*") if _.is_dir())
    what = "peak frame" if n_last == 1 else f"last {n_last} frames"
    report = {"sequences": f"{len(emotion_files)} labelled (emotion files) of {n_seq} in {IMAGES_DIR}; "
                           f"{what} each" + (" + first frame as neutral" if first_as_neutral else "")}
    if short:
        report["short sequences"] = (f"{len(short)} too short to add a separate first frame as neutral: "
                                     f"{file_list(short)}")

    def contempt(ds: FERDataset) -> FERDataset:
        # Dropping contempt drops its sequences whole: their neutral first frames go too.
        in_contempt_seq = np.isin(ds.meta["sequence"], sorted(contempt_seqs))
        return common.contempt(ds, opts.contempt, report, unit="sequences", count=len(contempt_seqs),
                               also_drop=in_contempt_seq)

    return common.build_dataset(samples, name=name, opts=opts, report=report, root=images_root,
                                meta_keys=["sequence", "frame"], finish=contempt)


def _find(root: Path, folder: str) -> Path:
    # Downloads unpack as CK+/cohn-kanade-images or extended-cohn-kanade-images/cohn-kanade-images.
    for cand in [root / folder, *(sub / folder for sub in common.subfolders(root)), root.parent / folder]:
        if cand.is_dir():
            return cand
    raise DataError(f"{root}: no {folder}/ folder found (looked in it and its subfolders); CK+ needs {LAYOUT}")


def _read_code(path: Path) -> int:
    text = path.read_text(errors="replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: '{text[:30]}' is not a CK+ emotion code; expected a number such as "
                        "3.0000000e+00") from None
    if not math.isfinite(value) or value != int(value) or int(value) not in CODES:
        raise DataError(f"{path}: unknown CK+ emotion code {text}; codes are "
                        f"{', '.join(f'{k} {v}' for k, v in CODES.items())}")
    return INDEX[CODES[int(value)]]


def _frame_no(frame: Path, seq_frames: list[Path]) -> int:
    m = _FRAME.search(frame.stem)
    return int(m.group(1)) if m else seq_frames.index(frame) + 1


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="CK+: cohn-kanade-images/ + Emotion/ (labelled sequences; subjects S###)",
    options=[
        Option("--frames", "which frames of each labelled sequence: 'peak' (the last one) or 'lastN' (the last N, "
                           "e.g. last3)", default="peak", type=check_frames),
        Option("--first-as-neutral", "also add the first frame of each labelled sequence as neutral (paper 004: "
                                     "327 sequences x (3+1) with --frames last3)", default=False, type=bool),
        Option("--contempt", "contempt sequences: keep as their own class, merge into disgust (paper 000), or drop "
                             "them entirely (their first frames too)", default="keep",
               choices=("keep", "merge", "drop")),
        common.size_option(96, "CK+ frames are 640x490 or 640x480, resized without keeping the aspect ratio unless "
                               "--crop-faces"),
        common.CROP_FACES, common.FACE_MARGIN, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
