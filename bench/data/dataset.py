"""The one canonical dataset object that every loader produces and every protocol, baseline and model consumes."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.core.emotions import EMOTIONS, INDEX
from bench.core.errors import DataError


def _str_array(values: Iterable[Any]) -> np.ndarray:
    # Fixed-width unicode (never object) so the cache loads without pickle.
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    return arr.astype(str) if arr.dtype.kind != "U" else arr


@dataclass(eq=False)
class FERDataset:
    """Images, canonical labels and per-sample provenance of one FER dataset.

    images:   uint8 array (N, H, W), grayscale.
    labels:   int64 array (N,), indices into ``bench.core.emotions.EMOTIONS``.
    files:    str array (N,), the original file of each sample (``path#row`` for CSV rows, ``synthetic:...``).
    subjects: str array (N,) of subject ids, or None when the dataset has none (FER2013).
    source:   str array (N,) naming the dataset each sample came from (differs after a cross-dataset merge).
    meta:     per-sample metadata columns (official ``split``, ``angle``, ``session``, ``frame`` ...).
    classes:  the label space (sorted canonical indices); may include classes with no sample.
    info:     dataset-level facts: importer, its version and options, the import report.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    files: np.ndarray
    subjects: np.ndarray | None = None
    source: np.ndarray | None = None
    meta: dict[str, np.ndarray] = field(default_factory=dict)
    classes: tuple[int, ...] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.images = np.asarray(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 3:
            raise DataError(
                f"dataset '{self.name}': images must be uint8 (N,H,W), got {self.images.dtype} {self.images.shape}"
            )
        n = len(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.files = _str_array(self.files)
        if self.subjects is not None:
            self.subjects = _str_array(self.subjects)
        self.source = _str_array(self.source) if self.source is not None else np.full(n, self.name)
        self.meta = {k: np.asarray(v) for k, v in self.meta.items()}
        for key, col in [("labels", self.labels), ("files", self.files), ("source", self.source)] + (
            [("subjects", self.subjects)] if self.subjects is not None else []
        ) + [(f"meta[{k}]", v) for k, v in self.meta.items()]:
            if len(col) != n:
                raise DataError(f"dataset '{self.name}': {key} has {len(col)} entries for {n} images")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(EMOTIONS)):
            raise DataError(f"dataset '{self.name}': label outside the canonical range 0..{len(EMOTIONS) - 1}")
        if self.classes is None:
            self.classes = tuple(int(c) for c in np.unique(self.labels))
        else:
            self.classes = tuple(sorted(int(c) for c in self.classes))
            stray = set(np.unique(self.labels).tolist()) - set(self.classes)
            if stray:
                raise DataError(f"dataset '{self.name}': labels {sorted(stray)} are outside its class list")
        self._hashes: np.ndarray | None = None

    # ----------------------------------------------------------------- basic facts
    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        subj = f", {len(np.unique(self.subjects))} subjects" if self.subjects is not None else ""
        return f"FERDataset('{self.name}', {len(self)} images {self.image_size}{subj}, classes={self.class_names})"

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.images.shape[1:3])  # type: ignore[return-value]

    @property
    def class_names(self) -> list[str]:
        return [EMOTIONS[c] for c in self.classes]

    @property
    def has_subjects(self) -> bool:
        return self.subjects is not None

    def class_counts(self) -> dict[str, int]:
        counts = Counter(self.labels.tolist())
        return {EMOTIONS[c]: counts.get(c, 0) for c in self.classes}

    def subject_counts(self) -> dict[str, int]:
        if self.subjects is None:
            return {}
        return dict(sorted(Counter(self.subjects.tolist()).items()))

    def encoded_labels(self) -> np.ndarray:
        """Labels as 0..K-1 positions in ``classes`` (what a softmax head needs)."""
        return np.searchsorted(np.asarray(self.classes), self.labels)

    # ----------------------------------------------------------------- identity
    def image_hashes(self) -> np.ndarray:
        """A 16-byte digest per image; equal digests mean byte-identical images (duplicates, leakage)."""
        if self._hashes is None:
            flat = np.ascontiguousarray(self.images.reshape(len(self), -1))
            self._hashes = np.array(
                [hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype="S16"
            )
        return self._hashes

    def fingerprint(self) -> str:
        """A content hash of images, labels, subjects and label space: equal fingerprints, same data."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(self.labels.tobytes())
        h.update(repr(self.classes).encode())
        if self.subjects is not None:
            h.update("\x00".join(self.subjects.tolist()).encode())
        return h.hexdigest()[:16]

    def duplicate_groups(self) -> list[np.ndarray]:
        """Index groups of byte-identical images (only groups of two or more)."""
        hashes = self.image_hashes()
        order = np.argsort(hashes, kind="stable")
        sorted_h = hashes[order]
        boundaries = np.flatnonzero(sorted_h[1:] != sorted_h[:-1]) + 1
        groups = np.split(order, boundaries)
        return [np.sort(g) for g in groups if len(g) > 1]

    # ----------------------------------------------------------------- views
    def subset(self, index: Sequence[int] | np.ndarray, name: str | None = None) -> FERDataset:
        idx = np.asarray(index)
        sub = FERDataset(
            name=name or self.name,
            images=self.images[idx],
            labels=self.labels[idx],
            files=self.files[idx],
            subjects=None if self.subjects is None else self.subjects[idx],
            source=self.source[idx],
            meta={k: v[idx] for k, v in self.meta.items()},
            classes=self.classes,
            info=dict(self.info),
        )
        if self._hashes is not None:
            sub._hashes = self._hashes[idx]
        return sub

    def resized(self, size: tuple[int, int] | int) -> FERDataset:
        """The same dataset with every image resized (area interpolation when shrinking)."""
        import cv2

        h, w = (size, size) if isinstance(size, int) else size
        if (h, w) == self.image_size:
            return self
        interp = cv2.INTER_AREA if h * w < self.image_size[0] * self.image_size[1] else cv2.INTER_LINEAR
        out = np.empty((len(self), h, w), dtype=np.uint8)
        for i, img in enumerate(self.images):
            out[i] = cv2.resize(img, (w, h), interpolation=interp)
        info = dict(self.info, resized_from=list(self.image_size))
        return FERDataset(self.name, out, self.labels, self.files, self.subjects, self.source, dict(self.meta),
                          self.classes, info)

    # ----------------------------------------------------------------- label-space tools
    def select_classes(self, names: Iterable[str]) -> FERDataset:
        """Keep only the named classes (samples of other classes are removed)."""
        keep = [_index(n, self) for n in names]
        mask = np.isin(self.labels, keep)
        sub = self.subset(np.flatnonzero(mask))
        sub.classes = tuple(sorted(keep))
        return sub

    def drop_classes(self, names: Iterable[str]) -> FERDataset:
        drop = {_index(n, self) for n in names}
        return self.select_classes([EMOTIONS[c] for c in self.classes if c not in drop])

    def merge_classes(self, mapping: Mapping[str, str]) -> FERDataset:
        """Relabel classes into others, e.g. ``{"contempt": "disgust"}`` as paper 000 does for CK+."""
        labels = self.labels.copy()
        classes = set(self.classes)
        for src, dst in mapping.items():
            s, d = _index(src, self), INDEX.get(dst.strip().lower())
            if d is None:
                raise DataError(f"cannot merge '{src}' into unknown class '{dst}'; classes are {', '.join(EMOTIONS)}")
            labels[labels == s] = d
            classes.discard(s)
            classes.add(d)
        return FERDataset(self.name, self.images, labels, self.files, self.subjects, self.source, dict(self.meta),
                          tuple(sorted(classes)), dict(self.info))


def _index(name: str, ds: FERDataset) -> int:
    key = name.strip().lower()
    if key not in INDEX:
        raise DataError(f"unknown class '{name}'; classes are {', '.join(EMOTIONS)}")
    if INDEX[key] not in ds.classes:
        raise DataError(f"dataset '{ds.name}' has no class '{name}'; its classes are {', '.join(ds.class_names)}")
    return INDEX[key]


def align_labels(a: FERDataset, b: FERDataset, *, min_classes: int = 2) -> tuple[FERDataset, FERDataset]:
    """Restrict two datasets to the classes they share, for cross-dataset work.

    Raises a DataError naming both label sets when fewer than ``min_classes`` are shared.
    """
    common = sorted(set(a.classes) & set(b.classes))
    if len(common) < min_classes:
        raise DataError(
            f"'{a.name}' ({', '.join(a.class_names)}) and '{b.name}' ({', '.join(b.class_names)}) share "
            f"{len(common)} classes; cross-dataset work needs at least {min_classes} "
            "(merge or select classes first, e.g. contempt -> disgust)"
        )
    names = [EMOTIONS[c] for c in common]
    return a.select_classes(names), b.select_classes(names)


def concat(datasets: Sequence[FERDataset], name: str) -> FERDataset:
    """One dataset holding several; subject ids are prefixed with their source so they never collide."""
    sizes = {d.image_size for d in datasets}
    if len(sizes) != 1:
        raise DataError(f"cannot merge datasets of different image sizes {sorted(sizes)}; resize them first")
    # Every metadata column survives; a dataset without it has "" there (an official split stays the source's).
    keys = set().union(*(set(d.meta) for d in datasets)) if datasets else set()
    with_subjects = all(d.has_subjects for d in datasets)
    subjects = None
    if with_subjects:
        subjects = np.concatenate([np.char.add(d.name + "/", d.subjects) for d in datasets])  # type: ignore[arg-type]
    return FERDataset(
        name=name,
        images=np.concatenate([d.images for d in datasets]),
        labels=np.concatenate([d.labels for d in datasets]),
        files=np.concatenate([d.files for d in datasets]),
        subjects=subjects,
        source=np.concatenate([d.source for d in datasets]),
        meta={k: np.concatenate([d.meta[k].astype(str) if k in d.meta else np.full(len(d), "")
                                 for d in datasets]) for k in sorted(keys)},
        classes=tuple(sorted(set().union(*(d.classes for d in datasets)))),
        info={"merged_from": [d.name for d in datasets]},
    )
