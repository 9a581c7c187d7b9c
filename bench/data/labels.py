"""``--labels``: merge or keep classes in every dataset of a run, with the dataset's own class operations."""

from __future__ import annotations

from bench.core.emotions import EMOTIONS
from bench.core.errors import ConfigError
from bench.data.dataset import FERDataset


def parse_labels(value: str | None) -> tuple[dict[str, str], list[str]]:
    """``--labels``: ``A=B`` merges class A into B, a bare name keeps that class (and restricts to the kept ones)."""
    merges: dict[str, str] = {}
    keep: list[str] = []
    for item in filter(None, (s.strip().lower() for s in (value or "").split(","))):
        src, eq, dst = item.partition("=")
        for name in (src, dst) if eq else (src,):
            if name not in EMOTIONS:
                raise ConfigError(f"--labels '{item}': '{name}' is not a class; classes are {', '.join(EMOTIONS)}")
        if eq:
            merges[src] = dst
        else:
            keep.append(src)
    return merges, keep


def apply_labels(ds: FERDataset, value: str | None) -> FERDataset:
    """The dataset after ``--labels``: merges first, then the restriction to the kept classes."""
    merges, keep = parse_labels(value)
    present = {m: d for m, d in merges.items() if m in ds.class_names}
    if present:
        ds = ds.merge_classes(present)
    if keep:
        ds = ds.select_classes([c for c in keep if c in ds.class_names])
    return ds
