"""Confidence analysis (paper 003 Table 6) and calibration: reliability bins and expected calibration error.

Confidence is the largest predicted class probability of a sample; a prediction is correct when the stored
``y_pred`` equals ``y_true``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve

from bench.report.cli import DEFAULT_BINS, DEFAULT_THRESHOLD  # one place for the defaults
from bench.report.data import probabilities
from bench.report.tables import md_table, num, pct


def confidence_and_correct(pred: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    conf = probabilities(pred, classes).max(axis=1) if len(pred) else np.zeros(0)
    return conf, (pred.y_true == pred.y_pred).to_numpy(dtype=bool)


def confidence_stats(conf: np.ndarray, correct: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> dict[str, Any]:
    """Mean confidence of all / correct / incorrect predictions, its (population) standard deviation, and the
    count, share and accuracy of predictions with confidence below ``threshold``."""
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=bool)
    low = conf < threshold
    return {
        "n": int(len(conf)),
        "accuracy": _mean(correct),
        "mean_confidence": _mean(conf),
        "mean_confidence_correct": _mean(conf[correct]),
        "mean_confidence_incorrect": _mean(conf[~correct]),
        # ddof=0: it describes these predictions, as paper 003's table does, rather than estimating a population.
        "std_confidence": float(conf.std()) if len(conf) else math.nan,
        "threshold": float(threshold),
        "n_low": int(low.sum()),
        "share_low": _mean(low),
        "accuracy_low": _mean(correct[low]),
        "n_errors": int((~correct).sum()),
    }


def bin_edges(n_bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, n_bins + 1)


def reliability(conf: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Equal-width bins (lo, hi] over [0, 1] (a confidence of exactly 0 joins the first bin):
    count, mean confidence and accuracy per bin; an empty bin has nan for both.

    The means are ``sklearn.calibration.calibration_curve(strategy="uniform")``'s, so a confidence outside
    [0, 1] is an error.
    """
    conf, correct = np.asarray(conf, dtype=float), np.asarray(correct, dtype=bool)
    edges = bin_edges(n_bins)
    # calibration_curve returns no counts and drops empty bins; this is its own binning (searchsorted on
    # the inner edges), which puts both back in place. It sums each bin in sample order (np.bincount), so a
    # mean confidence can differ from numpy's pairwise mean in the last bits.
    counts = np.bincount(np.searchsorted(edges[1:-1], conf), minlength=n_bins)
    accuracy, confidence = np.full(n_bins, math.nan), np.full(n_bins, math.nan)
    if len(conf):
        accuracy[counts > 0], confidence[counts > 0] = calibration_curve(correct, conf, pos_label=True,
                                                                         n_bins=n_bins, strategy="uniform")
    return pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "count": counts, "confidence": confidence,
                         "accuracy": accuracy})


def expected_calibration_error(bins: pd.DataFrame) -> float:
    """ECE = sum over bins of (bin count / N) * |accuracy - mean confidence| (Guo et al. 2017)."""
    total = int(bins["count"].sum())
    if total == 0:
        return math.nan
    used = bins[bins["count"] > 0]
    return float(((used["count"] / total) * (used["accuracy"] - used["confidence"]).abs()).sum())


def confidence_markdown(rows: list[dict[str, Any]], show_variant: bool) -> str:
    """One row per group, columns as in paper 003 Table 6 plus calibration error."""
    thr = rows[0]["threshold"] if rows else DEFAULT_THRESHOLD
    out = [{"model": r["model"], "variant": r["variant"], "test set": r["testset"], "n": str(r["n"]),
            "mean conf": num(r["mean_confidence"]), "mean conf (correct)": num(r["mean_confidence_correct"]),
            "mean conf (incorrect)": num(r["mean_confidence_incorrect"]), "sd conf": num(r["std_confidence"]),
            f"conf < {thr:g}": f"{r['n_low']} ({pct(r['share_low'])}%)",
            f"accuracy of conf < {thr:g}": pct(r["accuracy_low"]) if r["n_low"] else "—",
            "ECE": num(r["ece"]), "errors": str(r["n_errors"])} for r in rows]
    cols = ["model"] + (["variant"] if show_variant else []) + [
        "test set", "n", "mean conf", "mean conf (correct)", "mean conf (incorrect)", "sd conf",
        f"conf < {thr:g}", f"accuracy of conf < {thr:g}", "ECE", "errors"]
    return md_table(out, cols)


def _mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.mean()) if len(values) else math.nan
