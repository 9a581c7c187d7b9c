"""Any ``<class>/<image>`` export (TFEID, MUG, RAF-DB and the like): one folder per class, images under it; or
a flat folder whose file names code the labels (``--label-regex``, e.g. the Taiwanese database's ``0111b01.jpg``).

Folder names are mapped with ``bench.core.emotions.canonical`` unless ``--class-map`` says otherwise; subject ids
come from the relative path through ``--subject-regex`` when the dataset has them. With ``--label-regex`` the
named groups of the regular expression give the label (``--label-map`` translates codes), the subject and any
metadata (the Taiwanese database's performance type and view).
"""

from __future__ import annotations

from pathlib import Path

from bench.core.emotions import EMOTIONS, INDEX, canonical
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


def parse_label_map(value: str | None) -> dict[str, str]:
    """``'a=neutral,b=happy'`` -> {code: canonical class}; a code maps once."""
    mapping: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in (value or "").split(","))):
        code, eq, target = item.partition("=")
        if not eq or not code.strip() or not target.strip():
            raise ConfigError(f"--label-map item '{item}' is not CODE=CLASS (e.g. --label-map 'a=neutral,b=happy')")
        try:
            cls = EMOTIONS[canonical(target)]
        except DataError:
            raise ConfigError(f"--label-map '{item}': '{target.strip()}' is not a class; use one of "
                              f"{', '.join(EMOTIONS)}") from None
        if mapping.get(code.strip(), cls) != cls:
            raise ConfigError(f"--label-map maps code '{code.strip()}' twice ({mapping[code.strip()]} and {cls})")
        mapping[code.strip()] = cls
    return mapping


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import a generic class-per-folder export, or a flat folder whose file names code the labels."""
    if opts.label_regex:
        return _read_by_regex(path, name, opts)
    if opts.label_map:
        raise ConfigError("--label-map maps the codes --label-regex captures; with class folders use --class-map")
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


def _read_by_regex(path: Path, name: str, opts: Options) -> FERDataset:
    """Labels (and subjects, and any other named group as metadata) from each file's path relative to PATH."""
    root = common.require_dir(path, NAME)
    pattern = common.compile_regex(opts.label_regex, "--label-regex")
    if "label" not in pattern.groupindex:
        raise ConfigError(f"--label-regex '{opts.label_regex}' has no (?P<label>...) group; name the group that holds "
                          "the expression code")
    subject_pattern = common.compile_regex(opts.subject_regex, "--subject-regex") if opts.subject_regex else None
    mapping = parse_label_map(opts.label_map)
    meta_keys = [g for g in pattern.groupindex if g not in ("label", "subject")]
    files = common.image_files(root)
    if not files:
        raise common.no_images(root, NAME, "image files whose names match --label-regex")
    samples: list[common.Sample] = []
    unmatched: list[str] = []
    unmapped: dict[str, list[str]] = {}
    for f in files:
        rel = f.relative_to(root).as_posix()
        m = pattern.search(rel)
        if not m:
            unmatched.append(rel)
            continue
        code = m.group("label")
        if mapping:
            if code not in mapping:
                unmapped.setdefault(code, []).append(rel)
                continue
            label = INDEX[mapping[code]]
        else:
            label = common.label_of(code, f"file {f}", "map the codes with --label-map CODE=CLASS,...")
        if subject_pattern is not None:
            subject = _subject(subject_pattern, rel, f)
        else:
            subject = m.group("subject") if "subject" in pattern.groupindex else None
        samples.append(common.Sample(f, label, subject, {k: m.group(k) or "" for k in meta_keys}))
    if not samples:
        raise DataError(f"{root}: no file matched --label-regex '{opts.label_regex}' with a mapped code "
                        f"({len(unmatched)} did not match, e.g. {common.file_list(unmatched, 3)}); fix the regex or "
                        "--label-map")
    has_subjects = subject_pattern is not None or "subject" in pattern.groupindex
    report = {"layout": f"{len(samples)} of {len(files)} files labelled by --label-regex"}
    if unmapped:
        n = sum(len(v) for v in unmapped.values())
        report["skipped: code not in --label-map"] = (
            f"{n} files ({', '.join(f'{c!r}: {len(v)}' for c, v in sorted(unmapped.items()))}), e.g. "
            f"{common.file_list([f for v in unmapped.values() for f in v], 3)}")
    if unmatched:
        report["skipped: name does not match --label-regex"] = f"{len(unmatched)} files, e.g. {common.file_list(unmatched, 3)}"
    if mapping:
        report["label map"] = ", ".join(f"{k}={v}" for k, v in mapping.items())
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root, subjects=has_subjects,
                                meta_keys=meta_keys)


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
        Option("--label-regex", "read a flat folder: regular expression searched in each image's path relative to "
                                "PATH; group 'label' is the expression code, 'subject' the subject id, any other "
                                "named group is kept as metadata; files that do not match are skipped and counted"),
        Option("--label-map", "with --label-regex: CODE=CLASS for each code, e.g. 'a=neutral,b=happy'; files whose "
                              "code is not mapped are skipped and counted (default: codes are class names)"),
        common.size_option(None, "by default images keep their size and must all share it"),
        common.CROP_FACES, common.FACE_MARGIN, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
