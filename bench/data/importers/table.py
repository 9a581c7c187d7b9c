"""An image root plus a label table, the layout most large datasets ship in: RAF-DB's ``list_patition_label.txt``
(``train_00001.jpg 5``), AffectNet's CSV, FER+'s vote table.

The table is CSV, TSV or whitespace-separated (told apart by its first line). Columns are named, or given by
0-based index for a headerless file. Labels are class names in any common spelling (happiness, anger ...) or codes
mapped with ``--label-map``; ``--vote-cols`` takes the majority of per-class vote columns instead (FER+). Listed
images that are missing, and images present but not listed, are counted in the import report.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from bench.core.emotions import ALIASES, EMOTIONS, INDEX
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import Importer, Option, Options, register_importer
from bench.data.dataset import FERDataset
from bench.data.importers import common

NAME = "table"
SKIP = "skip"


def _columns(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


def parse_label_map(value: str | None) -> dict[str, str]:
    """``'1=surprise,2=fear,8=skip'`` -> {code: class or 'skip'}; a code maps once."""
    mapping: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in (value or "").split(","))):
        code, eq, target = item.partition("=")
        target = target.strip().lower()
        if not eq or not code.strip() or not target:
            raise ConfigError(f"--label-map item '{item}' is not CODE=CLASS (e.g. --label-map '1=surprise,2=fear')")
        if target != SKIP and target not in ALIASES:
            raise ConfigError(f"--label-map '{item}': '{target}' is not a class; use one of {', '.join(EMOTIONS)} "
                              f"or '{SKIP}'")
        target = target if target == SKIP else ALIASES[target]
        if mapping.get(code.strip(), target) != target:
            raise ConfigError(f"--label-map maps code '{code.strip()}' twice ({mapping[code.strip()]} and {target})")
        mapping[code.strip()] = target
    return mapping


def _read_table(path: Path, by_index: bool) -> tuple[list[str], list[list[str]]]:
    """(header, rows); a headerless table gets the header '0', '1' ..."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable label table ({exc}); give a CSV, TSV or whitespace-separated "
                        "text file") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: the label table is empty")
    first = lines[0]
    if "\t" in first:
        rows = list(csv.reader(lines, delimiter="\t"))
    elif "," in first:
        rows = list(csv.reader(lines))
    else:
        rows = [line.split() for line in lines]
    if by_index:
        width = max(len(r) for r in rows)
        return [str(i) for i in range(width)], rows
    return [h.strip() for h in rows[0]], rows[1:]


def _index(header: list[str], column: str, flag: str, path: Path) -> int:
    for i, name in enumerate(header):
        if name == column or name.lower() == column.lower():
            return i
    raise DataError(f"{path}: {flag} '{column}' is not a column; its columns are {', '.join(header) or 'none'}")


def read(path: Path, name: str, opts: Options) -> FERDataset:
    """Import an image root with a label table."""
    root = common.require_dir(path, NAME)
    if not opts.labels:
        raise ConfigError("the table importer needs --labels FILE (the label table) and --path-col")
    table = Path(opts.labels).expanduser()
    if not table.is_absolute() and not table.exists():
        table = root / table
    if not table.is_file():
        raise DataError(f"--labels {opts.labels}: no such file (looked in the working folder and in {root})")
    if not opts.path_col or not (opts.label_col or opts.vote_cols):
        raise ConfigError("the table importer needs --path-col and --label-col (or --vote-cols)")
    if opts.label_col and opts.vote_cols:
        raise ConfigError("give --label-col or --vote-cols, not both")
    named = [opts.path_col, opts.label_col, opts.subject_col, opts.split_col, *_columns(opts.vote_cols)]
    by_index = all(c.isdigit() for c in named if c)
    header, rows = _read_table(table, by_index)
    col = {key: _index(header, value, f"--{key.replace('_', '-')}", table)
           for key, value in (("path-col", opts.path_col), ("label-col", opts.label_col),
                              ("subject-col", opts.subject_col), ("split-col", opts.split_col)) if value}
    votes = [(c, _index(header, c, "--vote-cols", table)) for c in _columns(opts.vote_cols)]
    vote_classes = {}
    for c, _ in votes:
        if c.lower() not in ALIASES:
            raise ConfigError(f"--vote-cols '{c}' is not an emotion column; vote columns are named after classes "
                              f"({', '.join(EMOTIONS)} or their usual spellings)")
        vote_classes[c] = ALIASES[c.lower()]
    mapping = parse_label_map(opts.label_map)

    by_file: dict[Path, list[tuple[int, str | None, str | None]]] = defaultdict(list)
    listed: set[Path] = set()  # every image the table names, rows left out included
    unknown: Counter = Counter()
    skipped = ties = short = 0
    resolved_root = root.resolve()
    for row_no, row in enumerate(rows):
        if len(row) <= max([*col.values(), *(i for _, i in votes)]):
            short += 1
            continue
        rel = row[col["path-col"]].strip()
        file = (root / rel).resolve()
        if not file.is_relative_to(resolved_root):
            raise DataError(f"{table} row {row_no + 1}: '{rel}' points outside the image root {root}; the table "
                            "must name images under it")
        listed.add(file)
        if votes:
            counts = []
            for c, i in votes:
                try:
                    counts.append((float(row[i]), vote_classes[c]))
                except ValueError:
                    raise DataError(f"{table} row {row_no + 1}: vote '{row[i]}' in column {c} is not a "
                                    "number") from None
            top = max(n for n, _ in counts)
            winners = {cls for n, cls in counts if n == top}
            if top <= 0 or len(winners) > 1:
                ties += 1
                continue
            label = next(iter(winners))
        else:
            code = row[col["label-col"]].strip()
            if mapping:
                if code not in mapping:
                    unknown[code] += 1
                    continue
                if mapping[code] == SKIP:
                    skipped += 1
                    continue
                label = mapping[code]
            elif code.lower() in ALIASES:
                label = ALIASES[code.lower()]
            else:
                unknown[code] += 1
                continue
        subject = row[col["subject-col"]].strip() if "subject-col" in col else None
        split = row[col["split-col"]].strip() if "split-col" in col else None
        by_file[file].append((INDEX[label], subject, split))
    if unknown:
        listed = ", ".join(f"'{c}' ({n} rows)" for c, n in unknown.most_common(8))
        raise DataError(f"{table}: labels {listed} map to no emotion; map them with --label-map CODE=CLASS (or "
                        f"CODE={SKIP} to leave those rows out)")

    samples: list[common.Sample] = []
    duplicates = conflicts = 0
    missing: list[str] = []
    for file, entries in by_file.items():
        if len(entries) > 1:
            duplicates += len(entries) - 1
            if len({e[0] for e in entries}) > 1:
                conflicts += 1
                continue
        if not file.is_file():
            missing.append(file.relative_to(resolved_root).as_posix())
            continue
        label, subject, split = entries[0]
        meta = {"split": split} if split is not None else {}
        samples.append(common.Sample(file, label, subject, meta))
    if conflicts:
        raise DataError(f"{table}: {conflicts} images are listed more than once with different labels; fix the table, "
                        "or give the per-class vote columns with --vote-cols to take the majority")
    unlisted = [f for f in common.image_files(root) if f.resolve() not in listed]
    if not samples:
        raise DataError(f"{table}: no listed image could be imported ({len(missing)} listed images are missing)")
    report = {"layout": f"label table {table.name}: {len(rows)} rows, {len(samples)} images imported"}
    if missing:
        report["listed but missing"] = f"{len(missing)} images, e.g. {common.file_list(missing, 3)}"
    if unlisted:
        report["present but not listed"] = (f"{len(unlisted)} images, e.g. "
                                            f"{common.file_list([f.relative_to(root).as_posix() for f in unlisted], 3)}")
    if duplicates:
        report["duplicate rows"] = f"{duplicates} rows name an image listed before (same label: kept once)"
    if skipped:
        report["skipped rows"] = f"{skipped} rows whose code --label-map maps to {SKIP}"
    if ties:
        report["tied votes"] = f"{ties} rows without a single majority class, left out"
    if short:
        report["short rows"] = f"{short} rows with fewer columns than asked for, left out"
    return common.build_dataset(samples, name=name, opts=opts, report=report, root=root,
                                subjects="subject-col" in col, meta_keys=["split"] if "split-col" in col else [])


IMPORTER = register_importer(Importer(
    name=NAME, version="1", read=read,
    description="an image root and a label table (RAF-DB, AffectNet, FER+ votes): CSV, TSV or whitespace columns",
    options=[
        Option("--labels", "the label table: a CSV, TSV or whitespace-separated file (relative paths also looked up "
                           "in PATH)"),
        Option("--path-col", "the column of image paths relative to PATH (a name, or a 0-based index for a "
                             "headerless table)"),
        Option("--label-col", "the column of labels: class names in any usual spelling, or codes with --label-map"),
        Option("--subject-col", "the column of subject ids, when the dataset has them"),
        Option("--split-col", "the column of the official split (Training / PublicTest ... or train / test)"),
        Option("--label-map", "CODE=CLASS for coded labels, e.g. '1=surprise,2=fear,...'; CODE=skip leaves those "
                              "rows out"),
        Option("--vote-cols", "per-class vote columns (FER+: neutral,happiness,...): the majority is the label; "
                              "ties are left out"),
        common.size_option(None, "by default images keep their size and must all share it"),
        common.CROP_FACES, common.FACE_MARGIN, common.IF_NO_FACE, common.SKIP_CORRUPT,
    ],
))
load = IMPORTER.load
