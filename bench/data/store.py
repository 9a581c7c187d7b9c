"""The on-disk cache of imported datasets: one compressed .npz per dataset plus a small JSON manifest beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.errors import DataError
from bench.core.files import atomic_write_bytes, atomic_write_text
from bench.data.dataset import FERDataset

ENV_VAR = "FER_BENCH_DATA_DIR"
FORMAT_VERSION = 1


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where imported datasets live: ``--data-dir``, else $FER_BENCH_DATA_DIR, else the user's cache dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("fer-bench")) / "datasets"


def _paths(root: Path, name: str) -> tuple[Path, Path]:
    return root / f"{name}.npz", root / f"{name}.json"


def save_dataset(ds: FERDataset, root: Path, manifest: dict[str, Any]) -> Path:
    """Store ``ds`` under ``root`` as ``NAME.npz`` (arrays) and ``NAME.json`` (manifest: importer, options...)."""
    arrays: dict[str, np.ndarray] = {
        "images": ds.images,
        "labels": ds.labels,
        "files": ds.files,
        "source": ds.source,
        "classes": np.asarray(ds.classes, dtype=np.int64),
    }
    if ds.subjects is not None:
        arrays["subjects"] = ds.subjects
    for key, col in ds.meta.items():
        arrays[f"meta__{key}"] = col.astype(str) if col.dtype == object else col
    npz, js = _paths(root, ds.name)
    full = dict(manifest, format_version=FORMAT_VERSION, name=ds.name, info=ds.info, n_images=len(ds),
                image_size=list(ds.image_size), classes=ds.class_names, class_counts=ds.class_counts(),
                n_subjects=len(ds.subject_counts()) if ds.has_subjects else None, fingerprint=ds.fingerprint())
    # Arrays first, manifest last: a manifest only exists beside a complete array file.
    atomic_write_bytes(npz, lambda fh: np.savez_compressed(fh, **arrays))
    atomic_write_text(js, json.dumps(full, indent=2, sort_keys=True, default=str) + "\n")
    return npz


def read_manifest(root: Path, name: str) -> dict[str, Any] | None:
    npz, js = _paths(root, name)
    if not (npz.exists() and js.exists()):
        return None
    try:
        return json.loads(js.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def load_dataset(root: Path, name: str) -> FERDataset:
    npz, _ = _paths(root, name)
    manifest = read_manifest(root, name)
    if manifest is None:
        raise DataError(f"dataset '{name}' is not imported in {root}; run 'bench data import ...' first")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile / zlib errors on a damaged cache
        raise DataError(f"cached dataset {npz} is unreadable ({exc}); re-import it with 'bench data import --force'") from exc
    return FERDataset(
        name=name,
        images=arrays["images"],
        labels=arrays["labels"],
        files=arrays["files"],
        subjects=arrays.get("subjects"),
        source=arrays["source"],
        meta={k[len("meta__"):]: v for k, v in arrays.items() if k.startswith("meta__")},
        classes=tuple(arrays["classes"].tolist()),
        info=manifest.get("info", {}),
    )


def list_cached(root: Path) -> list[dict[str, Any]]:
    if not root.is_dir():
        return []
    out = []
    for js in sorted(root.glob("*.json")):
        m = read_manifest(root, js.stem)
        if m is not None:
            out.append(m)
    return out
