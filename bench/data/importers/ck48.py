"""CK+48: the widespread 48x48 face-crop export of CK+, ``CK+48/<emotion>/S###_###_########.png``.

It holds the last frames of the labelled CK+ sequences, one folder per emotion (anger, contempt, disgust, fear,
happy, sadness, surprise); the subject is the S### prefix of the file name.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.core.errors import DataError
from bench.data.catalog import Importer, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.importers import common

NAME = "ck48"
VERSION = "1"
FOLDER = "CK+48"
LAYOUT = f"{FOLDER}/<emotion>/S###_###_########.png (PATH may be the {FOLDER} folder or its parent)"
_FILE = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import the CK+48 folder export; subject, sequence and frame come from each file name."""
    root = common.require_dir(path, NAME)
    if (root / FOLDER).is_dir():
        root = root / FOLDER
    class_dirs = common.subfolders(root)
    if not class_dirs:
        raise common.no_images(root, NAME, LAYOUT)
    samples: list[common.Sample] = []
    for class_dir in class_dirs:
        label = common.label_of(class_dir.name, f"folder {class_dir}",
                                f"{NAME} expects {LAYOUT}; rename or remove the folder")
        files = common.class_images(class_dir, "put its images back or remove the folder")
        for f in files:
            m = _FILE.match(f.stem)
            if not m:
                raise DataError(f"{f}: file name is not S###_###_########.<ext>, so its subject is unknown; "
                                "rename it or remove it")
            samples.append(common.Sample(f, label, m.group(1),
                                         {"sequence": f"{m.group(1)}_{m.group(2)}", "frame": int(m.group(3))}))
    report = {"layout": f"{len(class_dirs)} class folders in {root.name}: {len(samples)} files"}
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root,
                                meta_keys=["sequence", "frame"],
                                finish=lambda ds: common.contempt(ds, opts.contempt, report))


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="CK+48: CK+48/<emotion>/S###_###_########.png face crops (subjects from file names)",
    options=[
        common.CONTEMPT,
        common.size_option(48, "CK+48 is natively 48"),
        common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
