"""The report's figures, drawn with matplotlib's object API on the Agg canvas.

``Figure`` objects made here are never registered with pyplot, so no global figure list grows, no GUI backend
is touched (the process's pyplot backend is left as it is) and each figure is freed once ``save`` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.report.tables import row_normalised

DPI = 100
CORRECT, WRONG, NEUTRAL = "#2a9d55", "#c8453a", "#4a78b5"


def new_figure(width: float, height: float, *, left: float = 0.8, right: float = 0.2, bottom: float = 0.6,
               top: float = 0.6, wspace: float = 0.25, hspace: float = 0.3) -> Figure:
    """A figure whose margins are given in inches (fixed room for tick labels whatever the figure's size).

    Margins are set by hand rather than by a layout engine: constrained layout nearly doubles drawing time.
    """
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=wspace, hspace=hspace)
    return fig


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" entry: the bytes then depend on the drawing only, not on the matplotlib version string.
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    fig.clear()
    return path


# ---------------------------------------------------------------------- confusion matrices
def confusion(cm: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    """Raw counts beside the row-normalised matrix (each row sums to 1: recall on the diagonal)."""
    norm = row_normalised(cm)
    k = len(classes)
    fig = new_figure(max(8.0, 1.1 * k + 2), max(4.0, 0.55 * k + 1.6), left=1.0, bottom=1.0, top=0.7,
                     wspace=0.3)
    for ax, data, label, fmt in zip(fig.subplots(1, 2), (cm, norm), ("counts", "row-normalised"),
                                    ("{:d}", "{:.2f}")):
        # No colour bar: every cell carries its number, and the bars double the layout time.
        ax.imshow(data, cmap="Blues", vmin=0, vmax=max(float(data.max()), 1e-9))
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        cut = float(data.max()) / 2
        for i in range(k):
            for j in range(k):
                value = int(data[i, j]) if fmt == "{:d}" else float(data[i, j])
                ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=7,
                        color="white" if data[i, j] > cut else "black")
    fig.suptitle(title, fontsize=11)
    return save(fig, path)


# ---------------------------------------------------------------------- learning curves
def learning_curves(histories: Sequence[tuple[str, list[dict[str, Any]]]], title: str, path: Path) -> Path:
    """Loss and accuracy per epoch, every fold overlaid (solid: train, dashed: validation).

    Any numeric history key ending in "loss" goes to the left panel and any containing "acc" to the right
    one, so "train_acc" and "val_accuracy" spellings both plot.
    """
    fig = new_figure(10, 4, top=0.5)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for n, (fold, hist) in enumerate(histories):
        keys = sorted({k for h in hist for k, v in h.items() if isinstance(v, (int, float)) and k != "epoch"})
        epochs = [h.get("epoch", i + 1) for i, h in enumerate(hist)]
        for key in keys:
            ax = ax_loss if key.endswith("loss") else ax_acc if "acc" in key else None
            if ax is None:
                continue
            style = "--" if key.startswith("val") else "-" if key.startswith("train") else ":"
            series = [h.get(key, np.nan) for h in hist]
            ax.plot(epochs, series, style, color=f"C{n % 10}", linewidth=1.2, label=f"{fold} {key}")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, ncol=2 if len(histories) > 3 else 1)
    fig.suptitle(title, fontsize=11)
    return save(fig, path)


# ---------------------------------------------------------------------- calibration
def reliability(bins: Any, conf: np.ndarray, correct: np.ndarray, ece: float, title: str, path: Path) -> Path:
    """Reliability diagram (accuracy per confidence bin against the diagonal) and the confidence histogram of
    correct and incorrect predictions."""
    fig = new_figure(10, 4, top=0.5)
    ax_rel, ax_hist = fig.subplots(1, 2)
    width = float(bins.hi.iloc[0] - bins.lo.iloc[0])
    used = bins[bins["count"] > 0]
    ax_rel.bar(used.lo, used.accuracy, width=width, align="edge", color=NEUTRAL, edgecolor="black",
               linewidth=0.5, label="accuracy")
    ax_rel.bar(used.lo, used.confidence, width=width, align="edge", fill=False, edgecolor=WRONG, linewidth=1.2,
               label="mean confidence")
    ax_rel.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    ax_rel.set_xlim(0, 1)
    ax_rel.set_ylim(0, 1)
    ax_rel.set_xlabel("confidence (max class probability)")
    ax_rel.set_ylabel("accuracy")
    ax_rel.set_title(f"reliability, ECE = {ece:.3f}", fontsize=10)
    ax_rel.legend(fontsize=7, loc="upper left")
    edges = np.linspace(0, 1, len(bins) + 1)
    ax_hist.hist([conf[correct], conf[~correct]], bins=edges, stacked=True, color=[CORRECT, WRONG],
                 label=["correct", "incorrect"])
    ax_hist.set_xlabel("confidence")
    ax_hist.set_ylabel("predictions")
    ax_hist.set_title("confidence distribution", fontsize=10)
    ax_hist.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=11)
    return save(fig, path)


# ---------------------------------------------------------------------- images
def error_grid(thumbs: Sequence[np.ndarray], captions: Sequence[str], title: str, path: Path, ncols: int = 6
               ) -> Path:
    """Thumbnails of the highest-confidence errors, captioned 'true -> predicted (confidence)'."""
    n = len(thumbs)
    nrows = max(1, -(-n // ncols))
    height = 1.95 * nrows + 0.5
    fig = new_figure(1.7 * ncols, height, left=0.05, right=0.05, bottom=0.05, top=0.5, wspace=0.05, hspace=0.25)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, img, cap in zip(axes, thumbs, captions):
        ax.imshow(img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(cap, fontsize=7, color=WRONG, pad=2)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def emotion_analysis(thumbs: Sequence[np.ndarray], probs: np.ndarray, classes: list[str], true: Sequence[str],
                     title: str, path: Path, ncols: int = 2) -> Path:
    """Paper 000 Fig. 10: each test image beside its predicted probability per class; the true class's bar is
    outlined, the predicted one is green when right and red when wrong."""
    n = len(thumbs)
    nrows = max(1, -(-n // ncols))
    height = 1.9 * nrows + 0.5
    fig = new_figure(5.4 * ncols, height)
    grid = fig.add_gridspec(nrows, 2 * ncols, width_ratios=[1, 2.2] * ncols, left=0.01, right=0.98,
                            bottom=0.3 / height, top=1 - 0.55 / height, wspace=0.45, hspace=0.45)
    for i in range(n):
        r, c = divmod(i, ncols)
        ax_img = fig.add_subplot(grid[r, 2 * c])
        ax_bar = fig.add_subplot(grid[r, 2 * c + 1])
        ax_img.imshow(thumbs[i], cmap="gray", vmin=0, vmax=255)
        ax_img.axis("off")
        pred = int(np.argmax(probs[i]))
        t = classes.index(true[i])
        ax_img.set_title(f"true: {true[i]}", fontsize=8)
        colors = [(CORRECT if pred == t else WRONG) if j == pred else "#9aa5b1" for j in range(len(classes))]
        bars = ax_bar.barh(range(len(classes)), probs[i], color=colors)
        bars[t].set_edgecolor("black")
        bars[t].set_linewidth(1.2)
        ax_bar.set_yticks(range(len(classes)), classes, fontsize=7)
        ax_bar.invert_yaxis()
        ax_bar.set_xlim(0, 1)
        ax_bar.tick_params(axis="x", labelsize=7)
        for j, p in enumerate(probs[i]):
            ax_bar.text(min(p + 0.02, 0.8), j, f"{p:.2f}", va="center", fontsize=6)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


# ---------------------------------------------------------------------- across models
def memory_integrity(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Paper 002 Fig. 6: per model, source and target test accuracy of every adaptation strategy."""
    models = sorted({r["model"] for r in rows})
    fig = new_figure(max(6.0, 1.0 + 0.9 * len({r["strategy"] for r in rows})), 3.0 * len(models) + 0.6,
                     top=0.75, bottom=0.4, hspace=0.45)
    axes = np.atleast_1d(fig.subplots(len(models), 1, squeeze=False)).ravel()
    for ax, model in zip(axes, models):
        mine = [r for r in rows if r["model"] == model]
        x = np.arange(len(mine))
        for off, key, color, label in ((-0.2, "source", NEUTRAL, "source test set"),
                                       (0.2, "target", "#e09f3e", "target test set")):
            vals = [100 * r[key] if r[key] is not None else np.nan for r in mine]
            ax.bar(x + off, vals, width=0.4, color=color, label=label)
            for xi, v in zip(x, vals):
                if np.isfinite(v):
                    ax.text(xi + off, v + 1, f"{v:.1f}", ha="center", fontsize=7)
        ax.set_xticks(x, [r["strategy"] for r in mine], fontsize=8)
        ax.set_ylim(0, 110)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(model, fontsize=10)
        ax.legend(fontsize=7, loc="upper right", ncol=2)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Memory integrity: source and target accuracy per adaptation strategy", fontsize=11)
    return save(fig, path)


def cost(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Accuracy against fit time and against inference time per image, both on log axes."""
    fig = new_figure(11, 4.2, top=0.5, wspace=0.2)
    for ax, key, label in zip(fig.subplots(1, 2), ("fit_time_s", "predict_ms_per_image"),
                              ("fit time per fold (s, log)", "inference time per image (ms, log)")):
        pts = [r for r in rows if r[key] is not None and np.isfinite(r[key]) and np.isfinite(r["accuracy"])]
        # A time of 0 cannot sit on a log axis; the timer's resolution is a fair floor for it.
        xs = [max(r[key], 1e-4) for r in pts]
        ax.scatter(xs, [100 * r["accuracy"] for r in pts], color=NEUTRAL, zorder=3)
        for x, r in zip(xs, pts):
            ax.annotate(r["label"], (x, 100 * r["accuracy"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.margins(x=0.2, y=0.1)  # room for the model names right of the points
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Accuracy versus cost", fontsize=11)
    return save(fig, path)
