"""The README's front page of real-data results: compact tables (the top rows; the full ones are in
leaderboard/LEADERBOARD.md), the figures, and the list of runs with their recipe and time."""

from __future__ import annotations

from typing import Any

import pandas as pd

from leaderboard import figures
from leaderboard.build import Run, _data_title, _md, _pct, single_table
from protocols import PROTOCOLS

TOP = 8  # rows of a compact table


def front_page(runs: list[Run], figure_dir: str) -> str:
    """Markdown for the real-data runs (empty when there are none); ``figure_dir`` is where the README finds
    the figures ``figures.figures`` draws from the same runs."""
    if not runs:
        return ""
    parts = []
    singles: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        protocol = PROTOCOLS.get(run[1]["config"]["protocol"])
        if protocol.layout != "variants" and protocol.inflation_role is None:
            singles.setdefault((run[1]["config"]["protocol"], _data_title(run[1])), []).append(run)
    for (name, data), group in sorted(singles.items()):
        parts += [f"#### {data}, {name} split: top {TOP}\n", single_table(group, PROTOCOLS.get(name), limit=TOP), ""]
    for data, table in sorted(figures.inflation_data(runs).items()):
        parts += [f"#### {data}: the same models under each protocol\n",
                  f"![{data}: accuracy under each protocol]({figure_dir}/inflation-{data}.svg)\n",
                  _inflation_table(table), ""]
    for pair, frame in sorted(figures.memory_data(runs).items()):
        parts += [f"#### {pair[0]} -> {pair[1]}: every strategy on both test sets\n",
                  f"![{pair[0]} -> {pair[1]}: memory integrity]({figure_dir}/memory-{pair[0]}-{pair[1]}.svg)\n",
                  _memory_table(pair, frame), ""]
    parts += ["#### The runs\n", _runs_table(runs), ""]
    return "\n".join(parts)


def _inflation_table(table: pd.DataFrame) -> str:
    """The top models by subject-disjoint accuracy, each protocol's accuracy and what sharing people adds."""
    honest = table.columns[-1]
    top = table.sort_values(honest, ascending=False).head(TOP)
    rows = []
    for model, accs in top.iterrows():
        row: dict[str, Any] = {"model": model, **{c: _pct(accs[c] / 100) for c in table.columns}}
        row["inflation (points)"] = f"{accs.iloc[0] - accs[honest]:+.1f}"
        rows.append(row)
    note = (f"Mean test accuracy (%) over folds; inflation: {table.columns[0]} minus {honest}. "
            f"{len(table) - len(top)} more models in the full tables." if len(table) > len(top) else "")
    return _md(rows, ["model", *table.columns, "inflation (points)"]) + (f"\n\n{note}" if note else "")


def _memory_table(pair: tuple[str, str], frame: pd.DataFrame) -> str:
    strategies = frame.sort_values("rank").strategy.drop_duplicates().tolist()
    rows = []
    for model, mine in frame.groupby("model", sort=True):
        row: dict[str, Any] = {"model": model}
        for s in strategies:
            acc = {t: mine[(mine.strategy == s) & (mine.testset == t)].accuracy.mean() for t in ("target", "source")}
            row[s] = " / ".join("—" if pd.isna(a) else f"{a:.1f}" for a in (acc["target"], acc["source"]))
        rows.append(row)
    return (f"Accuracy (%) on the {pair[1]} / {pair[0]} test sets with 100 % of the target training data; "
            f"{pair[1]} split {frame.split.iloc[0]}. BL: the source model as is; SCRATCH: target only; FU: source "
            "+ target; FC, FC+CL, RE: fine-tuned dense layers, plus the last conv block, everything.\n\n"
            + _md(rows, ["model", *strategies]))


def _runs_table(runs: list[Run]) -> str:
    rows = []
    for folder, manifest, _frame in sorted(runs, key=lambda r: r[1]["run_id"]):
        units = folder.read_units()
        # An ensemble trains nothing (its fit time is its members'); a deep unit resumed from its epoch checkpoint
        # has wall_s of its last process only, while its fit_time_s sums the epochs of every attempt.
        trained = [u for u in units if u.get("family") != "ensemble"]
        seconds = sum(max(float(u.get("wall_s") or 0), float(u.get("fit_time_s") or 0)) for u in trained)
        timed = "units' wall time" if trained and all("wall_s" in u for u in trained) else "fit time"
        cfg = manifest.get("config") or {}
        cmd = " ".join(_without_out([str(a) for a in manifest.get("command") or []]))
        deep = any(u.get("family") == "deep" for u in units)
        epochs = cfg.get("epochs")
        recipe = cfg.get("preset", "default") + (f", {epochs} epoch{'s' if epochs != 1 else ''}" if epochs else "")
        rows.append({"run": f"[{manifest['run_id']}](results/{manifest['run_id']})", "command": f"`{cmd}`",
                     "preset": recipe if deep else "—",
                     "units": str(len(units)), "time": f"{_clock(seconds)} ({timed})"})
    intro = ("Each run's command, deep-model recipe and time on the 2-core CPU it ran on (`--threads 1`: with "
             "another run on the other core; `--threads 2`: alone).")
    return intro + "\n\n" + _md(rows, ["run", "command", "preset", "units", "time"])


def _without_out(cmd: list[str]) -> list[str]:
    """The command without ``--out DIR``: the row links the run's folder, and where the machine that ran it kept
    the folder while it ran is no part of the experiment."""
    out, i = [], 0
    while i < len(cmd):
        if cmd[i] == "--out":
            i += 2
            continue
        if not cmd[i].startswith("--out="):
            out.append(cmd[i])
        i += 1
    return out


def _clock(seconds: float) -> str:
    m = round(seconds / 60)
    return f"{m // 60} h {m % 60:02d} min" if m >= 60 else f"{m} min" if m else f"{seconds:.0f} s"
