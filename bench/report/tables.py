"""The report's tables, recomputed from stored predictions (never copied from the unit files' summaries)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix
from tabulate import tabulate

from bench.report.data import Group, label_positions
from bench.results import stats


def md_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    return tabulate([[r.get(c, "") for c in columns] for r in rows], headers=columns, tablefmt="github",
                    disable_numparse=True)


def num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def pct(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{100 * x:.1f}"


# ---------------------------------------------------------------------- confusion and per-class scores
def confusion(pred: pd.DataFrame, classes: list[str], normalize: str | None = None) -> np.ndarray:
    """Counts: rows are true classes, columns predicted classes, both in ``classes`` order.

    ``normalize`` is scikit-learn's: "true" divides each row by its total, "pred" each column, "all" the
    whole matrix; an empty row or column stays 0.
    """
    return confusion_matrix(label_positions(pred.y_true, classes), label_positions(pred.y_pred, classes),
                            labels=list(range(len(classes))), normalize=normalize)


def row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the recall of each class on the diagonal); empty rows stay 0."""
    k = len(cm)
    # scikit-learn normalises label pairs, not a matrix: one (true, predicted) pair per cell, weighted by
    # its count.
    return confusion_matrix(np.repeat(np.arange(k), k), np.tile(np.arange(k), k), labels=list(range(k)),
                            sample_weight=np.asarray(cm).ravel(), normalize="true")


def confusion_markdown(cm: np.ndarray, classes: list[str]) -> str:
    rows = [{"true \\ predicted": c, **{p: str(int(v)) for p, v in zip(classes, cm[i])}, "total": str(int(cm[i].sum()))}
            for i, c in enumerate(classes)]
    return md_table(rows, ["true \\ predicted", *classes, "total"])


def per_class(pred: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Precision, recall, F1 and support per class, then macro and support-weighted averages (paper 003 Table 5).

    Averages run over the classes with test samples: a class absent from the test set has no recall to average.
    """
    y_true, y_pred = label_positions(pred.y_true, classes), label_positions(pred.y_pred, classes)
    every = _report(y_true, y_pred, list(range(len(classes))))
    rows = [{"class": c, **every[str(i)]} for i, c in enumerate(classes)]
    # Averages from a second report over the present classes: scikit-learn would average absent ones in as 0.
    averages = _report(y_true, y_pred, sorted({int(i) for i in y_true}))
    rows += [{"class": name, **averages[name]} for name in ("macro avg", "weighted avg")]
    frame = pd.DataFrame(rows).rename(columns={"f1-score": "f1"})
    return frame.astype({"support": int})[["class", "precision", "recall", "f1", "support"]]


def _report(y_true: np.ndarray, y_pred: np.ndarray, labels: list[int]) -> dict[str, dict[str, float]]:
    return classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)


def per_class_markdown(table: pd.DataFrame) -> str:
    rows = [{"class": r["class"], "precision": num(r.precision), "recall": num(r.recall), "F1": num(r.f1),
             "support": str(int(r.support))} for _, r in table.iterrows()]
    return md_table(rows, ["class", "precision", "recall", "F1", "support"])


# ---------------------------------------------------------------------- summary over groups
def summary_row(g: Group) -> dict[str, Any]:
    """Pooled accuracy, the spread over folds and its 95% interval (t over folds, or bootstrap on one split)."""
    correct = (g.predictions.y_true == g.predictions.y_pred).to_numpy(dtype=float)
    fold_acc = [u["metrics"][g.testset]["accuracy"] for u in g.units]
    mean, sd = stats.mean_std(fold_acc)
    if len(fold_acc) >= 2:
        lo, hi = stats.t_interval(fold_acc, bounds=stats.ACCURACY_RANGE)
        how = "t"
    else:
        lo, hi = stats.bootstrap_interval(correct)
        how = "bootstrap"
    macro_f1 = float(np.mean([u["metrics"][g.testset]["macro_f1"] for u in g.units]))
    return {"model": g.model, "variant": g.variant, "testset": g.testset, "folds": len(g.units),
            "n": int(len(correct)), "accuracy_pooled": float(correct.mean()) if len(correct) else math.nan,
            "accuracy_mean": mean, "accuracy_sd": sd, "ci_low": lo, "ci_high": hi, "ci_method": how,
            "macro_f1_mean": macro_f1,
            "fit_time_s": _mean([u.get("fit_time_s") for u in g.units]),
            "predict_ms_per_image": _mean([u.get("predict_ms_per_image") for u in g.units])}


def summary_markdown(rows: list[dict[str, Any]], show_variant: bool) -> str:
    out = []
    for r in rows:
        spread = pct(r["accuracy_mean"]) + (f" ± {pct(r['accuracy_sd'])}" if math.isfinite(r["accuracy_sd"]) else "")
        out.append({"model": r["model"], "variant": r["variant"], "test set": r["testset"], "folds": str(r["folds"]),
                    "n": str(r["n"]), "accuracy (pooled)": pct(r["accuracy_pooled"]),
                    "accuracy mean ± sd over folds": spread,
                    "95% CI": f"[{pct(r['ci_low'])}, {pct(r['ci_high'])}] ({r['ci_method']})",
                    "macro-F1 (mean)": pct(r["macro_f1_mean"]), "fit s": num(r["fit_time_s"], 2),
                    "ms / image": num(r["predict_ms_per_image"], 3)})
    cols = ["model"] + (["variant"] if show_variant else []) + [
        "test set", "folds", "n", "accuracy (pooled)", "accuracy mean ± sd over folds", "95% CI", "macro-F1 (mean)",
        "fit s", "ms / image"]
    return md_table(out, cols)


# ---------------------------------------------------------------------- overfitting gap
def train_accuracy(unit: dict[str, Any]) -> float | None:
    """Training accuracy a deep unit recorded (at its best validation epoch), else from its history."""
    value = unit.get("train_accuracy")
    if value is None and unit.get("history"):
        hist = [h for h in unit["history"] if isinstance(h, dict)]
        best = max(hist, key=lambda h: h.get("val_acc", h.get("val_accuracy", -1)), default=None)
        value = None if best is None else best.get("train_acc", best.get("train_accuracy"))
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def overfitting_rows(groups: list[Group]) -> list[dict[str, Any]]:
    """Paper 003 Table 7: train accuracy - test accuracy, averaged over the folds that recorded both."""
    rows = []
    for g in groups:
        pairs = [(train_accuracy(u), u["metrics"][g.testset]["accuracy"]) for u in g.units]
        pairs = [(tr, te) for tr, te in pairs if tr is not None]
        if not pairs:
            continue
        tr, te = (float(np.mean(v)) for v in zip(*pairs))
        rows.append({"model": g.model, "variant": g.variant, "testset": g.testset, "folds": len(pairs),
                     "train_accuracy": tr, "test_accuracy": te, "gap": tr - te})
    return rows


def overfitting_markdown(rows: list[dict[str, Any]], show_variant: bool) -> str:
    out = [{"model": r["model"], "variant": r["variant"], "test set": r["testset"], "folds": str(r["folds"]),
            "train acc": pct(r["train_accuracy"]), "test acc": pct(r["test_accuracy"]),
            "gap (points)": f"{100 * r['gap']:+.1f}"} for r in rows]
    cols = ["model"] + (["variant"] if show_variant else []) + ["test set", "folds", "train acc", "test acc",
                                                                 "gap (points)"]
    return md_table(out, cols)


def _mean(values: list[Any]) -> float:
    v = [float(x) for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan
