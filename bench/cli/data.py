"""Terminal output for the data commands (tables via tabulate)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from bench.data.dataset import FERDataset


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from tabulate import tabulate

    print(tabulate([[r.get(c, "") for c in columns] for r in rows], headers=columns, tablefmt="github"))


def _duplicate_summary(ds: FERDataset) -> str:
    groups = ds.duplicate_groups()
    if not groups:
        return "none"
    extra = sum(len(g) - 1 for g in groups)
    text = f"{len(groups)} groups, {extra} redundant images"
    if "split" in ds.meta:
        split = ds.meta["split"]
        crossing = sum(1 for g in groups if len(set(split[g].tolist())) > 1)
        text += f" ({crossing} groups span official splits)"
    conflicting = sum(1 for g in groups if len(set(ds.labels[g].tolist())) > 1)
    if conflicting:
        text += f", {conflicting} groups with conflicting labels"
    return text


def _print_report(ds: FERDataset) -> None:
    """The import report's lines; its duplicates line only for the example, the counts being printed above."""
    for key, value in (ds.info.get("report") or {}).items():
        if key == "duplicates":
            example = re.search(r"e\.g\. (.+?)(?:;|$)", value)
            if example:
                print(f"duplicate example: {example.group(1)}")
                continue
        print(f"{key}: {value}")


def print_dataset_info(ds: FERDataset, *, show_subjects: bool = False) -> None:
    print(f"dataset: {ds.name}")
    print(f"images: {len(ds)}  size: {ds.image_size[0]}x{ds.image_size[1]}  classes: {len(ds.classes)}")
    if ds.info.get("importer"):
        print(f"importer: {ds.info['importer']} v{ds.info.get('importer_version', '?')}")
    rows = []
    counts = ds.class_counts()
    split_cols: list[str] = []
    if "split" in ds.meta:
        split_cols = sorted(set(ds.meta["split"].tolist()))
    for name, n in counts.items():
        row: dict[str, Any] = {"class": name, "images": n, "share": f"{100 * n / max(len(ds), 1):.1f}%"}
        if split_cols:
            from bench.core.emotions import INDEX

            mask = ds.labels == INDEX[name]
            for s in split_cols:
                row[s] = int(np.sum(mask & (ds.meta["split"] == s)))
        if ds.has_subjects:
            from bench.core.emotions import INDEX

            row["subjects"] = len(set(ds.subjects[ds.labels == INDEX[name]].tolist()))  # type: ignore[index]
        rows.append(row)
    print_table(rows, ["class", "images", "share", *split_cols] + (["subjects"] if ds.has_subjects else []))
    if split_cols:
        print("official split: " + ", ".join(f"{s} {c}" for s, c in sorted(Counter(ds.meta['split'].tolist()).items())))
    if ds.has_subjects:
        per = ds.subject_counts()
        sizes = list(per.values())
        print(f"subjects: {len(per)} (images per subject: min {min(sizes)}, median {int(np.median(sizes))}, max {max(sizes)})")
        if show_subjects:
            print_table([{"subject": s, "images": c} for s, c in per.items()], ["subject", "images"])
    else:
        print("subjects: none (subject-disjoint protocols cannot run on this dataset)")
    for key in sorted(set(ds.meta) - {"split"}):
        vals = Counter(ds.meta[key].tolist())
        if len(vals) <= 12:
            print(f"{key}: " + ", ".join(f"{k} {v}" for k, v in sorted(vals.items())))
    print(f"exact duplicates: {_duplicate_summary(ds)}")
    _print_report(ds)


def print_import_report(ds: FERDataset, fresh: bool) -> None:
    if fresh:
        print(f"imported '{ds.name}': {len(ds)} images {ds.image_size[0]}x{ds.image_size[1]}, "
              f"classes {', '.join(f'{k} {v}' for k, v in ds.class_counts().items())}")
    else:
        print(f"'{ds.name}' is already imported with these options (use --force to re-import)")
    if ds.has_subjects:
        print(f"subjects: {len(ds.subject_counts())}")
    print(f"exact duplicates: {_duplicate_summary(ds)}")
    _print_report(ds)
