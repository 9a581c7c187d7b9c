"""The run folder: a self-describing record of one run that the leaderboard and reports read.

Layout::

    RUN/manifest.json                 kind, first command and later ones, resolved config and its identity,
                                      seed, versions, dataset fingerprints, folds
    RUN/leakage.json                  per-fold leakage report and test coverage across folds
    RUN/units/MODEL/FOLD.json         one finished (model, fold) unit: metrics per test set, timings, history
    RUN/predictions/MODEL/FOLD.csv.gz per-sample predictions with class probabilities
    RUN/metrics.csv                   one row per (model, fold, test set), rebuilt from the unit files
    RUN/checkpoints/                  deep source models that fine-tuning folds start from (not committed)
    RUN/.lock                         held by the run that fits units in the folder (``flock``; never stale)
    RUN/models/MODEL/FOLD.EXT         a unit's fitted model, kept for bench eval / predict / export (``.pt`` deep,
                                      ``.skops`` classical; ``bench.run.saved_models``)

Every file is written atomically, a unit as soon as it finishes, so a killed run loses at most the unit in
progress and re-running the same command skips finished units. A folder is reused only when its manifest says
it is a fer-bench run of the same identity (resolved settings and the data's fingerprints); a damaged unit
record is skipped by readers, which name it, and its unit runs again.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError, ConfigError
from bench.core.files import atomic_write_bytes, atomic_write_text, dump_json, staged_target
from bench.core.locks import FileLock

SCHEMA_VERSION = 1
RUN_KIND = "fer-bench run"  # what a manifest says so that a folder is ever reused as a run folder
METRIC_COLUMNS = ["accuracy", "balanced_accuracy", "macro_f1"]
UNIT_STATUSES = ("ok", "skipped", "failed")
LOCK_NAME = ".lock"
# The settings besides the protocol's and the data that made a run's results, as manifests written before the
# identity was stored hold them in their config.
_LEGACY_IDENTITY = ("seed", "preset", "epochs", "tune")


def is_run_manifest(m: Any) -> bool:
    """Whether ``m`` is a run manifest: marked as one, or written before the mark by a version that stored
    its schema version, config and config key."""
    if not isinstance(m, dict):
        return False
    return m.get("kind") == RUN_KIND or (
        isinstance(m.get("schema_version"), int) and isinstance(m.get("config"), dict) and "config_key" in m)


def identity_of(m: dict[str, Any]) -> dict[str, Any]:
    """What a resumed run must share with the first: the stored identity, or for a manifest written before
    identities were stored, the same facts rebuilt from its resolved protocol parameters, data fingerprints
    and config."""
    if isinstance(m.get("identity"), dict):
        return m["identity"]
    cfg = m.get("config") or {}
    return {**{k: cfg.get(k) for k in _LEGACY_IDENTITY}, "protocol": (m.get("protocol") or {}).get("params"),
            "data": {role: (f or {}).get("fingerprint") for role, f in (m.get("data") or {}).items()}}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix.rstrip("."): d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


def unit_problem(record: Any, model: str | None = None, fold_id: str | None = None) -> str | None:
    """Why a unit record cannot be used (None when it can): what the engine, leaderboard and report rely on."""
    if not isinstance(record, dict):
        return f"it holds a JSON {type(record).__name__}, not a unit record"
    for key in ("model", "fold", "status"):
        if not isinstance(record.get(key), str):
            return f"it has no '{key}'"
    # The record's model is compared as its folder name (``path_part``): a model with settings has ``@`` there.
    if (model, fold_id) != (None, None) and (path_part(record["model"]), record["fold"]) != (path_part(model or ""), fold_id):
        return f"it records {record['model']}/{record['fold']}, not {model}/{fold_id}"
    if record["status"] not in UNIT_STATUSES:
        return f"its status '{record['status']}' is not one of {', '.join(UNIT_STATUSES)}"
    if record["status"] != "ok":
        return None
    metrics = record.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        return "it has no metrics"
    for testset, m in metrics.items():
        if not isinstance(m, dict):
            return f"its metrics for '{testset}' are not an object"
        missing = [k for k in ("n", *METRIC_COLUMNS) if not isinstance(m.get(k), (int, float))]
        missing += [k for k in ("labels", "confusion_matrix") if not isinstance(m.get(k), list)]
        if missing:
            return f"its metrics for '{testset}' lack {', '.join(missing)}"
    # fit_time_s is None for a model scored without fitting (bench eval), but never missing.
    if not isinstance(record.get("fit_time_s", ""), (int, float, type(None))):
        return "it has no 'fit_time_s'"
    if not isinstance(record.get("predict_ms_per_image"), (int, float)):
        return "it has no 'predict_ms_per_image'"
    return None


def path_part(name: str) -> str:
    """A model's name as a folder name on any file system: its settings' ``:`` becomes ``@``
    (``hog-svm:C=0.1`` -> ``hog-svm@C=0.1``); the unit files inside keep the real name."""
    return re.sub(r"[^A-Za-z0-9_.,=@+-]", "_", name.replace(":", "@"))


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = FileLock(self.path / LOCK_NAME)

    # --------------------------------------------------------------- paths
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def unit_path(self, model: str, fold_id: str) -> Path:
        return self.path / "units" / path_part(model) / f"{fold_id}.json"

    def predictions_path(self, model: str, fold_id: str) -> Path:
        return self.path / "predictions" / path_part(model) / f"{fold_id}.csv.gz"

    def checkpoint_path(self, model: str, fold_id: str) -> Path:
        return self.path / "checkpoints" / path_part(model) / f"{fold_id}.pt"

    def epoch_checkpoint_path(self, model: str, fold_id: str) -> Path:
        """A unit's training state after its last finished epoch (a killed run resumes the unit there)."""
        return self.path / "checkpoints" / path_part(model) / f"{fold_id}.epoch.pt"
    def model_path(self, model: str, fold_id: str, ext: str) -> Path:
        """Where a unit's fitted model is kept: ``RUN/models/MODEL/FOLD.EXT`` (ext ``pt``, ``skops``, ``onnx``)."""
        return self.path / "models" / path_part(model) / f"{fold_id}.{ext.lstrip('.')}"

    def model_files(self, model: str) -> list[Path]:
        """The saved model files of one model, one per unit, in fold order."""
        folder = self.path / "models" / path_part(model)
        return sorted(p for p in folder.glob("*.*") if p.is_file() and not p.name.startswith("."))

    # --------------------------------------------------------------- manifest
    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> dict[str, Any]:
        try:
            m = json.loads(self.manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BenchError(f"{self.manifest_path} is unreadable ({exc}); remove the run folder or pick --name") from exc
        if not is_run_manifest(m):
            raise BenchError(f"{self.manifest_path} is not a fer-bench run manifest, so {self.path} is not a run "
                             "folder; pick another --name or --out")
        return m

    def _check_reusable(self) -> None:
        """A path may become a run folder when it is new, an empty folder or a run folder already."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"{self.path} is a file, not a run folder; pick another --name or --out")
        if self.exists() or not self.path.is_dir():
            return
        ours = {LOCK_NAME}
        foreign = sorted(p.name for p in self.path.iterdir()
                         if p.name not in ours and staged_target(p.name) != self.manifest_path.name)
        if foreign:
            raise ConfigError(f"{self.path} exists and is not a fer-bench run folder (no manifest.json; it holds "
                              f"{', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}); a run never writes "
                              "into another folder: pick another --name or --out")

    def lock(self, note: str) -> None:
        """Hold the folder's lock while fitting units in it: a second run on the same folder is refused instead
        of fitting the same units. Held until ``release()``, this object's end or the process's end."""
        self._check_reusable()
        if not self._lock.acquire(note):
            raise ConfigError(f"run folder {self.path} is in use by another run ({self._lock.holder() or 'unknown'}); "
                              "wait for it to finish, or pass --name to start another run")

    def release(self) -> None:
        self._lock.release()

    def start(self, manifest: dict[str, Any]) -> None:
        """Create the folder, or check that an existing one holds the same run (then resume it).

        The same run means the same identity: the resolved settings and the data's fingerprints, never the
        command's spelling (``--folds 10`` spelled out or not), the device or the output options. A resumed run
        keeps the first command and appends its own to ``resumed``.
        """
        self._check_reusable()
        manifest = dict(manifest, schema_version=SCHEMA_VERSION, kind=RUN_KIND)
        if self.exists():
            old = self.read_manifest()
            self._check_same_run(old, manifest)
            resumed = [*old.get("resumed", []), {"command": manifest.get("command"), "at": manifest.get("created")}]
            kept = {k: old[k] for k in ("command", "config", "created", "data", "versions") if k in old}
            manifest = dict(manifest, **kept, resumed=resumed,
                            models=sorted(set(old.get("models", [])) | set(manifest.get("models", []))))
        self.write_json(self.manifest_path, manifest)

    def _check_same_run(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        before, now = identity_of(old), identity_of(new)
        data_before, data_now = before.get("data") or {}, now.get("data") or {}
        changed = [role for role in sorted(set(data_before) | set(data_now))
                   if data_before.get(role) != data_now.get(role)]
        if changed:
            role = changed[0]
            spec = (new.get("config") or {}).get(role, role)
            raise ConfigError(
                f"run folder {self.path} holds results on other data: '{spec}' (--{role}) had fingerprint "
                f"{data_before.get(role)} there and has {data_now.get(role)} now (re-imported or replaced since); "
                "pass --name to start a fresh run folder, or remove this one")
        keys = set(before) if "identity" not in old else set(before) | set(now)
        flat_before = _flat({k: before.get(k) for k in keys - {"data"}})
        flat_now = _flat({k: now.get(k) for k in keys - {"data"}})
        diff = [f"{k} {flat_before.get(k)!r} then, {flat_now.get(k)!r} now"
                for k in sorted(set(flat_before) | set(flat_now)) if flat_before.get(k) != flat_now.get(k)]
        if diff:
            raise ConfigError(f"run folder {self.path} holds a run with other settings ({'; '.join(diff)}); "
                              "pass --name to start another run")

    def write_json(self, path: Path, obj: Any) -> None:
        atomic_write_text(path, dump_json(obj))

    def write_text(self, name: str, text: str) -> Path:
        """A file of the run folder (e.g. its leaderboard.md), written atomically."""
        atomic_write_text(self.path / name, text)
        return self.path / name

    # --------------------------------------------------------------- units
    def _read_unit(self, path: Path) -> tuple[dict[str, Any] | None, str | None]:
        """(record, None), or (None, why it cannot be used)."""
        try:
            record = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, f"it is not readable JSON ({type(exc).__name__})"
        problem = unit_problem(record, path.parent.name, path.stem)
        return (None, problem) if problem else (record, None)

    def unit_done(self, model: str, fold_id: str) -> bool:
        path = self.unit_path(model, fold_id)
        if not path.exists():
            return False
        record, problem = self._read_unit(path)
        if problem:
            warnings.warn(f"unit record {path} is damaged ({problem}); the unit runs again", stacklevel=2)
            return False
        return record is not None and record["status"] == "ok"

    def write_unit(self, record: dict[str, Any], predictions: pd.DataFrame | None = None) -> None:
        model, fold_id = record["model"], record["fold"]
        if predictions is not None:
            # Predictions first: a unit file only exists beside its predictions.
            atomic_write_bytes(self.predictions_path(model, fold_id),
                               lambda fh: predictions.to_csv(fh, index=False, compression={"method": "gzip", "mtime": 0},
                                                             float_format="%.6g"))
        self.write_json(self.unit_path(model, fold_id), record)

    def read_units(self) -> list[dict[str, Any]]:
        """Every usable unit record; a damaged one is left out with a warning that names its file."""
        units = []
        for path in sorted((self.path / "units").glob("*/*.json")):
            record, problem = self._read_unit(path)
            if problem:
                warnings.warn(f"skipped unit record {path}: {problem}; re-run the run's command to redo the unit",
                              stacklevel=2)
                continue
            units.append(record)
        return units

    def read_predictions(self, model: str, fold_id: str) -> pd.DataFrame:
        return pd.read_csv(self.predictions_path(model, fold_id))

    # --------------------------------------------------------------- summaries
    def metrics_frame(self, units: list[dict[str, Any]] | None = None) -> pd.DataFrame:
        rows = []
        for u in units if units is not None else self.read_units():
            base = {"model": u["model"], "family": u.get("family", ""), "fold": u["fold"],
                    "variant": u.get("variant", ""), "status": u["status"],
                    "fit_time_s": u.get("fit_time_s"), "predict_ms_per_image": u.get("predict_ms_per_image"),
                    "model_size": u.get("model_size"), "n_train": u.get("n_train"), "n_val": u.get("n_val"),
                    "tuned_trials": (u.get("tuned") or {}).get("n_trials", 0), "backend": u.get("backend")}
            if u["status"] != "ok":
                rows.append(dict(base, testset="", message=u.get("message", "")))
                continue
            for testset, m in sorted(u["metrics"].items()):
                rows.append(dict(base, testset=testset, n_test=m["n"], **{k: m[k] for k in METRIC_COLUMNS},
                                 message=""))
        cols = ["model", "family", "fold", "variant", "testset", "status", "n_train", "n_val", "n_test",
                *METRIC_COLUMNS, "fit_time_s", "predict_ms_per_image", "model_size", "tuned_trials", "backend",
                "message"]
        return pd.DataFrame(rows, columns=cols)

    def write_metrics_table(self) -> None:
        frame = self.metrics_frame()
        atomic_write_text(self.path / "metrics.csv", frame.to_csv(index=False, float_format="%.6g"))


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
