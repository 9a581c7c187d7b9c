"""The reproduction table: each headline number of the papers beside fer-bench's, under the paper's own protocol
and under a subject-disjoint one, with the experiment file behind each (``leaderboard/reproduction.toml``).

The papers' numbers are typed in that file; fer-bench's are read from the committed runs made with
``bench run --config experiments/FILE``, found by the ``--config`` of the command their manifest records. A run
made with other settings than its file (``--epochs 10``, another model standing in) says so in its cell.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core.errors import BenchError

SPEC = Path("leaderboard") / "reproduction.toml"
# Options a command may add to its experiment file without changing what is measured (--model is named apart).
_NEUTRAL_FLAGS = {"--config", "--model", "--source-run", "--name", "--out", "--data-dir", "--threads", "--no-progress",
                  "--save-models", "--device", "--accel", "--workers", "--scheduler", "--storage", "--ensemble",
                  "--offline", "--include"}

# One run as the tables see it: its folder, manifest and metrics frame (leaderboard.build.Run).
Run = tuple[Any, dict[str, Any], pd.DataFrame]


@dataclass
class Row:
    paper: str
    claim: str
    reported: str
    cannot: str = ""
    own: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    no_subject: str = ""
    same_protocol: str = ""
    model: list[str] = field(default_factory=list)
    stand_in: str = ""
    variant: list[str] = field(default_factory=list)
    testset: str = ""
    minus: str = ""


def read_spec(path: Path = SPEC) -> list[Row]:
    """The rows of ``leaderboard/reproduction.toml`` (a BenchError naming the file and the key when malformed)."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BenchError(f"cannot read {path}: {exc}") from exc
    rows = []
    for i, r in enumerate(raw.get("row", [])):
        try:
            listed = {k: [r[k]] if isinstance(r.get(k), str) else r.get(k, []) for k in ("own", "subject", "model",
                                                                                           "variant")}
            rows.append(Row(**{**r, **listed}))
        except TypeError as exc:
            raise BenchError(f"{path}: row {i + 1} ({r.get('claim', '?')}): {exc}") from None
    return rows


def experiment_file(manifest: dict[str, Any]) -> str | None:
    """The experiment file a run was made from (the ``--config`` of its first command), by file name."""
    cmd = manifest.get("command") or []
    for i, arg in enumerate(cmd):
        if arg == "--config" and i + 1 < len(cmd):
            return Path(cmd[i + 1]).name
        if isinstance(arg, str) and arg.startswith("--config="):
            return Path(arg.split("=", 1)[1]).name
    return None


def _overrides(manifest: dict[str, Any]) -> list[str]:
    """The options the run's command gave beside its experiment file that change what is measured
    (``--epochs 10``), read from the command the manifest records."""
    cmd = [str(a) for a in manifest.get("command") or []]
    out, i = [], 0
    while i < len(cmd):
        flag = cmd[i].split("=", 1)[0]
        has_value = "=" not in cmd[i] and i + 1 < len(cmd) and not cmd[i + 1].startswith("--")
        value = cmd[i].split("=", 1)[1] if "=" in cmd[i] else (cmd[i + 1] if has_value else "")
        if flag.startswith("--") and flag not in _NEUTRAL_FLAGS:
            out.append(f"{flag} {value}".strip())
        i += 2 if has_value else 1
    return out


def _accuracy(frame: pd.DataFrame, model: str, variant: str | None, testset: str) -> float | None:
    ok = frame[(frame.status == "ok") & (frame.model == model) & (frame.testset == testset)]
    if variant is not None:
        ok = ok[ok.variant == variant]
    return None if ok.empty else 100 * float(ok.accuracy.mean())


class Table:
    """Looks runs up by experiment file and renders the rows."""

    def __init__(self, runs: list[Run], link_prefix: str = "") -> None:
        self.link_prefix = link_prefix
        self.by_file: dict[str, list[Run]] = {}
        self.by_name = {Path(str(run[0].path)).name: run[1] for run in runs}
        for run in runs:
            name = experiment_file(run[1])
            if name:
                self.by_file.setdefault(name, []).append(run)

    def cell(self, row: Row, files: list[str]) -> str:
        """fer-bench's number(s) for ``row`` from the first of ``files`` with a run that has them."""
        pooled: list[float] = []
        notes: list[str] = []
        for k, name in enumerate(files):
            for run in self.by_file.get(name, []):
                got = self._values(row, run)
                if got is None:
                    continue
                values, note = got
                if row.minus and len(files) > 1:
                    pooled += values  # a change over several targets: the range over all of them
                    notes += note
                    continue
                if k:
                    note = [f"from {name}", *note]
                return _format(values, row) + (f" ({'; '.join(note)})" if note else "")
        if pooled:
            notes = list(dict.fromkeys(notes))  # each once, in the order a single run's cell gives them
            return _format(pooled, row) + (f" ({'; '.join(notes)})" if notes else "")
        return "no run committed"

    def _values(self, row: Row, run: Run) -> tuple[list[float], list[str]] | None:
        _folder, manifest, frame = run
        models = row.model
        notes = _overrides(manifest) + self._source_note(manifest)
        if not set(models) <= set(frame.model) and row.stand_in in set(frame.model):
            models, notes = [row.stand_in], [f"{row.stand_in} in place of {', '.join(row.model)}", *notes]
        cross = manifest["config"]["protocol"] == "cross"
        testset = row.testset or ("target" if cross else "test")
        values = []
        for model in models:
            for variant in row.variant or [None]:
                acc = _accuracy(frame, model, variant, testset)
                if acc is None:
                    return None
                if row.minus:
                    base = _accuracy(frame, model, row.minus, testset)
                    if base is None:
                        return None
                    acc -= base
                values.append(acc)
        return values, notes

    def _source_note(self, manifest: dict[str, Any]) -> list[str]:
        """Where a cross run's source models come from (``--source-run``), with that run's own overrides: a
        fine-tuning from a 10-epoch source model says so."""
        source = (manifest.get("config") or {}).get("source_run")
        if not source:
            return []
        name = Path(source).name
        theirs = self.by_name.get(name)
        extra = "" if theirs is None else " ".join(_overrides(theirs))
        return [f"source models of {name}" + (f", {extra}" if extra else "")]

    def render(self, rows: list[Row]) -> str:
        out = []
        for r in rows:
            if r.cannot:
                own, subject, files = f"cannot be reproduced here: {r.cannot}", "—", "—"
            else:
                own = self.cell(r, r.own)
                subject = (self.cell(r, r.subject) if r.subject else
                           f"same as the paper's protocol ({r.same_protocol})" if r.same_protocol else
                           f"— ({r.no_subject})" if r.no_subject else "—")
                files = ", ".join(f"[{f}]({self.link_prefix}experiments/{f})" for f in dict.fromkeys(r.own + r.subject))
            out.append([r.paper, r.claim, r.reported, own, subject, files])
        head = ["paper", "claim", "paper's number (%)", "fer-bench, paper's protocol (%)",
                "fer-bench, subject-disjoint (%)", "experiment files"]
        from tabulate import tabulate

        return tabulate(out, headers=head, tablefmt="github", disable_numparse=True) + "\n"


def _format(values: list[float], row: Row) -> str:
    if row.minus:
        lo, hi = float(np.max(values)), float(np.min(values))  # the smallest cost first, as the papers write it
        return f"{lo:+.1f}" if np.isclose(lo, hi) else f"{lo:+.1f} to {hi:+.1f}"
    return " / ".join(f"{v:.1f}" for v in values)


def reproduction_markdown(runs: list[Run], spec: Path = SPEC, link_prefix: str = "") -> str:
    """The reproduction table ("" when there is no spec file, e.g. outside the repository); its links to the
    experiment files start with ``link_prefix`` (the way from the markdown file to the repository root)."""
    if not spec.exists():
        return ""
    return Table(runs, link_prefix).render(read_spec(spec))
