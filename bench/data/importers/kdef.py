"""KDEF (Lundqvist et al. 1998): 70 actors, 7 expressions, 5 angles, 2 sessions, ``KDEF/AF01/AF01ANS.JPG``.

A file name is session (A/B), gender (F/M), actor id (01-35), expression (AF AN DI HA NE SA SU) and angle
(FL HL S HR FR; ``S`` is one letter, so names have 7 or 8 characters). AF01 and BF01 are the same person F01
photographed in two sessions, so the subject is gender + id.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.core.emotions import INDEX
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import Importer, Option, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.importers import common

NAME = "kdef"
VERSION = "1"
CODES = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}
ANGLES = ("FL", "HL", "S", "HR", "FR")  # full left, half left, straight, half right, full right
LAYOUT = "KDEF/<session><gender><id>/<session><gender><id><expression><angle>.JPG, e.g. KDEF/AF01/AF01ANS.JPG"
_FILE = re.compile(r"^([AB])([FM])(\d{2})([A-Z]{2})(FL|FR|HL|HR|S)$", re.IGNORECASE)


def parse_angles(value: str) -> tuple[str, ...]:
    """``frontal`` -> S, ``all`` -> every angle, or a comma list such as ``S,HL,HR``."""
    text = str(value).strip().upper()
    if text == "FRONTAL":
        return ("S",)
    if text == "ALL":
        return ANGLES
    picked = tuple(a.strip() for a in text.split(",") if a.strip())
    unknown = [a for a in picked if a not in ANGLES]
    if unknown or not picked:
        raise ConfigError(f"--angles '{value}': use frontal, all, or a comma list of {', '.join(ANGLES)}")
    return picked


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import KDEF; subject (gender + id), session, expression and angle come from each file name."""
    root = common.require_dir(path, NAME)
    wanted = parse_angles(opts.angles)
    files = [f for f in common.image_files(root) if not _in_akdef(f, root)]
    if not files:
        raise common.no_images(root, NAME, LAYOUT)
    samples: list[common.Sample] = []
    for f in files:
        m = _FILE.match(f.stem)
        if not m:
            raise DataError(f"{f}: file name is not KDEF's <session><gender><id><expression><angle> (e.g. "
                            "AF01ANS.JPG); rename or remove it")
        session, gender, actor, code, angle = (g.upper() for g in m.groups())
        if code not in CODES:
            raise DataError(f"{f}: unknown KDEF expression code '{code}'; codes are "
                            f"{', '.join(f'{k} {v}' for k, v in CODES.items())}")
        if angle in wanted:
            samples.append(common.Sample(f, INDEX[CODES[code]], gender + actor, {"session": session, "angle": angle}))
    if not samples:
        raise DataError(f"{root}: none of the {len(files)} images has an angle in {','.join(wanted)}; "
                        "pick others with --angles")
    report = {"angles": f"{','.join(wanted)}: {len(samples)} of {len(files)} images"}
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root,
                                meta_keys=["session", "angle"])


def _in_akdef(f: Path, root: Path) -> bool:
    # The KDEF_and_AKDEF download also holds AKDEF's averaged faces, which are not photographs of a subject.
    return any(part.upper() == "AKDEF" for part in f.relative_to(root).parts[:-1])


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="KDEF: KDEF/AF01/AF01ANS.JPG (subjects F01..M35 across sessions A and B; angle and session kept)",
    options=[
        Option("--angles", "which camera angles: 'frontal' (S only), 'all', or a comma list of FL,HL,S,HR,FR",
               default="frontal"),
        common.size_option(96, "KDEF photos are 562x762 portraits, resized without keeping the aspect ratio unless "
                               "--crop-faces"),
        common.CROP_FACES, common.FACE_MARGIN, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
