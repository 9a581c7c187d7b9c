"""Any ``<class>/<image>`` export (TFEID, MUG, RAF-DB and the like): one folder per class, images under it.

Folder names are mapped with ``bench.core.emotions.canonical`` unless ``--class-map`` says otherwise; subject ids
come from the relative path through ``--subject-regex`` when the dataset has them.
"""

from __future__ import annotations

from pathlib import Path

from bench.core.emotions import EMOTIONS, canonical
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import Importer, Option, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.importers import common

NAME = "folder"
VERSION = "1"
SKIP = "skip"
LAYOUT = "one folder per class under PATH, images inside (any depth), e.g. happy/img001.jpg"


def parse_class_map(value: str | None) -> dict[str, str]:
    """``'joy=happy,mad=angry,other=skip'`` -> {folder name (lower case): canonical name or 'skip'}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in (value or "").split(","))):
        folder, eq, target = item.partition("=")
        if not eq or not folder.strip() or not target.strip():
            raise ConfigError(f"--class-map item '{item}' is not FOLDER=CLASS (e.g. --class-map 'joy=happy,mad=angry')")
        target = target.strip().lower()
        if target != SKIP:
            try:
                target = EMOTIONS[canonical(target)]
            except DataError:
                raise ConfigError(f"--class-map '{item}': '{target}' is not a class; use one of "
                                  f"{', '.join(EMOTIONS)} or '{SKIP}'") from None
        key = folder.strip().lower()
        if key in mapping and mapping[key] != target:
            raise ConfigError(f"--class-map maps folder '{folder.strip()}' twice ({mapping[key]}, {target}); "
                              "give each folder one class")
        mapping[key] = target
    return mapping


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import a generic class-per-folder export."""
    root = common.require_dir(path, NAME)
    mapping = parse_class_map(opts.class_map)
    pattern = common.compile_regex(opts.subject_regex, "--subject-regex") if opts.subject_regex else None
    class_dirs = common.subfolders(root)
    if not class_dirs:
        raise common.no_images(root, NAME, LAYOUT)
    unused = set(mapping) - {d.name.lower() for d in class_dirs}
    if unused:
        raise ConfigError(f"--class-map names folders {', '.join(sorted(unused))} that {root} does not have; "
                          f"its folders are {', '.join(d.name for d in class_dirs)}")
    samples: list[common.Sample] = []
    skipped_dirs = []
    for class_dir in class_dirs:
        target = mapping.get(class_dir.name.lower(), class_dir.name)
        if target == SKIP:
            skipped_dirs.append(class_dir.name)
            continue
        label = common.label_of(target, f"folder {class_dir}", f"map it with --class-map '{class_dir.name}=CLASS' "
                                f"or leave it out with '{class_dir.name}={SKIP}' ({NAME} expects {LAYOUT})")
        files = common.class_images(class_dir, f"put its images back, or leave it out with --class-map "
                                               f"'{class_dir.name}={SKIP}'")
        for f in files:
            rel = f.relative_to(root).as_posix()
            samples.append(common.Sample(f, label, _subject(pattern, rel, f) if pattern else None))
    if not samples:
        raise ConfigError(f"--class-map leaves out every folder of {root} ({', '.join(skipped_dirs)}); map at "
                          "least one of them to a class")
    report = {"layout": f"{len(class_dirs) - len(skipped_dirs)} class folders: {len(samples)} files"}
    if mapping:
        report["class map"] = ", ".join(f"{k}={v}" for k, v in mapping.items())
    if skipped_dirs:
        report["skipped folders"] = ", ".join(skipped_dirs)
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root,
                                subjects=pattern is not None)


def _subject(pattern, rel: str, f: Path) -> str:
    m = pattern.search(rel)
    if not m:
        raise DataError(f"{f}: --subject-regex '{pattern.pattern}' does not match its path '{rel}'; fix the "
                        "regex (it is searched in the path relative to PATH)")
    if "subject" in pattern.groupindex:
        value = m.group("subject")
    else:
        value = m.group(1) if pattern.groups else m.group(0)
    if not value:
        raise DataError(f"{f}: --subject-regex '{pattern.pattern}' matched '{rel}' but captured an empty subject id")
    return value


IMPORTER = register_importer(Importer(
    name=NAME, version=VERSION, read=read,
    description="any <class>/<image> export (TFEID, MUG, RAF-DB ...), classes from folder names",
    options=[
        Option("--class-map", "map folder names to classes, e.g. 'joy=happy,mad=angry'; 'name=skip' leaves a folder "
                              "out; unmapped folders are read as emotion names (anger, happiness, ...)"),
        Option("--subject-regex", "regular expression searched in each image's path relative to PATH; its group "
                                  "'subject', else its first group, is the subject id (e.g. '^[^/]+/(s\\d+)_')"),
        common.size_option(None, "by default images keep their size and must all share it"),
        common.CROP_FACES, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
