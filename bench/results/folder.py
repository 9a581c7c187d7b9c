"""The run folder: a self-describing record of one run that the leaderboard and reports read.

Layout::

    RUN/manifest.json                 command, resolved config, seed, versions, dataset fingerprints, folds
    RUN/leakage.json                  per-fold leakage report and test coverage across folds
    RUN/units/MODEL/FOLD.json         one finished (model, fold) unit: metrics per test set, timings, history
    RUN/predictions/MODEL/FOLD.csv.gz per-sample predictions with class probabilities
    RUN/metrics.csv                   one row per (model, fold, test set), rebuilt from the unit files
    RUN/checkpoints/                  deep source models that fine-tuning folds start from (not committed)
    RUN/models/MODEL/FOLD.EXT         a unit's fitted model, kept for bench eval / predict / export (``.pt`` deep,
                                      ``.skops`` classical; ``bench.run.saved_models``)

Every file is written atomically, a unit as soon as it finishes, so a killed run loses at most the unit in
progress and re-running the same command skips finished units.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError, ConfigError
from bench.core.files import atomic_write_bytes, atomic_write_text, dump_json

SCHEMA_VERSION = 1
METRIC_COLUMNS = ["accuracy", "balanced_accuracy", "macro_f1"]


def path_part(name: str) -> str:
    """A model's name as a folder name on any file system: its settings' ``:`` becomes ``@``
    (``hog-svm:C=0.1`` -> ``hog-svm@C=0.1``); the unit files inside keep the real name."""
    return re.sub(r"[^A-Za-z0-9_.,=@+-]", "_", name.replace(":", "@"))


class RunFolder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

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
            return json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BenchError(f"{self.manifest_path} is unreadable ({exc}); remove the run folder or pick --name") from exc

    def start(self, manifest: dict[str, Any]) -> None:
        """Create the folder, or check that an existing one holds the same run (then resume it)."""
        if self.exists():
            old = self.read_manifest()
            if old.get("config_key") != manifest["config_key"]:
                diff = sorted(k for k in set(old.get("config", {})) | set(manifest["config"])
                              if old.get("config", {}).get(k) != manifest["config"].get(k))
                raise ConfigError(
                    f"run folder {self.path} holds a run with a different configuration ({', '.join(diff)}); "
                    "pass --name to start another run"
                )
            manifest["models"] = sorted(set(old.get("models", [])) | set(manifest["models"]))
            manifest["created"] = old.get("created", manifest["created"])
        self.write_json(self.manifest_path, dict(manifest, schema_version=SCHEMA_VERSION))

    def write_json(self, path: Path, obj: Any) -> None:
        atomic_write_text(path, dump_json(obj))

    # --------------------------------------------------------------- units
    def unit_done(self, model: str, fold_id: str) -> bool:
        path = self.unit_path(model, fold_id)
        if not path.exists():
            return False
        try:
            return json.loads(path.read_text()).get("status") == "ok"
        except (OSError, json.JSONDecodeError):
            return False  # a damaged unit file is redone

    def write_unit(self, record: dict[str, Any], predictions: pd.DataFrame | None = None) -> None:
        model, fold_id = record["model"], record["fold"]
        if predictions is not None:
            # Predictions first: a unit file only exists beside its predictions.
            atomic_write_bytes(self.predictions_path(model, fold_id),
                               lambda fh: predictions.to_csv(fh, index=False, compression={"method": "gzip", "mtime": 0},
                                                             float_format="%.6g"))
        self.write_json(self.unit_path(model, fold_id), record)

    def read_units(self) -> list[dict[str, Any]]:
        units = []
        for path in sorted((self.path / "units").glob("*/*.json")):
            try:
                units.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
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
                    "tuned_trials": (u.get("tuned") or {}).get("n_trials", 0)}
            if u["status"] != "ok":
                rows.append(dict(base, testset="", message=u.get("message", "")))
                continue
            for testset, m in sorted(u["metrics"].items()):
                rows.append(dict(base, testset=testset, n_test=m["n"], **{k: m[k] for k in METRIC_COLUMNS},
                                 message=""))
        cols = ["model", "family", "fold", "variant", "testset", "status", "n_train", "n_val", "n_test",
                *METRIC_COLUMNS, "fit_time_s", "predict_ms_per_image", "model_size", "tuned_trials", "message"]
        return pd.DataFrame(rows, columns=cols)

    def write_metrics_table(self) -> None:
        frame = self.metrics_frame()
        atomic_write_text(self.path / "metrics.csv", frame.to_csv(index=False, float_format="%.6g"))


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
