"""Builders of tiny dataset trees in each importer's exact native layout and file format.

Every builder writes with Pillow (not OpenCV, which the importers read with) and returns a ``Layout`` whose
``expected`` maps each written file (``path#rowN`` for CSV rows) to what an importer must report for it, so
tests can check labels, subjects, splits and metadata sample by sample.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

FER_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
FER_CODES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
CK48_FOLDERS = {"anger": "angry", "contempt": "contempt", "disgust": "disgust", "fear": "fear", "happy": "happy",
                "sadness": "sad", "surprise": "surprise"}
CKPLUS_CODES = {0: "neutral", 1: "angry", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sad", 7: "surprise"}
JAFFE_CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "SA": "sad", "SU": "surprise",
               "NE": "neutral"}
KDEF_CODES = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
              "SU": "surprise"}
KDEF_ANGLES = ("FL", "HL", "S", "HR", "FR")


@dataclass
class Expect:
    label: str
    subject: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None  # the grayscale content written (lossy formats: before compression)


@dataclass
class Layout:
    root: Path
    expected: dict[str, Expect] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.expected.values():
            out[e.label] = out.get(e.label, 0) + 1
        return out


class Pictures:
    """Distinct smooth grayscale pictures (smooth so JPEG keeps them close; distinct so none are duplicates)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def gray(self, h: int, w: int) -> np.ndarray:
        coarse = self.rng.integers(20, 236, (4, 4)).astype(np.uint8)
        return np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC))

    def rgb(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """A colour picture and its gray version as Pillow computes it (ITU-R 601, like OpenCV)."""
        rgb = np.stack([self.gray(h, w) for _ in range(3)], axis=-1)
        return rgb, np.asarray(Image.fromarray(rgb).convert("L"))


def save(path: Path, pixels: np.ndarray, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kw = {"quality": 95} if (fmt or path.suffix.lower().lstrip(".")) in ("jpg", "jpeg", "JPEG") else {}
    Image.fromarray(pixels).save(path, format=fmt, **kw)


def corrupt(path: Path) -> None:
    """Overwrite a file with bytes no image decoder accepts (keeps its name and extension)."""
    path.write_bytes(b"this is not an image\x00" * 8)


# --------------------------------------------------------------------------- FER2013
def fer2013_folders(root: Path, per_class: tuple[int, int, int] = (3, 1, 1), seed: int = 0) -> Layout:
    """train/<emotion>/Training_<n>.jpg and test/<emotion>/{PublicTest,PrivateTest}_<n>.jpg, 48x48 gray.

    The last PrivateTest image of 'happy' is a byte copy of its first Training image: an exact duplicate that
    spans splits, as FER2013 has.
    """
    pics, lay, n = Pictures(seed), Layout(root), 1000
    for label in FER_FOLDERS:
        for split, folder, count in zip(("Training", "PublicTest", "PrivateTest"), ("train", "test", "test"),
                                        per_class):
            for _ in range(count):
                n += 7
                path = root / folder / label / f"{split}_{n}.jpg"
                img = pics.gray(48, 48)
                save(path, img)
                lay.expected[str(path)] = Expect(label, None, {"split": split}, img)
    train = sorted((root / "train" / "happy").glob("*.jpg"))[0]
    dup = sorted((root / "test" / "happy").glob("PrivateTest_*.jpg"))[-1]
    shutil.copyfile(train, dup)
    lay.expected[str(dup)].image = lay.expected[str(train)].image
    return lay


def write_fer_csv(path: Path, rows: list[tuple[Any, str, str]], header: str = "emotion,pixels,Usage") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{e},{p},{u}" for e, p, u in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def pixel_text(img: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in img.ravel())


def fer2013_csv(path: Path, n_rows: int = 21, seed: int = 0) -> Layout:
    """fer2013.csv with codes cycling 0..6 and Usage cycling Training, Training, PublicTest, PrivateTest."""
    pics, lay = Pictures(seed), Layout(path)
    usages = ("Training", "Training", "PublicTest", "PrivateTest")
    rows = []
    for i in range(n_rows):
        img, code, usage = pics.gray(48, 48), i % 7, usages[i % 4]
        rows.append((code, pixel_text(img), usage))
        lay.expected[f"{path}#row{i}"] = Expect(FER_CODES[code], None, {"split": usage}, img)
    write_fer_csv(path, rows)
    return lay


# --------------------------------------------------------------------------- CK+
@dataclass
class Sequence:
    subject: str
    seq: str
    frames: list[Path]
    code: int | None  # None: no emotion file (unlabelled sequence)


def ckplus(root: Path, seed: int = 0) -> tuple[Layout, list[Sequence]]:
    """cohn-kanade-images/S###/###/*.png colour frames (52x40, CK+'s landscape shape) and Emotion/ codes.

    Three subjects; every CK+ code 1..7 appears once, plus one unlabelled sequence and one that has an empty
    Emotion folder (as CK+ has). ``expected`` holds every frame; ``ckplus_expected`` picks per options.
    """
    pics, lay = Pictures(seed), Layout(root)
    plan = [("S005", "001", 1, 5), ("S005", "002", 2, 6), ("S005", "003", None, 4), ("S010", "001", 3, 7),
            ("S010", "004", 4, 5), ("S010", "005", 5, 8), ("S022", "001", 6, 6), ("S022", "003", 7, 5),
            ("S022", "006", -1, 4)]
    seqs = []
    for subject, seq, code, length in plan:
        frames = []
        for k in range(1, length + 1):
            path = root / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{k:08d}.png"
            rgb, gray = pics.rgb(40, 52)
            save(path, rgb)
            frames.append(path)
            lay.expected[str(path)] = Expect("?", subject, {"sequence": f"{subject}_{seq}", "frame": k}, gray)
        emo_dir = root / "Emotion" / subject / seq
        if code is not None:
            emo_dir.mkdir(parents=True)
        if code is not None and code >= 0:
            (emo_dir / f"{frames[-1].stem}_emotion.txt").write_text(f"   {float(code):.7e}\n")
        seqs.append(Sequence(subject, seq, frames, code if code is not None and code >= 0 else None))
    return lay, seqs


def ckplus_expected(lay: Layout, seqs: list[Sequence], n_last: int = 1, first_as_neutral: bool = False,
                    contempt: str = "keep") -> dict[str, Expect]:
    out: dict[str, Expect] = {}
    for s in seqs:
        if s.code is None:
            continue
        label = CKPLUS_CODES[s.code]
        if label == "contempt" and contempt == "drop":
            continue
        if label == "contempt" and contempt == "merge":
            label = "disgust"
        for f in s.frames[-n_last:]:
            out[str(f)] = _relabel(lay.expected[str(f)], label)
        if first_as_neutral and len(s.frames) > n_last:
            out[str(s.frames[0])] = _relabel(lay.expected[str(s.frames[0])], "neutral")
    return out


def _relabel(e: Expect, label: str) -> Expect:
    return Expect(label, e.subject, dict(e.meta), e.image)


def ck48(root: Path, seed: int = 0) -> Layout:
    """CK+48/<emotion>/S###_###_########.png, 48x48 gray; 3 frames of one sequence per subject and class."""
    pics, lay = Pictures(seed), Layout(root / "CK+48")
    subjects = ("S005", "S011", "S130")
    for k, (folder, label) in enumerate(CK48_FOLDERS.items()):
        for j, subject in enumerate(subjects[: 2 + k % 2]):
            seq = f"{k + 1:03d}"
            for frame in range(8 + j, 11 + j):
                path = lay.root / folder / f"{subject}_{seq}_{frame:08d}.png"
                img = pics.gray(48, 48)
                save(path, img)
                lay.expected[str(path)] = Expect(label, subject, {"sequence": f"{subject}_{seq}", "frame": frame},
                                                 img)
    return lay


# --------------------------------------------------------------------------- JAFFE
def jaffe(root: Path, seed: int = 0) -> Layout:
    """jaffe/KA.AN1.39.tiff style gray TIFFs (32x32 instead of 256x256), plus the README the download has."""
    pics, lay = Pictures(seed), Layout(root)
    number = 1
    for subject in ("KA", "KL", "YM"):
        for code, label in JAFFE_CODES.items():
            for sample in (1, 2) if code in ("HA", "SU") else (1,):
                number += 3
                path = root / "jaffe" / f"{subject}.{code}{sample}.{number}.tiff"
                img = pics.gray(32, 32)
                save(path, img, "TIFF")
                lay.expected[str(path)] = Expect(label, subject, {"sample": sample, "image": number}, img)
    (root / "jaffe" / "README").write_text("The Japanese Female Facial Expression (JAFFE) Database\n")
    return lay


# --------------------------------------------------------------------------- KDEF
def kdef(root: Path, seed: int = 0, actors: tuple[str, ...] = ("F01", "M02")) -> Layout:
    """KDEF/<S><G><ID>/<S><G><ID><EXPR><ANGLE>.JPG colour JPEGs (30x40 portraits), sessions A and B."""
    pics, lay = Pictures(seed), Layout(root)
    for session in ("A", "B"):
        for actor in actors:
            folder = root / "KDEF" / f"{session}{actor}"
            for code, label in KDEF_CODES.items():
                for angle in KDEF_ANGLES:
                    path = folder / f"{session}{actor}{code}{angle}.JPG"
                    rgb, gray = pics.rgb(40, 30)
                    save(path, rgb, "JPEG")
                    lay.expected[str(path)] = Expect(label, actor, {"session": session, "angle": angle}, gray)
    return lay


# --------------------------------------------------------------------------- generic folder
def folder(root: Path, seed: int = 0) -> Layout:
    """glee/, rage/, Neutral/ with MUG-like nested names ``<class>/s01/s01_take2_0003.png`` (24x24 gray).

    'glee' and 'rage' are no known emotion spelling, so they need a class map.
    """
    pics, lay = Pictures(seed), Layout(root)
    for cls, label in (("glee", "happy"), ("rage", "angry"), ("Neutral", "neutral")):
        for subject in ("s01", "s02", "s17"):
            for take in (1, 2):
                path = root / cls / subject / f"{subject}_take{take}_{take * 3:04d}.png"
                img = pics.gray(24, 24)
                save(path, img)
                lay.expected[str(path)] = Expect(label, subject, {}, img)
    return lay


# --------------------------------------------------------------------------- a label table
RAF_CODES = {"1": "surprise", "2": "fear", "3": "disgust", "4": "happy", "5": "sad", "6": "angry", "7": "neutral"}


def raf_table(root: Path, n: int = 14, seed: int = 0) -> tuple[Layout, dict[str, str]]:
    """RAF-DB's layout: ``Image/aligned/train_00001.jpg`` and a headerless ``list_patition_label.txt`` of
    ``train_00001.jpg 5`` lines (codes 1-7); returns the layout and the import options that read it."""
    pics = Pictures(seed)
    lay = Layout(root)
    lines = []
    for i in range(n):
        code = str(1 + i % 7)
        split = "train" if i < n - 4 else "test"
        name = f"{split}_{i + 1:05d}.jpg"
        img = pics.gray(40, 40)
        save(root / "aligned" / name, img)
        lay.expected[str(root / "aligned" / name)] = Expect(RAF_CODES[code], image=img)
        lines.append(f"{name} {code}")
    # The table names paths relative to the image folder, where RAF-DB keeps it too.
    (root / "aligned" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return Layout(root / "aligned", lay.expected), raf_options()


def raf_options() -> dict[str, str]:
    """The table importer's options that read the list ``raf_table`` writes."""
    return {"labels": "list_patition_label.txt", "path_col": "0", "label_col": "1",
            "label_map": ",".join(f"{k}={v}" for k, v in RAF_CODES.items())}
