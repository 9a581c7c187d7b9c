"""Misclassification audit: the most-confused class pairs, the highest-confidence errors, and the images behind
them (regenerated or reloaded from the run's manifest, and checked against its fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.data import catalog
from bench.report.data import probabilities
from bench.report.tables import md_table, pct
from protocols import PROTOCOLS


def confused_pairs(cm: np.ndarray, classes: list[str], top: int = 10) -> list[dict[str, Any]]:
    """Off-diagonal cells by count (ties: class order), with their share of the true class's samples."""
    rows = []
    for i, t in enumerate(classes):
        total = int(cm[i].sum())
        for j, p in enumerate(classes):
            if i != j and cm[i, j] > 0:
                rows.append({"true": t, "predicted": p, "count": int(cm[i, j]), "share": cm[i, j] / total})
    rows.sort(key=lambda r: (-r["count"], classes.index(r["true"]), classes.index(r["predicted"])))
    return rows[:top]


def confused_pairs_markdown(rows: list[dict[str, Any]]) -> str:
    out = [{"true": r["true"], "predicted as": r["predicted"], "count": str(r["count"]),
            "% of true class": pct(r["share"])} for r in rows]
    return md_table(out, ["true", "predicted as", "count", "% of true class"])


def top_errors(pred: pd.DataFrame, classes: list[str], k: int) -> pd.DataFrame:
    """The ``k`` wrong predictions made with the highest confidence (ties: fold, then dataset index)."""
    wrong = pred[pred.y_true != pred.y_pred].copy()
    wrong["confidence"] = probabilities(wrong, classes).max(axis=1) if len(wrong) else []
    return wrong.sort_values(["confidence", "fold", "index"], ascending=[False, True, True], kind="mergesort").head(k)


@dataclass
class Images:
    """The run's images and file names by dataset index, or why they cannot be shown."""

    images: np.ndarray | None
    files: np.ndarray | None = None
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.images is not None

    def mismatch(self, pred: pd.DataFrame) -> str:
        """Why these predictions' indices cannot be trusted to point at the right images ('' when they can)."""
        if not self.available:
            return self.reason
        if pred.empty:
            return ""
        idx = pred["index"].to_numpy()
        if idx.min() < 0 or idx.max() >= len(self.images):
            return "stored indices fall outside the reloaded dataset"
        if self.files is not None and np.any(self.files[idx] != pred["file"].astype(str).to_numpy()):
            return "stored file names differ from the reloaded dataset's, so indices may point at other images"
        return ""


def load_images(manifest: dict[str, Any], data_dir: str | None = None) -> Images:
    """Regenerate (synthetic) or reload (imported) the run's dataset as its protocol prepared it (for cross
    runs the merged source + target).

    The dataset must have the fingerprint the run recorded, otherwise indices could point at other images.
    Never raises: a report without thumbnails is better than no report.
    """
    cfg = manifest.get("config", {})
    data_dir = data_dir or cfg.get("data_dir")
    what = "?"
    try:
        protocol = PROTOCOLS.get(cfg["protocol"])
        what = protocol.data_title(cfg)
        ds = protocol.prepare({role: catalog.load(cfg[role], data_dir) for role in protocol.data_roles})
    except Exception as exc:  # noqa: BLE001 - any failure to get the data only removes the thumbnails
        return Images(None, reason=f"the dataset could not be loaded ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())})")
    expected = manifest.get("dataset_fingerprint")
    if expected and ds.fingerprint() != expected:
        return Images(None, reason=f"dataset {what} now has fingerprint {ds.fingerprint()} but the run used "
                                   f"{expected} (re-imported or generated differently), so indices may not match")
    return Images(ds.images, ds.files)
