"""Figures of the real-data runs, drawn by ``bench leaderboard`` from the same run folders as the tables.

- ``inflation-DATA.svg``: every model's accuracy on one dataset under each protocol (random hold-out, k-fold,
  subject-disjoint), so how much a protocol that shares people between train and test inflates a number is
  seen at a glance;
- ``memory-SOURCE-TARGET.svg``: paper 002's memory-integrity chart: each adaptation strategy's accuracy on the
  target test set and on the source test set.

SVG, written deterministically (no date, fixed ids). Each file carries the digest of the data it shows, and
``--check`` compares that digest rather than the bytes, which differ between matplotlib versions for the same
data. Synthetic data is left to the tables.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from protocols import PROTOCOLS

Run = tuple[Any, dict[str, Any], pd.DataFrame]
_MARKERS = {"random": "o", "kfold": "^", "subject": "s"}
_COLOURS = {"random": "#d62728", "kfold": "#ff7f0e", "subject": "#1f77b4", "target": "#2ca02c", "source": "#7f7f7f"}


def is_real(manifest: dict[str, Any]) -> bool:
    """A run on imported data (every dataset it used), not on the synthetic family."""
    names = [str((f or {}).get("name", "")) for f in (manifest.get("data") or {}).values()]
    return bool(names) and not any(n.startswith("synth-") for n in names)


def _protocol_label(manifest: dict[str, Any]) -> str:
    cfg = manifest["config"]
    name, folds = cfg["protocol"], str(cfg.get("folds") or "")
    if name == "random":
        return f"random {round(100 * (1 - (cfg.get('test_size') or 0.1)))}/{round(100 * (cfg.get('test_size') or 0.1))}"
    if name == "kfold":
        return f"stratified {folds or 10}-fold"
    if name == "subject":
        return "leave-one-subject-out" if folds == "loso" else f"subject-disjoint {folds or 10}-fold"
    return name


def inflation_data(runs: list[Run]) -> dict[str, pd.DataFrame]:
    """Per real dataset: mean test accuracy (%) of each model (rows) under each protocol (columns), for the
    protocols that either share people between train and test or keep them apart."""
    per: dict[str, dict[tuple[str, str], float]] = {}
    order: dict[str, int] = {}
    for _folder, manifest, frame in runs:
        protocol = PROTOCOLS.get(manifest["config"]["protocol"])
        if protocol.inflation_role is None or not is_real(manifest):
            continue
        data = str(manifest["data"]["dataset"]["name"])
        label = _protocol_label(manifest)
        order[label] = protocol.rank
        ok = frame[(frame.status == "ok") & (frame.testset == protocol.primary_testset)]
        for model, acc in ok.groupby("model").accuracy.mean().items():
            per.setdefault(data, {})[(str(model), label)] = 100 * float(acc)
    out = {}
    for data, values in per.items():
        table = pd.Series(values).unstack()
        if table.shape[1] < 2:
            continue
        cols = sorted(table.columns, key=lambda c: (-order[c], c))  # leaky first, subject-disjoint last
        out[data] = table[cols].dropna(how="any")
    return out


def memory_data(runs: list[Run]) -> dict[tuple[str, str], pd.DataFrame]:
    """Per real (source, target) pair: for each model and strategy at 100 % of the target training data, the
    mean accuracy (%) on the target and on the source test sets, from the runs of one target split only (runs
    on other splits are other experiments, never averaged in): the subject-disjoint one where there is one,
    then the one showing the most strategies (the chart exists to set them side by side), then the most results,
    then the split's name. Its ``split`` column says which."""
    groups: dict[tuple[str, str], dict[tuple[bool, str], list[dict[str, Any]]]] = {}
    for _folder, manifest, frame in runs:
        protocol = PROTOCOLS.get(manifest["config"]["protocol"])
        if protocol.layout != "variants" or not is_real(manifest) or len(manifest["data"]) != 2:
            continue
        pair = (str(manifest["data"]["source"]["name"]), str(manifest["data"]["target"]["name"]))
        params = (manifest.get("protocol") or {}).get("params") or {}
        split = (params.get("target_split_by") != "random", _target_split(params))
        ok = frame[frame.status == "ok"]
        for (model, variant, testset), acc in ok.groupby(["model", "variant", "testset"]).accuracy.mean().items():
            if protocol.variant_fraction(variant) != 1.0 or ":" in variant:
                continue  # a part of the target data, or one of several targets
            groups.setdefault(pair, {}).setdefault(split, []).append({
                "model": model, "strategy": protocol.strategy(variant), "rank": protocol.variant_rank(variant),
                "testset": testset, "accuracy": 100 * float(acc), "split": split[1]})
    out = {}
    for pair, by_split in groups.items():
        chosen = max(by_split, key=lambda k: (k[0], len({r["strategy"] for r in by_split[k]}), len(by_split[k]),
                                              k[1]))
        out[pair] = pd.DataFrame(by_split[chosen])
    return out


def _target_split(params: dict[str, Any]) -> str:
    """How a cross run split its target (its protocol parameters), in words: ``60/20/20 % train/val/test,
    subject-disjoint``."""
    ratios = params.get("target_split")
    if ratios:
        parts = "/".join(f"{100 * r:g}" for r in ratios) + " % train/val/test"
    else:
        parts = f"{100 * params.get('test_size', 0.2):g} % held out for test"
    how = "random (people shared)" if params.get("target_split_by") == "random" else "subject-disjoint"
    seed = params.get("seed", 0)
    return f"{parts}, {how}" + (f", seed {seed}" if seed else "")


# The digest of what a figure shows, written into its SVG: the check compares it, not the bytes, which differ
# between matplotlib versions for the same data.
DIGEST = re.compile(rb"fer-bench figure data ([0-9a-f]{16})")


def _svg(fig: Any, *shown: Any) -> bytes:
    # Four decimals: numpy versions sum the same folds into means that differ in the last bits.
    digest = hashlib.sha256(repr([x.to_csv(float_format="%.4f") if isinstance(x, pd.DataFrame) else x
                                  for x in shown]).encode())
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={
        "Date": None, "Creator": "fer-bench", "Description": f"fer-bench figure data {digest.hexdigest()[:16]}"})
    return buf.getvalue()


def _digest(svg: bytes) -> bytes | None:
    found = DIGEST.search(svg)
    return found.group(1) if found else None


def inflation_svg(data: str, table: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.hashsalt": "fer-bench", "font.size": 8}):
        table = table.sort_values(table.columns[-1])
        fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.22 * len(table)))
        y = np.arange(len(table))
        ax.hlines(y, table.min(axis=1), table.max(axis=1), color="#cccccc", lw=1, zorder=1)
        for col in table.columns:
            key = next((k for k in _MARKERS if col.startswith(k) or (k == "subject" and "subject" in col)), "random")
            if col.startswith("stratified"):
                key = "kfold"
            ax.scatter(table[col], y, marker=_MARKERS[key], color=_COLOURS[key], s=22, label=col, zorder=2)
        ax.set_yticks(y, table.index)
        ax.set_xlabel("test accuracy (%), mean over folds")
        ax.set_title(f"{data}: the same models under each protocol", loc="left")
        ax.grid(axis="x", color="#eeeeee")
        ax.set_xlim(0, 100)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18 - 0.6 / len(table)), ncol=3, frameon=False)
        out = _svg(fig, data, table)
        plt.close(fig)
    return out


def memory_svg(pair: tuple[str, str], frame: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted(frame.model.unique())
    with plt.rc_context({"svg.hashsalt": "fer-bench", "font.size": 8}):
        fig, axes = plt.subplots(1, len(models), figsize=(3.2 * len(models), 2.8), squeeze=False, sharey=True)
        for ax, model in zip(axes[0], models):
            mine = frame[frame.model == model]
            strategies = mine.sort_values("rank").strategy.drop_duplicates().tolist()
            x = np.arange(len(strategies))
            for k, testset in enumerate(("target", "source")):
                acc = [mine[(mine.strategy == s) & (mine.testset == testset)].accuracy.mean() for s in strategies]
                ax.bar(x + (k - 0.5) * 0.38, acc, 0.38, color=_COLOURS[testset],
                       label=f"{pair[1] if testset == 'target' else pair[0]} test set")
            ax.set_xticks(x, strategies)
            ax.set_title(model, loc="left")
            ax.grid(axis="y", color="#eeeeee")
        axes[0][0].set_ylabel("test accuracy (%)")
        axes[0][0].set_ylim(0, 100)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
        fig.suptitle(f"{pair[0]} -> {pair[1]}: each strategy on both test sets (memory integrity)", x=0.01, y=1.06,
                     ha="left", fontsize=9)
        out = _svg(fig, pair, frame)
        plt.close(fig)
    return out


def figures(runs: list[Run]) -> dict[str, bytes]:
    """File name -> SVG bytes of every figure these runs allow."""
    out = {f"inflation-{data}.svg": inflation_svg(data, table) for data, table in sorted(inflation_data(runs).items())}
    for pair, frame in sorted(memory_data(runs).items()):
        out[f"memory-{pair[0]}-{pair[1]}.svg"] = memory_svg(pair, frame)
    return out


def write_or_check(figs: dict[str, bytes], folder: Path, check: bool) -> list[Path]:
    """Write the figures into ``folder`` (or only compare with ``check``); the paths that were out of date: missing,
    or showing other data."""
    stale = []
    for name, data in figs.items():
        path = folder / name
        if not path.exists() or _digest(path.read_bytes()) != _digest(data):
            stale.append(path)
            if not check:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
    return stale
