"""The on-disk cache of imported datasets: one compressed .npz per dataset plus a small JSON manifest beside it.

The manifest records the arrays' SHA-256 and image shape, and every load checks them: a manifest never serves
arrays it was not written with. An import stages both files under temporary names, then renames the arrays and
the manifest last, holding the dataset's lock (``.NAME.lock``) throughout; a process killed between the two
renames leaves new arrays beside the old manifest, which the check reports as a half-written cache.
Temporary files of a killed import are removed by the next import.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.core.errors import DataError
from bench.core.files import atomic_write_bytes, staged_bytes, staged_target
from bench.core.locks import FileLock
from bench.core.names import check_plain_name
from bench.data.dataset import FERDataset

ENV_VAR = "FER_BENCH_DATA_DIR"
FORMAT_VERSION = 2  # 2: the manifest holds the arrays' digest and image shape
# What a manifest must hold for ``bench data list`` and the loaders to use it.
REQUIRED = {"name": str, "n_images": int, "image_size": list, "classes": list}


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where imported datasets live: ``--data-dir``, else $FER_BENCH_DATA_DIR, else the user's cache dir."""
    if override:
        path, what = Path(override).expanduser(), "--data-dir"
    elif os.environ.get(ENV_VAR):
        path, what = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        import platformdirs

        return Path(platformdirs.user_cache_dir("fer-bench")) / "datasets"
    if path.exists() and not path.is_dir():
        raise DataError(f"{what} {path} is a file, not a folder; give the folder that holds (or will hold) "
                        "the imported datasets")
    return path


# ``info`` key of an import's thumbnail grid of face crops (an image array), saved as NAME.crops.png.
CROP_GRID = "crop_grid"


def _paths(root: Path, name: str) -> tuple[Path, Path]:
    check_plain_name(name, "dataset name")
    return root / f"{name}.npz", root / f"{name}.json"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    lock = FileLock(root / f".{ds.name}.lock")
    if not lock.acquire(f"pid {os.getpid()} importing '{ds.name}'"):
        raise DataError(f"another import of '{ds.name}' into {root} is running ({lock.holder()}); wait for it "
                        "to finish, or import under another --name")
    try:
        remove_orphans(root, own=ds.name)
        _save_crop_grid(ds, root)
        tmp_arrays = staged_bytes(npz, lambda fh: np.savez_compressed(fh, **arrays))
        tmp_manifest = None
        try:
            full = dict(manifest, format_version=FORMAT_VERSION, name=ds.name, info=ds.info, n_images=len(ds),
                        image_size=list(ds.image_size), classes=ds.class_names, class_counts=ds.class_counts(),
                        n_subjects=len(ds.subject_counts()) if ds.has_subjects else None,
                        fingerprint=ds.fingerprint(),
                        arrays={"file": npz.name, "sha256": _digest(tmp_arrays.read_bytes()),
                                "images_shape": list(ds.images.shape)})
            text = json.dumps(full, indent=2, sort_keys=True, default=str) + "\n"
            tmp_manifest = staged_bytes(js, lambda fh: fh.write(text.encode("utf-8")))
            # Arrays first, manifest last: until the manifest is renamed the old one (or none) stands, and the
            # arrays' digest tells a reader that the pair is half-written.
            os.replace(tmp_arrays, npz)
            os.replace(tmp_manifest, js)
        finally:
            for tmp in (tmp_arrays, tmp_manifest):
                if tmp is not None:
                    tmp.unlink(missing_ok=True)
    finally:
        lock.release()
    return npz


def _save_crop_grid(ds: FERDataset, root: Path) -> None:
    """The import's thumbnail grid of face crops as ``NAME.crops.png``, named in its report (a stale grid of an
    earlier import with --crop-faces is removed)."""
    path = root / f"{ds.name}.crops.png"
    grid = ds.info.pop(CROP_GRID, None)
    if grid is None:
        path.unlink(missing_ok=True)
        return
    ok, png = cv2.imencode(".png", grid)
    if not ok:  # pragma: no cover - encoding a uint8 array as PNG does not fail
        raise DataError(f"could not encode the thumbnail grid of face crops for {path}")
    atomic_write_bytes(path, lambda fh: fh.write(png.tobytes()))
    report = ds.info.setdefault("report", {})
    report["face crops"] = f"thumbnail grid of a sample of the crops: {path}"


def remove_orphans(root: Path, own: str | None = None) -> list[Path]:
    """Delete temporary files that killed imports left behind (``own``'s: the caller holds its lock; others'
    only when no import of theirs is running). Returns the files removed."""
    removed = []
    for tmp in sorted(root.glob(".*.tmp")) if root.is_dir() else []:
        target = staged_target(tmp.name)
        if target is None or not target.endswith((".npz", ".json")):
            continue
        name = target.rsplit(".", 1)[0]
        lock = FileLock(root / f".{name}.lock") if name != own else None
        if lock is not None and not lock.acquire(f"pid {os.getpid()} removing orphaned temporary files"):
            continue  # that import is running: its temporary files are not orphans
        try:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
        finally:
            if lock is not None:
                lock.release()
    return removed


def _manifest_problem(m: Any, name: str) -> str | None:
    if not isinstance(m, dict):
        return f"it holds a JSON {type(m).__name__}, not a dataset manifest"
    missing = [k for k, kind in REQUIRED.items() if not isinstance(m.get(k), kind)]
    if missing:
        return f"it lacks {', '.join(missing)}"
    if m["name"] != name:
        return f"it describes dataset '{m['name']}', not '{name}'"
    return None


def read_manifest(root: Path, name: str) -> dict[str, Any] | None:
    """The manifest of an imported dataset, None when it is not imported; a damaged one is a DataError."""
    npz, js = _paths(root, name)
    if not (npz.exists() and js.exists()):
        return None
    try:
        m = json.loads(js.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem: str | None = f"it is not readable JSON ({exc})"
    else:
        problem = _manifest_problem(m, name)
    if problem:
        raise DataError(f"dataset manifest {js} is damaged: {problem}; re-import the dataset with "
                        f"'bench data import IMPORTER PATH --name {name} --force' or delete {js}")
    return m


def load_dataset(root: Path, name: str) -> FERDataset:
    npz, _ = _paths(root, name)
    manifest = read_manifest(root, name)
    if manifest is None:
        raise DataError(f"dataset '{name}' is not imported in {root}; run 'bench data import ...' first")
    fix = f"re-import it with 'bench data import IMPORTER PATH --name {name} --force'"
    try:
        data = npz.read_bytes()
    except OSError as exc:
        raise DataError(f"cached dataset {npz} is unreadable ({exc.strerror or exc}); {fix}") from exc
    expected = manifest.get("arrays") or {}
    if expected.get("sha256") and expected["sha256"] != _digest(data):
        raise DataError(f"cached dataset '{name}' in {root} is half-written or was replaced: {npz.name} does not "
                        f"match the digest in {name}.json; {fix}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile / zlib errors on a damaged cache
        raise DataError(f"cached dataset {npz} is unreadable ({exc}); {fix}") from exc
    # Caches written before digests were recorded are checked by the shape their manifest states.
    shape = expected.get("images_shape") or [manifest["n_images"], *manifest["image_size"]]
    images = arrays.get("images")
    if images is None or list(images.shape) != list(shape):
        found = "no images" if images is None else f"images of shape {list(images.shape)}"
        raise DataError(f"cached dataset '{name}' in {root} does not match its manifest ({npz.name} holds {found}, "
                        f"{name}.json says {list(shape)}): it is half-written; {fix}")
    return FERDataset(
        name=name,
        images=images,
        labels=arrays["labels"],
        files=arrays["files"],
        subjects=arrays.get("subjects"),
        source=arrays["source"],
        meta={k[len("meta__"):]: v for k, v in arrays.items() if k.startswith("meta__")},
        classes=tuple(arrays["classes"].tolist()),
        info=manifest.get("info", {}),
    )


def list_cached(root: Path) -> tuple[list[dict[str, Any]], dict[Path, str]]:
    """The manifests of the imported datasets, and the damaged manifest files with what is wrong with each."""
    if not root.is_dir():
        return [], {}
    good, damaged = [], {}
    for js in sorted(root.glob("*.json")):
        try:
            m = read_manifest(root, js.stem)
        except DataError as exc:
            damaged[js] = str(exc)
            continue
        except Exception as exc:  # noqa: BLE001 - e.g. a file name that is not a plain dataset name
            damaged[js] = f"{js.name} is not a dataset manifest ({exc})"
            continue
        if m is not None:
            good.append(m)
    return good, damaged
