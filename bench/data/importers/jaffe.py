"""JAFFE (Lyons et al. 1998): 213 256x256 TIFFs of 10 Japanese women, named ``KA.AN1.39.tiff``.

The name holds the subject (KA), the expression code and sample number (AN1) and the image number (39).
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.core.emotions import INDEX
from bench.core.errors import DataError
from bench.data.catalog import Importer, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.importers import common

NAME = "jaffe"
VERSION = "1"
CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "SA": "sad", "SU": "surprise", "NE": "neutral"}
LAYOUT = "SUBJECT.EXPRn.NUMBER.tiff files such as KA.AN1.39.tiff (in PATH or its subfolders)"
_FILE = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d*)\.(\d+)$")


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import JAFFE; subject, expression, sample and image number come from each file name."""
    root = common.require_dir(path, NAME)
    files = common.image_files(root)
    if not files:
        raise common.no_images(root, NAME, LAYOUT)
    samples: list[common.Sample] = []
    for f in files:
        m = _FILE.match(f.stem)
        if not m:
            raise DataError(f"{f}: file name is not SUBJECT.EXPRn.NUMBER (e.g. KA.AN1.39.tiff); rename or "
                            "remove it")
        subject, code, sample, number = m.groups()
        if code.upper() not in CODES:
            raise DataError(f"{f}: unknown JAFFE expression code '{code}'; codes are "
                            f"{', '.join(f'{k} {v}' for k, v in CODES.items())}")
        samples.append(common.Sample(f, INDEX[CODES[code.upper()]], subject.upper(),
                                     {"sample": int(sample or 1), "image": int(number)}))
    report = {"layout": f"{len(samples)} files of {len({s.subject for s in samples})} subjects"}
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root,
                                meta_keys=["sample", "image"])


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="JAFFE: KA.AN1.39.tiff style files (subjects from file names)",
    options=[
        common.size_option(96, "JAFFE is natively 256x256 with the face in the middle half"),
        common.CROP_FACES, common.FACE_MARGIN, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
